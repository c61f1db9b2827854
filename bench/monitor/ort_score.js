// The model half of the seed system's way of scoring a long recording: ONNX Runtime
// (npm onnxruntime-node, CPU) scores batches of window images sent by peer_monitor.py.
//   node ort_score.js MODEL THREADS   (stdin: [u32 count][count x 224 x 224 f32 images]...;
//                                       stdout: one probability per image, a line each)
'use strict';
const ort = require('onnxruntime-node');

const [model, threadArg] = process.argv.slice(2);
const plane = 224 * 224;
const mean = [0.485, 0.456, 0.406], std = [0.229, 0.224, 0.225];

async function main() {
  const session = await ort.InferenceSession.create(model, {
    intraOpNumThreads: Number(threadArg || 2), interOpNumThreads: 1, executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  });
  let buffer = Buffer.alloc(0);
  const queue = [];
  let busy = false;
  async function drain() {
    if (busy) return;
    busy = true;
    while (queue.length) {
      const images = queue.shift();
      const n = images.length / plane;
      // Each window is a bag of one segment (2-s windows): (n, 1, 3, 224, 224), normalised as section 5.
      const x = new Float32Array(n * 3 * plane);
      for (let i = 0; i < n; i++)
        for (let c = 0; c < 3; c++)
          for (let p = 0; p < plane; p++) x[(i * 3 + c) * plane + p] = ((images[i * plane + p] + 1) / 2 - mean[c]) / std[c];
      const out = await session.run({
        spectrograms: new ort.Tensor('float32', x, [n, 1, 3, 224, 224]),
        segment_mask: new ort.Tensor('bool', new Uint8Array(n).fill(1), [n, 1]),
      });
      process.stdout.write(Array.from(out.bag_probability.data).join('\n') + '\n');
    }
    busy = false;
  }
  process.stdin.on('data', (chunk) => {
    buffer = Buffer.concat([buffer, chunk]);
    while (buffer.length >= 4) {
      const n = buffer.readUInt32LE(0);
      const bytes = 4 + n * plane * 4;
      if (buffer.length < bytes) break;
      const images = new Float32Array(buffer.buffer.slice(buffer.byteOffset + 4, buffer.byteOffset + bytes));
      buffer = buffer.subarray(bytes);
      queue.push(images);
      drain();
    }
  });
  process.stdin.on('end', async () => {
    while (busy || queue.length) await new Promise((r) => setTimeout(r, 10));
  });
}
main();
