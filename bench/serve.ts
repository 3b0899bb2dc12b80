/**
 * bench:serve — `lookalike serve` under load, and the CLI's cold start.
 *
 * 1. Cold start of `lookalike --help`: bin/lookalike.js running the compiled dist/ vs the same
 *    entry point transpiling src/ with tsx (LOOKALIKE_TSX=1), alternated through the harness.
 * 2. Load: the server runs in its own process (bin/lookalike.js serve, compiled JS when dist/ is
 *    current); this process is the client: autocannon with --connections concurrent connections
 *    (default 200) sends --ids searches by id (default 10,000) and then --uploads searches by an
 *    uploaded image (default 1,000). Printed: requests/s, p50/p99 latency, errors (socket errors,
 *    timeouts and non-2xx), lost requests (sent - answered), and the server's RSS after warm-up,
 *    after the id phase and after the upload phase (flat = no growth per request).
 *
 * 3. A page of the explorer (--phases page): GET /items?limit=60 on the whole gallery, then the
 *    page's 60 thumbnails (?size=256, 6 at a time as a browser fetches from one host), timed from
 *    the first request to the last byte: cold (thumbnails rendered by sharp) and warm (the server's
 *    thumbnail cache), each over --pages different pages (median and max printed).
 *
 * The gallery: drawn images indexed with the tiny generated CNN (or --model M), padded with random
 * unit vectors to --gallery items (default 10,000) through the store's write, so each search
 * scores a realistic number of rows.
 *
 *   npm run bench:serve
 *   npm run bench:serve -- --connections 200 --ids 10000 --uploads 1000 --gallery 10000 --json
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { Bench, benchArgs, table } from './harness.ts';
import { writeClassFolders } from '../src/data/synthetic.ts';
import { tinyCnn } from '../src/models/tiny.ts';
import { indexFolder } from '../src/api.ts';
import { openStore } from '../src/store/open-store.ts';
import { Rng } from '../src/util/random.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const BIN = path.join(ROOT, 'bin/lookalike.js');

const { values } = benchArgs({
  connections: { type: 'string', default: '200' },
  ids: { type: 'string', default: '10000' },
  uploads: { type: 'string', default: '1000' },
  gallery: { type: 'string', default: '10000' },
  model: { type: 'string' },
  phases: { type: 'string', default: 'cold,load,page' },
  pages: { type: 'string', default: '5' },
});
const phases = new Set(String(values.phases).split(','));
const quick = Boolean(values.quick);
const connections = Number(values.connections);
const nIds = quick ? 2000 : Number(values.ids);
const nUploads = quick ? 300 : Number(values.uploads);
const nGallery = quick ? 2000 : Number(values.gallery);

const b = new Bench('serve', 'lookalike serve under concurrent load (autocannon from this process, server in another), and the cold start of the CLI from compiled JS vs tsx', {
  connections,
  ids: nIds,
  uploads: nUploads,
  gallery: nGallery,
  model: values.model ?? 'tiny-cnn',
});

/** True when dist/ is at least as new as every source file (what bin/lookalike.js checks). */
function distFresh(): boolean {
  const stamp = path.join(ROOT, 'dist/.built');
  if (!fs.existsSync(stamp)) return false;
  const built = fs.statSync(stamp).mtimeMs;
  const src = path.join(ROOT, 'src');
  return !fs.readdirSync(src, { recursive: true }).some((f) => fs.statSync(path.join(src, String(f))).mtimeMs > built);
}

if (!distFresh()) {
  b.log('building dist/ (npm run build)...');
  const r = spawnSync(process.execPath, [path.join(ROOT, 'scripts/build.mjs')], { stdio: 'inherit' });
  if (r.status !== 0) throw new Error('npm run build failed');
}

// 1. Cold start.
if (phases.has('cold')) {
  const help = (env: Record<string, string>) => () => {
    const r = spawnSync(process.execPath, [BIN, '--help'], { encoding: 'utf8', env: { ...process.env, ...env } });
    if (r.status !== 0 || !r.stdout.includes('Usage: lookalike')) throw new Error(`lookalike --help failed: ${r.stderr}`);
  };
  const cold = await b.compare({
    group: 'cold-start',
    title: '`lookalike --help`, a fresh node process each run',
    unit: 'starts/s',
    baseline: 'tsx',
    paths: [
      { name: 'tsx', label: 'bin -> tsx -> src/*.ts', work: 1, memory: false, run: help({ LOOKALIKE_TSX: '1' }) },
      { name: 'dist', label: 'bin -> dist/*.js (compiled)', work: 1, memory: false, run: help({}) },
    ],
  });
  const perStart = (name: string) => 1000 / (cold.paths.find((r) => r.name === name)?.throughput ?? NaN);
  b.note(`cold start: compiled ${perStart('dist').toFixed(0)} ms vs tsx ${perStart('tsx').toFixed(0)} ms per \`lookalike --help\` (${cold.ratio('dist').toFixed(2)}x faster)`);
}

// 2. Load.
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'lookalike-bench-serve-'));
let server: ChildProcess | undefined;
try {
  const gallery = path.join(work, 'gallery');
  // 400 drawn images: the page phase's pages (sorted by id, before the padding's pad/ ids) are real files.
  await writeClassFolders(gallery, 20, 20, 0, 96);
  let model = values.model;
  if (!model) {
    model = path.join(work, 'tiny-cnn.onnx');
    fs.writeFileSync(model, tinyCnn({}));
  }
  const index = path.join(work, 'gallery.lkx');
  const built = await indexFolder(gallery, index, { model });
  const store = await openStore(index, { write: true });
  const dim = built.dim;
  const rng = new Rng(1);
  const pad = nGallery - built.total;
  for (let start = 0; start < pad; start += 5000) {
    const upsert = [];
    for (let i = start; i < Math.min(pad, start + 5000); i++) {
      const v = new Float32Array(dim);
      let n = 0;
      for (let d = 0; d < dim; d++) n += (v[d] = rng.next() - 0.5) ** 2;
      for (let d = 0; d < dim; d++) v[d] /= Math.sqrt(n);
      upsert.push({ id: `pad/${String(i).padStart(7, '0')}`, vector: v });
    }
    await store.write({ upsert });
  }
  const ids = await store.ids();
  await store.close();
  b.log(`gallery: ${ids.length} items (${built.total} images + ${pad} random vectors), ${dim}-d`);

  server = spawn(process.execPath, [BIN, 'serve', index, '--port', '0', '--no-watch', '--queue', String(Math.max(256, connections * 2))], { stdio: ['ignore', 'ignore', 'pipe'] });
  const url = await new Promise<string>((resolve, reject) => {
    let err = '';
    server!.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      const m = /at (http:\/\/[^\s]+?)\/?\n/.exec(err);
      if (m) resolve(m[1]);
    });
    server!.on('exit', (c) => reject(new Error(`server exited (${c}): ${err}`)));
  });
  const rss = (): number => {
    const s = fs.readFileSync(`/proc/${server!.pid}/status`, 'utf8');
    return Number(/VmRSS:\s+(\d+)/.exec(s)?.[1] ?? NaN) / 1024;
  };
  if (phases.has('load')) {
    let next = 0;
    const idPath = () => `/search?k=10&id=${encodeURIComponent(ids[next++ % ids.length])}`;
    const run = (o: autocannon.Options) => autocannon({ url, connections, timeout: 30, ...o });
    // Warm-up: fill caches and JIT before the first memory reading.
    await run({ amount: 1000, requests: [{ setupRequest: (r) => ({ ...r, path: idPath() }) }] });
    const rss0 = rss();
    const byId = await run({ amount: nIds, requests: [{ setupRequest: (r) => ({ ...r, path: idPath() }) }] });
    const rss1 = rss();
    const upload = fs.readFileSync(path.join(gallery, fs.readdirSync(gallery).sort()[0], '000.jpg'));
    const byImage = await run({ url: `${url}/search?k=10`, amount: nUploads, method: 'POST', headers: { 'content-type': 'image/jpeg' }, body: upload });
    const rss2 = rss();
    const row = (name: string, r: autocannon.Result, amount: number) => ({
      phase: name,
      requests: amount,
      answered: r.requests.total,
      'req/s': Math.round(r.requests.average),
      'p50 ms': r.latency.p50,
      'p99 ms': r.latency.p99,
      errors: r.errors + r.timeouts + r.non2xx,
      lost: amount - r.requests.total,
    });
    const rows = [row('search by id', byId, nIds), row('search by upload', byImage, nUploads)];
    b.log(`\nload: ${connections} concurrent connections from this process -> server process ${server.pid}\n${table(rows)}`);
    b.log(`server RSS: ${rss0.toFixed(0)} MiB after warm-up, ${rss1.toFixed(0)} MiB after ${nIds} id searches, ${rss2.toFixed(0)} MiB after ${nUploads} uploads`);
    for (const r of rows) b.note(`${r.phase}: ${r['req/s']} req/s, p50 ${r['p50 ms']} ms, p99 ${r['p99 ms']} ms, ${r.errors} errors, ${r.lost} lost (${r.requests} requests, ${connections} connections)`);
    b.note(`server RSS: ${rss0.toFixed(0)} -> ${rss1.toFixed(0)} -> ${rss2.toFixed(0)} MiB (after warm-up, after ids, after uploads)`);
  }
  if (phases.has('page')) await pagePhase(url);
} finally {
  server?.kill('SIGTERM');
  fs.rmSync(work, { recursive: true, force: true });
}
await b.done();

/** Phase 3: the explorer's first screen, a page of 60 items and their thumbnails, cold then warm. */
async function pagePhase(url: string): Promise<void> {
  const nPages = Number(values.pages);
  const one = async (page: number) => {
    const t0 = performance.now();
    const r = await fetch(`${url}/items?offset=${page * 60}&limit=60`);
    if (!r.ok) throw new Error(`GET /items: ${r.status} ${await r.text()}`);
    const { items } = (await r.json()) as { items: { id: string; thumbnail: string }[] };
    const tList = performance.now() - t0;
    const queue = [...items];
    let bytes = 0;
    const worker = async () => {
      for (let it = queue.shift(); it; it = queue.shift()) {
        const t = await fetch(`${url}${it.thumbnail}?size=256`);
        if (!t.ok) throw new Error(`${it.thumbnail}: ${t.status}`);
        bytes += (await t.arrayBuffer()).byteLength;
      }
    };
    await Promise.all(Array.from({ length: 6 }, worker));
    return { list: tList, total: performance.now() - t0, bytes, n: items.length };
  };
  // The floor under this machine's load: 60 requests of a route that does nothing, 6 at a time.
  const floor = async () => {
    const t0 = performance.now();
    let left = 60;
    const worker = async () => {
      while (left-- > 0) await (await fetch(`${url}/healthz`)).arrayBuffer();
    };
    await Promise.all(Array.from({ length: 6 }, worker));
    return performance.now() - t0;
  };
  const floors: number[] = [];
  for (let p = 0; p < nPages; p++) floors.push(await floor());
  floors.sort((a, c) => a - c);
  const rows: Record<string, string | number>[] = [{ thumbnails: '60 x /healthz (floor)', pages: nPages, 'items/page': 0, 'GET /items p50 ms': '', 'page p50 ms': +floors[Math.floor(nPages / 2)].toFixed(1), 'page max ms': +floors.at(-1)!.toFixed(1), 'KB/page': 0 }];
  for (const state of ['cold', 'warm']) {
    const runs: Awaited<ReturnType<typeof one>>[] = [];
    for (let p = 0; p < nPages; p++) runs.push(await one(p));
    const sorted = (k: 'list' | 'total') => runs.map((x) => x[k]).sort((a, c) => a - c);
    const med = (k: 'list' | 'total') => sorted(k)[Math.floor(runs.length / 2)];
    rows.push({ thumbnails: state, pages: runs.length, 'items/page': runs[0].n, 'GET /items p50 ms': +med('list').toFixed(1), 'page p50 ms': +med('total').toFixed(1), 'page max ms': +sorted('total').at(-1)!.toFixed(1), 'KB/page': Math.round(runs[0].bytes / 1024) });
  }
  b.note(`the floor, 60 requests to /healthz 6 at a time: p50 ${rows[0]['page p50 ms']} ms`);
  b.log(`\nexplorer page: GET /items?limit=60 on ${nGallery} items + its 60 thumbnails (size 256, 6 at a time)\n${table(rows)}\nload: ${fs.readFileSync('/proc/loadavg', 'utf8').trim()}`);
  for (const r of rows.slice(1)) b.note(`a page of ${r['items/page']} thumbnails on ${nGallery} items, ${r.thumbnails}: p50 ${r['page p50 ms']} ms (GET /items ${r['GET /items p50 ms']} ms), max ${r['page max ms']} ms`);
}
