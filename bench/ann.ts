/**
 * bench:ann — approximate search (usearch HNSW + exact re-scoring, src/store/ann*.ts) against
 * exact search (the ORT Gemm+TopK kernel over the same in-memory vectors), on:
 *  - synthetic clustered data: 1,000 Gaussian clusters in `--dim` (512) dimensions, unit-normalised.
 *    Each point is its cluster centre plus noise of low intrinsic dimension (`--latent`, 16
 *    random directions per cluster) plus a little isotropic noise, as real embeddings are
 *    (isotropic noise alone in 512-d makes every point of a cluster equidistant, a data set no
 *    one searches: `--latent 0` gives it, to see HNSW's worst case);
 *  - real embeddings: shared images (clothing10) through a shared model (mobilenet-v2-imagenet,
 *    1280-d), augmented to `--real` items by adding small Gaussian noise to each (renormalised).
 * Printed per data set: ANN build time and rate, graph bytes and RSS growth per million vectors,
 * exact QPS vs ANN QPS (alternated rounds through bench/harness.ts) and recall@10 against exact
 * at several ef. Target (issue 11): recall@10 >= 0.95 at >= 10x the exact QPS on 1M x 512.
 *
 * Usage: npm run bench:ann [-- --size 1000000] [--real 100000] [--ef 40,64,128,256] [--quick]
 *   --size N     synthetic items (default 100000; 1000000 for the 1M target, ~10 min on 2 cores)
 *   --real N     augmented real items (default 100000; 0 skips; skipped without ../shared)
 *   --queries N  ANN queries (default 1000); exact runs the first 256 (its QPS is flat in the batch)
 *   --dtype D    graph dtype f32|f16|i8 (default f32)
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Bench, benchArgs } from './harness.ts';
import { searchExact } from '../src/store/exact.ts';
import { AnnGraph, ANN_DEFAULTS } from '../src/store/ann.ts';
import type { AnnDtype } from '../src/store/ann-mode.ts';
import { annSearch } from '../src/store/ann-search.ts';
import { rng } from '../src/util/random.ts';
import { decodeNpy, encodeNpy } from '../src/util/npy.ts';

const { values } = benchArgs({
  size: { type: 'string', default: '100000' },
  real: { type: 'string', default: '100000' },
  queries: { type: 'string', default: '1000' },
  dim: { type: 'string', default: '512' },
  clusters: { type: 'string', default: '1000' },
  latent: { type: 'string', default: '16' },
  ef: { type: 'string', default: '40,64,128,256' },
  dtype: { type: 'string', default: 'f32' },
});
const quick = Boolean(values.quick);
const N = quick ? 20000 : Number(values.size);
const NR = quick ? Math.min(20000, Number(values.real)) : Number(values.real);
const NQ = Number(values.queries);
const D = Number(values.dim);
const C = Number(values.clusters);
const LATENT = Number(values.latent);
const EFS = String(values.ef).split(',').map(Number);
const DTYPE = values.dtype as AnnDtype;
const K = 10;
const NQ_EXACT = Math.min(256, NQ);
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SHARED = path.resolve(ROOT, '../shared');

const bench = new Bench('ann', 'HNSW (usearch) + exact re-scoring vs exact Gemm+TopK: build time, memory per million vectors, QPS and recall@10 at several ef', {
  size: N,
  real: NR,
  queries: NQ,
  dim: D,
  clusters: C,
  latent: LATENT,
  dtype: DTYPE,
  ef: EFS.join(','),
});

function normalise(v: Float32Array, dim: number): Float32Array {
  for (let i = 0; i < v.length; i += dim) {
    let s = 0;
    for (let d = 0; d < dim; d++) s += v[i + d] * v[i + d];
    const inv = 1 / Math.sqrt(s || 1);
    for (let d = 0; d < dim; d++) v[i + d] *= inv;
  }
  return v;
}

/** n points (plus nq queries from the same clusters) of the synthetic clustered set. */
function synthetic(n: number, nq: number): { data: Float32Array; queries: Float32Array } {
  const rnd = rng(11);
  const u = () => (rnd() - 0.5) * 3.4641016; // uniform with unit variance (cheap, fine for noise)
  const centres = normalise(Float32Array.from({ length: C * D }, u), D);
  // Per cluster, LATENT random directions (scaled so the latent noise has norm ~0.45).
  const basis = Float32Array.from({ length: C * LATENT * D }, () => (u() * 0.45) / Math.sqrt(LATENT * D) * Math.sqrt(D));
  const iso = 0.08 / Math.sqrt(D);
  const make = (count: number, seed: number) => {
    const r2 = rng(seed);
    const out = new Float32Array(count * D);
    const z = new Float32Array(LATENT);
    for (let i = 0; i < count; i++) {
      const c = Math.floor(r2() * C);
      const o = i * D;
      out.set(centres.subarray(c * D, (c + 1) * D), o);
      for (let l = 0; l < LATENT; l++) z[l] = (r2() - 0.5) * 3.4641016 / Math.sqrt(D);
      for (let l = 0; l < LATENT; l++) {
        const b = (c * LATENT + l) * D;
        const zl = z[l];
        for (let d = 0; d < D; d++) out[o + d] += zl * basis[b + d];
      }
      for (let d = 0; d < D; d++) out[o + d] += iso * (r2() - 0.5) * 3.4641016;
    }
    return normalise(out, D);
  };
  return { data: make(n, 12), queries: make(nq, 13) };
}

/** Real embeddings: clothing10 through mobilenet-v2-imagenet (cached in the OS temp folder), augmented to n + nq. */
async function real(n: number, nq: number): Promise<{ data: Float32Array; queries: Float32Array; dim: number; base: number } | undefined> {
  const images = path.join(SHARED, 'datasets/clothing10');
  const model = path.join(SHARED, 'models/mobilenet-v2-imagenet');
  if (!fs.existsSync(images) || !fs.existsSync(model)) return undefined;
  const cache = path.join(os.tmpdir(), 'lookalike-bench-ann-clothing10-mobilenet-v2-imagenet.npy');
  let base: Float32Array;
  let dim: number;
  if (fs.existsSync(cache)) {
    const d = decodeNpy(fs.readFileSync(cache), cache);
    base = d.data;
    dim = d.cols;
  } else {
    const { loadBackbone } = await import('../src/models/load.ts');
    const { embedWithBackbone } = await import('../src/embed/pipeline.ts');
    const { listFolder } = await import('../src/data/images.ts');
    const files = listFolder(images).images;
    bench.log(`  embedding ${files.length} clothing10 images with mobilenet-v2-imagenet (once; cached in ${cache})`);
    const bb = await loadBackbone(model);
    const r = await embedWithBackbone(bb, files.map((f) => ({ id: f, source: path.join(images, f) })));
    await bb.dispose();
    base = r.vectors;
    dim = r.dim;
    fs.writeFileSync(cache, encodeNpy(base, base.length / dim, dim));
  }
  const nb = base.length / dim;
  const rnd = rng(21);
  const sigma = 0.25 / Math.sqrt(dim); // noise of norm ~0.25 against unit vectors: copies stay near their source
  const aug = (count: number, offset: number) => {
    const out = new Float32Array(count * dim);
    for (let i = 0; i < count; i++) {
      const s = ((i + offset) * 7919) % nb;
      for (let d = 0; d < dim; d++) out[i * dim + d] = base[s * dim + d] + sigma * (rnd() - 0.5) * 3.4641016;
    }
    return normalise(out, dim);
  };
  return { data: aug(n, 0), queries: aug(nq, n), dim, base: nb };
}

async function measure(name: string, data: Float32Array, queries: Float32Array, dim: number): Promise<void> {
  const n = data.length / dim;
  const nq = queries.length / dim;
  const vectorsOf = { matrix: data, rowOf: (id: string) => Number(id) };
  const group = name.replace(/\W+/g, '-').replace(/-+$/, '');
  bench.log(`\n== ${name}: ${n.toLocaleString('en-US')} x ${dim}, ${nq} queries`);
  let graph: AnnGraph | undefined;
  const recall = new Map<number, number>();
  const cols = new Map<number, Record<string, string | number>>(EFS.map((ef) => [ef, {}]));
  /** Build the graph and measure recall (untimed setup of the first ANN path; memory children never reach it). */
  const build = async () => {
    if (graph) return;
    const truth = await searchExact(data, queries, dim, K);
    const ids = Array.from({ length: n }, (_, i) => String(i));
    const rss0 = process.memoryUsage().rss;
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    const g = AnnGraph.create(dim, { ...ANN_DEFAULTS, dtype: DTYPE });
    for (let i = 0; i < n; i += 50000) {
      const j = Math.min(n, i + 50000);
      g.add(ids.slice(i, j), data.subarray(i * dim, j * dim));
      bench.log(`  building: ${j}/${n} (${((j / (performance.now() - t0)) * 1000).toFixed(0)} vectors/s)`);
    }
    const secs = (performance.now() - t0) / 1000;
    const c = process.cpuUsage(c0);
    const cpu = (c.user + c.system) / 1e6;
    const rssGrowth = (process.memoryUsage().rss - rss0) / 2 ** 20;
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lookalike-bench-ann-'));
    const m = g.save(tmp, 'bench');
    fs.rmSync(tmp, { recursive: true, force: true });
    const perM = (x: number) => (x * 1e6) / n;
    bench.note(
      `${name}: build ${secs.toFixed(1)} s wall, ${cpu.toFixed(0)} CPU-s (${(n / secs).toFixed(0)} vectors/s; ${((perM(secs)) / 60).toFixed(1)} min and ${(perM(cpu) / 60).toFixed(0)} CPU-min per million); graph file ${(m.bytes / 2 ** 20).toFixed(0)} MiB = ${(perM(m.bytes) / 2 ** 30).toFixed(2)} GiB per million vectors (${DTYPE} vectors + links); RSS growth while building ${rssGrowth.toFixed(0)} MiB = ${(perM(rssGrowth) / 1024).toFixed(2)} GiB per million`,
    );
    for (const ef of EFS) {
      const res = await annSearch(g, queries, vectorsOf, { k: K, ef });
      let hit = 0;
      res.forEach((hits, q) => {
        const want = new Set(Array.from(truth.indices.subarray(q * K, (q + 1) * K)));
        for (const h of hits) if (want.has(Number(h.id))) hit++;
      });
      recall.set(ef, hit / (res.length * K));
      cols.get(ef)!['recall@10'] = Number(recall.get(ef)!.toFixed(4));
    }
    graph = g;
  };
  const qx = queries.subarray(0, NQ_EXACT * dim);
  const batch = await bench.compare({
    group: `${group}-batch`,
    title: `${name}, batches of queries: exact Gemm+TopK vs ANN (usearch HNSW M=${ANN_DEFAULTS.connectivity}, efConstruction=${ANN_DEFAULTS.expansionAdd}, ${DTYPE}; depth max(4k, ef); exact re-scoring), k=${K}`,
    unit: 'queries/s',
    baseline: 'exact',
    rounds: 3,
    paths: [
      { name: 'exact', label: `exact Gemm+TopK (${NQ_EXACT} queries per call)`, work: NQ_EXACT, memory: false, run: () => searchExact(data, qx, dim, K), columns: { 'recall@10': 1 } },
      ...EFS.map((ef) => ({
        name: `ef${ef}`,
        label: `ANN ef=${ef} (${nq} queries per call)`,
        work: nq,
        memory: false,
        setup: build,
        run: () => annSearch(graph!, queries, vectorsOf, { k: K, ef }),
        columns: cols.get(ef)!,
      })),
    ],
  });
  // One query per call: what an interactive search or the service sees.
  let qi = 0;
  const one = () => queries.subarray((qi = (qi + 1) % nq) * dim, (qi + 1) * dim);
  const single = await bench.compare({
    group: `${group}-single`,
    title: `${name}, one query per call (latency): exact vs ANN, k=${K}`,
    unit: 'queries/s',
    baseline: 'exact',
    rounds: 3,
    paths: [
      { name: 'exact', label: 'exact Gemm+TopK, 1 query', work: 1, memory: false, run: () => searchExact(data, one(), dim, K) },
      ...EFS.map((ef) => ({ name: `ef${ef}`, label: `ANN ef=${ef}, 1 query`, work: 1, memory: false, setup: build, run: () => annSearch(graph!, one(), vectorsOf, { k: K, ef }), columns: cols.get(ef)! })),
    ],
  });
  const ok = EFS.filter((ef) => recall.get(ef)! >= 0.95);
  const best = ok.length ? ok[0] : undefined;
  if (!batch.skipped) {
    bench.note(
      best === undefined
        ? `${name}: no ef reached recall@10 0.95 (best ${Math.max(...recall.values()).toFixed(3)})`
        : `${name}: smallest ef with recall@10 >= 0.95 is ${best} (recall ${recall.get(best)!.toFixed(3)}): ${batch.ratio(`ef${best}`).toFixed(1)}x the exact QPS in batches (${batch.throughput(`ef${best}`).toFixed(0)} vs ${batch.throughput('exact').toFixed(0)} queries/s), ${single.ratio(`ef${best}`).toFixed(1)}x one query at a time (${single.throughput(`ef${best}`).toFixed(0)} vs ${single.throughput('exact').toFixed(1)} queries/s)`,
    );
  }
}

const syn = synthetic(N, NQ);
await measure(`synthetic ${N >= 1e6 ? `${N / 1e6}M` : `${N / 1000}k`} x ${D} (${C} clusters, latent ${LATENT})`, syn.data, syn.queries, D);
if (NR > 0) {
  const rr = await real(NR, NQ);
  if (!rr) bench.note('real embeddings skipped: ../shared (clothing10, mobilenet-v2-imagenet) is absent');
  else await measure(`real ${NR / 1000}k x ${rr.dim} (clothing10 ${rr.base} images through mobilenet-v2-imagenet, + noise)`, rr.data, rr.queries, rr.dim);
}
bench.note('Measured on a shared 2-core machine: other processes compete for the cores, so absolute QPS and build rates are lower than on an idle machine; the ratios come from alternated rounds.');
await bench.done();
