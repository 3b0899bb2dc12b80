/**
 * One small SQL layer over both engines: PGlite in-process and a Postgres server through a
 * `pg` Pool. Every statement goes through `query(text, params)` with $n parameters, so the
 * same SQL runs on both; `transaction` gives a connection-bound Sql for BEGIN..COMMIT.
 */
import type pg from 'pg';
import type { PGlite } from '@electric-sql/pglite';
import { optionalImport } from '../../util/optional.ts';
import { redact, type PgLocation } from './location.ts';
import { takePgliteLock } from './lock.ts';
import type { Db, Sql } from './sql.ts';
import { copyIn } from './copy.ts';

class PgliteDb implements Db {
  readonly kind = 'pglite' as const;
  constructor(
    private readonly db: PGlite,
    private readonly onClose: () => Promise<void>,
  ) {}
  async query<T>(text: string, params: unknown[] = []): Promise<T[]> {
    return (await this.db.query<T>(text, params)).rows;
  }
  transaction<T>(fn: (tx: Sql) => Promise<T>): Promise<T> {
    return this.db.transaction(async (tx) => fn({ query: async <R>(text: string, params: unknown[] = []) => (await tx.query<R>(text, params)).rows }));
  }
  async close(): Promise<void> {
    await this.onClose();
  }
}

/**
 * PGlite is one Postgres backend in this process: every store opened on the same folder shares
 * one instance (refcounted), and the folder's lock file keeps other processes out.
 */
const shared = new Map<string, { db: Promise<PGlite>; refs: number; release: () => void }>();

async function openPglite(loc: PgLocation): Promise<Db> {
  const { PGlite } = await optionalImport<typeof import('@electric-sql/pglite')>('@electric-sql/pglite', 'pglite');
  const { vector } = await optionalImport<typeof import('@electric-sql/pglite-pgvector')>('@electric-sql/pglite-pgvector', 'pglite');
  const dir = loc.dataDir!;
  let entry = shared.get(dir);
  if (!entry) {
    const release = takePgliteLock(dir, redact(loc.location));
    const db = PGlite.create({ dataDir: dir, extensions: { vector } });
    entry = { db, refs: 0, release };
    shared.set(dir, entry);
    db.catch(() => {
      shared.delete(dir);
      release();
    });
  }
  entry.refs++;
  const e = entry;
  const db = await e.db;
  let closed = false;
  return new PgliteDb(db, async () => {
    if (closed) return;
    closed = true;
    if (--e.refs > 0) return;
    shared.delete(dir);
    try {
      await db.close();
    } finally {
      e.release();
    }
  });
}

/** SQLSTATEs and socket errors that mean the connection or the server went away (a restart, a terminated backend). */
const LOST = new Set(['57P01', '57P02', '57P03', '08000', '08003', '08006', '08001', '08004', 'ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT']);

/** True when an error means the server or the connection went away, not that a statement failed. */
export function isConnectionLoss(e: unknown): boolean {
  const err = e as { code?: string; message?: string } | undefined;
  return !!err && ((!!err.code && (LOST.has(err.code) || err.code === LOST_CODE)) || /Connection terminated|connection (is )?(closed|lost)|terminating connection|the database system is (starting up|shutting down)|not queryable/i.test(err.message ?? ''));
}

/** The code of lostError's errors. */
const LOST_CODE = 'LOOKALIKE_PG_LOST';

/** Delays (ms) between the attempts of a retried statement or transaction: about 5 s in all, a fast restart's length. */
export const RETRY_DELAYS_MS = [200, 500, 1000, 1500, 2000];

/** The one-line error of a lost connection: what happened and what to do (an error that already is one is returned as it is). */
export function lostError(e: unknown, what: string): Error {
  const err = e as Error & { code?: string; commitUnknown?: boolean };
  if (err?.code === LOST_CODE) return err;
  const msg = String(err?.message ?? e).split('\n')[0];
  const outcome = err?.commitUnknown
    ? 'It went away during a commit, so whether that change was committed is unknown'
    : 'Nothing of the interrupted transaction was committed';
  const out = new Error(`${what}: lost the connection to the Postgres server (${msg}); the server restarted or went away. ${outcome}; run the command again when the server is up (it resumes where it stopped)`);
  Object.assign(out, { code: LOST_CODE, commitUnknown: err?.commitUnknown });
  return out;
}

/**
 * Run fn, again after a lost connection (RETRY_DELAYS_MS), for work that is safe to repeat: reads,
 * and transactions that were rolled back by the loss. Other errors are thrown at once.
 */
export async function retryOnLoss<T>(what: string, fn: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (e) {
      if (!isConnectionLoss(e)) throw e;
      // A commit whose outcome is unknown is never repeated as if it had been rolled back.
      if ((e as { commitUnknown?: boolean }).commitUnknown || attempt >= RETRY_DELAYS_MS.length) throw lostError(e, what);
      await new Promise((r) => setTimeout(r, RETRY_DELAYS_MS[attempt]));
    }
  }
}

class PoolDb implements Db {
  readonly kind = 'postgres' as const;
  /** Whether the server takes COPY FROM STDIN (a PGlite behind pglite-socket does not). */
  canCopy = false;
  constructor(
    private readonly pool: pg.Pool,
    private readonly where: string,
  ) {}
  async query<T>(text: string, params: unknown[] = []): Promise<T[]> {
    const run = async () => (await this.pool.query(text, params)).rows as T[];
    // A read is repeated after a lost connection; a single write is not (it may have run).
    if (/^\s*(SELECT|WITH)\b/i.test(text)) return retryOnLoss(this.where, run);
    return run().catch((e: unknown) => {
      throw isConnectionLoss(e) ? lostError(e, this.where) : e;
    });
  }
  async transaction<T>(fn: (tx: Sql) => Promise<T>): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (e) {
      throw isConnectionLoss(e) ? lostError(e, this.where) : e;
    }
    // A checked-out client whose server goes away emits 'error' besides failing its query;
    // without a listener that event would end the process with a stack trace.
    let lost: Error | undefined;
    const onError = (e: Error) => (lost = e);
    client.on('error', onError);
    let committing = false;
    try {
      await client.query('BEGIN');
      const out = await fn({
        query: async <R>(text: string, params: unknown[] = []) => (await client.query(text, params)).rows as R[],
        ...(this.canCopy ? { copyIn: (text: string, data: Buffer) => copyIn(client, text, data) } : {}),
      });
      committing = true;
      await client.query('COMMIT');
      return out;
    } catch (e) {
      if (!lost && !isConnectionLoss(e)) await client.query('ROLLBACK').catch(() => undefined);
      else if (!lost) lost = e as Error;
      // A loss during COMMIT leaves its outcome unknown: never retried as if rolled back.
      if (lost && committing) Object.assign(e as object, { commitUnknown: true });
      // Every loss leaves the store as one error that says so (retryOnLoss still repeats it).
      throw lost ? lostError(e, this.where) : e;
    } finally {
      client.off('error', onError);
      // A broken connection is discarded, not returned to the pool.
      client.release(lost ?? false);
    }
  }
  async close(): Promise<void> {
    await this.pool.end();
  }
}

/** Open the database a location names (PGlite creates its folder when missing). */
export async function openDb(loc: PgLocation, opts: { max?: number } = {}): Promise<Db> {
  if (loc.kind === 'pglite') return openPglite(loc);
  const { default: pg } = await optionalImport<typeof import('pg')>('pg', 'postgres');
  // application_name: lookalike's sessions are told apart in pg_stat_activity (unless the URL names one).
  const pool = new pg.Pool({ connectionString: loc.connectionString, max: opts.max ?? 4, application_name: 'lookalike', idleTimeoutMillis: 10_000 });
  // An idle client's socket error must not crash the process; the next query reports it.
  pool.on('error', () => undefined);
  const db = new PoolDb(pool, redact(loc.location));
  try {
    // Not retried: a server that is down is reported at once.
    const { rows } = await pool.query<{ v: string }>('SELECT version() AS v');
    db.canCopy = !/PGlite|emscripten/i.test(rows[0].v);
  } catch (e) {
    await pool.end().catch(() => undefined);
    throw new Error(`cannot connect: ${(e as Error).message}`);
  }
  return db;
}
