/**
 * The one bench harness: every bench/*.ts measures through it so that all numbers are taken the
 * same way and can be collected into docs/benchmarks.md by `npm run bench:all`.
 *
 * How a comparison is measured:
 *  - each path is set up, then warmed up: one call, then calls repeated for --min-seconds (default
 *    0.5 s), which calibrates how many calls make one sample (at least --min-seconds of work), so
 *    short paths are not timed at timer and scheduler noise;
 *  - the paths are then alternated for N rounds (--rounds, default 5): A B C, C B A, A B C, ...
 *    (the order flips every round so slow drift of the machine does not favour one path);
 *  - per path: the median and min-max of the samples, throughput = work / seconds when the path
 *    declares its work (GFLOP, images, ...), CPU time / wall time (1.0 = one core busy,
 *    2.0 = two cores; on a shared machine it also shows how much CPU the path actually got), and
 *    busy threads (Linux: threads with >= 1/3 of the busiest thread's CPU time; unlike CPU/wall it
 *    does not fall when other processes take the cores, so it shows whether threads really ran);
 *  - ratios are computed pair by pair: in every round, path throughput / baseline throughput
 *    (or baseline seconds / path seconds when no work is declared); the median and min-max of
 *    those per-round ratios are reported. So > 1 means faster than the baseline;
 *  - peak memory per path is measured in its own child process: the harness spawns the bench
 *    file itself with `--child GROUP/PATH`, where only that path is set up and run once, and
 *    reads its peak RSS (VmHWM on Linux, see peakRssMiB; else resourceUsage().maxRSS). A child with path `-` runs no path and gives the
 *    memory of the data the bench builds before the comparison ("data only"). --no-memory skips
 *    the children.
 *
 * Options every bench accepts (add your own with benchArgs()):
 *   --rounds N       alternated rounds (default 5)
 *   --min-seconds S  least work per sample (default 0.5)
 *   --quick          smaller sizes, for bench:all on 2 cores (each bench decides what it shrinks)
 *   --json           print one JSON document on stdout (text goes to stderr)
 *   --no-memory      skip the per-path child processes
 *   --child G/P      internal: measure the peak memory of one path
 *
 * Example (a complete bench):
 *
 *   import { Bench, benchArgs } from './harness.ts';
 *   const { values } = benchArgs({ n: { type: 'string', default: '1000000' } });
 *   const n = Number(values.n);
 *   const data = Float64Array.from({ length: n }, Math.random);   // shared by both paths
 *   const b = new Bench('sum', 'Sums n doubles: reduce() vs a for loop. Why: ...', { n });
 *   const r = await b.compare({
 *     group: 'sum', title: `sum of ${n} doubles`, unit: 'Melem/s', baseline: 'loop',
 *     paths: [
 *       { name: 'loop', label: 'for loop', work: n / 1e6, run: () => { let s = 0; for (let i = 0; i < n; i++) s += data[i]; return s; } },
 *       { name: 'reduce', label: 'Array.prototype.reduce', work: n / 1e6, run: () => data.reduce((a, x) => a + x, 0) },
 *     ],
 *   });
 *   b.note(`reduce / loop: ${r.ratio('reduce').toFixed(2)}x`);
 *   await b.done();   // prints the table(s), the notes and the machine facts, or the JSON
 *
 * Paths whose work runs in another process (a TF.js thread count fixed at start-up, a server):
 * spawnRemote(script, args, env) starts a worker that calls serveRemote(handlers); give the path
 * `counters: () => remote.counters()` and `peakRss: () => remote.peakRssMiB()` so CPU, busy
 * threads and peak memory are the worker's.
 *
 * Library side: machineFacts(), table(rows), markdownTable(rows), median(xs), threadTicks(),
 * busyThreads(), peakRssMiB(), and toMarkdown(doc) used by bench/all.ts.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Options the harness adds to every bench's own. */
const HARNESS_OPTIONS = {
  rounds: { type: 'string', default: '5' },
  'min-seconds': { type: 'string', default: '0.5' },
  quick: { type: 'boolean', default: false },
  json: { type: 'boolean', default: false },
  'no-memory': { type: 'boolean', default: false },
  child: { type: 'string' },
} as const;

type Options = NonNullable<ParseArgsConfig['options']>;

/** Parse process.argv with the bench's own options plus the harness options (strict: unknown flags fail). */
export function benchArgs<O extends Options>(own: O) {
  return parseArgs({ options: { ...HARNESS_OPTIONS, ...own }, allowPositionals: false, strict: true });
}

/** One path under comparison. */
export interface BenchPath {
  /** Short id: used in --child and as the key of ratios. */
  name: string;
  /** Human label for the table. */
  label: string;
  /** Work done by one run() in `unit` (e.g. GFLOP, images); throughput = work / seconds. */
  work?: number;
  /** Prepare (load a model, open a session). Not timed. */
  setup?: () => Promise<void> | void;
  /** The timed call. */
  run: () => Promise<unknown> | unknown;
  /** Release what setup made. Not timed. */
  teardown?: () => Promise<void> | void;
  /** Measure peak memory in a child (default true). */
  memory?: boolean;
  /** Extra columns for this row (e.g. a thread count). */
  columns?: Record<string, string | number>;
  /**
   * Where the work runs in another process (see spawnRemote): its cumulative CPU counters, read
   * around each sample instead of this process's own.
   */
  counters?: () => Counters;
  /** Peak RSS of that other process, instead of a memory child (called before teardown). */
  peakRss?: () => Promise<number | undefined>;
}

/** Cumulative CPU of a process: seconds (all threads) and per-thread ticks. */
export interface Counters {
  cpuSeconds: number;
  ticks: Map<string, number>;
}

/** This process's counters. */
export function ownCounters(): Counters {
  const c = process.cpuUsage();
  return { cpuSeconds: (c.user + c.system) / 1e6, ticks: threadTicks() };
}

/** A comparison of paths, alternated round by round. */
export interface Comparison {
  /** Id of the group (unique per bench; used in --child). */
  group: string;
  title: string;
  /** Unit of throughput, e.g. 'GFLOP/s', 'images/s'; the work of a path is in unit*s. */
  unit?: string;
  /** Name of the path the ratios are taken against. */
  baseline: string;
  paths: BenchPath[];
  rounds?: number;
  /** Called with the measured rows before they are printed: e.g. to relabel a row by what was measured. */
  review?: (rows: PathResult[]) => void;
}

/** Measured result of one path. */
export interface PathResult {
  name: string;
  label: string;
  reps: number;
  seconds: number[];
  median: number;
  min: number;
  max: number;
  throughput?: number;
  throughputMin?: number;
  throughputMax?: number;
  cpuPerWall: number;
  /** CPU seconds per run, per round (all threads of the process doing the work). */
  cpuSeconds: number[];
  /**
   * Median per-round ratio computed on CPU time instead of wall time. On a machine shared with
   * other work it moves far less than the wall-time ratio (time spent waiting for a core is not
   * counted), but it cannot show a gain from parallel threads; compare it with `ratio`.
   */
  cpuRatio?: number;
  /** Threads with at least 1/3 of the busiest thread's CPU time (Linux), see busyThreads(). */
  busyThreads?: number;
  /** CPU ticks (1/100 s) of each thread that ran during the samples, busiest first. */
  threadTicks?: number[];
  ratio?: number;
  ratioMin?: number;
  ratioMax?: number;
  ratios?: number[];
  peakRssMiB?: number;
  columns?: Record<string, string | number>;
}

/** Measured result of one comparison. */
export interface GroupResult {
  group: string;
  title: string;
  unit?: string;
  baseline: string;
  rounds: number;
  dataOnlyRssMiB?: number;
  paths: PathResult[];
  notes: string[];
}

/** What compare() returns: the result plus helpers that give NaN for a skipped group. */
export interface Compared extends GroupResult {
  skipped: boolean;
  /** Median per-round ratio of `name` to the baseline (> 1 = faster). */
  ratio(name: string): number;
  /** Median seconds of one run of `name`. */
  seconds(name: string): number;
  /** Median throughput of `name`. */
  throughput(name: string): number;
}

/** Facts about the machine and the code a run was measured on. */
export interface MachineFacts {
  date: string;
  commit: string;
  cpu: string;
  cores: number;
  memoryGiB: number;
  loadavg: number[];
  node: string;
  onnxruntime: string;
  tfjs: string;
  tfjsWasm: string;
  sharp: string;
  platform: string;
}

/** The JSON document a bench prints with --json. */
export interface BenchDoc {
  bench: string;
  about: string;
  params: Record<string, unknown>;
  machine: MachineFacts;
  groups: GroupResult[];
  notes: string[];
  /** Sentences with the key figures, for the README (see Bench.headline). */
  headline?: string[];
  seconds: number;
}

/** Median of a list (mean of the middle two for even lengths). */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function pkgVersion(name: string): string {
  try {
    return JSON.parse(fs.readFileSync(path.join(ROOT, 'node_modules', name, 'package.json'), 'utf8')).version;
  } catch {
    return 'absent';
  }
}

function git(args: string[]): string {
  try {
    return execFileSync('git', args, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return '';
  }
}

/** CPU, cores, versions, git commit (with "+dirty" when tracked files differ), date, load average. */
export function machineFacts(): MachineFacts {
  const commit = git(['rev-parse', '--short=12', 'HEAD']) || 'unknown';
  const dirty = git(['status', '--porcelain', '--untracked-files=no']) ? '+dirty' : '';
  return {
    date: new Date().toISOString(),
    commit: commit + dirty,
    cpu: os.cpus()[0]?.model?.trim() ?? 'unknown',
    cores: os.availableParallelism?.() ?? os.cpus().length,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    loadavg: os.loadavg().map((x) => Math.round(x * 100) / 100),
    node: process.version,
    onnxruntime: pkgVersion('onnxruntime-node'),
    tfjs: pkgVersion('@tensorflow/tfjs'),
    tfjsWasm: pkgVersion('@tensorflow/tfjs-backend-wasm'),
    sharp: pkgVersion('sharp'),
    platform: `${process.platform}-${process.arch}`,
  };
}

/** One line of machine facts for text output. */
export function factsLine(m: MachineFacts): string {
  return `${m.cpu} x${m.cores}, ${m.memoryGiB} GiB, ${m.platform}; node ${m.node}, onnxruntime-node ${m.onnxruntime}, tfjs ${m.tfjs} (wasm ${m.tfjsWasm}), sharp ${m.sharp}; commit ${m.commit}; ${m.date}; load average ${m.loadavg.join(' ')}`;
}

type Cell = string | number | undefined;
const fmt = (v: Cell): string => {
  // null: a NaN that went through JSON (bench:all reads the benches' JSON).
  if (v === undefined || v === null || (typeof v === 'number' && !Number.isFinite(v))) return '-';
  if (typeof v === 'string') return v;
  if (Number.isInteger(v)) return String(v);
  const a = Math.abs(v);
  return a >= 100 ? v.toFixed(0) : a >= 10 ? v.toFixed(1) : a >= 1 ? v.toFixed(2) : v.toFixed(3);
};

/** Format an aligned text table. */
export function table(rows: Record<string, Cell>[]): string {
  if (!rows.length) return '';
  const keys = Object.keys(rows[0]);
  const w = keys.map((k) => Math.max(k.length, ...rows.map((r) => fmt(r[k]).length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(w[i])).join('  ').trimEnd();
  return [line(keys), ...rows.map((r) => line(keys.map((k) => fmt(r[k]))))].join('\n');
}

/** Format a Markdown table. */
export function markdownTable(rows: Record<string, Cell>[]): string {
  if (!rows.length) return '';
  const keys = Object.keys(rows[0]);
  const esc = (s: string) => s.replace(/\|/g, '\\|');
  return [`| ${keys.map(esc).join(' | ')} |`, `|${keys.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${keys.map((k) => esc(fmt(r[k]))).join(' | ')} |`)].join('\n');
}

const range = (lo: Cell, hi: Cell) => (lo === undefined || hi === undefined ? '-' : `${fmt(lo)}-${fmt(hi)}`);

/** The rows of a group's table: median and min-max of seconds, throughput, ratio; CPU/wall; peak RSS. */
export function groupRows(g: GroupResult): Record<string, Cell>[] {
  return g.paths.map((p) => {
    const row: Record<string, Cell> = { path: p.label, ...(p.columns ?? {}) };
    row['s/run (median)'] = p.median;
    row['min-max'] = range(p.min, p.max);
    if (g.unit) {
      row[g.unit] = p.throughput;
      row[`${g.unit} min-max`] = range(p.throughputMin, p.throughputMax);
    }
    row[`x ${g.baseline}`] = p.name === g.baseline ? '1' : p.ratio;
    row['ratio min-max'] = p.name === g.baseline ? '-' : range(p.ratioMin, p.ratioMax);
    row['cpu/wall'] = p.cpuPerWall;
    row['busy threads'] = p.busyThreads;
    row['peak RSS MiB'] = p.peakRssMiB === undefined ? '-' : Math.round(p.peakRssMiB);
    return row;
  });
}

/** The prefix of the headline line in a bench's Markdown section. */
export const HEADLINE = '**Headline:** ';

/** Render a bench document as a Markdown section (used by bench/all.ts). */
export function toMarkdown(doc: BenchDoc): string {
  const out = [`## ${doc.bench}`, '', doc.about, ''];
  if (doc.headline?.length) out.push(`${HEADLINE}${doc.headline.join(' ')}`, '');
  const params = Object.entries(doc.params).map(([k, v]) => `${k}=${v}`).join(', ');
  if (params) out.push(`Parameters: ${params}.`, '');
  for (const g of doc.groups) {
    out.push(`### ${g.title}`, '', `${g.rounds} alternated rounds; ratios are medians of per-round ratios to \`${g.baseline}\` (> 1 = faster)${g.dataOnlyRssMiB ? `; RSS of the data alone ${Math.round(g.dataOnlyRssMiB)} MiB` : ''}.`, '');
    out.push(markdownTable(groupRows(g)), '');
    for (const n of g.notes) out.push(`- ${n}`);
    if (g.notes.length) out.push('');
  }
  for (const n of doc.notes) out.push(`- ${n}`);
  if (doc.notes.length) out.push('');
  out.push(`Measured in ${doc.seconds.toFixed(0)} s; ${factsLine(doc.machine)}.`, '');
  return out.join('\n');
}

interface ChildReport {
  maxRssMiB: number;
}

const CHILD_TAG = 'LOOKALIKE_BENCH_CHILD ';

/**
 * Peak RSS of this process in MiB. On Linux this is VmHWM from /proc/self/status, not
 * process.resourceUsage().maxRSS: getrusage's maxrss survives fork+exec, so a child spawned by a
 * parent holding 1 GiB reports at least 1 GiB whatever it does itself (seen here: a child that
 * allocated nothing reported the parent's 214 MiB). VmHWM belongs to the address space made at
 * exec. Elsewhere resourceUsage().maxRSS is used.
 */
export function peakRssMiB(): number {
  try {
    const m = /^VmHWM:\s+(\d+)\s+kB/m.exec(fs.readFileSync('/proc/self/status', 'utf8'));
    if (m) return Number(m[1]) / 1024;
  } catch {
    // not Linux
  }
  return process.resourceUsage().maxRSS / 1024;
}

/** CPU ticks (user + system) of every thread of this process, by thread id; empty where /proc is absent. */
export function threadTicks(): Map<string, number> {
  const m = new Map<string, number>();
  let tasks: string[];
  try {
    tasks = fs.readdirSync('/proc/self/task');
  } catch {
    return m;
  }
  for (const t of tasks) {
    try {
      const s = fs.readFileSync(`/proc/self/task/${t}/stat`, 'utf8');
      const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
      m.set(t, Number(f[11]) + Number(f[12]));
    } catch {
      // the thread ended
    }
  }
  return m;
}

/** Per-thread CPU spent between two threadTicks() snapshots. */
/** Per-thread ticks spent between two threadTicks() readings. */
export function tickDelta(a: Map<string, number>, b: Map<string, number>): Map<string, number> {
  const d = new Map<string, number>();
  for (const [t, v] of b) d.set(t, v - (a.get(t) ?? 0));
  return d;
}

/**
 * Threads that did real work: those with at least a third of the busiest thread's CPU time.
 * Unlike CPU/wall this does not drop when other processes take the cores, so it tells whether
 * a "2 threads" setting really runs two threads. undefined without /proc or with too few ticks.
 */
export function busyThreads(ticks: Map<string, number>): number | undefined {
  const v = [...ticks.values()];
  const max = Math.max(0, ...v);
  if (max < 10) return undefined;
  return v.filter((x) => x >= max / 3).length;
}

async function timeOnce(fn: () => Promise<unknown> | unknown, reps: number, counters: () => Counters = ownCounters): Promise<{ wall: number; cpu: number; ticks: Map<string, number> }> {
  const c0 = counters();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < reps; i++) await fn();
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  const c1 = counters();
  return { wall: wall / reps, cpu: (c1.cpuSeconds - c0.cpuSeconds) / reps, ticks: tickDelta(c0.ticks, c1.ticks) };
}

/** One bench: a set of comparisons with notes, printed as text or one JSON document. */
export class Bench {
  readonly rounds: number;
  readonly minSeconds: number;
  readonly quick: boolean;
  readonly json: boolean;
  readonly memory: boolean;
  /** In a memory child: the group and path to measure. */
  readonly child?: { group: string; path: string };
  private groups: GroupResult[] = [];
  private notes: string[] = [];
  private headlines: string[] = [];
  private started = performance.now();

  /**
   * name: bench id (e.g. 'search'); about: what it compares and why; params: sizes shown with the results.
   * Harness options are read from process.argv (see the header).
   */
  constructor(readonly name: string, readonly about: string, readonly params: Record<string, unknown> = {}) {
    const { values } = parseArgs({ options: HARNESS_OPTIONS, strict: false, allowPositionals: true });
    this.rounds = Math.max(1, Number(values.rounds ?? 5) | 0);
    this.minSeconds = Math.max(0, Number(values['min-seconds'] ?? 0.5));
    this.quick = Boolean(values.quick);
    this.json = Boolean(values.json);
    this.memory = !values['no-memory'];
    if (typeof values.child === 'string') {
      const i = values.child.lastIndexOf('/');
      this.child = { group: values.child.slice(0, i), path: values.child.slice(i + 1) };
    }
    if (!this.child) this.log(`bench:${name}  ${Object.entries(params).map(([k, v]) => `${k}=${v}`).join(' ')}`);
  }

  /** Progress and text output: stderr with --json, else stdout. Silent in memory children. */
  log(s: string): void {
    if (this.child) return;
    (this.json ? process.stderr : process.stdout).write(`${s}\n`);
  }

  /**
   * A headline: one sentence with the bench's key figures, for the README's performance paragraph
   * (bench:all copies it there from docs/benchmarks.md, so README figures always come from a run).
   */
  headline(s: string): void {
    if (this.child) return;
    this.headlines.push(s);
  }

  /** A note printed after the tables (and kept in the JSON): ceilings, correctness checks, caveats. */
  note(s: string): void {
    if (this.child) return;
    this.notes.push(s);
  }

  /** Run one comparison (see the header). In a memory child for another group this returns at once. */
  async compare(c: Comparison): Promise<Compared> {
    const rounds = c.rounds ?? this.rounds;
    if (!c.paths.some((p) => p.name === c.baseline)) throw new Error(`bench ${this.name}/${c.group}: baseline ${c.baseline} is not one of the paths`);
    if (this.child) {
      if (this.child.group === c.group) await this.runChild(c);
      return this.wrap({ group: c.group, title: c.title, unit: c.unit, baseline: c.baseline, rounds, paths: [], notes: [] }, true);
    }
    this.log(`\n${c.title}`);
    for (const p of c.paths) await p.setup?.();
    // Warm-up, which also calibrates the calls per sample.
    const reps = new Map<string, number>();
    for (const p of c.paths) {
      const first = await timeOnce(p.run, 1);
      // Calibrate on warm calls: repeat until min-seconds have passed (at least one more call).
      let n = 0;
      const t0 = performance.now();
      while (n < 1 || (performance.now() - t0) / 1000 < this.minSeconds) {
        await p.run();
        n++;
      }
      const per = (performance.now() - t0) / 1000 / n;
      reps.set(p.name, Math.max(1, Math.ceil(this.minSeconds / Math.max(per, 1e-7))));
      this.log(`  warm-up ${p.label}: first call ${fmt(first.wall)} s, then ${fmt(per)} s -> ${reps.get(p.name)} call(s) per sample`);
    }
    const wall = new Map<string, number[]>(c.paths.map((p) => [p.name, []]));
    const cpu = new Map<string, number>(c.paths.map((p) => [p.name, 0]));
    const cpuRounds = new Map<string, number[]>(c.paths.map((p) => [p.name, []]));
    const ticks = new Map<string, Map<string, number>>(c.paths.map((p) => [p.name, new Map()]));
    for (let r = 0; r < rounds; r++) {
      const order = r % 2 ? [...c.paths].reverse() : c.paths;
      for (const p of order) {
        const t = await timeOnce(p.run, reps.get(p.name)!, p.counters);
        wall.get(p.name)!.push(t.wall);
        cpu.set(p.name, cpu.get(p.name)! + t.cpu);
        cpuRounds.get(p.name)!.push(t.cpu);
        const acc = ticks.get(p.name)!;
        for (const [tid, v] of t.ticks) acc.set(tid, (acc.get(tid) ?? 0) + v);
      }
      this.log(`  round ${r + 1}/${rounds}: ${c.paths.map((p) => `${p.name} ${fmt(wall.get(p.name)![r])} s`).join(', ')}`);
    }
    const remotePeak = new Map<string, number | undefined>();
    for (const p of c.paths) if (p.peakRss) remotePeak.set(p.name, await p.peakRss());
    for (const p of c.paths) await p.teardown?.();
    const base = c.paths.find((p) => p.name === c.baseline)!;
    const tput = (p: BenchPath, s: number) => (p.work !== undefined ? p.work / s : undefined);
    const results: PathResult[] = c.paths.map((p) => {
      const s = wall.get(p.name)!;
      const res: PathResult = {
        name: p.name,
        label: p.label,
        reps: reps.get(p.name)!,
        seconds: s,
        median: median(s),
        min: Math.min(...s),
        max: Math.max(...s),
        cpuPerWall: cpu.get(p.name)! / s.reduce((a, x) => a + x, 0),
        cpuSeconds: cpuRounds.get(p.name)!,
        busyThreads: busyThreads(ticks.get(p.name)!),
        threadTicks: [...ticks.get(p.name)!.values()].filter((v) => v > 0).sort((a, b) => b - a),
        columns: p.columns,
      };
      if (p.work !== undefined) {
        res.throughput = p.work / res.median;
        res.throughputMin = p.work / res.max;
        res.throughputMax = p.work / res.min;
      }
      if (p !== base) {
        const bs = wall.get(base.name)!;
        // Per round: throughput ratio when both declare work, else the inverse ratio of seconds.
        const ratios = s.map((x, i) => (p.work !== undefined && base.work !== undefined ? tput(p, x)! / tput(base, bs[i])! : bs[i] / x));
        res.ratios = ratios;
        res.ratio = median(ratios);
        res.ratioMin = Math.min(...ratios);
        res.ratioMax = Math.max(...ratios);
        const cs = cpuRounds.get(p.name)!, cb = cpuRounds.get(base.name)!;
        const cpuRatios = cs.map((x, i) => (p.work !== undefined && base.work !== undefined ? (p.work / x) / (base.work / cb[i]) : cb[i] / x));
        if (cpuRatios.every(Number.isFinite)) res.cpuRatio = median(cpuRatios);
      }
      return res;
    });
    const g: GroupResult = { group: c.group, title: c.title, unit: c.unit, baseline: c.baseline, rounds, paths: results, notes: [] };
    for (const [n, v] of remotePeak) g.paths.find((x) => x.name === n)!.peakRssMiB = v;
    c.review?.(g.paths);
    if (this.memory && c.paths.some((p) => p.memory !== false && !p.peakRss)) this.measureMemory(c, g);
    this.groups.push(g);
    this.log(table(groupRows(g)));
    return this.wrap(g, false);
  }

  /**
   * Record a group measured by the bench itself (runs too long for compare's warm-up, e.g. a whole
   * command in a child process): printed now and kept in the document like a compared group.
   */
  record(g: GroupResult): void {
    if (this.child) return;
    this.groups.push(g);
    this.log(`\n${g.title}\n${table(groupRows(g))}`);
  }

  /** Add a note under one group's table. */
  groupNote(g: GroupResult, s: string): void {
    if (this.child) return;
    const own = this.groups.find((x) => x.group === g.group);
    (own ?? g).notes.push(s);
    this.log(`  ${s}`);
  }

  private wrap(g: GroupResult, skipped: boolean): Compared {
    const find = (n: string) => g.paths.find((p) => p.name === n);
    return {
      ...g,
      skipped,
      ratio: (n) => (n === g.baseline && !skipped ? 1 : find(n)?.ratio ?? NaN),
      seconds: (n) => find(n)?.median ?? NaN,
      throughput: (n) => find(n)?.throughput ?? NaN,
    };
  }

  private measureMemory(c: Comparison, g: GroupResult): void {
    const script = process.argv[1];
    const args = process.argv.slice(2).filter((a, i, all) => a !== '--json' && a !== '--child' && all[i - 1] !== '--child' && !a.startsWith('--child='));
    const spawnOne = (pathName: string): number | undefined => {
      const r = spawnSync(process.execPath, [...process.execArgv, script, ...args, '--child', `${c.group}/${pathName}`], { encoding: 'utf8', maxBuffer: 1 << 26, env: process.env });
      const line = (r.stdout ?? '').split('\n').find((l) => l.startsWith(CHILD_TAG));
      if (r.status !== 0 || !line) {
        this.log(`  memory child ${c.group}/${pathName} failed (exit ${r.status}): ${(r.stderr ?? '').trim().split('\n').slice(-3).join(' | ')}`);
        return undefined;
      }
      return (JSON.parse(line.slice(CHILD_TAG.length)) as ChildReport).maxRssMiB;
    };
    this.log('  peak memory, one child process per path...');
    g.dataOnlyRssMiB = spawnOne('-');
    for (const p of c.paths) {
      if (p.memory === false || p.peakRss) continue;
      g.paths.find((x) => x.name === p.name)!.peakRssMiB = spawnOne(p.name);
    }
  }

  private async runChild(c: Comparison): Promise<never> {
    const name = this.child!.path;
    if (name !== '-') {
      const p = c.paths.find((x) => x.name === name);
      if (!p) throw new Error(`bench ${this.name}: no path ${name} in group ${c.group}`);
      await p.setup?.();
      await p.run();
    }
    const report: ChildReport = { maxRssMiB: peakRssMiB() };
    process.stdout.write(`${CHILD_TAG}${JSON.stringify(report)}\n`);
    process.exit(0);
  }

  /** The document so far. */
  doc(): BenchDoc {
    return { bench: this.name, about: this.about, params: this.params, machine: machineFacts(), groups: this.groups, notes: this.notes, headline: this.headlines, seconds: (performance.now() - this.started) / 1000 };
  }

  /** Finish: print notes and machine facts (text), or the JSON document on stdout (--json). */
  async done(): Promise<BenchDoc> {
    const d = this.doc();
    if (this.child) {
      // The selected group never ran: a wrong --child argument.
      process.stderr.write(`bench ${this.name}: no group ${this.child.group}\n`);
      process.exit(2);
    }
    if (this.json) process.stdout.write(`${JSON.stringify(d)}\n`);
    else {
      if (d.notes.length) this.log(`\n${d.notes.join('\n')}`);
      if (this.headlines.length) this.log(`\nheadline: ${this.headlines.join(' ')}`);
      this.log(`\n${factsLine(d.machine)}`);
    }
    return d;
  }
}

/** A worker process that runs work for a path (see spawnRemote / serveRemote). */
export interface Remote {
  /** Send a command and wait for its result. */
  call<T = unknown>(cmd: string, arg?: unknown): Promise<T>;
  /** The worker's CPU counters as of its last reply. */
  counters(): Counters;
  /** The worker's peak RSS (VmHWM) in MiB. */
  peakRssMiB(): Promise<number>;
  /** Stop the worker. */
  close(): Promise<void>;
}

interface RemoteReply {
  id: number;
  ok: boolean;
  value?: unknown;
  error?: string;
  cpuSeconds: number;
  ticks: [string, number][];
}

/**
 * Start `script` (with this process's --import flags) as a worker that answers commands, for
 * paths that must run in a process of their own (a TF.js thread count, a server). The worker
 * calls serveRemote(handlers). Each reply carries the worker's CPU counters, so a BenchPath can
 * pass `counters: () => remote.counters()` and `peakRss: () => remote.peakRssMiB()`.
 */
export async function spawnRemote(script: string, args: string[] = [], env: Record<string, string> = {}): Promise<Remote> {
  const { fork } = await import('node:child_process');
  const child = fork(script, args, { execArgv: process.execArgv, env: { ...process.env, ...env }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  let next = 1;
  let last: Counters = { cpuSeconds: 0, ticks: new Map() };
  const waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  let exited: Error | undefined;
  child.on('message', (m: RemoteReply) => {
    last = { cpuSeconds: m.cpuSeconds, ticks: new Map(m.ticks) };
    const w = waiting.get(m.id);
    waiting.delete(m.id);
    if (m.ok) w?.resolve(m.value);
    else w?.reject(new Error(m.error));
  });
  child.on('exit', (code, sig) => {
    exited = new Error(`bench worker ${path.basename(script)} ${args.join(' ')} exited (${code ?? sig})`);
    for (const w of waiting.values()) w.reject(exited);
    waiting.clear();
  });
  const call = <T>(cmd: string, arg?: unknown): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      if (exited) return reject(exited);
      const id = next++;
      waiting.set(id, { resolve: resolve as (v: unknown) => void, reject });
      child.send({ id, cmd, arg });
    });
  await call('__ready');
  return {
    call,
    counters: () => last,
    peakRssMiB: () => call<number>('__peak'),
    close: async () => {
      if (exited) return;
      const done = new Promise((r) => child.once('exit', r));
      child.kill();
      await done;
    },
  };
}

/** In a worker started by spawnRemote: answer commands with these handlers (async allowed). */
export function serveRemote(handlers: Record<string, (arg: unknown) => unknown>): void {
  const all: Record<string, (arg: unknown) => unknown> = { __ready: () => true, __peak: () => peakRssMiB(), ...handlers };
  process.on('message', async (m: { id: number; cmd: string; arg?: unknown }) => {
    let reply: Omit<RemoteReply, 'cpuSeconds' | 'ticks'>;
    try {
      const h = all[m.cmd];
      if (!h) throw new Error(`unknown command ${m.cmd}`);
      reply = { id: m.id, ok: true, value: await h(m.arg) };
    } catch (e) {
      reply = { id: m.id, ok: false, error: (e as Error).stack ?? String(e) };
    }
    const c = ownCounters();
    process.send!({ ...reply, cpuSeconds: c.cpuSeconds, ticks: [...c.ticks] });
  });
}
