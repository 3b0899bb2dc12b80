/**
 * Near-duplicate detection: a self-join of a store (every item searched against all others, its
 * own id excluded, through the ANN graph or the exact kernel per SearchOptions.ann), pairs with
 * cosine > T joined into groups by union-find, one keeper suggested per group.
 * Rules (threshold, auto threshold, keeper) are documented in docs/dedup.md.
 */
import type { FileRecord, VectorStore } from '../store/types.ts';
import type { AnnDtype, AnnMode } from '../store/ann-mode.ts';
import { resolveFilter, searchStore } from './search.ts';
import type { FilterNode } from '../data/field-types.ts';
import { withStore } from '../store/open-store.ts';
import { writeFileAtomic } from '../util/atomic.ts';
import { guardOutput, OUTPUT_KINDS } from '../util/outputs.ts';
import { checkEf, OptionError, toInteger, toNumber } from '../util/options.ts';

/** Options for findDuplicates. */
export interface DedupOptions {
  /** Cosine above which two items are near-duplicates, or 'auto' (autoThreshold). */
  threshold: number | 'auto';
  /** Neighbours looked at per item (default 10); groups still grow through chains of pairs. */
  neighbours?: number;
  ann?: AnnMode;
  ef?: number;
  /** Graph dtype when the graph is built (`--ann-dtype`; a saved graph of another dtype is rebuilt). */
  annDtype?: AnnDtype;
  /** Told when the graph is built or brought up to date. */
  onNote?: (msg: string) => void;
  /** Look for duplicates among the items this filter matches only (docs/filters.md). */
  filter?: string | FilterNode;
  /** Items searched per store.search call (default 2048). */
  block?: number;
  onProgress?: (done: number, total: number) => void;
}

/** One member of a group. */
export interface DedupMember {
  id: string;
  /** Cosine to the group's keeper (1 for the keeper itself). */
  score: number;
  size?: number;
}

/** A group of near-duplicates. */
export interface DedupGroup {
  keeper: string;
  /** Keeper first, then by cosine to the keeper (descending), then id. */
  members: DedupMember[];
}

/** What findDuplicates found. */
export interface DedupResult {
  threshold: number;
  /** How the threshold was chosen (the rule, or "given"). */
  rule: string;
  items: number;
  /** Pairs with cosine > threshold. */
  pairs: number;
  /** Items in some group. */
  duplicates: number;
  groups: DedupGroup[];
  keeperRule: string;
}

/** Pairs below this cosine are never kept (auto never picks a lower threshold). */
export const DEDUP_FLOOR = 0.5;
/** Threshold used by auto when the nearest-neighbour scores show no clear gap. */
export const DEDUP_FALLBACK = 0.95;
/** Otsu classes whose means are closer than this (decades of 1 - cosine) are not two populations. */
export const DEDUP_MIN_SEPARATION = 1;
/** How far (decades) from Otsu's split the threshold may move to sit in an empty gap. */
export const DEDUP_SNAP = 0.5;

/**
 * Pick T from the nearest-neighbour cosines s_i (one per item), on the scale x = log10(1 - s)
 * clamped to [-6, 0], where near-duplicates sit orders of magnitude closer than distinct items:
 * 1. Otsu's split of the sorted x values (the split maximising the between-class variance,
 *    each class at least 2 items);
 * 2. if the two class means are less than DEDUP_MIN_SEPARATION decades apart there are not two
 *    populations: T = DEDUP_FALLBACK;
 * 3. else the split moves to the widest gap between consecutive x values within DEDUP_SNAP
 *    decades of it, and T = 1 - 10^(middle of that gap).
 * It assumes near-duplicates are not a vanishing minority (about 1% of items or more); with fewer,
 * give T.
 */
export function autoThreshold(nn: ArrayLike<number>): { threshold: number; rule: string } {
  const xs = Array.from(nn, (s) => Math.min(0, Math.max(-6, Math.log10(Math.max(1e-12, 1 - s))))).sort((a, b) => a - b);
  const n = xs.length;
  const fallback = (why: string) => ({ threshold: DEDUP_FALLBACK, rule: `auto: ${why}; fallback ${DEDUP_FALLBACK}` });
  if (n < 4) return fallback('fewer than 4 items');
  const prefix = new Float64Array(n + 1);
  for (let i = 0; i < n; i++) prefix[i + 1] = prefix[i] + xs[i];
  let split = -1;
  let bestVar = -1;
  for (let i = 2; i <= n - 2; i++) {
    if (xs[i] === xs[i - 1]) continue;
    const w0 = i / n;
    const m0 = prefix[i] / i;
    const m1 = (prefix[n] - prefix[i]) / (n - i);
    const v = w0 * (1 - w0) * (m0 - m1) ** 2;
    if (v > bestVar) {
      bestVar = v;
      split = i;
    }
  }
  if (split < 0) return fallback('all nearest-neighbour scores are equal');
  const m0 = prefix[split] / split;
  const m1 = (prefix[n] - prefix[split]) / (n - split);
  if (m1 - m0 < DEDUP_MIN_SEPARATION) return fallback(`Otsu's classes of log10(1 - nearest-neighbour cosine) are only ${(m1 - m0).toFixed(2)} decades apart (no separate population of near-duplicates)`);
  // Snap to the widest gap near the split (the split index i means the gap between xs[i-1] and xs[i]).
  let gi = split;
  for (let i = 2; i <= n - 2; i++) {
    if (xs[i] < xs[split - 1] - DEDUP_SNAP || xs[i - 1] > xs[split] + DEDUP_SNAP) continue;
    if (xs[i] - xs[i - 1] > xs[gi] - xs[gi - 1]) gi = i;
  }
  const mid = (xs[gi - 1] + xs[gi]) / 2;
  const threshold = Math.max(DEDUP_FLOOR, 1 - 10 ** mid);
  return {
    threshold,
    rule: `auto: Otsu split of log10(1 - nearest-neighbour cosine) (class means ${m0.toFixed(2)} and ${m1.toFixed(2)}), moved to the widest gap near it: between cosines ${(1 - 10 ** xs[gi]).toFixed(4)} and ${(1 - 10 ** xs[gi - 1]).toFixed(4)}; ${gi} of ${n} items have a neighbour above it`,
  };
}

/** Union-find over item indices (path halving, union by size). */
class UnionFind {
  private parent: Int32Array;
  private size: Int32Array;
  constructor(n: number) {
    this.parent = Int32Array.from({ length: n }, (_, i) => i);
    this.size = new Int32Array(n).fill(1);
  }
  find(a: number): number {
    while (this.parent[a] !== a) {
      this.parent[a] = this.parent[this.parent[a]];
      a = this.parent[a];
    }
    return a;
  }
  union(a: number, b: number): void {
    let ra = this.find(a);
    let rb = this.find(b);
    if (ra === rb) return;
    if (this.size[ra] < this.size[rb]) [ra, rb] = [rb, ra];
    this.parent[rb] = ra;
    this.size[ra] += this.size[rb];
  }
}

/** Keeper rule: the largest file (bytes, from the index's file records), then the first id. */
export const KEEPER_RULE = 'largest file (bytes recorded at indexing), ties and unknown sizes: first id in sort order';

function pickKeeper(ids: string[], files: Map<string, FileRecord>): string {
  let best = ids[0];
  for (const id of ids) {
    const a = files.get(id)?.size ?? -1;
    const b = files.get(best)?.size ?? -1;
    if (a > b || (a === b && id < best)) best = id;
  }
  return best;
}

/** The vectors of `ids` in blocks: the store's own scan for all items, else reads of the selected ones. */
async function* blocksOf(store: VectorStore, ids: string[], rows: number, all: boolean): AsyncIterable<{ ids: string[]; vectors: Float32Array }> {
  if (all) return yield* store.scan(rows);
  for (let i = 0; i < ids.length; i += rows) {
    const part = ids.slice(i, i + rows);
    yield { ids: part, vectors: await store.getVectors(part) };
  }
}

/** Find groups of near-duplicates in a store. */
export async function findDuplicates(store: VectorStore, opts: DedupOptions): Promise<DedupResult> {
  const t = opts.threshold;
  if (t !== 'auto' && !(t > -1 && t < 1)) throw new OptionError(`{{threshold}} ${t}: expected a cosine in (-1, 1) or "auto"`);
  const K = opts.neighbours ?? 10;
  const filter = await resolveFilter(store, opts.filter);
  const ids = await store.select(filter);
  const n = ids.length;
  const index = new Map(ids.map((id, i) => [id, i]));
  const floor = t === 'auto' ? DEDUP_FLOOR : t;
  const nn = new Float32Array(n).fill(-1);
  const pa: number[] = [];
  const pb: number[] = [];
  const ps: number[] = [];
  let done = 0;
  for await (const b of blocksOf(store, ids, opts.block ?? 2048, !filter)) {
    const hits = await searchStore(store, b.vectors, K, b.ids, { ann: opts.ann, ef: opts.ef, annDtype: opts.annDtype, onNote: opts.onNote, filter });
    hits.forEach((list, qi) => {
      const a = index.get(b.ids[qi])!;
      if (list.length) nn[a] = list[0].score;
      for (const h of list) {
        if (h.score < floor) break;
        const j = index.get(h.id)!;
        // stored as (lower, higher) index; a pair found from both ends is counted once below
        pa.push(Math.min(a, j));
        pb.push(Math.max(a, j));
        ps.push(h.score);
      }
    });
    done += b.ids.length;
    opts.onProgress?.(done, n);
  }
  const { threshold, rule } = t === 'auto' ? autoThreshold(nn) : { threshold: t, rule: 'given' };
  const uf = new UnionFind(n);
  const seen = new Set<string>();
  for (let i = 0; i < pa.length; i++) {
    if (ps[i] <= threshold) continue;
    seen.add(`${pa[i]},${pb[i]}`);
    uf.union(pa[i], pb[i]);
  }
  const byRoot = new Map<number, number[]>();
  for (let i = 0; i < n; i++) {
    const r = uf.find(i);
    let l = byRoot.get(r);
    if (!l) byRoot.set(r, (l = []));
    l.push(i);
  }
  const files = await store.files();
  const groups: DedupGroup[] = [];
  for (const members of byRoot.values()) {
    if (members.length < 2) continue;
    const mids = members.map((i) => ids[i]);
    const keeper = pickKeeper(mids, files);
    const vecs = await store.getVectors([keeper, ...mids]);
    const dim = vecs.length / (mids.length + 1);
    const scoreOf = (m: number) => {
      let s = 0;
      for (let d = 0; d < dim; d++) s += vecs[d] * vecs[(m + 1) * dim + d];
      return Math.fround(s);
    };
    const list: DedupMember[] = mids.map((id, m) => ({ id, score: id === keeper ? 1 : scoreOf(m), ...(files.get(id) ? { size: files.get(id)!.size } : {}) }));
    list.sort((a, b) => (a.id === keeper ? -1 : b.id === keeper ? 1 : b.score - a.score || (a.id < b.id ? -1 : 1)));
    groups.push({ keeper, members: list });
  }
  groups.sort((a, b) => b.members.length - a.members.length || (a.keeper < b.keeper ? -1 : 1));
  return { threshold, rule, items: n, pairs: seen.size, duplicates: groups.reduce((s, g) => s + g.members.length, 0), groups, keeperRule: KEEPER_RULE };
}

/** Groups as CSV rows: group,id,keeper,cosine_to_keeper,bytes (RFC 4180 quoting). */
export function groupsCsv(r: DedupResult): string {
  const q = (s: string) => (/[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
  const rows = ['group,id,keeper,cosine_to_keeper,bytes'];
  r.groups.forEach((g, gi) => {
    for (const m of g.members) rows.push([String(gi + 1), q(m.id), m.id === g.keeper ? 'yes' : 'no', m.score.toFixed(6), m.size === undefined ? '' : String(m.size)].join(','));
  });
  return rows.join('\n') + '\n';
}

/**
 * Pairwise precision and recall of predicted groups against true groups (item -> true group
 * key; items absent from `truth` are singletons): precision = same-truth pairs among predicted
 * pairs, recall = predicted pairs among same-truth pairs.
 */
export function pairScores(groups: { members: { id: string }[] }[], truth: Map<string, string>): { precision: number; recall: number; predictedPairs: number; truePairs: number } {
  let predicted = 0;
  let correct = 0;
  for (const g of groups) {
    const m = g.members.map((x) => x.id);
    for (let i = 0; i < m.length; i++) {
      for (let j = i + 1; j < m.length; j++) {
        predicted++;
        const a = truth.get(m[i]);
        if (a !== undefined && a === truth.get(m[j])) correct++;
      }
    }
  }
  const sizes = new Map<string, number>();
  for (const k of truth.values()) sizes.set(k, (sizes.get(k) ?? 0) + 1);
  let truePairs = 0;
  for (const s of sizes.values()) truePairs += (s * (s - 1)) / 2;
  return { precision: predicted ? correct / predicted : 1, recall: truePairs ? correct / truePairs : 1, predictedPairs: predicted, truePairs };
}

/** Options of dedupIndex: findDuplicates' options (threshold also as text) and an output file. */
export interface DedupIndexOptions extends Omit<DedupOptions, 'threshold'> {
  /** A cosine in (-1, 1), its text, or 'auto'. */
  threshold: number | string;
  /** Write the groups here: .csv (one row per member) or JSON (checked before any work). */
  out?: string;
}

/** Find near-duplicate groups in the index at `location` and write them to `out` when given. */
export async function dedupIndex(location: string, o: DedupIndexOptions): Promise<DedupResult> {
  const threshold = o.threshold === 'auto' ? 'auto' : toNumber(o.threshold, 'threshold');
  const neighbours = toInteger(o.neighbours ?? 10, 'neighbours', 1);
  if (o.ef !== undefined) checkEf(o.ef);
  const csv = o.out !== undefined && /\.csv$/i.test(o.out);
  if (o.out !== undefined) guardOutput(o.out, { option: 'out', kind: csv ? OUTPUT_KINDS.dedupCsv : OUTPUT_KINDS.dedupJson, inputs: [location] });
  const r = await withStore(location, {}, (store) => findDuplicates(store, { ...o, threshold, neighbours }));
  if (o.out) writeFileAtomic(o.out, csv ? groupsCsv(r) : JSON.stringify(r, null, 2) + '\n');
  return r;
}
