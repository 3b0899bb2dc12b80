/**
 * bench:pg — the Postgres/pgvector store against the folder store, in one run:
 *  1. insert throughput (vectors/s): PgStore.write into PGlite (HNSW maintained while inserting),
 *     the HNSW build on a loaded table, and the folder store's write;
 *  2. search QPS (harness comparison, baseline: folder store exact): pgvector exact (sequential
 *     scan), pgvector HNSW at two ef values, folder store ANN (usearch);
 *  3. recall@10 of each approximate path against exact search;
 *  4. worker throughput with 1, 2 and 3 `lookalike worker` processes on the shared images,
 *     through pg-boss, on the server (--url) or else over pglite-socket.
 * With --url postgres://... or LOOKALIKE_PG_URL (a server with pgvector where the user may CREATE DATABASE, such as
 * scripts/pg-test-server.sh's) the same data also goes into a real server, in a database the
 * bench creates and drops: the bulk load (COPY, then inserts into the bare table), the HNSW build
 * with maintenance_work_mem 512MB, exact search (per query on the server, and a batch ranked here),
 * HNSW at ef 40/100/200, recall@10 against the folder store's exact search.
 * Example: npm run bench:pg -- --n 100000 --dim 512 --url "$(scripts/pg-test-server.sh start)"   (--quick: 20k x 512)
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Bench, benchArgs } from './harness.ts';
import { openStore } from '../src/store/open-store.ts';
import type { StoreItem, VectorStore } from '../src/store/types.ts';
import { rng, gaussian } from '../src/util/random.ts';
import pgDriver from 'pg';
import { readCsv } from '../src/data/csv.ts';
import type { PgStore } from '../src/store/pg/store.ts';
// pglite-socket with the fix that keeps one connection's extended-protocol messages together
// (without it, "bind message supplies 1 parameters, but prepared statement requires 2").
import { startPgServer } from '../tests/helpers/pg.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { values } = benchArgs({
  n: { type: 'string' },
  dim: { type: 'string', default: '512' },
  queries: { type: 'string', default: '100' },
  images: { type: 'string' },
  model: { type: 'string', default: path.join(ROOT, '../shared/models/mobilenet-v3-small-embedder') },
  dataset: { type: 'string', default: path.join(ROOT, '../shared/datasets/clothing10') },
  'skip-workers': { type: 'boolean' },
  url: { type: 'string' },
  'skip-pglite': { type: 'boolean' },
});
const skipPglite = Boolean(values['skip-pglite']);
const quick = Boolean(values.quick);
const n = Number(values.n ?? (quick ? 20_000 : 100_000));
const dim = Number(values.dim);
const nq = Number(values.queries);
const nImages = Number(values.images ?? (quick ? 96 : 240));
// --url, else LOOKALIKE_PG_URL (so `npm run bench:all -- --only pg` takes the test server too).
const serverUrl = values.url ? String(values.url) : process.env.LOOKALIKE_PG_URL || undefined;
const b = new Bench('pg', 'Postgres/pgvector store (PGlite in-process, and a real server with --url) vs the folder store: inserts, search QPS, recall@10 of HNSW; scale-out workers. Why: pgvector is the engine people already run; this shows what it costs and gains.', { n, dim, queries: nq, images: nImages, server: serverUrl ? 'yes' : 'no' });
b.log(`load average at the start: ${fs.readFileSync('/proc/loadavg', 'utf8').trim()} (${os.cpus().length} cores)`);

/** A database of this run on the server (created here, dropped at the end). */
async function benchDatabase(base: string): Promise<{ url: string; drop: () => Promise<void>; query: <T>(text: string, params?: unknown[]) => Promise<T[]> }> {
  const name = `lookalike_bench_${process.pid}`;
  const admin = new pgDriver.Client({ connectionString: base });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } catch (e) {
    throw new Error(`--url ${base}: cannot create the bench's database (${(e as Error).message}); the bench needs a role that may CREATE DATABASE, such as scripts/pg-test-server.sh's`);
  } finally {
    await admin.end();
  }
  const u = new URL(base);
  u.pathname = `/${name}`;
  const pool = new pgDriver.Pool({ connectionString: u.toString(), max: 2 });
  return {
    url: u.toString(),
    query: async <T>(text: string, params?: unknown[]) => (await pool.query(text, params)).rows as T[],
    drop: async () => {
      await pool.end();
      const a = new pgDriver.Client({ connectionString: base });
      await a.connect();
      await a.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await a.end();
    },
  };
}
const server = serverUrl ? await benchDatabase(serverUrl) : undefined;
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => void server?.drop().finally(() => process.exit(130)));

// Clustered unit vectors (n/50 centres, noise of the same scale as the spread): closer to real
// embeddings than uniform noise, on which every ANN index is at its worst.
function data(): { vectors: Float32Array; queries: Float32Array; cluster: Int32Array } {
  const g = gaussian(rng(7));
  const centres = Math.max(1, Math.floor(n / 50));
  const c = Float32Array.from({ length: centres * dim }, () => g());
  const unit = (v: Float32Array, o: number) => {
    let s = 0;
    for (let d = 0; d < dim; d++) s += v[o + d] ** 2;
    const inv = 1 / Math.sqrt(s);
    for (let d = 0; d < dim; d++) v[o + d] *= inv;
  };
  const vectors = new Float32Array(n * dim);
  const cluster = new Int32Array(n);
  const r = rng(11);
  for (let i = 0; i < n; i++) {
    const k = (cluster[i] = Math.floor(r() * centres));
    for (let d = 0; d < dim; d++) vectors[i * dim + d] = c[k * dim + d] + 0.8 * g();
    unit(vectors, i * dim);
  }
  const queries = new Float32Array(nq * dim);
  for (let q = 0; q < nq; q++) {
    const i = Math.floor(r() * n);
    for (let d = 0; d < dim; d++) queries[q * dim + d] = vectors[i * dim + d] + 0.02 * g();
    unit(queries, q * dim);
  }
  return { vectors, queries, cluster };
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lookalike-bench-pg-'));
process.on('exit', () => fs.rmSync(tmp, { recursive: true, force: true }));
const model = { name: 'bench', fingerprint: 'bench', spec: {} as never };

async function load(store: VectorStore, vectors: Float32Array, n: number): Promise<number> {
  const t0 = performance.now();
  const rows = 5000;
  for (let i = 0; i < n; i += rows) {
    const items: StoreItem[] = [];
    for (let j = i; j < Math.min(n, i + rows); j++) items.push({ id: `v${String(j).padStart(7, '0')}`, vector: vectors.subarray(j * dim, (j + 1) * dim) });
    await store.write({ upsert: items });
    if (!b.json) process.stderr.write(`\r  ${store.kind} ${store.location.slice(-12)}: ${Math.min(n, i + rows)}/${n}`);
  }
  if (!b.json) process.stderr.write('\n');
  return n / ((performance.now() - t0) / 1000);
}

function recall(got: { id: string }[][], truth: { id: string }[][]): number {
  let hit = 0;
  let all = 0;
  got.forEach((g, q) => {
    const t = new Set(truth[q].map((h) => h.id));
    hit += g.filter((h) => t.has(h.id)).length;
    all += truth[q].length;
  });
  return hit / all;
}

const { vectors, queries, cluster } = data();
b.log(`data: ${n} x ${dim} clustered unit vectors, ${nq} queries`);

// 1. Inserts. Loading a big table with the HNSW index in place is slow (every row is an HNSW
// insert), so the bulk load goes into the bare table and the index is built after, as a bulk
// load into Postgres should; the rate with the index maintained is measured on a slice.
const pgLoc = `pglite:${path.join(tmp, 'db')}`;
const folderLoc = path.join(tmp, 'folder.lkx');
const folder = await openStore(folderLoc, { write: true, create: { model, dim } });
const folderRate = await load(folder, vectors, n);
b.note(`insert, folder store (append-only segments): ${folderRate.toFixed(0)} vectors/s`);
const pg = skipPglite ? undefined : await openStore(pgLoc, { write: true, create: { model, dim } });
if (!pg) b.note('PGlite: skipped (--skip-pglite)');
else {
  const { itemsTable } = await import('../src/store/pg/tables.ts');
  const sql = (pg as unknown as { db: { query: (t: string) => Promise<unknown> } }).db;
  await sql.query(`DROP INDEX lookalike."items_main_hnsw"`);
  const pgRate = await load(pg, vectors, n);
  // pgvector builds the graph in memory only while it fits in maintenance_work_mem (PGlite's
  // default is 64MB, under 100k x 512); past that the build goes on page by page, several times slower.
  await sql.query(`SET maintenance_work_mem = '1GB'`);
  const t0 = performance.now();
  await sql.query(`CREATE INDEX "items_main_hnsw" ON ${itemsTable('main')} USING hnsw (embedding vector_cosine_ops)`);
  const s = (performance.now() - t0) / 1000;
  b.note(`insert, PGlite + pgvector, bare table (5,000-row transactions): ${pgRate.toFixed(0)} vectors/s (folder store / PGlite: ${(folderRate / pgRate).toFixed(1)}x); then the HNSW build (m=16, ef_construction=64, maintenance_work_mem 1GB): ${s.toFixed(1)} s = ${(n / s).toFixed(0)} vectors/s; both together: ${(n / (n / pgRate + s)).toFixed(0)} vectors/s`);
  const slice = Math.min(n, quick ? 1000 : 2000);
  const inc = await openStore(`pglite:${path.join(tmp, 'db')}?index=inc`, { write: true, create: { model, dim } });
  const rate = await load(inc, vectors, slice);
  await inc.close();
  b.note(`insert, PGlite + pgvector with the HNSW index maintained (first ${slice} rows): ${rate.toFixed(0)} vectors/s`);
}
{
  // The same bare-table load over the wire protocol (pg -> pglite-socket): vectors travel in
  // pgvector's binary format there (PgStore), which skips the server's text parsing.
  const slice = Math.min(n, quick ? 5000 : 10000);
  const wire = await startPgServer();
  try {
    const w = await openStore(`${wire.url}?index=wire`, { write: true, create: { model, dim } });
    await (w as unknown as { db: { query: (t: string) => Promise<unknown> } }).db.query(`DROP INDEX lookalike."items_wire_hnsw"`);
    const rate = await load(w, vectors, slice);
    await w.close();
    b.note(`insert over the wire (pg driver -> pglite-socket, binary vectors), bare table (first ${slice} rows): ${rate.toFixed(0)} vectors/s`);
  } finally {
    await wire.stop();
  }
}
let srv: PgStore | undefined;
if (server) {
  // The real server: a first load as `index` makes it (the first write by binary COPY into the
  // bare table, later ones inserted there), then the HNSW index built once (finishLoad).
  srv = (await openStore(`${server.url}?index=main`, { write: true, create: { model, dim } })) as PgStore;
  const [ver] = await server.query<{ v: string; pgv: string; workers: string }>(`SELECT current_setting('server_version') AS v, (SELECT extversion FROM pg_extension WHERE extname = 'vector') AS pgv, current_setting('max_parallel_maintenance_workers') AS workers`);
  b.log(`server: PostgreSQL ${ver.v}, pgvector ${ver.pgv}, max_parallel_maintenance_workers ${ver.workers}`);
  const rate = await load(srv, vectors, n);
  const t0 = performance.now();
  await srv.finishLoad();
  const s = (performance.now() - t0) / 1000;
  b.note(`insert, PostgreSQL ${ver.v} + pgvector ${ver.pgv} over loopback: first load ${rate.toFixed(0)} vectors/s (5,000-row writes: the first by binary COPY, the rest binary inserts into the bare table); then the HNSW build (m=16, ef_construction=64, maintenance_work_mem 512MB, up to ${ver.workers} parallel workers): ${s.toFixed(1)} s = ${(n / s).toFixed(0)} vectors/s; both together: ${(n / (n / rate + s)).toFixed(0)} vectors/s`);
  {
    const slice = Math.min(n, quick ? 10_000 : 20_000);
    const c = await openStore(`${server.url}?index=copy`, { write: true, create: { model, dim } });
    const items: StoreItem[] = Array.from({ length: slice }, (_, j) => ({ id: `v${String(j).padStart(7, '0')}`, vector: vectors.subarray(j * dim, (j + 1) * dim) }));
    const t1 = performance.now();
    await c.write({ upsert: items });
    b.note(`insert, server, one binary COPY of ${slice} rows into a fresh table: ${(slice / ((performance.now() - t1) / 1000)).toFixed(0)} vectors/s`);
    await c.close();
  }
  {
    const slice = Math.min(n, quick ? 1000 : 2000);
    const inc = await openStore(`${server.url}?index=inc`, { write: true, create: { model, dim } });
    const items: StoreItem[] = Array.from({ length: slice }, (_, j) => ({ id: `v${String(j).padStart(7, '0')}`, vector: vectors.subarray(j * dim, (j + 1) * dim) }));
    const t1 = performance.now();
    for (let i = 0; i < slice; i += 250) await inc.write({ upsert: items.slice(i, i + 250) }); // under the bulk size: inserts, HNSW maintained
    b.note(`insert, server, HNSW index maintained (250-row writes, first ${slice} rows): ${(slice / ((performance.now() - t1) / 1000)).toFixed(0)} vectors/s`);
    await inc.close();
  }
}

// 2. Search QPS. Exact paths run few queries per call (a full scan each), ANN paths many.
const few = queries.subarray(0, Math.min(nq, 4) * dim);
const many = queries;
const folderAnn = await folder.search(few, { k: 10, ann: 'on' }).then(() => true, () => false);
const paths = [{ name: 'folder-exact', label: 'folder store, exact', work: few.length / dim, run: () => folder.search(few, { k: 10, ann: 'off' }), memory: false }];
if (pg) {
  paths.push(
    { name: 'pg-exact', label: 'PGlite pgvector, exact (seq scan)', work: few.length / dim, run: () => pg.search(few, { k: 10, ann: 'off' }), memory: false },
    { name: 'pg-hnsw-40', label: 'PGlite pgvector HNSW, ef 40', work: nq, run: () => pg.search(many, { k: 10, ann: 'on', ef: 40 }), memory: false },
    { name: 'pg-hnsw-100', label: 'PGlite pgvector HNSW, ef 100', work: nq, run: () => pg.search(many, { k: 10, ann: 'on', ef: 100 }), memory: false },
  );
}
if (folderAnn) paths.push({ name: 'folder-ann', label: 'folder store ANN (usearch), ef 100', work: nq, run: () => folder.search(many, { k: 10, ann: 'on', ef: 100 }), memory: false });
paths.push({ name: 'folder-exact-batch', label: `folder store, exact, ${nq} queries per call`, work: nq, run: () => folder.search(many, { k: 10, ann: 'off' }), memory: false });
if (srv) {
  const s = srv;
  paths.push(
    { name: 'server-exact', label: 'server pgvector, exact (seq scan per query)', work: few.length / dim, run: () => s.search(few, { k: 10, ann: 'off' }), memory: false },
    { name: 'server-exact-batch', label: `server, exact, ${nq} queries per call (table read once, ranked here)`, work: nq, run: () => s.search(many, { k: 10, ann: 'off' }), memory: false },
    ...[40, 100, 200].map((ef) => ({ name: `server-hnsw-${ef}`, label: `server pgvector HNSW, ef ${ef}`, work: nq, run: () => s.search(many, { k: 10, ann: 'on', ef }), memory: false })),
  );
}
await b.compare({ group: 'search', title: `top-10 search, ${n} x ${dim}`, unit: 'queries/s', baseline: 'folder-exact', rounds: Math.min(b.rounds, 3), paths });

// 3. Recall@10 against exact search (scores are exact cosines in every path; ids are compared).
const truth = await folder.search(many, { k: 10, ann: 'off' });
if (pg) {
  b.note(`recall@10 PGlite pgvector exact vs folder exact: ${recall(await pg.search(many, { k: 10, ann: 'off' }), truth).toFixed(4)} (must be 1)`);
  for (const ef of [40, 100, 200]) b.note(`recall@10 PGlite pgvector HNSW ef ${ef}: ${recall(await pg.search(many, { k: 10, ann: 'on', ef }), truth).toFixed(4)}`);
}
if (folderAnn) for (const ef of [40, 100]) b.note(`recall@10 folder ANN (usearch) ef ${ef}: ${recall(await folder.search(many, { k: 10, ann: 'on', ef }), truth).toFixed(4)}`);
else b.note('folder store ANN: not available in this build');
if (srv) {
  // Leave-one-out eval (every item a query, default depth) of the first E items, folder store vs
  // server: the figure of issue 23 (it read the table once per query before).
  const e = Math.min(n, quick ? 2000 : 5000);
  const items: StoreItem[] = Array.from({ length: e }, (_, j) => ({ id: `v${String(j).padStart(7, '0')}`, vector: vectors.subarray(j * dim, (j + 1) * dim) }));
  const labels = items.map((it, j) => ({ path: it.id, label: `c${cluster[j]}`, extra: {} }));
  const { evaluateIndex } = await import('../src/eval/from-index.ts');
  const times: Record<string, number> = {};
  for (const [name, loc] of [['folder', path.join(tmp, 'eval.lkx')], ['server', `${server!.url}?index=evalset`]] as const) {
    const st = await openStore(loc, { write: true, create: { model, dim } });
    await st.write({ upsert: items });
    const t0 = performance.now();
    const r = await evaluateIndex(st, labels);
    times[name] = (performance.now() - t0) / 1000;
    b.log(`  eval ${name}: ${times[name].toFixed(2)} s, depth ${r.depth}`);
    await st.close();
  }
  b.note(`eval leave-one-out, ${e} items (all queries, default depth): folder store ${times.folder.toFixed(2)} s, server ${times.server.toFixed(2)} s (${(times.server / times.folder).toFixed(2)}x the folder store's time)`);
  b.note(`recall@10 server exact vs folder exact: ${recall(await srv.search(many, { k: 10, ann: 'off' }), truth).toFixed(4)} (must be 1)`);
  for (const ef of [40, 100, 200]) b.note(`recall@10 server pgvector HNSW ef ${ef}: ${recall(await srv.search(many, { k: 10, ann: 'on', ef }), truth).toFixed(4)}`);
  await srv.close();
}
await pg?.close();
await folder.close();

// 4. Workers: 1, 2, 3 processes embedding the same shared images through pg-boss.
function cli(args: string[]): Promise<{ status: number | null; stderr: string; stdout: string }> {
  return new Promise((resolve) => {
    const c = spawn(process.execPath, [path.join(ROOT, 'bin/lookalike.js'), ...args]);
    let stdout = '';
    let stderr = '';
    c.stdout.on('data', (d) => (stdout += d));
    c.stderr.on('data', (d) => (stderr += d));
    c.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}
const labels = path.join(String(values.dataset), 'labels.csv');
if (values['skip-workers']) b.note('workers: skipped (--skip-workers)');
else if (!fs.existsSync(labels) || !fs.existsSync(String(values.model))) b.note(`workers: skipped (${labels} or ${values.model} is absent)`);
else {
  const rows = readCsv(labels).slice(0, nImages);
  const csv = path.join(tmp, 'images.csv');
  fs.writeFileSync(csv, 'path\n' + rows.map((r) => path.join(String(values.dataset), r.path)).join('\n') + '\n');
  const wire = server ? undefined : await startPgServer();
  const base = server ? server.url : wire!.url;
  const query = async <T>(text: string, params?: unknown[]): Promise<T[]> => (server ? server.query<T>(text, params) : (await wire!.db.query<T>(text, params)).rows);
  try {
    const rates: number[] = [];
    for (const k of [1, 2, 3]) {
      const url = `${base}?index=w${k}`;
      const e = await cli(['index', csv, '--model', String(values.model), '--store', url, '--enqueue', '--job-size', '16', '--json']);
      if (e.status !== 0) throw new Error(`enqueue: ${e.stderr}`);
      const t0 = performance.now();
      const ws = await Promise.all(Array.from({ length: k }, () => cli(['worker', '--store', url, '--until-empty', '--poll', '0.5', '--json'])));
      const wall = (performance.now() - t0) / 1000;
      for (const w of ws) if (w.status !== 0) throw new Error(`worker: ${w.stderr}`);
      const [span] = await query<{ s: number; n: number }>(
        `SELECT EXTRACT(EPOCH FROM max(completed_on) - min(started_on))::float8 AS s, count(*)::int AS n FROM pgboss.job WHERE name = $1 AND state = 'completed'`,
        [`lookalike_embed_w${k}`],
      );
      const [stored] = await query<{ n: number }>(`SELECT count(*)::int AS n FROM lookalike.items_w${k}`);
      const rate = stored.n / span.s;
      rates.push(rate);
      b.note(`workers ${k} (${server ? 'server' : 'pglite-socket'}): ${stored.n} images in ${span.s.toFixed(1)} s from first claim to last commit = ${rate.toFixed(1)} images/s (${wall.toFixed(1)} s with process start-up and model load); speed-up vs 1 worker: ${(rate / rates[0]).toFixed(2)}x`);
    }
    b.note(`workers: ${os.cpus().length} cores shared by every process on this machine (load average ${os.loadavg()[0].toFixed(1)} at the end): each worker runs ORT with its own threads, so more workers than cores cannot scale; on separate machines they would.`);
  } finally {
    await wire?.stop();
  }
}
await server?.drop();
b.log(`load average at the end: ${fs.readFileSync('/proc/loadavg', 'utf8').trim()}`);
await b.done();
