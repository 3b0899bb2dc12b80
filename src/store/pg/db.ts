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

class PoolDb implements Db {
  readonly kind = 'postgres' as const;
  constructor(private readonly pool: pg.Pool) {}
  async query<T>(text: string, params: unknown[] = []): Promise<T[]> {
    return (await this.pool.query(text, params)).rows as T[];
  }
  async transaction<T>(fn: (tx: Sql) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      const out = await fn({ query: async <R>(text: string, params: unknown[] = []) => (await client.query(text, params)).rows as R[] });
      await client.query('COMMIT');
      return out;
    } catch (e) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw e;
    } finally {
      client.release();
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
  const pool = new pg.Pool({ connectionString: loc.connectionString, max: opts.max ?? 4 });
  // An idle client's socket error must not crash the process; the next query reports it.
  pool.on('error', () => undefined);
  const db = new PoolDb(pool);
  try {
    await db.query('SELECT 1');
  } catch (e) {
    await pool.end().catch(() => undefined);
    throw new Error(`cannot connect: ${(e as Error).message}`);
  }
  return db;
}
