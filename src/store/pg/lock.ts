/**
 * Writer locks. In the database: one row per index in lookalike.locks naming the holder
 * (command, pid, host) with a heartbeat; a row whose process is gone (same host) or whose
 * heartbeat is older than LOCK_STALE_S (another host) is taken over. The row is claimed by
 * INSERT ... ON CONFLICT DO NOTHING: of two writers racing for a missing row, the second waits on
 * the first's uncommitted key and then sees the conflict, so exactly one wins. A row, not a
 * session advisory lock: it names the holder for the error, works the same on PGlite (one
 * backend shared by the whole process, where an advisory lock would be granted twice) and
 * behind transaction-pooling proxies, and needs no connection pinned for the writer's lifetime. For `pglite:DIR`, PGlite
 * is single-process: one instance per folder is shared inside a process (src/store/pg/db.ts) and a
 * lock file in DIR keeps other processes out.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import type { Db } from './sql.ts';
import { processAlive } from '../../util/temp.ts';

/** Seconds without a heartbeat after which a lock held from another host is taken over. */
export const LOCK_STALE_S = 30;
const HEARTBEAT_MS = 5000;

/** A short description of this process for lock holders. */
export function holderName(): string {
  return process.argv.slice(1, 4).map((a) => path.basename(a)).join(' ').slice(0, 200);
}

interface LockRow {
  holder: string;
  pid: number;
  host: string;
  since: Date;
  age_s: number;
}

/** A held lock: release() stops the heartbeat and deletes the row. */
export interface HeldLock {
  release(): Promise<void>;
}

/** Take the writer lock of an index, or throw naming the holder. */
export async function takeWriterLock(db: Db, index: string, what: string): Promise<HeldLock> {
  const me = { holder: holderName(), pid: process.pid, host: os.hostname(), token: randomUUID() };
  await db.transaction(async (tx) => {
    const claimed = await tx.query(
      'INSERT INTO lookalike.locks (index_name, holder, pid, host, token) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (index_name) DO NOTHING RETURNING token',
      [index, me.holder, me.pid, me.host, me.token],
    );
    if (claimed.length) return;
    // Held or left behind: the row is locked while it is judged, so one taker at a time.
    const [row] = await tx.query<LockRow & { token: string }>(
      'SELECT holder, pid, host, since, token, EXTRACT(EPOCH FROM now() - heartbeat)::float8 AS age_s FROM lookalike.locks WHERE index_name = $1 FOR UPDATE',
      [index],
    );
    if (!row) throw new Error(`${what}: index "${index}": its lock was released while being taken; try again`);
    const dead = row.host === me.host ? !processAlive(row.pid) : row.age_s > LOCK_STALE_S;
    if (!dead) throw new Error(`${what}: index "${index}" is being written by ${row.holder} (pid ${row.pid} on ${row.host}, since ${new Date(row.since).toISOString()}); wait for it to finish`);
    await tx.query(
      'UPDATE lookalike.locks SET holder = $2, pid = $3, host = $4, token = $5, since = now(), heartbeat = now() WHERE index_name = $1 AND token = $6',
      [index, me.holder, me.pid, me.host, me.token, row.token],
    );
  });
  const timer = setInterval(() => {
    db.query('UPDATE lookalike.locks SET heartbeat = now() WHERE index_name = $1 AND token = $2', [index, me.token]).catch(() => undefined);
  }, HEARTBEAT_MS);
  timer.unref();
  return {
    async release() {
      clearInterval(timer);
      await db.query('DELETE FROM lookalike.locks WHERE index_name = $1 AND token = $2', [index, me.token]);
    },
  };
}

/** The file PGlite's folder is locked with. */
export function pgliteLockFile(dataDir: string): string {
  return path.join(dataDir, 'lookalike.lock');
}

/** Take the single-process lock of a PGlite folder (taken over from a dead holder); returns release. */
export function takePgliteLock(dataDir: string, location: string): () => void {
  fs.mkdirSync(dataDir, { recursive: true });
  const file = pgliteLockFile(dataDir);
  const body = JSON.stringify({ pid: process.pid, host: os.hostname(), holder: holderName(), since: new Date().toISOString() });
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      fs.writeFileSync(file, body, { flag: 'wx' });
      let released = false;
      const release = () => {
        if (released) return;
        released = true;
        try {
          if (JSON.parse(fs.readFileSync(file, 'utf8')).pid === process.pid) fs.rmSync(file);
        } catch {
          /* already gone */
        }
      };
      process.once('exit', release);
      return release;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      let held: { pid: number; host: string; holder: string; since: string } | undefined;
      try {
        held = JSON.parse(fs.readFileSync(file, 'utf8'));
      } catch {
        held = undefined; // torn or vanished: treat as stale
      }
      if (held && (held.host !== os.hostname() || processAlive(held.pid))) {
        throw new Error(`${location}: in use by ${held.holder} (pid ${held.pid} on ${held.host}, since ${held.since}); PGlite allows one process at a time, use a postgres:// server for concurrent access`);
      }
      fs.rmSync(file, { force: true });
    }
  }
  throw new Error(`${location}: could not take ${file}`);
}
