/**
 * bench:light — where the time goes for light image models, and TF.js presets against native ONNX.
 *  1. engines: the same MobileNetV2 architecture through the pipeline on the same images:
 *     `mobilenet-v2` (nsfwjs TF.js model, converted to ONNX at load) vs `mobilenet-v2-imagenet`
 *     (an ONNX folder); `--tfjs` adds the TF.js engine (tfjs-wasm) itself.
 *  2. per light model: the full pipeline (files -> unit vectors) against its two ceilings measured
 *     in the same run: decode + resize + pack only (no inference), and the bare backbone on
 *     ready-made tensors (no decoding).
 * Needs ../shared/datasets/clothing10 and ../shared/models (else generated images and only the
 * models present). Usage: npm run bench:light [-- --images 300 --rounds 3 --tfjs --no-memory]
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Bench, benchArgs } from './harness.ts';
import { config } from '../src/util/config.ts';
import type { Backbone } from '../src/models/backbone.ts';
import { loadBackbone } from '../src/models/load.ts';
import { findOnSearchPath } from '../src/models/search-path.ts';
import { findPreset } from '../src/models/presets.ts';
import { presetLocation } from '../src/models/catalog.ts';
import { embedWithBackbone, type EmbedItem } from '../src/embed/pipeline.ts';
import { decodeRgb, normalizeInto } from '../src/models/preprocess.ts';
import { inputChannels, inputSize } from '../src/models/spec.ts';
import { listFolder } from '../src/data/images.ts';
import { writeClassFolders } from '../src/data/synthetic.ts';

const { values } = benchArgs({ images: { type: 'string', default: '300' }, batch: { type: 'string', default: '32' }, tfjs: { type: 'boolean', default: false } });
const N = Number(values.images);
const B = Number(values.batch);
const here = path.dirname(new URL(import.meta.url).pathname);
const sharedModels = path.resolve(here, '../../shared/models');
if (fs.existsSync(sharedModels)) config.modelsPath.push(sharedModels);
const dataset = path.resolve(here, '../../shared/datasets/clothing10');
let files: string[];
if (fs.existsSync(dataset)) files = listFolder(dataset).images.slice(0, N).map((f) => path.join(dataset, f));
else {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lookalike-bench-light-'));
  process.once('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  await writeClassFolders(dir, 10, Math.ceil(N / 10), 0, 256);
  files = listFolder(dir).images.slice(0, N).map((f) => path.join(dir, f));
}
const items: EmbedItem[] = files.map((f, i) => ({ id: String(i), source: f }));
const b = new Bench('light', `Light models on ${items.length} images of ${fs.existsSync(dataset) ? 'clothing10' : 'generated images'}, batch ${B}: TF.js presets converted to ONNX vs a native ONNX folder, and the pipeline against its decode-only and bare-backbone ceilings.`, { images: items.length, batch: B });
const available = (name: string) => findOnSearchPath(name) !== undefined || (findPreset(name) !== undefined && presetLocation(findPreset(name)!) !== undefined);

/** A path that loads a model in setup and embeds every image. */
function pipelinePath(name: string, label: string, model: string, engine?: 'onnx' | 'tfjs'): import('./harness.ts').BenchPath {
  let bb: Backbone | undefined;
  return {
    name,
    label,
    work: items.length,
    setup: async () => {
      const saved = config.tfjsEngine;
      if (engine) config.tfjsEngine = engine;
      try {
        bb = await loadBackbone(model);
      } finally {
        config.tfjsEngine = saved;
      }
      await embedWithBackbone(bb, items.slice(0, B), { batchSize: B });
    },
    run: () => embedWithBackbone(bb!, items, { batchSize: B }),
    teardown: () => bb?.dispose(),
  };
}

if (available('mobilenet-v2-imagenet') && available('mobilenet-v2')) {
  const paths = [pipelinePath('onnx-folder', 'mobilenet-v2-imagenet (ONNX folder)', 'mobilenet-v2-imagenet'), pipelinePath('tfjs-converted', 'mobilenet-v2 (nsfwjs TF.js, converted to ONNX)', 'mobilenet-v2', 'onnx')];
  if (values.tfjs) paths.push(pipelinePath('tfjs-wasm', 'mobilenet-v2 (nsfwjs TF.js on tfjs-wasm)', 'mobilenet-v2', 'tfjs'));
  const r = await b.compare({ group: 'engines', title: 'MobileNetV2: TF.js preset vs ONNX folder, full pipeline', unit: 'images/s', baseline: 'onnx-folder', paths });
  b.note(`time of the TF.js preset (converted) / time of the ONNX folder: ${(1 / r.ratio('tfjs-converted')).toFixed(2)}x (target <= 1.5x)`);
  if (values.tfjs) b.note(`time on tfjs-wasm / time of the ONNX folder: ${(1 / r.ratio('tfjs-wasm')).toFixed(2)}x`);
}

for (const model of ['mobilenet-v2-imagenet', 'mobilenet-v3-small-embedder']) {
  if (!available(model)) {
    b.note(`${model}: not on the model search path; skipped`);
    continue;
  }
  let bb: Backbone | undefined;
  let pixels: Float32Array | undefined;
  const load = async () => {
    bb ??= await loadBackbone(model);
    const { height, width } = inputSize(bb.spec);
    pixels ??= Float32Array.from({ length: B * inputChannels(bb.spec) * height * width }, () => Math.random());
  };
  const r = await b.compare({
    group: model,
    title: `${model}: pipeline and its ceilings`,
    unit: 'images/s',
    baseline: 'pipeline',
    paths: [
      { name: 'pipeline', label: 'pipeline (files -> unit vectors)', work: items.length, setup: load, run: () => embedWithBackbone(bb!, items, { batchSize: B }) },
      {
        name: 'decode',
        label: 'decode + resize + pack only',
        work: items.length,
        setup: load,
        run: async () => {
          for (let i = 0; i < items.length; i += B) {
            const batch = await Promise.all(items.slice(i, i + B).map((it) => decodeRgb(it.source, bb!.spec)));
            batch.forEach((d, s) => normalizeInto(d.data, bb!.spec, pixels!, s));
          }
        },
      },
      {
        name: 'bare',
        label: 'bare backbone (ready tensors)',
        work: Math.ceil(items.length / B) * B,
        setup: load,
        run: async () => {
          for (let i = 0; i < items.length; i += B) await bb!.run(pixels!, B);
        },
        teardown: () => bb?.dispose(),
      },
    ],
  });
  b.note(`${model}: pipeline / bare backbone ${(1 / r.ratio('bare')).toFixed(2)}; pipeline / decode-only ${(1 / r.ratio('decode')).toFixed(2)}`);
}
await b.done();
