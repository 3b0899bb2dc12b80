/** `lookalike serve` as a real process on loopback, for tests of what only a process shows: signals, peak memory, a stuck thread pool. */
import fs from 'node:fs';
import path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { ROOT } from './tmp.ts';

/** A running server process. */
export interface ServeProc {
  proc: ChildProcess;
  url: string;
  /** Everything it printed to stderr so far. */
  stderr(): string;
  /** Peak resident memory so far in MB (VmHWM), or NaN without /proc. */
  peakRssMb(): number;
  /** Send a signal and resolve with the milliseconds until the process exited (Infinity past `waitMs`, then SIGKILL). */
  stop(signal?: NodeJS.Signals, waitMs?: number): Promise<number>;
}

/** Start `lookalike serve ARGS --port 0` and resolve once it prints its URL. */
export function startServeProc(args: string[], env: Record<string, string> = {}): Promise<ServeProc> {
  const proc = spawn(process.execPath, [path.join(ROOT, 'bin/lookalike.js'), 'serve', ...args, '--port', '0'], { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  let exited = false;
  const exit = new Promise<void>((r) => proc.once('exit', () => ((exited = true), r())));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start in 60 s: ${err}`)), 60_000);
    proc.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      const m = /at (http:\/\/\S+?)\/?\n/.exec(err);
      if (m && timer) {
        clearTimeout(timer);
        resolve({
          proc,
          url: m[1],
          stderr: () => err,
          peakRssMb: () => {
            try {
              const m2 = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${proc.pid}/status`, 'utf8'));
              return m2 ? Number(m2[1]) / 1024 : NaN;
            } catch {
              return NaN;
            }
          },
          async stop(signal = 'SIGTERM', waitMs = 10_000) {
            if (exited) return 0;
            const t0 = Date.now();
            proc.kill(signal);
            const done = await Promise.race([exit.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), waitMs))]);
            if (!done) {
              proc.kill('SIGKILL');
              await exit;
              return Infinity;
            }
            return Date.now() - t0;
          },
        });
      }
    });
    proc.once('exit', (code) => reject(new Error(`serve exited with ${code}: ${err}`)));
  });
}
