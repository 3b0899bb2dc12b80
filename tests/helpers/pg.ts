/**
 * Test helpers for the Postgres store: the real-server tier (a fresh database per test file on the
 * PostgreSQL + pgvector server at LOOKALIKE_PG_URL, started by scripts/pg-test-server.sh) and a
 * pglite-socket server on an ephemeral loopback port.
 */
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { vector } from '@electric-sql/pglite-pgvector';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';
import path from 'node:path';
import os from 'node:os';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { ROOT } from './tmp.ts';

/** What a test needs of a server: its URL, statements on its database, and stop (drop) at the end. */
export interface PgTestServer {
  /** 'postgres' (the real server) or 'pglite-socket'. */
  kind: 'postgres' | 'pglite-socket';
  url: string;
  query<T = Record<string, unknown>>(text: string, params?: unknown[]): Promise<{ rows: T[] }>;
  stop(): Promise<void>;
}

const REAL_URL = process.env.LOOKALIKE_PG_URL;
const SKIP_REAL = process.env.LOOKALIKE_SKIP_REAL_PG === '1';
const HOW = 'start one: export LOOKALIKE_PG_URL="$(scripts/pg-test-server.sh start)", or set LOOKALIKE_SKIP_REAL_PG=1 to skip the real-server tier';

/**
 * The `skip` option of a test that needs the real server: false when LOOKALIKE_PG_URL is set; a
 * reason (printed) only when LOOKALIKE_SKIP_REAL_PG=1 says so. Neither set: false, and the test
 * fails in freshRealDb naming the fix (a missing server is never skipped silently).
 */
export function realPgSkip(): string | false {
  if (REAL_URL || !SKIP_REAL) return false;
  const why = 'real-server tier skipped: LOOKALIKE_SKIP_REAL_PG=1 and no LOOKALIKE_PG_URL';
  console.log(`# ${why}`);
  return why;
}

let dbSeq = 0;

/** application_name of the tests' own sessions (left out when counting lookalike's). */
export const TEST_APP = 'lookalike-test';

/** Sessions on a test database other than the test's own (lookalike's pools, pg-boss, killed workers' leftovers). */
export async function otherSessions(server: PgTestServer): Promise<{ application_name: string; state: string; query: string }[]> {
  const { rows } = await server.query<{ application_name: string; state: string; query: string }>(
    `SELECT application_name, state, left(query, 80) AS query FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND application_name <> $1`,
    [TEST_APP],
  );
  return rows;
}

/**
 * A private PostgreSQL cluster of this test (scripts/pg-test-server.sh with its own folder), for
 * tests that restart the server; needs what the real-server tier needs (pgvector installed).
 */
export async function privateServer(tag: string): Promise<{ url: string; restart: () => void; stop: () => void }> {
  const state = path.join(os.tmpdir(), `lookalike-pg-${tag}-${process.pid}`);
  const script = path.join(ROOT, 'scripts/pg-test-server.sh');
  const env = { ...process.env, LOOKALIKE_PG_STATE: state };
  const run = (cmd: string) => {
    const r = spawnSync('bash', [script, cmd], { env, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`pg-test-server.sh ${cmd}: ${r.stderr}`);
    return r.stdout.trim();
  };
  const url = run('start');
  return { url, restart: () => void run('restart'), stop: () => void run('stop') };
}

/**
 * A fresh database on the real server (CREATE DATABASE, dropped with its connections by stop()).
 * Its name says which test file made it, so a leftover is traceable.
 */
export async function freshRealDb(tag: string): Promise<PgTestServer> {
  if (!REAL_URL) throw new Error(`LOOKALIKE_PG_URL is unset: the real-server tier needs a PostgreSQL server with pgvector; ${HOW}`);
  const name = `lk_${tag.replace(/[^a-z0-9_]/gi, '_').toLowerCase()}_${process.pid}_${++dbSeq}`;
  const admin = new pg.Client({ connectionString: REAL_URL });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(REAL_URL);
  url.pathname = `/${name}`;
  const pool = new pg.Pool({ connectionString: url.toString(), max: 2, application_name: TEST_APP });
  pool.on('error', () => undefined);
  let stopped = false;
  return {
    kind: 'postgres',
    url: url.toString(),
    query: async (text, params) => ({ rows: (await pool.query(text, params)).rows }),
    stop: async () => {
      if (stopped) return;
      stopped = true;
      await pool.end();
      const a = new pg.Client({ connectionString: REAL_URL });
      await a.connect();
      try {
        await a.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await a.end();
      }
    },
  };
}

/** What wireServer gives in this environment, for test names. */
export function wireKind(): string {
  return REAL_URL || !SKIP_REAL ? 'a real PostgreSQL server' : 'pglite-socket';
}

/**
 * The server the wire-protocol tests run on: a fresh database on the real server; with
 * LOOKALIKE_SKIP_REAL_PG=1 and no LOOKALIKE_PG_URL, a pglite-socket server instead (printed).
 */
export async function wireServer(tag: string): Promise<PgTestServer> {
  if (REAL_URL || !SKIP_REAL) return freshRealDb(tag);
  console.log(`# ${tag}: LOOKALIKE_SKIP_REAL_PG=1: on pglite-socket instead of a real server`);
  const s = await startPgServer();
  return { kind: 'pglite-socket', url: s.url, query: (text, params) => s.db.query(text, params), stop: s.stop };
}

/** A PGlite (in memory, or in dataDir) served over the Postgres wire protocol on 127.0.0.1. */
export async function startPgServer(dataDir?: string): Promise<{ url: string; db: PGlite; stop: () => Promise<void> }> {
  const db = await PGlite.create({ dataDir, extensions: { vector } });
  keepSequencesTogether(db);
  const server = new PGLiteSocketServer({ db, host: '127.0.0.1', port: 0, maxConnections: 64 });
  await server.start();
  return {
    url: `postgres://postgres@${server.getServerConn()}/postgres`,
    db,
    stop: async () => {
      await server.stop();
      await db.close();
    },
  };
}

/**
 * pglite-socket 0.2 runs the protocol messages of all connections on PGlite's one backend in
 * arrival order, keeping one connection's messages together only inside a transaction. Outside
 * one, the Parse/Bind/Execute of two connections could interleave (one connection's unnamed
 * statement replaced by another's: "unnamed prepared statement does not exist", or a query run
 * with another's parameters). Its queue asks `isInTransaction()` to decide; this makes that also
 * true from a connection's Parse/Bind/Describe/Execute/Close/Flush until its Sync, as a real
 * server (one backend per connection) behaves. A connection that goes away mid-sequence is
 * released by the queue like one mid-transaction (it issues a ROLLBACK, a no-op here).
 */
function keepSequencesTogether(db: PGlite): void {
  const EXTENDED = new Set([0x50, 0x42, 0x44, 0x45, 0x43, 0x48]); // P B D E C H
  const ENDS = new Set([0x53, 0x51, 0x58]); // S(ync) Q(uery) X (terminate)
  let open = false;
  const exec = db.execProtocolRawStream.bind(db);
  db.execProtocolRawStream = async (message: Uint8Array, opts: Parameters<PGlite['execProtocolRawStream']>[1]) => {
    const t = message[0];
    try {
      return await exec(message, opts);
    } finally {
      if (EXTENDED.has(t)) open = true;
      else if (ENDS.has(t)) open = false;
    }
  };
  const inTransaction = db.isInTransaction.bind(db);
  db.isInTransaction = () => inTransaction() || open;
}

/** n random L2-normalised dim-d rows from a seeded generator. */
export function randomUnitRows(n: number, dim: number, seed = 1): Float32Array {
  let s = seed >>> 0 || 1;
  const next = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32) - 0.5;
  const out = new Float32Array(n * dim);
  for (let i = 0; i < n; i++) {
    let norm = 0;
    for (let d = 0; d < dim; d++) norm += (out[i * dim + d] = next()) ** 2;
    norm = Math.sqrt(norm);
    for (let d = 0; d < dim; d++) out[i * dim + d] /= norm;
  }
  return out;
}


/** Start the CLI without blocking this process (a server in this process must keep serving). */
export function startCli(args: string[], env: Record<string, string> = {}): { child: ChildProcess; done: Promise<{ status: number | null; signal: string | null; stdout: string; stderr: string }>; stderr: () => string } {
  const child = spawn(process.execPath, [path.join(ROOT, 'bin/lookalike.js'), ...args], { env: { ...process.env, ...env } });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  const done = new Promise<{ status: number | null; signal: string | null; stdout: string; stderr: string }>((resolve) =>
    child.on('close', (status, signal) => resolve({ status, signal, stdout, stderr })),
  );
  return { child, done, stderr: () => stderr };
}

/** Run the CLI to completion, asynchronously. */
export async function runCli(args: string[], env: Record<string, string> = {}) {
  return startCli(args, env).done;
}
