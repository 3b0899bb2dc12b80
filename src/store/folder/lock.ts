/**
 * The writer lock of a folder store: `lock.json` created with O_EXCL, holding pid, host and
 * start time. A second writer fails at once naming the holder; a lock whose pid is dead (same
 * host) is taken over. Released by unlinking it on close (and at process exit).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LOCK } from './names.ts';
import { processAlive } from '../../util/temp.ts';

/** Contents of a lock file. */
export interface LockInfo {
  pid: number;
  host: string;
  started: string;
}

function readLock(file: string): LockInfo | undefined {
  try {
    const v = JSON.parse(fs.readFileSync(file, 'utf8')) as LockInfo;
    return v && Number.isInteger(v.pid) ? v : undefined;
  } catch {
    return undefined;
  }
}

const held = new Set<string>();
let exitHook = false;

/** Take the writer lock of `dir`; throws naming the holder when another live process has it. */
export function acquireLock(dir: string): () => void {
  const file = path.join(dir, LOCK);
  const me: LockInfo = { pid: process.pid, host: os.hostname(), started: new Date().toISOString() };
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = fs.openSync(file, 'wx');
      fs.writeSync(fd, JSON.stringify(me));
      fs.fsyncSync(fd);
      fs.closeSync(fd);
      held.add(file);
      if (!exitHook) {
        exitHook = true;
        process.on('exit', () => {
          for (const f of held) fs.rmSync(f, { force: true });
        });
      }
      return () => {
        if (held.delete(file)) {
          const cur = readLock(file);
          if (cur && cur.pid === me.pid && cur.started === me.started) fs.rmSync(file, { force: true });
        }
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw new Error(`${file}: cannot create the writer lock (${(e as Error).message})`);
    }
    const cur = readLock(file);
    if (cur && cur.host !== me.host) {
      throw new Error(`${dir}: locked by process ${cur.pid} on host ${cur.host} since ${cur.started}; if no lookalike runs there any more, delete ${file}`);
    }
    if (cur && (cur.pid === process.pid ? held.has(file) : processAlive(cur.pid))) {
      throw new Error(`${dir}: another writer holds the index (process ${cur.pid}, since ${cur.started}); wait for it to finish`);
    }
    if (!cur) {
      // Unreadable or half-written: only a crash between create and write leaves one; give a
      // racing creator a moment to finish writing before treating it as stale.
      const age = Date.now() - (fs.statSync(file, { throwIfNoEntry: false })?.mtimeMs ?? 0);
      if (age < 2000) throw new Error(`${dir}: another writer is taking the lock (${file}); try again`);
    }
    // Stale: move it aside (one taker wins the rename), check it is the one we judged, drop it.
    const aside = `${file}.stale-${process.pid}`;
    try {
      fs.renameSync(file, aside);
    } catch {
      continue;
    }
    const moved = readLock(aside);
    if (cur && moved && (moved.pid !== cur.pid || moved.started !== cur.started)) {
      // Someone else took over in between: put theirs back and fail.
      try {
        fs.linkSync(aside, file);
      } catch {
        // they will notice their lock is gone only at release; nothing more we can do
      }
      fs.rmSync(aside, { force: true });
      throw new Error(`${dir}: another writer holds the index (process ${moved.pid}); wait for it to finish`);
    }
    fs.rmSync(aside, { force: true });
    process.stderr.write(`note: ${dir}: took over the lock of process ${cur?.pid ?? '?'}, which is no longer running\n`);
  }
  throw new Error(`${dir}: could not take the writer lock (${file})`);
}

/** Throw at once (naming the holder) if another live process on this host holds the lock of `dir`. */
export function assertUnlocked(dir: string): void {
  const cur = readLock(path.join(dir, LOCK));
  if (cur && cur.host === os.hostname() && cur.pid !== process.pid && processAlive(cur.pid)) {
    throw new Error(`${dir}: another writer holds the index (process ${cur.pid}, since ${cur.started}); wait for it to finish`);
  }
}
