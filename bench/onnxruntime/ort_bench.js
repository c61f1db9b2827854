// ONNX Runtime latency for one bag, the peer of coughkit's engine bench (src/model/bench.h).
//   node ort_bench.js MODEL SEGMENTS THREADS REPEAT
// Prints one JSON line after two untimed warm-up runs. Input: the same synthetic mel-like
// images as coughkit's bench, normalised per docs/pipeline.md section 5.
'use strict';
const ort = require('onnxruntime-node');
const { performance } = require('perf_hooks');

function usage() {
  console.error('usage: node ort_bench.js MODEL SEGMENTS THREADS REPEAT');
  process.exit(2);
}

function syntheticInput(segments) {
  const size = 224, plane = size * size;
  const mean = [0.485, 0.456, 0.406], std = [0.229, 0.224, 0.225];
  const x = new Float32Array(segments * 3 * plane);
  for (let s = 0; s < segments; s++) {
    for (let y = 0; y < size; y++) {
      for (let c = 0; c < size; c++) {
        const v = y >= 23 && y < 201 ? Math.fround(Math.sin(0.05 * c * (s + 1) + 0.03 * y) * 0.9) : -1;
        const x01 = (v + 1) / 2;
        for (let ch = 0; ch < 3; ch++) x[(s * 3 + ch) * plane + y * size + c] = (x01 - mean[ch]) / std[ch];
      }
    }
  }
  return x;
}

async function main() {
  const [model, segArg, threadArg, repeatArg] = process.argv.slice(2);
  if (!model || !repeatArg) usage();
  const segments = Number(segArg), threads = Number(threadArg), repeat = Number(repeatArg);
  if (!(segments >= 1 && threads >= 1 && repeat >= 1)) usage();
  const session = await ort.InferenceSession.create(model, {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  });
  const feeds = {
    spectrograms: new ort.Tensor('float32', syntheticInput(segments), [1, segments, 3, 224, 224]),
    segment_mask: new ort.Tensor('bool', new Uint8Array(segments).fill(1), [1, segments]),
  };
  for (let i = 0; i < 2; i++) await session.run(feeds);
  const ms = [];
  for (let i = 0; i < repeat; i++) {
    const t0 = performance.now();
    await session.run(feeds);
    ms.push(performance.now() - t0);
  }
  const sorted = [...ms].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  console.log(JSON.stringify({
    engine: 'onnxruntime-node',
    version: require('onnxruntime-node/package.json').version,
    segments, threads, repeat,
    ms_per_bag_median: median,
    ms_per_bag_min: sorted[0],
    ms_per_bag_mean: ms.reduce((a, b) => a + b, 0) / ms.length,
  }));
}

main().catch((e) => {
  console.error(`error: ${e.message}`);
  process.exit(1);
});
