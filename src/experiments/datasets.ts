/**
 * Datasets of an experiment: the images to embed, and which of them train, validate and test.
 * Rows of split=test (or query/gallery) are the test part; without such a split a seeded,
 * class-disjoint share of the classes is held out (testClasses). Training only ever sees the train
 * pool; the test part is used once per run, after training.
 */
import fs from 'node:fs';
import path from 'node:path';
import { readLabels } from '../data/labels.ts';
import { listFolder } from '../data/images.ts';
import { readTruth, type Submission } from '../metrics/competition.ts';
import { readOxfordTruth, type OxfordTruth } from '../metrics/oxford-truth.ts';
import { readCaptions, type Caption } from '../data/captions-csv.ts';
import { folderLabels, type SplitRule } from '../tune/data.ts';
import { Rng } from '../util/random.ts';
import type { DatasetEntry } from './experiment-config.ts';

/** One image of a dataset. */
export interface DatasetItem {
  /** Path relative to the dataset root (POSIX). */
  id: string;
  file: string;
  label?: string;
  domain?: string;
  split?: string;
}

/** How the test part is scored. */
export interface EvalPart {
  protocol: DatasetEntry['protocol'];
  /** Item indices of the queries and of the gallery (the same list for leave-one-out). */
  queries: number[];
  gallery: number[];
  /** Rank only gallery items of another domain (cross-domain). */
  crossDomain: boolean;
  /** competition: truth keyed by query file name relative to the query folder; ids by the same rule. */
  truth?: Submission;
  submissionId?: (item: DatasetItem) => string;
  /** oxford: ground truth. */
  oxford?: OxfordTruth[];
  /** captions: the captions; their paths are item ids. */
  captions?: Caption[];
}

/** A loaded dataset: its items, the train pool and validation rule, and the test part. */
export interface DatasetData {
  entry: DatasetEntry;
  items: DatasetItem[];
  /** Item indices tuning may use (training + validation). */
  trainPool: number[];
  /** How validation rows are split off the train pool. */
  valRule: SplitRule;
  /** Validation ranks only other domains (photo -> sketch data). */
  valCrossDomain: boolean;
  test: EvalPart;
  /** One line saying how the parts were chosen. */
  description: string;
}

const VAL = new Set(['val', 'valid', 'validation']);

function posix(p: string): string {
  return p.split(path.sep).join('/');
}

/** Stratified seeded sample of at most `limit` rows (every class keeps at least 2 rows where it has them), in their original order. */
export function sample<R extends { label: string }>(rows: R[], limit: number, rng: Rng): R[] {
  if (rows.length <= limit) return rows;
  const byClass = new Map<string, R[]>();
  for (const r of rows) (byClass.get(r.label) ?? byClass.set(r.label, []).get(r.label)!).push(r);
  const share = limit / rows.length;
  const keep = new Set<R>();
  for (const [, rs] of [...byClass].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
    const n = Math.min(rs.length, Math.max(2, Math.round(rs.length * share)));
    for (const r of rng.shuffle([...rs]).slice(0, n)) keep.add(r);
  }
  return rows.filter((r) => keep.has(r));
}

/** Validation rule for a train pool: the split column's val rows, else stratified 0.2 when classes are large enough, else class-disjoint 0.2. */
function valRuleFor(items: DatasetItem[], pool: number[]): SplitRule {
  if (pool.some((i) => VAL.has(items[i].split ?? ''))) return { kind: 'column' };
  const counts = new Map<string, number>();
  for (const i of pool) counts.set(items[i].label!, (counts.get(items[i].label!) ?? 0) + 1);
  const sizes = [...counts.values()].sort((a, b) => a - b);
  const median = sizes[Math.floor(sizes.length / 2)] ?? 0;
  return median >= 5 ? { kind: 'stratified', frac: 0.2 } : { kind: 'classes', frac: 0.2 };
}

/** Load a dataset entry: labels, folders, truth; choose the train pool and the test part. */
export function loadDataset(entry: DatasetEntry, seed: number): DatasetData {
  if (!fs.existsSync(entry.path) || !fs.statSync(entry.path).isDirectory()) throw new Error(`dataset ${entry.name}: ${entry.path} is not a folder`);
  const rng = new Rng(seed);
  if (entry.protocol === 'oxford') {
    const listing = listFolder(entry.path);
    const items = listing.images.map((id) => ({ id, file: path.join(entry.path, id) }));
    const test: DatasetData['test'] = { protocol: 'oxford', queries: [], gallery: items.map((_, i) => i), crossDomain: false, oxford: readOxfordTruth(entry.oxford!) };
    return untuned(entry, items, test, `${items.length} images, Oxford protocol (${entry.oxford}); no labels, so no tuning`);
  }
  if (entry.protocol === 'competition') return loadCompetition(entry);
  if (entry.protocol === 'captions') return loadCaptions(entry);
  const labelsFile = entry.labels ?? path.join(entry.path, 'labels.csv');
  let rows = fs.existsSync(labelsFile) ? readLabels(labelsFile) : folderLabels(listFolder(entry.path).images, entry.path);
  // holdOut: classes: the split column does not choose the test part (class-disjoint instead).
  if (entry.holdOut === 'classes') rows = rows.map(({ split: _split, ...r }) => r);
  if (entry.limit) rows = sample(rows, entry.limit, rng);
  const items: DatasetItem[] = rows.map((r) => ({ id: r.path, file: path.join(entry.path, r.path), label: r.label, domain: r.domain, split: r.split }));
  const all = items.map((_, i) => i);
  const splits = new Set(items.map((x) => x.split));
  const crossDomain = entry.protocol === 'cross-domain';
  if (crossDomain && !items.some((x) => x.domain)) throw new Error(`dataset ${entry.name}: the cross-domain protocol needs a domain column in ${labelsFile}`);
  let test: number[];
  let trainPool: number[];
  let how: string;
  if (entry.protocol === 'split' || (splits.has('query') && splits.has('gallery'))) {
    const queries = all.filter((i) => items[i].split === 'query');
    const gallery = all.filter((i) => items[i].split === 'gallery');
    if (!queries.length || !gallery.length) throw new Error(`dataset ${entry.name}: the split protocol needs split=query and split=gallery rows in ${labelsFile}`);
    trainPool = all.filter((i) => items[i].split === 'train' || VAL.has(items[i].split ?? ''));
    const d: DatasetData = {
      entry,
      items,
      trainPool,
      valRule: valRuleFor(items, trainPool),
      valCrossDomain: crossDomain,
      test: { protocol: crossDomain ? 'cross-domain' : 'split', queries, gallery, crossDomain },
      description: `${queries.length} queries vs a gallery of ${gallery.length} (split column)${crossDomain ? ', other domains only' : ''}; ${trainPool.length} rows to tune on`,
    };
    return d;
  }
  if (splits.has('test')) {
    test = all.filter((i) => items[i].split === 'test');
    trainPool = all.filter((i) => items[i].split !== 'test');
    how = 'split=test rows';
  } else {
    const classes = [...new Set(items.map((x) => x.label!))].sort();
    const k = Math.max(1, Math.round(entry.testClasses * classes.length));
    if (k >= classes.length) throw new Error(`dataset ${entry.name}: ${classes.length} classes cannot be split into test and train classes`);
    const testClasses = new Set(rng.shuffle([...classes]).slice(0, k));
    test = all.filter((i) => testClasses.has(items[i].label!));
    trainPool = all.filter((i) => !testClasses.has(items[i].label!));
    how = `${k} of ${classes.length} classes held out (class-disjoint, seed ${seed})`;
  }
  return {
    entry,
    items,
    trainPool,
    valRule: valRuleFor(items, trainPool),
    valCrossDomain: crossDomain,
    test: { protocol: entry.protocol, queries: test, gallery: test, crossDomain },
    description: `test: ${test.length} images (${how}), leave-one-out${crossDomain ? ' across domains' : ''}; ${trainPool.length} rows to tune on`,
  };
}

/** A competition folder: training/ (labels.csv rows or class folders), test/query, test/gallery and truth.json. */
function loadCompetition(entry: DatasetEntry): DatasetData {
  const queryDir = entry.queryDir ?? path.join(entry.path, 'test', 'query');
  const galleryDir = entry.galleryDir ?? path.join(entry.path, 'test', 'gallery');
  const truthFile = entry.truth ?? path.join(entry.path, 'truth.json');
  const truth = readTruth(truthFile);
  const labelsFile = entry.labels ?? path.join(entry.path, 'labels.csv');
  const items: DatasetItem[] = [];
  const trainDir = path.join(entry.path, 'training');
  if (fs.existsSync(labelsFile)) {
    for (const r of readLabels(labelsFile)) {
      if (r.split === 'train' || VAL.has(r.split ?? '') || (!r.split && posix(r.path).startsWith('training/'))) items.push({ id: r.path, file: path.join(entry.path, r.path), label: r.label, domain: r.domain, split: r.split });
    }
  } else if (fs.existsSync(trainDir)) {
    for (const r of folderLabels(listFolder(trainDir).images, trainDir)) items.push({ id: `training/${r.path}`, file: path.join(trainDir, r.path), label: r.label });
  }
  const trainPool = items.map((_, i) => i);
  const add = (dir: string) =>
    listFolder(dir).images.map((rel) => {
      items.push({ id: posix(path.relative(entry.path, path.join(dir, rel))), file: path.join(dir, rel) });
      return items.length - 1;
    });
  const queries = add(queryDir);
  const gallery = add(galleryDir);
  const qSet = new Set(queries.map((i) => items[i].file));
  const submissionId = (it: DatasetItem) => posix(path.relative(qSet.has(it.file) ? queryDir : galleryDir, it.file));
  return {
    entry,
    items,
    trainPool,
    valRule: trainPool.length ? valRuleFor(items, trainPool) : { kind: 'none' },
    valCrossDomain: items.some((x) => x.domain),
    test: { protocol: 'competition', queries, gallery, crossDomain: false, truth, submissionId },
    description: `competition: ${queries.length} queries vs a gallery of ${gallery.length}, scored with ${path.basename(truthFile)}; ${trainPool.length} training images`,
  };
}

/** A captions dataset: the images named by the captions CSV (first-seen order) and the captions; scored image<->text, never tuned on. */
function loadCaptions(entry: DatasetEntry): DatasetData {
  const file = entry.captions ?? path.join(entry.path, 'captions.csv');
  const captions = readCaptions(file);
  const ids = [...new Set(captions.map((c) => c.path))];
  const items: DatasetItem[] = ids.map((id) => ({ id, file: path.join(entry.path, id) }));
  const all = items.map((_, i) => i);
  const test: DatasetData['test'] = { protocol: 'captions', queries: all, gallery: all, crossDomain: false, captions };
  return untuned(entry, items, test, `${items.length} images, ${captions.length} captions (${path.basename(file)}), image<->text R@K with the model's text tower; no labels, so no tuning`);
}

/** A dataset scored only, never tuned on (no labels): an empty train pool and no validation rule. */
function untuned(entry: DatasetEntry, items: DatasetItem[], test: DatasetData['test'], description: string): DatasetData {
  return { entry, items, trainPool: [], valRule: { kind: 'none' }, valCrossDomain: false, test, description };
}
