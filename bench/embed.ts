/**
 * bench:embed — what `lookalike index` reaches against the two bounds the machine sets.
 *
 * Per model (the real networks in ../shared/models, over clothing10's JPEGs), alternated round by
 * round in this order (reversed every other round):
 *  - `bare-1`, `bare-2`: the model alone on ready tensors, intra-op threads 1 and 2 (the same
 *    kind of session the pipeline uses), batch 32;
 *  - `decode-1`: the pipeline's decoding (decodeRgb + normalise into a batch tensor) one image at
 *    a time on this thread: one core's worth; `decode-2`: the pipeline's 2 decode workers with
 *    2 batches in flight (the decode stage alone, on 2 cores; its CPU is the workers', so its
 *    cpu/wall and busy threads count this process, workers included);
 *  - `index`: `lookalike index FOLDER --model M` in a fresh process (bench/embed-index.ts calls
 *    the function the command calls), start-up (time to the first batch) apart from the steady
 *    state (rows/s from the first batch to the last); `cli`: the real command end to end.
 * From the 1-thread rows, per image on one core: model m = 1/bare-1 s, decode d = 1/decode-1 s.
 *  - stage bound = min(bare-1, decode-1) images/s: each stage has a core of its own and the
 *    slower one sets the pace (2 cores);
 *  - CPU-budget bound = cores / (m + d) images/s: every core busy all the time on useful work,
 *    however the work is split. No schedule of the two stages beats it.
 * `index` is reported as a fraction of each. Then peak RSS (VmHWM) of indexing a gallery of
 * --rss-images (default 4 x clothing10 as symlinks, ~10.9k) against clothing10 itself.
 *
 *   npm run bench:embed [-- --quick] [--models a,b] [--images N] [--rss-images N] [--no-rss] [--no-cli]
 *   --quick: 384 images, 2 rounds, RSS 384 vs 1536 (about a minute on 2 idle cores)
 * It prints the tables, then the Markdown section for docs/benchmarks.md (bench:all -- --only
 * embed splices it there and refreshes README's figures).
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadBackbone } from '../src/models/load.ts';
import type { Backbone } from '../src/models/backbone.ts';
import { inputChannels, inputSize } from '../src/models/spec.ts';
import { decodeRgb, normalizeInto } from '../src/models/preprocess.ts';
import { listFolder } from '../src/data/images.ts';
import { DecodePool } from '../src/embed/decode-pool.ts';
import { Bench, benchArgs, busyThreads, median, ownCounters, tickDelta, toMarkdown, type GroupResult, type PathResult } from './harness.ts';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..');
const SHARED = path.resolve(ROOT, '../shared');
const { values } = benchArgs({
  models: { type: 'string' },
  images: { type: 'string' },
  'rss-images': { type: 'string' },
  'no-rss': { type: 'boolean', default: false },
  'no-cli': { type: 'boolean', default: false },
});
const quick = Boolean(values.quick);
const models = (values.models ?? 'mobilenet-v2-imagenet,mobilenet-v3-small-embedder').split(',').filter(Boolean);
const roundsGiven = process.argv.some((a) => a === '--rounds' || a.startsWith('--rounds='));
const BATCH = 32;
const cores = os.availableParallelism?.() ?? os.cpus().length;

const clothing = path.join(SHARED, 'datasets/clothing10/images');
if (!fs.existsSync(clothing)) throw new Error(`bench:embed needs ${clothing} (../shared beside the checkout)`);
const all = listFolder(clothing).images.map((f) => path.join(clothing, f));
const nIndex = Math.min(all.length, Number(values.images ?? (quick ? 384 : all.length)));
const nRss = Number(values['rss-images'] ?? (quick ? 4 * nIndex : 4 * all.length));
const nBare = quick ? 128 : 256;

const b = new Bench(
  'embed',
  '`lookalike index` of clothing10 (fresh process, start-up apart from steady state) against the model alone (1 and 2 intra-op threads) and decoding alone (1 image at a time, and in the 2 decode workers of the pipeline), with two bounds from the 1-thread rows: the stage bound min(bare-1, decode-1) (each stage on a core of its own) and the CPU-budget bound cores / (1/bare-1 + 1/decode-1) (every core busy with useful work); `index` is given as a fraction of each. Then the peak RSS of indexing a 4x larger gallery.',
  { images: nIndex, batch: BATCH, cores, models: models.join(' ') },
);
const rounds = roundsGiven ? b.rounds : quick ? 2 : 3;

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'lookalike-bench-embed-'));
process.on('exit', () => fs.rmSync(work, { recursive: true, force: true }));

/** A folder of `n` symlinks to clothing10's images (cycling through them), in class subfolders like the original. */
function linkFolder(name: string, n: number): string {
  const dir = path.join(work, name);
  for (let i = 0; i < n; i++) {
    const src = all[i % all.length];
    const rel = path.relative(clothing, src);
    const dst = path.join(dir, path.dirname(rel), `${Math.floor(i / all.length)}-${path.basename(rel)}`);
    fs.mkdirSync(path.dirname(dst), { recursive: true });
    fs.symlinkSync(src, dst);
  }
  return dir;
}
const folder = nIndex === all.length ? clothing : linkFolder('gallery', nIndex);
const loadavg = () => os.loadavg().map((x) => x.toFixed(2)).join(' ');
b.note(`images: ${folder === clothing ? clothing : `${nIndex} of ${clothing} (symlinks)`}; load average at the start ${loadavg()}`);

interface IndexRun {
  rows: number;
  firstRowS: number;
  lastRowS: number;
  totalS: number;
  steadyRate: number;
  cpuS: number;
  peakRssMiB: number;
}

/** Run a command, resolving with its stdout; rejects with the tail of stderr on failure. */
function runProcess(cmd: string, args: string[], env: Record<string, string> = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`${path.basename(args[args.length - 4] ?? cmd)} exited ${code}: ${err.trim().split('\n').slice(-3).join(' | ')}`))));
  });
}

let runs = 0;
async function indexOnce(dir: string, model: string): Promise<IndexRun> {
  const out = path.join(work, `out-${runs++}`);
  try {
    const text = await runProcess(process.execPath, ['--import', 'tsx', path.join(HERE, 'embed-index.ts'), dir, model, out]);
    return JSON.parse(text.trim().split('\n').pop()!) as IndexRun;
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
}

async function cliOnce(dir: string, model: string): Promise<number> {
  const out = path.join(work, `out-${runs++}`);
  const t0 = performance.now();
  try {
    await runProcess(process.execPath, [path.join(ROOT, 'bin/lookalike.js'), 'index', dir, '--model', model, '--out', out, '--follow-links', '--json']);
    return (performance.now() - t0) / 1000;
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
}

interface Sample {
  wall: number;
  cpu: number;
  ticks: Map<string, number>;
  images: number;
  extra?: IndexRun;
}

/** Time an in-process run (wall, this process's CPU and per-thread ticks). */
async function timed(images: number, fn: () => Promise<unknown>): Promise<Sample> {
  const c0 = ownCounters();
  const t0 = performance.now();
  await fn();
  const wall = (performance.now() - t0) / 1000;
  const c1 = ownCounters();
  return { wall, cpu: c1.cpuSeconds - c0.cpuSeconds, ticks: tickDelta(c0.ticks, c1.ticks), images };
}

function row(name: string, label: string, samples: Sample[], rate: (s: Sample) => number, columns?: Record<string, string | number>): PathResult {
  const secs = samples.map((s) => s.wall);
  const rates = samples.map(rate);
  const ticks = new Map<string, number>();
  for (const s of samples) for (const [t, v] of s.ticks) ticks.set(t, (ticks.get(t) ?? 0) + v);
  return {
    name,
    label,
    reps: 1,
    seconds: secs,
    median: median(secs),
    min: Math.min(...secs),
    max: Math.max(...secs),
    throughput: median(rates),
    throughputMin: Math.min(...rates),
    throughputMax: Math.max(...rates),
    cpuPerWall: samples.reduce((a, s) => a + s.cpu, 0) / secs.reduce((a, x) => a + x, 0),
    cpuSeconds: samples.map((s) => s.cpu),
    busyThreads: ticks.size ? busyThreads(ticks) : undefined,
    columns,
  };
}

const headlines: string[] = [];
for (const id of models) {
  const dir = path.join(SHARED, 'models', id);
  if (!fs.existsSync(dir)) {
    b.note(`${id}: skipped (${dir} not present)`);
    continue;
  }
  const bare1 = await loadBackbone(dir, { runtime: { threads: 1 } });
  const bare2 = await loadBackbone(dir, { runtime: { threads: 2 } });
  const spec = bare1.spec;
  const { height, width } = inputSize(spec);
  const slot = inputChannels(spec) * height * width;
  const ready = Float32Array.from({ length: BATCH * slot }, (_, i) => ((i * 2654435761) % 255) / 255 - 0.5);
  const batchT = new Float32Array(BATCH * slot);
  const sample = all.slice(0, nBare);
  const bare = async (bb: Backbone) => {
    for (let i = 0; i < nBare; i += BATCH) await bb.run(ready.subarray(0, Math.min(BATCH, nBare - i) * slot), Math.min(BATCH, nBare - i));
  };
  const decodeSerial = async () => {
    for (let i = 0; i < sample.length; i++) normalizeInto((await decodeRgb(sample[i], spec)).data, spec, batchT, i % BATCH);
  };
  // The pipeline's decode stage alone: its 2 workers, 2 batches in flight, buffers passed back and forth.
  const workers = new DecodePool(2);
  const decodeBatch = async () => {
    const free = [new ArrayBuffer(BATCH * slot * 4), new ArrayBuffer(BATCH * slot * 4)];
    const inFlight: Promise<unknown>[] = [];
    for (let i = 0; i < sample.length; i += BATCH) {
      if (inFlight.length === 2) await inFlight.shift();
      const buf = free.pop()!;
      inFlight.push(workers.decode(sample.slice(i, i + BATCH), spec, false, buf).then((r) => free.push(r.buffer)));
    }
    await Promise.all(inFlight);
  };
  const paths: { name: string; run: () => Promise<Sample> }[] = [
    { name: 'bare-1', run: () => timed(nBare, () => bare(bare1)) },
    { name: 'bare-2', run: () => timed(nBare, () => bare(bare2)) },
    { name: 'decode-1', run: () => timed(nBare, decodeSerial) },
    { name: 'decode-2', run: () => timed(nBare, decodeBatch) },
    {
      name: 'index',
      run: async () => {
        const r = await indexOnce(folder, dir);
        return { wall: r.totalS, cpu: r.cpuS, ticks: new Map(), images: r.rows, extra: r };
      },
    },
  ];
  if (!values['no-cli']) paths.push({ name: 'cli', run: async () => ({ wall: await cliOnce(folder, dir), cpu: NaN, ticks: new Map(), images: nIndex }) });
  b.log(`\n${id}: warm-up`);
  await bare(bare1);
  await bare(bare2);
  await decodeBatch();
  const got = new Map<string, Sample[]>(paths.map((p) => [p.name, []]));
  const loads: string[] = [];
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 ? [...paths].reverse() : paths;
    for (const p of order) got.get(p.name)!.push(await p.run());
    loads.push(loadavg());
    b.log(`  round ${r + 1}/${rounds}: ${paths.map((p) => `${p.name} ${got.get(p.name)![r].wall.toFixed(2)} s`).join(', ')}; load ${loads[r]}`);
  }
  await bare1.dispose();
  await bare2.dispose();
  const perImage = (s: Sample) => s.images / s.wall;
  const rows: PathResult[] = [
    row('bare-1', 'bare model, ready tensors, 1 intra-op thread', got.get('bare-1')!, perImage),
    row('bare-2', 'bare model, ready tensors, 2 intra-op threads', got.get('bare-2')!, perImage),
    row('decode-1', 'decode + resize + normalise, one image at a time', got.get('decode-1')!, perImage),
    row('decode-2', `decode + resize + normalise in the pipeline's 2 decode workers, 2 batches of ${BATCH} in flight`, got.get('decode-2')!, perImage),
  ];
  const idx = got.get('index')!.map((s) => s.extra!);
  const steady = row('index', '`lookalike index`: steady state (first batch to last)', got.get('index')!, (s) => s.extra!.steadyRate, {});
  steady.cpuPerWall = median(idx.map((r) => r.cpuS / r.totalS));
  steady.seconds = idx.map((r) => r.lastRowS - r.firstRowS);
  steady.median = median(steady.seconds);
  steady.min = Math.min(...steady.seconds);
  steady.max = Math.max(...steady.seconds);
  rows.push(steady);
  rows.push(row('index-total', '`lookalike index`: whole run, start-up included (fresh process)', got.get('index')!, perImage));
  if (got.get('cli')) rows.push(row('cli', '`lookalike index` through bin/lookalike.js, end to end', got.get('cli')!, perImage));
  for (const p of rows) if (p.name !== 'index' && p.name !== 'index-total' && p.name !== 'cli') p.cpuPerWall = p.cpuSeconds.reduce((a, x) => a + x, 0) / p.seconds.reduce((a, x) => a + x, 0);
  const rate = (n: string) => rows.find((x) => x.name === n)!.throughput!;
  const m = 1 / rate('bare-1');
  const d = 1 / rate('decode-1');
  const stageBound = Math.min(rate('bare-1'), rate('decode-1'));
  const budgetBound = cores / (m + d);
  const steadyRate = rate('index');
  // The bounds per round too: the fraction is taken round by round, so drift of the machine cancels.
  const perRound = got.get('index')!.map((s, i) => {
    const mi = 1 / perImage(got.get('bare-1')![i]);
    const di = 1 / perImage(got.get('decode-1')![i]);
    return { budget: s.extra!.steadyRate / (cores / (mi + di)), stage: s.extra!.steadyRate / Math.min(1 / mi, 1 / di) };
  });
  const fBudget = median(perRound.map((x) => x.budget));
  const fStage = median(perRound.map((x) => x.stage));
  for (const p of rows) {
    if (p.name === 'index') {
      p.ratio = fBudget;
      p.ratioMin = Math.min(...perRound.map((x) => x.budget));
      p.ratioMax = Math.max(...perRound.map((x) => x.budget));
    }
  }
  const startup = median(idx.map((r) => r.firstRowS));
  const rss = median(idx.map((r) => r.peakRssMiB));
  steady.peakRssMiB = rss;
  const cpuMs = (n: string) => (1000 * median(rows.find((x) => x.name === n)!.cpuSeconds)) / nBare;
  const g: GroupResult = {
    group: id,
    title: `${id} (../shared/models, ONNX): index of ${nIndex} images, batch ${BATCH}; bare and decode on ${nBare} images`,
    unit: 'images/s',
    baseline: 'CPU-budget bound',
    rounds,
    paths: rows,
    notes: [],
  };
  b.record(g);
  const notes = [
    `per image on one core: model ${(1000 * m).toFixed(2)} ms (bare-1), decoding ${(1000 * d).toFixed(2)} ms (decode-1); CPU per image: model ${cpuMs('bare-1').toFixed(2)} ms, decoding ${cpuMs('decode-1').toFixed(2)} ms`,
    `stage bound min(bare-1, decode-1) = ${stageBound.toFixed(1)} images/s; CPU-budget bound ${cores} / (${(1000 * m).toFixed(2)} + ${(1000 * d).toFixed(2)} ms) = ${budgetBound.toFixed(1)} images/s`,
    `steady-state index ${steadyRate.toFixed(1)} images/s = ${fBudget.toFixed(2)} of the CPU-budget bound and ${fStage.toFixed(2)} of the stage bound (medians of per-round fractions); start-up (process start to the first batch) ${startup.toFixed(2)} s; peak RSS ${Math.round(rss)} MiB`,
    `load average after each round: ${loads.join('; ')} (above ${cores}, other work shared the cores and every rate here is low; the fractions, taken round by round, less so)`,
  ];
  for (const n of notes) b.groupNote(g, n);
  headlines.push(`Indexing clothing10 with ${id} runs at ${steadyRate.toFixed(1)} images/s in steady state, ${fBudget.toFixed(2)} of the CPU-budget bound (${budgetBound.toFixed(1)} images/s from ${(1000 * m).toFixed(2)} ms of model and ${(1000 * d).toFixed(2)} ms of decoding per image on ${cores} cores) and ${fStage.toFixed(2)} of the stage bound (${stageBound.toFixed(1)}).`);
}

if (!values['no-rss'] && models.length) {
  const id = models.includes('mobilenet-v3-small-embedder') ? 'mobilenet-v3-small-embedder' : models[0];
  const dir = path.join(SHARED, 'models', id);
  if (fs.existsSync(dir)) {
    const big = linkFolder('rss-big', nRss);
    const samples: { n: number; r: IndexRun }[] = [];
    b.log(`\npeak RSS: ${nIndex} vs ${nRss} images with ${id}`);
    for (const [f, n] of [[folder, nIndex], [big, nRss]] as const) samples.push({ n, r: await indexOnce(f, dir) });
    const [small, large] = samples;
    const rowOf = (s: { n: number; r: IndexRun }): PathResult => ({
      name: `rss-${s.n}`,
      label: `index of ${s.n} images`,
      reps: 1,
      seconds: [s.r.totalS],
      median: s.r.totalS,
      min: s.r.totalS,
      max: s.r.totalS,
      throughput: s.r.steadyRate,
      cpuPerWall: s.r.cpuS / s.r.totalS,
      cpuSeconds: [s.r.cpuS],
      peakRssMiB: s.r.peakRssMiB,
    });
    const g: GroupResult = { group: 'rss', title: `peak RSS (VmHWM) of \`lookalike index\` with ${id}: ${nIndex} vs ${nRss} images`, unit: 'images/s', baseline: `rss-${nIndex}`, rounds: 1, paths: [rowOf(small), rowOf(large)], notes: [] };
    b.record(g);
    const growth = large.r.peakRssMiB - small.r.peakRssMiB;
    b.groupNote(g, `peak RSS ${Math.round(small.r.peakRssMiB)} MiB for ${nIndex} images, ${Math.round(large.r.peakRssMiB)} MiB for ${nRss} (${growth >= 0 ? '+' : ''}${Math.round(growth)} MiB for ${(nRss / nIndex).toFixed(1)}x the images: ${((growth * 2 ** 20) / (nRss - nIndex)).toFixed(0)} bytes per extra image); load average ${loadavg()}`);
    headlines.push(`Peak RSS of indexing is ${Math.round(small.r.peakRssMiB)} MiB for ${nIndex} images and ${Math.round(large.r.peakRssMiB)} MiB for ${nRss}.`);
  }
}
for (const h of headlines) b.headline(h);
const doc = await b.done();
if (!b.json) b.log(`\n----- Markdown section for docs/benchmarks.md (or: npm run bench:all -- --only embed) -----\n\n${toMarkdown(doc)}`);
