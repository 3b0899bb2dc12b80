/**
 * Tuning inputs: labelled embeddings from an index + labels.csv, or from a folder embedded on the
 * fly; and the validation split (the labels' split column, stratified by class, or class-disjoint).
 */
import { gatherRows } from '../util/matrix.ts';
import path from 'node:path';
import { folderLabel, type LabelRow } from '../data/labels.ts';
import type { Rng } from '../util/random.ts';
import { OptionError } from '../util/options.ts';

/** Labelled embeddings (row-major n x dim) with ids, labels and optional domains. */
export interface Labelled {
  ids: string[];
  vectors: Float32Array;
  dim: number;
  labels: string[];
  domains: (string | undefined)[];
  /** The labels' split column per row (train/val/test), when present. */
  splits: (string | undefined)[];
}

/** How to split off validation rows. */
export type SplitRule = { kind: 'column' } | { kind: 'stratified'; frac: number } | { kind: 'classes'; frac?: number; names?: string[] } | { kind: 'none' };

/** Join vectors (by id) with label rows (by path); ids without a label row are left out and counted. */
export function joinLabels(ids: string[], vectors: Float32Array, dim: number, rows: LabelRow[], what: string): { data: Labelled; unlabelled: number; missing: number } {
  const byPath = new Map(rows.map((r) => [r.path, r]));
  const keep: number[] = [];
  ids.forEach((id, i) => byPath.has(id) && keep.push(i));
  if (keep.length === 0) {
    throw new Error(`${what}: no id matches a path in the labels file (ids look like "${ids[0] ?? ''}", label paths like "${rows[0]?.path ?? ''}")`);
  }
  const out = gatherRows(vectors, dim, keep);
  const r = keep.map((i) => byPath.get(ids[i])!);
  return {
    data: { ids: keep.map((i) => ids[i]), vectors: out, dim, labels: r.map((x) => x.label), domains: r.map((x) => x.domain), splits: r.map((x) => x.split) },
    unlabelled: ids.length - keep.length,
    missing: rows.length - keep.length,
  };
}

/** Labels from class folders: the first path segment of each relative path. */
export function folderLabels(relPaths: string[], dir: string): LabelRow[] {
  const rows = relPaths.flatMap((p) => {
    const label = folderLabel(p);
    return label === undefined ? [] : [{ path: p, label, extra: {} }];
  });
  if (rows.length === 0) throw new OptionError(`${dir}: no class folders (expected ${path.join(dir, '<class>', '<image>')}); or pass {{labels}}`);
  return rows;
}

/** Row indices of the training and validation parts. */
export interface Split {
  train: number[];
  val: number[];
  rule: string;
}

/** Split rows for training and validation by the rule; split=test rows are never used. */
export function splitRows(d: Labelled, rule: SplitRule, rng: Rng): Split {
  const all = d.labels.map((_, i) => i);
  if (rule.kind === 'none') return { train: all, val: [], rule: 'no validation' };
  if (rule.kind === 'column') {
    const train = all.filter((i) => d.splits[i] === 'train');
    const val = all.filter((i) => d.splits[i] === 'val' || d.splits[i] === 'valid' || d.splits[i] === 'validation');
    if (!train.length) throw new Error('labels: the split column has no "train" rows');
    return { train, val, rule: 'split column (train/val)' };
  }
  const byClass = new Map<string, number[]>();
  for (const i of all) {
    const l = byClass.get(d.labels[i]);
    if (l) l.push(i);
    else byClass.set(d.labels[i], [i]);
  }
  const classes = [...byClass.keys()].sort();
  if (rule.kind === 'classes') {
    let valClasses: Set<string>;
    if (rule.names?.length) {
      for (const c of rule.names) if (!byClass.has(c)) throw new OptionError(`{{valClasses}}: no class "${c}" in the labels`);
      valClasses = new Set(rule.names);
    } else {
      const k = Math.max(1, Math.round((rule.frac ?? 0.2) * classes.length));
      valClasses = new Set(rng.shuffle([...classes]).slice(0, k));
    }
    if (valClasses.size >= classes.length) throw new OptionError('{{valClasses}}: every class would be in validation');
    return { train: all.filter((i) => !valClasses.has(d.labels[i])), val: all.filter((i) => valClasses.has(d.labels[i])), rule: `class-disjoint (${valClasses.size} of ${classes.length} classes)` };
  }
  if (!(rule.frac > 0 && rule.frac < 1)) throw new OptionError(`{{valFrac}} ${rule.frac}: expected a number between 0 and 1`);
  const train: number[] = [], val: number[] = [];
  for (const c of classes) {
    const rows = rng.shuffle([...byClass.get(c)!]);
    // Keep at least one training row; a class needs 2+ validation rows to be queried, so take 0 or >= 2.
    let k = Math.round(rule.frac * rows.length);
    if (k >= rows.length) k = rows.length - 1;
    if (k < 2) k = 0;
    val.push(...rows.slice(0, k));
    train.push(...rows.slice(k));
  }
  return { train: train.sort((a, b) => a - b), val: val.sort((a, b) => a - b), rule: `stratified (${rule.frac} of each class)` };
}

/** Gather rows of a labelled set. */
export function subset(d: Labelled, rows: number[]): Labelled {
  const v = gatherRows(d.vectors, d.dim, rows);
  return { ids: rows.map((r) => d.ids[r]), vectors: v, dim: d.dim, labels: rows.map((r) => d.labels[r]), domains: rows.map((r) => d.domains[r]), splits: rows.map((r) => d.splits[r]) };
}

/** Class names (sorted) and the class index of every row. */
export function encodeLabels(labels: string[]): { names: string[]; index: Int32Array } {
  const names = [...new Set(labels)].sort();
  const pos = new Map(names.map((n, i) => [n, i]));
  return { names, index: Int32Array.from(labels, (l) => pos.get(l)!) };
}
