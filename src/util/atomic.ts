/** Crash-safe writes: temp file (or folder) + fsync + rename. */
import fs from 'node:fs';
import path from 'node:path';
import { cleanStaleTemps, tempPath } from './temp.ts';

/**
 * Test hook: LOOKALIKE_CRASH_AT=<step> makes the process exit abruptly at that step, to prove
 * crash safety. `<step>#N` crashes at the N-th time the step is reached (1-based). Steps of the
 * folder store: store:segment, store:tombstone, store:manifest-tmp, store:manifest-renamed,
 * store:cleanup, compact:written, rebuild:swap (see docs/reliability.md).
 */
const crashCounts = new Map<string, number>();
export function crashPoint(step: string): void {
  const want = process.env.LOOKALIKE_CRASH_AT;
  if (!want) return;
  const [name, nth] = want.split('#');
  if (name !== step) return;
  const n = (crashCounts.get(step) ?? 0) + 1;
  crashCounts.set(step, n);
  if (nth === undefined || Number(nth) === n) {
    process.stderr.write(`simulated crash at ${step}\n`);
    // A real kill -9: no exit handlers run, no lock is released.
    process.kill(process.pid, 'SIGKILL');
  }
}

/** A write error that names the file: ENOSPC, EDQUOT, EROFS, EIO messages from Node name none. */
export function diskError(e: unknown, file: string, after = 'nothing was replaced'): unknown {
  const code = (e as NodeJS.ErrnoException)?.code;
  const what: Record<string, string> = {
    ENOSPC: 'no space left on the device',
    EDQUOT: 'disk quota exceeded',
    EROFS: 'read-only filesystem',
    EIO: 'input/output error',
    EFBIG: 'file too large for the filesystem',
  };
  if (!code || !what[code] || (e as Error).message.includes(file)) return e;
  const err = new Error(`${file}: ${what[code]} (${code}); ${after}`) as NodeJS.ErrnoException;
  err.code = code;
  return err;
}

/** Write a file atomically: the target holds either its old or its new content, never a partial one. */
export function writeFileAtomic(file: string, data: string | Uint8Array): void {
  fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  cleanStaleTemps(file);
  // A hidden sibling only lookalike names this way (src/util/temp.ts); 'wx' never opens an existing file.
  const tmp = tempPath(file);
  const fd = fs.openSync(tmp, 'wx');
  try {
    try {
      fs.writeSync(fd, typeof data === 'string' ? Buffer.from(data) : data);
      crashPoint(`file:${path.basename(file)}`);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw diskError(e, file);
  }
  fsyncDir(path.dirname(path.resolve(file)));
}

/** fsync a folder, so a rename or a new file inside it survives a power loss. */
export function fsyncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(dir, 'r');
    fs.fsyncSync(fd);
  } catch {
    // Some file systems cannot fsync folders; the rename is still atomic.
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/** Write a new file (it must not exist yet) and fsync it. */
export function writeFileNew(file: string, data: string | Uint8Array): void {
  const fd = fs.openSync(file, 'wx');
  try {
    fs.writeSync(fd, typeof data === 'string' ? Buffer.from(data) : data);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

