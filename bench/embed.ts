/**
 * bench:embed — images/s of lookalike's one embedding pipeline (src/embed/pipeline.ts: files ->
 * decode + resize (sharp) -> normalise -> batch -> model -> pool -> L2) against the model alone.
 *
 * What it compares, and why, per model:
 *  - `bare`: the same backbone (same ORT session / TF.js graph, same output) fed ready-made
 *    preprocessed batches: the bare-model ceiling, and the baseline of the ratios.
 *  - `pipeline`: embedWithBackbone over image files (clothing10 from ../shared when present, else
 *    generated images).
 *  - `decode`: decode + resize + normalise only (the pipeline's decoding, batch by batch with the
 *    same concurrency), no model: the decode-only ceiling.
 * On a machine where the model's threads already fill every core, decoding cannot hide behind
 * inference, and the best the pipeline can do is the shared-core ceiling 1/(1/bare + 1/decode)
 * images/s, printed with each model. Goal: pipeline >= 0.9x bare where decoding is cheap next to
 * the model; otherwise close to the shared-core ceiling.
 *
 * Models: the real networks in ../shared/models (MobileNetV2, MobileNetV1 and MobileNetV3-small
 * embedders, ONNX), the npm TF.js preset `mobilenet-v2` (nsfwjs) when installed, on lookalike's
 * default engine for TF.js models (converted to ONNX; LOOKALIKE_TFJS_ENGINE=tfjs for TF.js wasm), and
 * generated conv nets of ~0.37 and ~3.3 GFLOP/image (random weights; cost only).
 *
 *   npm run bench:embed -- [--models a,b] [--images 128] [--batch 32] [--rounds 5] [--json] [--quick]
 *   models: mobilenet-v2-imagenet, mobilenet-v1-embedder, mobilenet-v3-small-embedder,
 *           tfjs:mobilenet-v2, generated-0.37, generated-3.3, or a path to an .onnx file / HF folder
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { config } from '../src/util/config.ts';
import { smallConvNet } from '../src/models/tiny.ts';
import { loadBackbone } from '../src/models/load.ts';
import type { Backbone } from '../src/models/backbone.ts';
import { inputSize } from '../src/models/spec.ts';
import { embedWithBackbone, type EmbedItem } from '../src/embed/pipeline.ts';
import { decodeRgb, normalizeInto } from '../src/models/preprocess.ts';
import { listFolder } from '../src/data/images.ts';
import { writeClassFolders } from '../src/data/synthetic.ts';
import { Bench, benchArgs } from './harness.ts';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const SHARED = path.resolve(HERE, '../../shared');
const { values } = benchArgs({ models: { type: 'string' }, images: { type: 'string' }, batch: { type: 'string', default: '32' } });
const quick = Boolean(values.quick);
const SHARED_MODELS = ['mobilenet-v2-imagenet', 'mobilenet-v3-small-embedder', 'mobilenet-v1-embedder'];
const defaults = quick ? ['mobilenet-v2-imagenet', 'mobilenet-v3-small-embedder', 'tfjs:mobilenet-v2', 'generated-0.37'] : [...SHARED_MODELS, 'tfjs:mobilenet-v2', 'generated-0.37', 'generated-3.3'];
const models = values.models ? values.models.split(',').filter(Boolean) : defaults;
const IMAGES = Number(values.images ?? (quick ? 64 : 128));
const BATCH = Number(values.batch);

const b = new Bench(
  'embed',
  'Embedding pipeline (files -> unit vectors) against the same model fed ready tensors (bare) and against decoding alone; the shared-core ceiling 1/(1/bare + 1/decode) is what the pipeline can reach when the model already fills every core.',
  { images: IMAGES, batch: BATCH, models: models.join(' ') },
);

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'lookalike-bench-embed-'));
process.on('exit', () => fs.rmSync(work, { recursive: true, force: true }));
const clothing = path.join(SHARED, 'datasets/clothing10');
let files: string[];
let imageSource: string;
if (fs.existsSync(clothing)) {
  files = listFolder(clothing).images.map((f) => path.join(clothing, f));
  imageSource = `${clothing} (${files.length} JPEGs, ~256x192)`;
} else {
  await writeClassFolders(path.join(work, 'img'), 8, 32, 0, 256);
  files = listFolder(path.join(work, 'img')).images.map((f) => path.join(work, 'img', f));
  imageSource = `${files.length} generated images (../shared absent)`;
}
b.note(`images: ${imageSource}`);

interface ModelCase {
  id: string;
  label: string;
  /** Images per timed run (heavier models take fewer). */
  images: number;
  batch: number;
  load: () => Promise<Backbone>;
}

function modelCase(id: string): ModelCase | undefined {
  if (SHARED_MODELS.includes(id)) {
    const dir = path.join(SHARED, 'models', id);
    if (!fs.existsSync(dir)) return undefined;
    return { id, label: `${id} (../shared/models, ONNX)`, images: IMAGES, batch: BATCH, load: () => loadBackbone(dir) };
  }
  const gen = /^generated-(0\.37|3\.3)$/.exec(id);
  if (gen) {
    const width = gen[1] === '3.3' ? 3 : 1;
    const file = path.join(work, `small-convnet-w${width}.onnx`);
    // 224 input behind a 256 shortest-edge resize and centre crop, like the usual ImageNet recipe.
    const load = () => {
      if (!fs.existsSync(file)) fs.writeFileSync(file, smallConvNet({ size: 224, width }));
      return loadBackbone(file, { overrides: { resize: { mode: 'shortest-edge', shortestEdge: 256 }, crop: { height: 224, width: 224 } } });
    };
    return { id, label: `generated conv net, ~${gen[1]} GFLOP/image (random weights)`, images: width === 3 ? Math.max(16, IMAGES / 4) : IMAGES, batch: BATCH, load };
  }
  const tf = /^tfjs:(.+)$/.exec(id);
  if (tf) {
    const pkgDir = path.resolve(HERE, '../node_modules/nsfwjs');
    if (tf[1] === 'mobilenet-v2' && !fs.existsSync(pkgDir)) return undefined;
    const engine = config.tfjsEngine === 'tfjs' ? 'TF.js wasm engine' : 'converted to ONNX, the default engine';
    return { id, label: `${tf[1]} (npm TF.js preset, ${engine})`, images: Math.max(8, IMAGES / 4), batch: Math.min(BATCH, 16), load: () => loadBackbone(tf[1]) };
  }
  if (fs.existsSync(id)) return { id, label: id, images: IMAGES, batch: BATCH, load: () => loadBackbone(id) };
  throw new Error(`bench:embed: unknown model ${id}`);
}

for (const id of models) {
  const mc = modelCase(id);
  if (!mc) {
    b.note(`${id}: skipped (not present here)`);
    continue;
  }
  let bb: Backbone | undefined;
  let ready: Float32Array | undefined;
  const items: EmbedItem[] = Array.from({ length: mc.images }, (_, i) => ({ id: String(i), source: files[i % files.length] }));
  const loadOnce = async () => {
    if (bb) return bb;
    bb = await mc.load();
    const { height, width } = inputSize(bb.spec);
    ready = Float32Array.from({ length: mc.batch * 3 * height * width }, (_, i) => ((i * 2654435761) % 255) / 255 - 0.5);
    return bb;
  };
  const n = mc.images;
  const B = Math.min(mc.batch, n);
  const r = await b.compare({
    group: id,
    title: `${mc.label}: ${n} images per run, batch ${B}`,
    unit: 'images/s',
    baseline: 'bare',
    paths: [
      {
        name: 'bare',
        label: 'bare model, ready tensors (same session/graph)',
        work: n,
        setup: async () => void (await loadOnce()),
        run: async () => {
          for (let i = 0; i < n; i += B) await bb!.run(ready!.subarray(0, Math.min(B, n - i) * (ready!.length / B)), Math.min(B, n - i));
        },
      },
      {
        name: 'pipeline',
        label: 'lookalike pipeline, files -> unit vectors',
        work: n,
        setup: async () => void (await loadOnce()),
        run: async () => {
          const res = await embedWithBackbone(bb!, items, { batchSize: B });
          if (res.ids.length !== n) throw new Error(`${id}: embedded ${res.ids.length} of ${n}`);
        },
      },
      {
        name: 'decode',
        label: 'decode + resize + normalise only (sharp)',
        work: n,
        setup: async () => void (await loadOnce()),
        run: async () => {
          const spec = bb!.spec;
          const { height, width } = inputSize(spec);
          const dst = new Float32Array(B * 3 * height * width);
          for (let i = 0; i < n; i += B) {
            const batch = items.slice(i, i + B);
            const dec = await Promise.all(batch.map((it) => decodeRgb(it.source, spec)));
            dec.forEach((d, j) => normalizeInto(d.data, spec, dst, j));
          }
        },
      },
    ],
  });
  if (!r.skipped) {
    const a = r.throughput('bare');
    const d = r.throughput('decode');
    const ceiling = 1 / (1 / a + 1 / d);
    const p = r.throughput('pipeline');
    const busy = r.paths.find((x) => x.name === 'bare')!.busyThreads;
    const cores = os.availableParallelism?.() ?? os.cpus().length;
    const what = SHARED_MODELS.includes(id) ? `the real ${id} (../shared/models)` : id.startsWith('generated-') ? `a generated ${id.slice(10)} GFLOP/image net` : id.startsWith('tfjs:') ? `the TF.js preset ${id.slice(5)}` : id;
    if (id === 'mobilenet-v2-imagenet' || id === 'generated-3.3' || id.startsWith('tfjs:'))
      b.headline(`With ${what} the embedding pipeline reaches ${r.ratio('pipeline').toFixed(2)}x the bare model (${p.toFixed(1)} vs ${a.toFixed(1)} images/s, model on ${busy ?? '?'} busy thread(s); shared-core ceiling ${(ceiling / a).toFixed(2)}x).`);
    if (busy !== undefined && busy < cores)
      b.groupNote(r, `the bare model kept ${busy} thread(s) busy on ${cores} cores: it does not fill the machine, so the shared-core ceiling is a floor for what overlapping decode with inference could reach here (ORT's default thread count; LOOKALIKE_THREADS sets it)`);
    b.groupNote(r, `pipeline / bare: ${r.ratio('pipeline').toFixed(2)}x; bare ceiling ${a.toFixed(1)} images/s, decode-only ceiling ${d.toFixed(1)} images/s, shared-core ceiling 1/(1/bare + 1/decode) = ${ceiling.toFixed(1)} images/s (${(ceiling / a).toFixed(2)}x bare); the pipeline reaches ${(p / ceiling).toFixed(2)} of the shared-core ceiling`);
  }
  await bb?.dispose();
  bb = undefined;
}
await b.done();
