/**
 * bench:open — what a large index costs the first time it is asked something, end to end through
 * the CLI, against a numpy memory-map baseline (python3 + numpy: `np.load(seg, mmap_mode='r')`,
 * the query row read by its position, `E @ q`, argpartition; no id lookup at all), alternated in
 * the same run (issue 26). Wall seconds and peak RSS of every process come from /usr/bin/time.
 *
 *  - one-shot `lookalike search INDEX --id X -k 10` with default flags (and `--ann on` / `off`
 *    where a graph is saved), and with `--base DIR` the same command of another checkout;
 *  - 1,000 ids in one `search` call;
 *  - `lookalike serve`: p50 / p90 of sequential `GET /search?id=...&k=10`, servers side by side
 *    with requests alternated: exact through float32 rows (int8 blocks off: the baseline), exact
 *    through int8 blocks (the default), and ANN with --ann on; each server's RSS after them.
 * Sizes: --size (default 1,000,000) for the exact paths; --ann-size (default 100,000; 0 skips)
 * for the ANN paths, whose graph is built once in-process first (the build alone is 15
 * CPU-minutes per million 512-d items). The load average is printed with every group: on a shared
 * machine the absolute times are upper bounds and only the alternated ratios compare.
 *
 *   npm run bench:open
 *   npm run bench:open -- --size 200000 --ann-size 50000 --rounds 3
 *   npm run bench:open -- --base /tmp/lookalike-main      # a built checkout of the previous code
 *   npm run bench:open -- --only serve                    # groups: oneshot, serve, ann
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { Bench, benchArgs, median } from './harness.ts';
import { dataset, idOf } from './store-data.ts';
import { FolderStore } from '../src/store/folder/store.ts';
import { readAnnManifest } from '../src/store/ann.ts';
import type { ManifestV2 } from '../src/store/folder/manifest.ts';

const { values } = benchArgs({
  size: { type: 'string', default: '1000000' },
  'ann-size': { type: 'string', default: '100000' },
  dim: { type: 'string', default: '512' },
  queries: { type: 'string', default: '1000' },
  requests: { type: 'string', default: '40' },
  base: { type: 'string' },
  dir: { type: 'string', default: path.join(os.tmpdir(), 'lookalike-bench-store') },
  only: { type: 'string', default: 'oneshot,serve,ann' },
});
/** Which groups run: oneshot (CLI at --size), serve (servers at --size), ann (CLI and servers at --ann-size). */
const only = new Set(values.only!.split(','));
const size = values.quick ? 100_000 : Number(values.size);
const annSize = values.quick ? 0 : Number(values['ann-size']);
const dim = Number(values.dim);
const rounds = Number(values.rounds ?? 3);
const nq = Number(values.queries);
const requests = Number(values.requests);
const ROOT = path.resolve(import.meta.dirname, '..');
const BIN = path.join(ROOT, 'bin/lookalike.js');
const BASE_BIN = values.base ? path.join(path.resolve(values.base), 'bin/lookalike.js') : undefined;

const bench = new Bench('open', 'A large index asked once: one-shot CLI search, 1,000 queries in one call, and a server, against a numpy memory map. Why: big indexes must answer at once (issue 26).', { size, annSize, dim, rounds });
const load = () => fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
/** A note, also printed at once (a long run stopped part-way keeps what it measured). */
const note = (s: string) => (bench.note(s), process.stderr.write(s + '\n'));

interface Run {
  wall: number;
  rssMiB: number;
  out: string;
}

/** Run a command under /usr/bin/time: wall seconds and peak RSS. */
function timed(cmd: string, args: string[], env: Record<string, string> = {}): Run {
  const r = spawnSync('/usr/bin/time', ['-f', '@@%e %M', cmd, ...args], { encoding: 'utf8', env: { ...process.env, ...env }, maxBuffer: 1 << 28 });
  const m = /@@([\d.]+) (\d+)/.exec(r.stderr);
  if (r.status !== 0 || !m) throw new Error(`${cmd} ${args.slice(0, 4).join(' ')}: exit ${r.status}\n${r.stderr.slice(-2000)}`);
  return { wall: Number(m[1]), rssMiB: Number(m[2]) / 1024, out: r.stdout };
}

const NUMPY = `
import json, sys, numpy as np
d, row, k = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
m = json.load(open(d + "/manifest.json"))
E = np.load(d + "/" + m["segments"][0]["npy"]["file"], mmap_mode="r")
q = np.array(E[row])
s = E @ q
top = np.argpartition(-s, k)[:k]
top = top[np.argsort(-s[top])]
print(top[0])
`;

function hasNumpy(): boolean {
  return spawnSync('python3', ['-c', 'import numpy'], { encoding: 'utf8' }).status === 0;
}

/** Alternate the paths for `rounds` rounds (order flipped every round); per path the median wall and peak RSS. */
function alternate(title: string, paths: { name: string; run: () => Run }[]): Map<string, { wall: number; rss: number }> {
  const got = new Map<string, Run[]>(paths.map((p) => [p.name, []]));
  const loads: string[] = [load()];
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 ? [...paths].reverse() : paths;
    for (const p of order) got.get(p.name)!.push(p.run());
    loads.push(load());
  }
  const out = new Map<string, { wall: number; rss: number }>();
  const base = median(got.get(paths[0].name)!.map((x) => x.wall));
  const lines = paths.map((p) => {
    const runs = got.get(p.name)!;
    const wall = median(runs.map((x) => x.wall));
    const rss = Math.max(...runs.map((x) => x.rssMiB));
    out.set(p.name, { wall, rss });
    const walls = runs.map((x) => x.wall.toFixed(2)).join(', ');
    return `  ${p.name}: median ${wall.toFixed(2)} s (${walls}), peak RSS ${rss.toFixed(0)} MiB, ${(wall / base).toFixed(2)}x ${paths[0].name}`;
  });
  note(`${title} [load average ${loads.join(' -> ')}]\n${lines.join('\n')}`);
  return out;
}

const cli = (bin: string, args: string[]) => () => timed(process.execPath, [bin, ...args]);

/** Start `lookalike serve` on a port the system picks (a random one could be in use) and wait for /healthz (the server answers once its index is opened and warmed). */
async function startServe(dir: string, ann: string, env: Record<string, string> = {}): Promise<{ url: string; pid: number; stop: () => Promise<void> }> {
  const child = spawn(process.execPath, [BIN, 'serve', dir, '--port', '0', '--ann', ann, '--no-watch'], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...env } });
  let err = '';
  child.stderr!.on('data', (b) => (err += b));
  let url = '';
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error(`serve exited ${child.exitCode}: ${err}`);
    url ||= / at (http:\/\/127\.0\.0\.1:\d+)\//.exec(err)?.[1] ?? '';
    try {
      if (url && (await fetch(`${url}/healthz`)).ok) break;
    } catch {
      // not answering yet
    }
    if (i > 6000) throw new Error(`serve did not start: ${err}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return { url, pid: child.pid!, stop: () => new Promise<void>((res) => (child.once('exit', () => res()), child.kill('SIGTERM'))) };
}

function rssOf(pid: number): string {
  const s = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const mib = (k: string) => (Number(new RegExp(`${k}:\\s+(\\d+)`).exec(s)?.[1] ?? 0) / 1024).toFixed(0);
  return `RSS ${mib('VmRSS')} MiB (peak ${mib('VmHWM')} MiB)`;
}

/** Requests per server before the measured ones. */
const WARMUP = 20;

/** A server configuration under comparison. */
interface ServerPath {
  label: string;
  ann: string;
  env?: Record<string, string>;
}

/**
 * Sequential id searches against servers started side by side, alternated request by request
 * (the order flipped every request): per server p50 / p90 milliseconds after WARMUP requests,
 * its start time (open + warm) and RSS.
 */
async function serverLatency(dir: string, n: number, paths: ServerPath[]): Promise<void> {
  const servers: { path: ServerPath; url: string; pid: number; stop: () => Promise<void>; ms: number[]; startS: number }[] = [];
  try {
    for (const p of paths) {
      const t = performance.now();
      const s = await startServe(dir, p.ann, p.env);
      servers.push({ path: p, ...s, ms: [], startS: (performance.now() - t) / 1000 });
    }
    const ask = async (url: string, i: number) => {
      const t = performance.now();
      const r = await fetch(`${url}/search?id=${encodeURIComponent(idOf((i * 7919) % n))}&k=10`);
      if (!r.ok) throw new Error(`server: ${r.status} ${await r.text()}`);
      await r.arrayBuffer();
      return performance.now() - t;
    };
    const before = load();
    // Warm-up: JIT, and what a server reads on first use (the fields sidecar of the hits).
    for (const s of servers) for (let i = 0; i < WARMUP; i++) await ask(s.url, 1000 + i);
    for (let i = 0; i < requests; i++) {
      const order = i % 2 ? [...servers].reverse() : servers;
      for (const s of order) s.ms.push(await ask(s.url, i));
    }
    const after = load();
    const base = median(servers[0].ms);
    for (const s of servers) {
      s.ms.sort((a, b) => a - b);
      const p50 = median(s.ms);
      note(`serve ${s.path.label} over ${n.toLocaleString('en-US')} x ${dim} (--ann ${s.path.ann}): ${requests} sequential searches by id, p50 ${p50.toFixed(1)} ms (${(p50 / base).toFixed(2)}x ${servers[0].path.label}), p90 ${s.ms[Math.floor(s.ms.length * 0.9)].toFixed(1)} ms; ready ${s.startS.toFixed(1)} s after start; server ${rssOf(s.pid)} [load average ${before} -> ${after}]`);
    }
  } finally {
    for (const s of servers) await s.stop();
  }
}

/** The float32 exact path of a server (int8 blocks off), the previous behaviour: the baseline of the exact comparisons. */
const F32: ServerPath = { label: 'exact float32', ann: 'off', env: { LOOKALIKE_INT8_MIN_ROWS: String(Number.MAX_SAFE_INTEGER) } };
/** The default exact path of a server (int8 blocks from config.int8MinRows items). */
const INT8: ServerPath = { label: 'exact int8 blocks', ann: 'off' };

const numpy = hasNumpy();
if (!numpy) bench.note('python3 with numpy not found: the numpy baseline is left out');
const root = values.dir!;

async function oneShot(dir: string, n: number, extra: { name: string; args: string[] }[], manyExtra = extra): Promise<void> {
  const m = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as ManifestV2;
  const row = 12345 % n;
  const ids = JSON.parse(fs.readFileSync(path.join(dir, m.segments[0].ids.file), 'utf8')).ids as string[];
  const id = ids[row];
  const paths: { name: string; run: () => Run }[] = [];
  if (numpy) paths.push({ name: 'numpy', run: () => timed('python3', ['-c', NUMPY, dir, String(row), '10']) });
  paths.push({ name: 'cli', run: cli(BIN, ['search', dir, '--id', id, '-k', '10', '--json']) });
  for (const e of extra) paths.push({ name: e.name, run: cli(BIN, ['search', dir, '--id', id, '-k', '10', '--json', ...e.args]) });
  if (BASE_BIN) paths.push({ name: 'base-cli', run: cli(BASE_BIN, ['search', dir, '--id', id, '-k', '10', '--json', ...(n >= 50_000 ? ['--ann', 'off'] : [])]) });
  alternate(`one-shot search --id over ${n.toLocaleString('en-US')} x ${dim}`, paths);
  const many = Array.from({ length: nq }, (_, i) => ids[(i * 7919) % n]);
  const mpaths: { name: string; run: () => Run }[] = [{ name: 'cli', run: cli(BIN, ['search', dir, '--id', ...many, '-k', '10', '--json']) }];
  for (const e of manyExtra) mpaths.push({ name: e.name, run: cli(BIN, ['search', dir, '--id', ...many, '-k', '10', '--json', ...e.args]) });
  // The previous code's --ann auto would build a graph at >= 50,000 items: it runs exact.
  if (BASE_BIN) mpaths.push({ name: 'base-cli', run: cli(BASE_BIN, ['search', dir, '--id', ...many, '-k', '10', '--json', ...(n >= 50_000 ? ['--ann', 'off'] : [])]) });
  alternate(`${nq.toLocaleString('en-US')} ids in one search call over ${n.toLocaleString('en-US')} x ${dim}`, mpaths);
}

// Exact paths at the full size (no graph there: --ann auto must not build one for a one-shot).
const big = await dataset(root, size, dim);
if (only.has('oneshot')) {
  if (readAnnManifest(big)) {
    // A graph saved beside the big index (a long-lived process built it): default flags may use it.
    await oneShot(big, size, [{ name: 'cli --ann on', args: ['--ann', 'on'] }, { name: 'cli --ann off', args: ['--ann', 'off'] }]);
  } else {
    // Without a graph, default flags and --ann off are the same path for 1,000 queries: measured once.
    await oneShot(big, size, [{ name: 'cli --ann off', args: ['--ann', 'off'] }], []);
    note(`after the one-shot searches over ${size.toLocaleString('en-US')}: ${readAnnManifest(big) ? 'a graph was saved (NOT expected)' : 'no graph was built (--ann auto chose exact)'}`);
  }
}
// A graph saved beside the big index (built by a long-lived process earlier) adds the ANN server.
if (only.has('serve')) await serverLatency(big, size, readAnnManifest(big) ? [F32, INT8, { label: 'ANN', ann: 'on' }] : [F32, INT8]);

if (annSize > 0 && only.has('ann')) {
  const dir = await dataset(root, annSize, dim);
  if (!readAnnManifest(dir)) {
    const t = performance.now();
    const s = await FolderStore.open(dir);
    await s.prepareAnn({ ann: 'on' });
    await s.close();
    note(`ANN graph of ${annSize.toLocaleString('en-US')} x ${dim} built and saved in ${((performance.now() - t) / 1000).toFixed(0)} s [load average ${load()}]`);
  }
  await oneShot(dir, annSize, [
    { name: 'cli --ann on', args: ['--ann', 'on'] },
    { name: 'cli --ann off', args: ['--ann', 'off'] },
  ]);
  await serverLatency(dir, annSize, [F32, INT8, { label: 'ANN', ann: 'on' }]);
}
bench.note('Shared 2-core machine: absolute times are upper bounds; compare paths within one group (alternated rounds).');
await bench.done();
