/**
 * Versioned migrations of lookalike's own schema (`lookalike`), recorded in
 * lookalike.schema_migrations, and the DDL of one index's table. Migrations run once each,
 * in order, inside a transaction under an advisory lock, so concurrent openers agree.
 */
import type { Db, Sql } from './sql.ts';
import { checkName } from './location.ts';

/** One migration: a version, a name and its statements. */
interface Migration {
  version: number;
  name: string;
  up: string[];
}

/**
 * The schema history; append only, never edit a released step. Model and head are `json`, not
 * `jsonb`: the text is kept as written (jsonb reorders keys, and the spec is fingerprinted).
 */
export const MIGRATIONS: Migration[] = [
  {
    version: 1,
    name: 'indexes, locks',
    up: [
      `CREATE TABLE lookalike.indexes (
         name text PRIMARY KEY,
         dim integer NOT NULL CHECK (dim >= 0),
         model json NOT NULL,
         head json,
         root text,
         created timestamptz NOT NULL DEFAULT now(),
         updated timestamptz NOT NULL DEFAULT now())`,
      `CREATE TABLE lookalike.locks (
         index_name text PRIMARY KEY,
         holder text NOT NULL,
         pid integer NOT NULL,
         host text NOT NULL,
         token text NOT NULL,
         since timestamptz NOT NULL DEFAULT now(),
         heartbeat timestamptz NOT NULL DEFAULT now())`,
    ],
  },
  {
    version: 2,
    name: 'worker stats',
    up: [
      `CREATE TABLE lookalike.worker_stats (
         index_name text NOT NULL,
         worker text NOT NULL,
         jobs integer NOT NULL DEFAULT 0,
         images integer NOT NULL DEFAULT 0,
         failed integer NOT NULL DEFAULT 0,
         busy_seconds double precision NOT NULL DEFAULT 0,
         first_seen timestamptz NOT NULL DEFAULT now(),
         last_seen timestamptz NOT NULL DEFAULT now(),
         PRIMARY KEY (index_name, worker))`,
    ],
  },
  {
    version: 3,
    name: 'rebuilds',
    up: [
      // The staging index an `index --rebuild` fills (created by it, never a user's index).
      `CREATE TABLE lookalike.rebuilds (
         index_name text PRIMARY KEY,
         staging text NOT NULL UNIQUE,
         started timestamptz NOT NULL DEFAULT now())`,
    ],
  },
  {
    version: 4,
    name: 'item fields',
    up: [
      // Field types per index (docs/filters.md); each items table gains a jsonb column with a GIN index.
      `ALTER TABLE lookalike.indexes ADD COLUMN field_types jsonb NOT NULL DEFAULT '{}'`,
      `DO $$ DECLARE r record; BEGIN
         FOR r IN SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                   WHERE n.nspname = 'lookalike' AND c.relkind = 'r' AND c.relname LIKE 'items!_%' ESCAPE '!' LOOP
           EXECUTE format('ALTER TABLE lookalike.%I ADD COLUMN IF NOT EXISTS fields jsonb', r.relname);
           EXECUTE format('CREATE INDEX IF NOT EXISTS %I ON lookalike.%I USING gin (fields)', r.relname || '_fields', r.relname);
         END LOOP; END $$`,
    ],
  },
];

/** Arbitrary constant key for pg_advisory_xact_lock around migrations and DDL. */
export const DDL_LOCK = 0x6c6b78; // 'lkx'

/** Bring the schema up to date; returns the versions applied now. */
export async function migrate(db: Db): Promise<number[]> {
  const applied: number[] = [];
  await db.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock($1)', [DDL_LOCK]);
    await tx.query('CREATE EXTENSION IF NOT EXISTS vector');
    await tx.query('CREATE SCHEMA IF NOT EXISTS lookalike');
    await tx.query(`CREATE TABLE IF NOT EXISTS lookalike.schema_migrations (
      version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
    const done = new Set((await tx.query<{ version: number }>('SELECT version FROM lookalike.schema_migrations')).map((r) => r.version));
    for (const m of MIGRATIONS) {
      if (done.has(m.version)) continue;
      for (const stmt of m.up) await tx.query(stmt);
      await tx.query('INSERT INTO lookalike.schema_migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
      applied.push(m.version);
    }
  });
  return applied;
}

/** The items table of an index, quoted and schema-qualified (name validated). */
export function itemsTable(index: string): string {
  return `lookalike."items_${checkName(index, 'index name')}"`;
}

/** pgvector's HNSW index holds vectors up to this many dimensions; wider ones are searched exactly. */
export const HNSW_MAX_DIM = 2000;

/** Widest vector stored PLAIN: 4 bytes a float plus the row's other (toastable) columns within an 8 kB page. */
export const PLAIN_MAX_DIM = 1900;

/** Create an index's table and HNSW index (inside the caller's transaction). */
export async function createItemsTable(tx: Sql, index: string, dim: number): Promise<void> {
  if (!Number.isInteger(dim) || dim < 1 || dim > 16000) throw new Error(`index ${index}: dim ${dim} is not supported by pgvector (1..16000)`);
  await tx.query('SELECT pg_advisory_xact_lock($1)', [DDL_LOCK]);
  const t = itemsTable(index);
  await tx.query(`CREATE TABLE IF NOT EXISTS ${t} (
    id text COLLATE "C" PRIMARY KEY,
    path text,
    sha256 text,
    size bigint,
    label text,
    domain text,
    fields jsonb,
    embedding vector(${dim}) NOT NULL)`);
  await tx.query(`CREATE INDEX IF NOT EXISTS "items_${index}_fields" ON ${t} USING gin (fields)`);
  // Vectors inline in the row (no TOAST, no compression): exact scans read them without detours
  // and HNSW builds in parallel. PLAIN while a row fits a page; wider ones MAIN (inline when they fit).
  await tx.query(`ALTER TABLE ${t} ALTER COLUMN embedding SET STORAGE ${dim <= PLAIN_MAX_DIM ? 'PLAIN' : 'MAIN'}`);
  if (dim <= HNSW_MAX_DIM) await createHnswIndex(tx, index);
}

/** The name of an index's HNSW index (in schema lookalike). */
export function hnswName(index: string): string {
  return `items_${checkName(index, 'index name')}_hnsw`;
}

/** Create an index's HNSW index when missing (cosine; pgvector's defaults m 16, ef_construction 64). */
export async function createHnswIndex(tx: Sql, index: string): Promise<void> {
  await tx.query(`CREATE INDEX IF NOT EXISTS "${hnswName(index)}" ON ${itemsTable(index)} USING hnsw (embedding vector_cosine_ops)`);
}
