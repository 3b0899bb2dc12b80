/**
 * bench:embed — embedding throughput of the full pipeline (decode + preprocess + batch +
 * ORT + pool + normalise) as a ratio to a bare ORT session on the same model and batch
 * size fed with ready-made tensors. Goal: ratio >= 0.9.
 * Usage: npm run bench:embed [-- --images N --batch B --size S --width W | --model FILE.onnx]
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { parseArgs } from 'node:util';
import { smallConvNet } from '../src/models/tiny.ts';
import { loadBackbone } from '../src/models/load.ts';
import { sessionOptions } from '../src/models/ort.ts';
import { embedImages } from '../src/embed/pipeline.ts';
import { listFolder } from '../src/data/images.ts';
import { writeClassFolders } from '../src/data/synthetic.ts';
import { rssSampler, table, time } from './util.ts';

const { values } = parseArgs({ options: { images: { type: 'string', default: '256' }, batch: { type: 'string', default: '32' }, size: { type: 'string', default: '224' }, width: { type: 'string', default: '1' }, model: { type: 'string' } } });
const N = Number(values.images);
const B = Number(values.batch);
const S = Number(values.size);

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'lookalike-bench-'));
const W = Number(values.width);
const modelFile = values.model ?? path.join(work, 'small-convnet.onnx');
if (!values.model) fs.writeFileSync(modelFile, smallConvNet({ size: S, width: W }));
const shared = path.resolve(import.meta.dirname ?? path.dirname(new URL(import.meta.url).pathname), '../../shared/datasets/clothing10');
let files: string[];
if (fs.existsSync(shared)) files = listFolder(shared).images.map((f) => path.join(shared, f));
else {
  await writeClassFolders(path.join(work, 'img'), 8, 32, 0, 256);
  files = listFolder(path.join(work, 'img')).images.map((f) => path.join(work, 'img', f));
}
const items = Array.from({ length: N }, (_, i) => ({ id: String(i), source: files[i % files.length] }));
console.log(`bench:embed  ${N} images from ${fs.existsSync(shared) ? shared : 'generated'}; ${values.model ?? `generated conv net (width x${W}, ~${(0.37 * W * W).toFixed(2)} GFLOP/image)`} ${S}x${S}; batch ${B}; ${os.cpus().length} cores`);

const backbone = await loadBackbone(modelFile, { overrides: { resize: { mode: 'shortest-edge', shortestEdge: Math.round(S * 256 / 224) }, crop: { height: S, width: S } } });
// Warm up both paths once.
await embedImages(backbone, items.slice(0, B), { batchSize: B });
const session = await ort.InferenceSession.create(modelFile, sessionOptions());
const input = new ort.Tensor('float32', Float32Array.from({ length: B * 3 * S * S }, () => Math.random()), [B, 3, S, S]);
await session.run({ [session.inputNames[0]]: input });

const mem = rssSampler();
const bare = await time(async () => {
  for (let i = 0; i < N; i += B) await session.run({ [session.inputNames[0]]: input });
});
const full = await time(() => embedImages(backbone, items, { batchSize: B }));
const peak = mem.stop();
const decodeOnly = await time(async () => {
  const { decodeRgb } = await import('../src/data/decode.ts');
  for (let i = 0; i < N; i += B) await Promise.all(items.slice(i, i + B).map((it) => decodeRgb(it.source, backbone.spec)));
});
table([
  { path: 'bare ORT session (ready tensors)', 'images/s': N / bare, seconds: bare },
  { path: 'lookalike pipeline (files -> unit vectors)', 'images/s': N / full, seconds: full },
  { path: 'decode + resize only (sharp)', 'images/s': N / decodeOnly, seconds: decodeOnly },
]);
console.log(`ratio pipeline / bare ORT: ${(bare / full).toFixed(3)} (goal >= 0.9)`);
// When ORT's threads already fill every core, decoding cannot hide behind inference: the best
// possible ratio is then bare / (bare + decode).
console.log(`ceiling when decode and inference share all ${os.cpus().length} cores: ${(bare / (bare + decodeOnly)).toFixed(3)}`);
console.log(`peak RSS: ${peak.toFixed(0)} MiB`);
fs.rmSync(work, { recursive: true, force: true });
