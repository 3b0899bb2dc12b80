/**
 * One `lookalike index` run for bench:embed, in a process of its own (a fresh process is what a
 * user starts; its peak RSS is the run's alone). It calls the library function the CLI command
 * calls (api.indexFolder, same defaults), timestamps every batch, and prints one JSON line:
 *   { rows, firstRowS, lastRowS, totalS, steadyRate, cpuS, peakRssMiB, loadavg }
 * times in seconds since the process started; steadyRate = rows after the first batch / time
 * from the first batch to the last (start-up excluded: import, model load, hashing, first batch).
 *
 *   node --import tsx bench/embed-index.ts FOLDER MODEL OUT     (LOOKALIKE_THREADS etc. as usual)
 */
import fs from 'node:fs';
import os from 'node:os';
import { peakRssMiB } from './harness.ts';

const [folder, model, out] = process.argv.slice(2);
if (!folder || !model || !out) throw new Error('usage: embed-index.ts FOLDER MODEL OUT');
const api = await import('../src/api.ts');
const marks: { t: number; done: number }[] = [];
// The bench's galleries are folders of symlinks to clothing10 (followed on purpose: --follow-links).
const report = await api.indexFolder(folder, out, { model, followLinks: true, onProgress: (done) => marks.push({ t: performance.now() / 1000, done }) });
const totalS = performance.now() / 1000;
const first = marks[0];
const last = marks[marks.length - 1];
const steadyRate = marks.length > 1 ? (last.done - first.done) / (last.t - first.t) : NaN;
const c = process.cpuUsage();
fs.writeSync(
  1,
  `${JSON.stringify({ rows: report.total, skipped: report.skipped.length, firstRowS: first?.t, lastRowS: last?.t, totalS, steadyRate, cpuS: (c.user + c.system) / 1e6, peakRssMiB: peakRssMiB(), memory: process.memoryUsage(), loadavg: os.loadavg() })}\n`,
);
