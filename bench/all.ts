/**
 * bench:all — run every bench and write docs/benchmarks.md (tables, machine facts, date, commit).
 *
 * The benches are the `bench:*` scripts in package.json (all but this one), run in the order of
 * ORDER below, then any others in name order, each as `npm run bench:NAME -- --json [--quick]`
 * (one JSON document on stdout, see bench/harness.ts). --quick (the default here; --full turns it
 * off) picks sizes that keep the whole run under 20 minutes on 2 idle cores. A bench that fails
 * or prints no JSON is reported in the file with the tail of its stderr; the others still run.
 * The file is written atomically (temp file + rename). With --only a,b just those benches run and
 * the file keeps the other benches' sections from its previous version (each section carries its
 * own date, commit and machine facts).
 *
 * README.md quotes performance figures only from docs/benchmarks.md: its performance paragraph,
 * between two `<!-- perf -->` markers, is rewritten from the benches' headlines (Bench.headline)
 * found in the file (--no-readme leaves README.md alone); tests/fast/readme-figures.test.ts checks
 * that every number in that paragraph appears in docs/benchmarks.md.
 *
 *   npm run bench:all [-- --only search,embed] [--full] [--rounds 5] [--timeout 900] [--no-readme]
 *                     [--out docs/benchmarks.md]
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { HEADLINE, factsLine, machineFacts, toMarkdown, type BenchDoc, type MachineFacts } from './harness.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const ORDER = ['search', 'embed', 'embed-shrink', 'light', 'tfjs', 'tune', 'store', 'ann', 'serve', 'pg'];
const { values } = parseArgs({
  options: {
    only: { type: 'string' },
    full: { type: 'boolean', default: false },
    rounds: { type: 'string' },
    out: { type: 'string', default: path.join(ROOT, 'docs/benchmarks.md') },
    timeout: { type: 'string', default: '900' },
    'no-readme': { type: 'boolean', default: false },
  },
});

const scripts = Object.keys(JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')).scripts ?? {})
  .filter((s) => s.startsWith('bench:') && s !== 'bench:all')
  .map((s) => s.slice('bench:'.length));
const rank = (n: string) => (ORDER.includes(n) ? ORDER.indexOf(n) : ORDER.length);
const all = scripts.sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
const only = values.only?.split(',').filter(Boolean);
for (const o of only ?? []) if (!all.includes(o)) throw new Error(`bench:all: no script bench:${o} in package.json (have ${all.join(', ')})`);
const run = only ? all.filter((n) => only.includes(n)) : all;

const PERF = '<!-- perf -->';
const HEADLINE_RE = new RegExp(`^${HEADLINE.replace(/[*]/g, '\\*')}(.*)$`, 'm');
const BEGIN = (n: string) => `<!-- bench:${n} -->`;
const END = (n: string) => `<!-- /bench:${n} -->`;

/** The sections of an existing file, by bench name. */
function oldSections(file: string): Map<string, string> {
  const m = new Map<string, string>();
  if (!fs.existsSync(file)) return m;
  const text = fs.readFileSync(file, 'utf8');
  for (const hit of text.matchAll(/<!-- bench:([\w-]+) -->\n([\s\S]*?)<!-- \/bench:\1 -->/g)) m.set(hit[1], hit[2]);
  return m;
}

/**
 * Run `npm run bench:NAME -- ARGS` in a process group of its own (stderr shown live, stdout kept);
 * past the timeout the whole group is killed, so no bench process outlives its slot.
 */
function runBench(name: string, args: string[], timeoutMs: number): Promise<{ status: number | null; signal: string | null; stdout: string; error?: Error }> {
  return new Promise((resolve) => {
    const child = spawn('npm', ['run', '--silent', `bench:${name}`, '--', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'], detached: true });
    let stdout = '';
    let error: Error | undefined;
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    const kill = (sig: NodeJS.Signals) => {
      try {
        process.kill(-child.pid!, sig);
      } catch {
        // already gone
      }
    };
    const timer = setTimeout(() => {
      error = new Error(`timed out after ${timeoutMs / 1000} s (--timeout)`);
      kill('SIGTERM');
      setTimeout(() => kill('SIGKILL'), 5000).unref();
    }, timeoutMs);
    const onExit = () => {
      kill('SIGTERM');
      process.exit(130);
    };
    process.once('SIGINT', onExit);
    child.on('close', (status, signal) => {
      clearTimeout(timer);
      process.removeListener('SIGINT', onExit);
      resolve({ status, signal, stdout, error });
    });
  });
}

const extra = [values.full ? [] : ['--quick'], values.rounds ? ['--rounds', values.rounds] : []].flat();
const started = performance.now();
const startFacts = machineFacts();
const sections = oldSections(values.out);
const summary: string[] = [];
for (const name of run) {
  const t0 = performance.now();
  process.stderr.write(`\n=== bench:${name} ${extra.join(' ')} ===\n`);
  const r = await runBench(name, ['--json', ...extra], Number(values.timeout) * 1000);
  const secs = (performance.now() - t0) / 1000;
  let doc: BenchDoc | undefined;
  const last = (r.stdout ?? '').trim().split('\n').pop() ?? '';
  try {
    doc = JSON.parse(last) as BenchDoc;
  } catch {
    doc = undefined;
  }
  let body: string;
  if (r.status === 0 && doc?.groups) {
    body = toMarkdown(doc);
    summary.push(`bench:${name} ${secs.toFixed(0)} s`);
  } else {
    const why = r.error ? r.error.message : `exit ${r.status ?? r.signal}`;
    const tail = (r.stdout ?? '').trim().split('\n').slice(-5).join('\n');
    body = `## ${name}\n\nNot measured: \`npm run bench:${name} -- --json ${extra.join(' ')}\` failed (${why}) after ${secs.toFixed(0)} s${doc ? '' : ', or printed no JSON document on stdout'} (its stderr is in the bench:all log).${tail ? `\n\nLast lines of stdout:\n\n\`\`\`\n${tail}\n\`\`\`` : ''}\n`;
    summary.push(`bench:${name} FAILED (${why}) after ${secs.toFixed(0)} s`);
  }
  sections.set(name, body);
  process.stderr.write(`=== bench:${name}: ${summary[summary.length - 1]} ===\n`);
  // Written after every bench, so a run stopped part-way keeps what it measured.
  writeAtomic(values.out, render().text);
}
/** The whole file from the sections so far. */
function render(): { text: string; endFacts: MachineFacts; total: number } {
  const total = (performance.now() - started) / 1000;
  const endFacts = machineFacts();

  const out: string[] = [
    '# Benchmarks',
    '',
    `Generated by \`npm run bench:all${[...(values.full ? ['--full'] : []), ...(only ? ['--only', only.join(',')] : [])].length ? ` -- ${[values.full ? '--full' : '', only ? `--only ${only.join(',')}` : ''].filter(Boolean).join(' ')}` : ''}\` (do not edit by hand; README.md quotes its figures from here).`,
    `Last run: ${endFacts.date}, commit ${endFacts.commit}, ${run.length} bench(es) in ${total.toFixed(0)} s (${summary.join('; ')}); sizes ${values.full ? 'full (--full)' : '--quick'}.`,
    '',
    `Machine: ${factsLine(startFacts)}. Load average at the end: ${endFacts.loadavg.join(' ')}.`,
    '',
    'How to read the tables: every bench alternates the paths it compares for N rounds after a warm-up; "s/run" is the median of the rounds with min-max beside it; throughput = work / median seconds; ratios are medians of per-round ratios against the named baseline (> 1 = faster). cpu/wall is CPU time over wall time of the process doing the work (2.0 = both cores); busy threads counts threads with at least 1/3 of the busiest thread\'s CPU time, so a thread count that does not really run shows as 1; peak RSS is measured per path in a process of its own (see bench/harness.ts). A load average well above the core count means other work shared the cores: absolute rates are then low, ratios less so.',
    '',
  ];
  const names = [...sections.keys()].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
  for (const n of names) out.push(BEGIN(n), sections.get(n)!.trimEnd(), END(n), '');
  return { text: out.join('\n'), endFacts, total };
}

/** Write a file atomically: a temp file beside it, then rename. */
function writeAtomic(file: string, text: string): void {
  const tmp = `${file}.tmp-${process.pid}`;
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(tmp, text);
  fs.renameSync(tmp, file);
}
const file = values.out;
const { text, endFacts, total } = render();
writeAtomic(file, text);

// The README's performance paragraph, between its two <!-- perf --> markers, is made of the
// headlines in the file just written, so every figure it quotes comes from a run.
const names = [...sections.keys()].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
// Each headline names the commit its bench measured (the "Measured in ...; commit X" line of its section).
const headlines = names
  .map((n) => {
    const h = HEADLINE_RE.exec(sections.get(n)!)?.[1];
    const commit = /^Measured in .*?; commit ([0-9a-f]+(?:\+dirty)?);/m.exec(sections.get(n)!)?.[1];
    return h && `${h.replace(/\.$/, '')} (bench:${n}, commit ${commit ?? 'unknown'}).`;
  })
  .filter((h): h is string => Boolean(h));
const readmeFile = path.join(ROOT, 'README.md');
// Only for the real file: a run written elsewhere (--out) does not change the README.
if (!values['no-readme'] && path.resolve(file) === path.join(ROOT, 'docs/benchmarks.md') && fs.existsSync(readmeFile) && headlines.length) {
  const readme = fs.readFileSync(readmeFile, 'utf8');
  const parts = readme.split(PERF);
  if (parts.length === 3) {
    const rel = path.relative(ROOT, file);
    const para = `\nMeasured by \`npm run bench:all\` and quoted from [${rel}](${rel}), where the tables, the machine (${endFacts.cores} cores here), the date, the commit and the load during the run are: ${headlines.join(' ')}\n`;
    writeAtomic(readmeFile, [parts[0], para, parts[2]].join(PERF));
    process.stderr.write(`updated the performance paragraph of README.md from ${rel}\n`);
  } else process.stderr.write(`README.md has no pair of ${PERF} markers: its performance paragraph was not updated\n`);
}
process.stderr.write(`\nwrote ${path.relative(process.cwd(), file)} (${total.toFixed(0)} s: ${summary.join('; ')})\n`);
