/**
 * bench:filters — filtered search (issue 20) at `--size` (100,000) x `--dim` (512) with a field of
 * 1,000 values (`cat`), at selectivities 0.1%, 1%, 10% and 50%, on the folder store exact and
 * through its ANN graph (and a Postgres store with `--pg LOCATION`), against:
 *  - unfiltered search (the baseline of each group: what a filter costs), and
 *  - over-fetch-then-filter: an unfiltered search for 10 x k results, filtered afterwards (what a
 *    user without filters does; it returns fewer than k results at low selectivity).
 * Per path: latency per query, mean results per query (k = 10 wanted) and, for ANN and
 * Postgres, recall@10 against the exact filtered ranking.
 *
 * Usage: npm run bench:filters [-- --size 100000] [--dim 512] [--queries 50] [--shares 0.001,0.01,0.1,0.5] [--pg pglite:/tmp/db] [--quick]
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Bench, benchArgs } from './harness.ts';
import { openStore } from '../src/store/open-store.ts';
import { searchStore } from '../src/index/search.ts';
import { rng } from '../src/util/random.ts';
import type { Hit, VectorStore } from '../src/store/types.ts';

const { values } = benchArgs({
  size: { type: 'string', default: '100000' },
  dim: { type: 'string', default: '512' },
  queries: { type: 'string', default: '50' },
  pg: { type: 'string' },
  shares: { type: 'string', default: '0.001,0.01,0.1,0.5' },
});
const quick = Boolean(values.quick);
const N = quick ? 20000 : Number(values.size);
const D = Number(values.dim);
const NQ = Number(values.queries);
const K = 10;
const OVERFETCH = 10;
const SHARES = String(values.shares).split(',').map(Number);

const bench = new Bench('filters', 'Filtered search (pre-filter bitmap + exact kernel; graph with over-fetch by 1/share, exact fallback) vs unfiltered and over-fetch-then-filter', { size: N, dim: D, queries: NQ, k: K, pg: values.pg ?? 'none' });

const r = rng(5);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lookalike-bench-filters-'));
process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
const location = path.join(dir, 'f.lkx');
const model = { name: 'random', fingerprint: 'sha256:bench-filters', spec: {} as never };

// Clustered data, as real embeddings are (uniform random 512-d vectors are all equidistant, a set
// no one searches and HNSW's worst case): 1,000 centres, each point its centre plus noise along 16
// directions of its cluster, normalised. The field is drawn independently of the cluster.
const CLUSTERS = 1000;
const LATENT = 16;
const centres = Float32Array.from({ length: CLUSTERS * D }, () => r() - 0.5);
const basis = Float32Array.from({ length: CLUSTERS * LATENT * D }, () => (r() - 0.5) * 0.35);

function unit(n: number): Float32Array {
  const v = new Float32Array(n * D);
  for (let i = 0; i < n; i++) {
    const c = Math.floor(r() * CLUSTERS);
    const o = i * D;
    v.set(centres.subarray(c * D, (c + 1) * D), o);
    for (let l = 0; l < LATENT; l++) {
      const z = r() - 0.5;
      const b = (c * LATENT + l) * D;
      for (let d = 0; d < D; d++) v[o + d] += z * basis[b + d];
    }
    let s = 0;
    for (let d = 0; d < D; d++) s += v[o + d] ** 2;
    for (let d = 0; d < D; d++) v[o + d] /= Math.sqrt(s);
  }
  return v;
}

async function fill(loc: string): Promise<void> {
  const w = await openStore(loc, { write: true, create: { model, dim: D } });
  const g = rng(6);
  try {
    for (let i0 = 0; i0 < N; i0 += 10_000) {
      const n = Math.min(10_000, N - i0);
      const v = unit(n);
      await w.write({ upsert: Array.from({ length: n }, (_, j) => ({ id: `i${String(i0 + j).padStart(8, '0')}`, vector: v.slice(j * D, (j + 1) * D), fields: { cat: `c${Math.floor(g() * 1000)}` } })) });
    }
  } finally {
    await w.close();
  }
}

bench.log(`  writing ${N} x ${D} items with a 1,000-value field to ${location}`);
await fill(location);
const queries = unit(NQ);
const folder = await openStore(location);
bench.log('  building the ANN graph (once)');
await searchStore(folder, queries.subarray(0, D), K, undefined, { ann: 'on' });
let pg: VectorStore | undefined;
if (values.pg) {
  bench.log(`  writing the same items to ${values.pg}`);
  await fill(values.pg);
  pg = await openStore(values.pg);
}

const filterOf = (share: number) => `cat in (${Array.from({ length: Math.max(1, Math.round(share * 1000)) }, (_, i) => `"c${i}"`).join(', ')})`;
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
const headline: string[] = [];

for (const share of SHARES) {
  const filter = filterOf(share);
  const matchSet = new Set(await folder.select((await import('../src/data/filter/parse.ts')).parseFilter(filter, await folder.fieldSchema())));
  const truth = await searchStore(folder, queries, K, undefined, { ann: 'off', filter });
  const recall = (hits: Hit[][]) => mean(hits.map((h, q) => (truth[q].length ? h.filter((x) => truth[q].some((t) => t.id === x.id)).length / truth[q].length : 1)));
  const stats = new Map<string, { results: number; recall?: number }>();
  const path_ = (name: string, label: string, run: () => Promise<Hit[][]>, withRecall: boolean) => ({
    name,
    label,
    work: NQ,
    run: async () => {
      const hits = await run();
      if (!stats.has(name)) stats.set(name, { results: mean(hits.map((h) => h.length)), recall: withRecall ? recall(hits) : undefined });
      return hits;
    },
    memory: false,
  });
  const overfetch = (store: VectorStore, ann: 'on' | 'off') => async () => (await searchStore(store, queries, K * OVERFETCH, undefined, { ann })).map((h) => h.filter((x) => matchSet.has(x.id)).slice(0, K));
  const paths = [
    path_('exact-unfiltered', 'exact, no filter', () => searchStore(folder, queries, K, undefined, { ann: 'off' }), false),
    path_('exact-filtered', 'exact, filtered', () => searchStore(folder, queries, K, undefined, { ann: 'off', filter }), false),
    path_('exact-overfetch', `exact, top-${K * OVERFETCH} then filter`, overfetch(folder, 'off'), false),
    path_('ann-unfiltered', 'ANN, no filter', () => searchStore(folder, queries, K, undefined, { ann: 'on' }), false),
    path_('ann-filtered', 'ANN, filtered', () => searchStore(folder, queries, K, undefined, { ann: 'on', filter }), true),
    path_('ann-overfetch', `ANN, top-${K * OVERFETCH} then filter`, overfetch(folder, 'on'), true),
  ];
  if (pg) {
    paths.push(path_('pg-exact-filtered', 'Postgres exact, filtered', () => searchStore(pg!, queries, K, undefined, { ann: 'off', filter }), true));
    paths.push(path_('pg-hnsw-filtered', 'Postgres HNSW (iterative scan), filtered', () => searchStore(pg!, queries, K, undefined, { ann: 'on', filter }), true));
  }
  const res = await bench.compare({
    group: `share-${share}`,
    title: `selectivity ${share * 100}% (${matchSet.size} of ${N} items match), ${NQ} queries, k = ${K}`,
    unit: 'queries/s',
    baseline: 'exact-unfiltered',
    paths,
    review: (rows) => {
      for (const row of rows) {
        const s = stats.get(row.name);
        row.columns = { 'results/query': s ? s.results.toFixed(2) : '-', 'recall@10': s?.recall === undefined ? '-' : s.recall.toFixed(3) };
      }
    },
  });
  headline.push(`${share * 100}%: exact ${(1000 / res.throughput('exact-filtered')).toFixed(2)} ms/query (${res.ratio('exact-filtered').toFixed(2)}x unfiltered), over-fetch ${stats.get('exact-overfetch')?.results.toFixed(2)} of ${K} results`);
  bench.note(`selectivity ${share * 100}%: filtered exact ${(1000 / res.throughput('exact-filtered')).toFixed(2)} ms/query, ANN filtered ${(1000 / res.throughput('ann-filtered')).toFixed(2)} ms/query (recall@10 ${stats.get('ann-filtered')?.recall?.toFixed(3)}), over-fetch returns ${stats.get('exact-overfetch')?.results.toFixed(2)} of ${K} results`);
}
bench.headline(`Filtered search over ${N} x ${D} returns ${K} of ${K} results at every selectivity (over-fetching 10x and filtering returns fewer below 10%): ${headline.join('; ')}.`);
await folder.close();
await pg?.close();
await bench.done();
