// Runs an AttnMILResNet ONNX model in ONNX Runtime (onnxruntime-node) on one raw input and
// prints the four outputs as JSON: the independent runtime the conversion tests check
// exported files against.
//   node ort_run.js ORT_MODULE_DIR MODEL INPUT.f32 BATCH SEGMENTS MASK
// INPUT.f32: (B,S,3,224,224) float32 little-endian model input; MASK: B*S digits 0/1.
'use strict';
const fs = require('fs');

async function main() {
  const [moduleDir, model, inputPath, b, s, maskText] = process.argv.slice(2);
  if (!maskText) {
    console.error('usage: node ort_run.js ORT_MODULE_DIR MODEL INPUT.f32 BATCH SEGMENTS MASK');
    process.exit(2);
  }
  const ort = require(moduleDir);
  const batch = Number(b), segments = Number(s);
  const raw = fs.readFileSync(inputPath);
  const x = new Float32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4);
  if (x.length !== batch * segments * 3 * 224 * 224 || maskText.length !== batch * segments) {
    console.error('input size does not match BATCH x SEGMENTS');
    process.exit(2);
  }
  const mask = Uint8Array.from(maskText, (c) => (c === '1' ? 1 : 0));
  const session = await ort.InferenceSession.create(model, { intraOpNumThreads: 2, interOpNumThreads: 1 });
  const out = await session.run({
    spectrograms: new ort.Tensor('float32', x, [batch, segments, 3, 224, 224]),
    segment_mask: new ort.Tensor('bool', mask, [batch, segments]),
  });
  const result = {};
  for (const name of ['bag_probability', 'segment_probabilities', 'segment_logits', 'bag_logit'])
    result[name] = { dims: out[name].dims, data: Array.from(out[name].data) };
  console.log(JSON.stringify(result));
}

main().catch((e) => {
  console.error(String(e));
  process.exit(1);
});
