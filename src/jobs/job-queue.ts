/**
 * Scale-out embedding through a Postgres job queue (pg-boss 10, on SKIP LOCKED): `enqueue`
 * lists a source (a folder every worker mounts, or a CSV of paths), compares content hashes
 * with the store and queues the new or changed files in batches; `runWorker` claims batches,
 * embeds them with the model recorded in the store and, in ONE transaction, upserts the
 * vectors and completes the job (pg-boss runs its completion SQL on our transaction through
 * its `db` option). A worker killed mid-batch loses nothing: the job stays active until its
 * expiry, then pg-boss retries it with backoff; a job that keeps failing is parked (failed)
 * with its error. Rows are keyed by id, so a batch done twice is still one row per image.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createHash } from 'node:crypto';
import type PgBoss from 'pg-boss';
import { listFolder } from '../data/images.ts';
import { readCsv } from '../data/csv.ts';
import { embedWithBackbone, type EmbedItem, type Skipped } from '../embed/pipeline.ts';
import type { Backbone } from '../models/backbone.ts';
import type { Head } from '../models/head.ts';
import { hashFile } from '../util/hash.ts';
import { crashPoint } from '../util/atomic.ts';
import { optionalImport } from '../util/optional.ts';
import { redact } from '../store/pg/location.ts';
import type { PgItem, PgStore } from '../store/pg/store.ts';
import { autoFields } from '../data/fields/auto.ts';
import type { Sql } from '../store/pg/sql.ts';

/** One image of a job. */
export interface JobItem {
  id: string;
  /** Path every worker can read (absolute). */
  path: string;
  label?: string;
  domain?: string;
}

/** What a job carries. */
export interface JobData {
  v: 1;
  items: JobItem[];
}

/** pg-boss queue of an index. */
export function queueName(store: PgStore): string {
  return `lookalike_embed_${store.index}`;
}

/** A pg-boss instance on the store's server (pg-boss needs a postgres:// server, not in-process PGlite). */
export async function openBoss(store: PgStore, opts: { max?: number; supervise?: boolean; maintenanceSeconds?: number } = {}): Promise<PgBoss> {
  if (store.kind !== 'postgres') throw new Error(`${redact(store.location)}: the job queue needs a Postgres server (postgres://...); PGlite in-process is one process, serve it or use docs/postgres.md's docker compose`);
  const { default: Boss } = await optionalImport<{ default: typeof PgBoss }>('pg-boss', 'workers');
  const boss = new Boss({
    connectionString: store.loc.connectionString,
    max: opts.max ?? 2,
    supervise: opts.supervise ?? false,
    schedule: false,
    maintenanceIntervalSeconds: opts.maintenanceSeconds ?? 60,
  });
  boss.on('error', (e: Error) => process.stderr.write(`queue: ${e.message}\n`));
  await boss.start();
  return boss;
}

/** Options for enqueue. */
export interface EnqueueOptions {
  /** A folder (every worker mounts it at the same path) or a CSV with a `path` column (optional id, label, domain). */
  source: string;
  /** Images per job (default 64). */
  jobSize?: number;
  /** Seconds a claimed job may run before it is retried elsewhere (default 600). */
  jobTimeout?: number;
  /** Retries before a job is parked as failed (default 5). */
  retries?: number;
  /** Seconds before the first retry; later ones back off exponentially (default 5). */
  retryDelay?: number;
  onSkip?: (s: Skipped) => void;
}

/** What enqueue did. */
export interface EnqueueReport {
  queue: string;
  listed: number;
  queued: number;
  jobs: number;
  unchanged: number;
  removed: string[];
  skipped: Skipped[];
}

/** The items a source names: a folder's images (ids relative, POSIX) or a CSV's rows. */
export function listSource(source: string, onSkip: (s: Skipped) => void = () => undefined): JobItem[] {
  const st = fs.statSync(source, { throwIfNoEntry: false });
  if (!st) throw new Error(`${source}: not found`);
  if (st.isDirectory()) {
    const root = path.resolve(source);
    const l = listFolder(root);
    for (const o of l.others) onSkip({ id: o, reason: `unsupported file type (${path.extname(o) || 'no extension'})` });
    return l.images.map((id) => ({ id, path: path.join(root, id) }));
  }
  const rows = readCsv(source);
  const base = path.dirname(path.resolve(source));
  const seen = new Set<string>();
  return rows.map((r, i) => {
    if (!r.path) throw new Error(`${source}:${i + 2}: no path (the CSV needs a "path" column)`);
    const id = r.id || r.path;
    if (seen.has(id)) throw new Error(`${source}:${i + 2}: id "${id}" appears twice`);
    seen.add(id);
    const it: JobItem = { id, path: path.resolve(base, r.path) };
    if (r.label) it.label = r.label;
    if (r.domain) it.domain = r.domain;
    return it;
  });
}

/** Hash every file (16 at a time); unreadable ones are reported and left out. */
async function hashItems(items: JobItem[], onSkip: (s: Skipped) => void): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (let i = 0; i < items.length; i += 16) {
    const part = items.slice(i, i + 16);
    const res = await Promise.allSettled(part.map((it) => hashFile(it.path)));
    res.forEach((r, j) => (r.status === 'fulfilled' ? out.set(part[j].id, r.value) : onSkip({ id: part[j].id, reason: (r.reason as Error).message })));
  }
  return out;
}

/**
 * Queue the source's new and changed images (by content hash against the store) and delete
 * what disappeared from the store (the store must be open with write: true for that).
 */
export async function enqueue(store: PgStore, opts: EnqueueOptions): Promise<EnqueueReport> {
  const skipped: Skipped[] = [];
  const skip = (s: Skipped) => {
    skipped.push(s);
    opts.onSkip?.(s);
  };
  const items = listSource(opts.source, skip);
  const hashes = await hashItems(items, skip);
  const known = await store.files();
  const todo = items.filter((it) => hashes.has(it.id) && known.get(it.id)?.sha256 !== hashes.get(it.id));
  const listed = new Set(items.map((it) => it.id));
  const removed = [...known.keys()].filter((id) => !listed.has(id));
  // Ids in the store without a content record (written elsewhere) are kept unless listed away.
  const stored = await store.ids();
  for (const id of stored) if (!listed.has(id) && !known.has(id)) removed.push(id);
  if (removed.length) await store.write({ remove: removed });
  const jobSize = opts.jobSize ?? 64;
  const queue = queueName(store);
  const boss = await openBoss(store);
  try {
    const policy = { retryLimit: opts.retries ?? 5, retryDelay: opts.retryDelay ?? 5, retryBackoff: true, expireInSeconds: opts.jobTimeout ?? 600 };
    await boss.createQueue(queue, { name: queue, ...policy } as PgBoss.Queue);
    await boss.updateQueue(queue, { name: queue, ...policy } as PgBoss.Queue);
    const jobs: PgBoss.JobInsert<JobData>[] = [];
    for (let i = 0; i < todo.length; i += jobSize) jobs.push({ name: queue, data: { v: 1, items: todo.slice(i, i + jobSize) }, ...policy });
    for (let i = 0; i < jobs.length; i += 500) await boss.insert(jobs.slice(i, i + 500));
    return { queue, listed: items.length, queued: todo.length, jobs: jobs.length, unchanged: items.length - todo.length - skipped.filter((s) => listed.has(s.id)).length, removed, skipped };
  } finally {
    await boss.stop({ graceful: false, wait: true, close: true });
  }
}

/** Options for runWorker. */
export interface WorkerOptions {
  backbone: Backbone;
  head?: Head;
  /** Jobs processed at once in this process (default 1). */
  concurrency?: number;
  /** Exit when no job is queued, retrying or running (default: keep polling). */
  untilEmpty?: boolean;
  /** Seconds between polls of an empty queue (default 2). */
  pollSeconds?: number;
  /** Called after each job. */
  onJob?: (e: { id: string; images: number; skipped: Skipped[]; seconds: number; error?: string }) => void;
  /** Called when a job is claimed. */
  onClaim?: (id: string, images: number) => void;
  /** Resolves when the worker should stop after its current jobs. */
  stop?: Promise<void>;
}

/** This worker's name in status: host:pid. */
export function workerName(): string {
  return `${os.hostname()}:${process.pid}`;
}

/** Counts of a queue's jobs by state, and per-worker throughput. */
export interface QueueStatus {
  queue: string;
  stored: number;
  states: Record<'created' | 'retry' | 'active' | 'completed' | 'failed' | 'cancelled', number>;
  failures: { id: string; error: string; retries: number }[];
  workers: { worker: string; jobs: number; images: number; failed: number; busySeconds: number; imagesPerSecond: number; firstSeen: string; lastSeen: string }[];
}

/** Read the queue's state counts (jobs and archive), recent failures and worker stats. */
export async function queueStatus(store: PgStore): Promise<QueueStatus> {
  const queue = queueName(store);
  const states: QueueStatus['states'] = { created: 0, retry: 0, active: 0, completed: 0, failed: 0, cancelled: 0 };
  const [hasBoss] = await store.db.query<{ ok: boolean }>(`SELECT to_regclass('pgboss.job') IS NOT NULL AS ok`);
  const failures: QueueStatus['failures'] = [];
  if (hasBoss?.ok) {
    const rows = await store.db.query<{ state: keyof QueueStatus['states']; n: number }>(
      `SELECT state::text AS state, count(*)::int AS n FROM (
         SELECT state FROM pgboss.job WHERE name = $1
         UNION ALL SELECT state FROM pgboss.archive WHERE name = $1) s GROUP BY 1`,
      [queue],
    );
    for (const r of rows) states[r.state] = r.n;
    const f = await store.db.query<{ id: string; output: { message?: string } | null; retry_count: number }>(
      `SELECT id::text, output, retry_count FROM pgboss.job WHERE name = $1 AND state = 'failed' ORDER BY completed_on DESC NULLS LAST LIMIT 10`,
      [queue],
    );
    for (const r of f) failures.push({ id: r.id, error: r.output?.message ?? JSON.stringify(r.output), retries: r.retry_count });
  }
  const w = await store.db.query<{ worker: string; jobs: number; images: number; failed: number; busy_seconds: number; first_seen: Date; last_seen: Date }>(
    'SELECT worker, jobs, images, failed, busy_seconds, first_seen, last_seen FROM lookalike.worker_stats WHERE index_name = $1 ORDER BY worker',
    [store.index],
  );
  return {
    queue,
    stored: await store.count(),
    states,
    failures,
    workers: w.map((r) => ({
      worker: r.worker,
      jobs: r.jobs,
      images: r.images,
      failed: r.failed,
      busySeconds: r.busy_seconds,
      imagesPerSecond: r.busy_seconds > 0 ? r.images / r.busy_seconds : 0,
      firstSeen: new Date(r.first_seen).toISOString(),
      lastSeen: new Date(r.last_seen).toISOString(),
    })),
  };
}

function checkJob(data: unknown): JobData {
  const d = data as JobData;
  if (!d || d.v !== 1 || !Array.isArray(d.items) || d.items.some((it) => typeof it?.id !== 'string' || typeof it?.path !== 'string')) {
    throw new Error(`bad job data (expected {v: 1, items: [{id, path}]}): ${JSON.stringify(data).slice(0, 120)}`);
  }
  return d;
}

async function recordStats(tx: Sql, store: PgStore, worker: string, images: number, failed: number, seconds: number): Promise<void> {
  await tx.query(
    `INSERT INTO lookalike.worker_stats (index_name, worker, jobs, images, failed, busy_seconds) VALUES ($1, $2, $3, $4, $5, $6)
     ON CONFLICT (index_name, worker) DO UPDATE SET jobs = worker_stats.jobs + $3, images = worker_stats.images + $4,
       failed = worker_stats.failed + $5, busy_seconds = worker_stats.busy_seconds + $6, last_seen = now()`,
    [store.index, worker, failed ? 0 : 1, images, failed, seconds],
  );
}

/** Embed one job's images: read bytes once (hash + decode the same bytes). */
async function embedJob(job: JobData, backbone: Backbone, head?: Head): Promise<{ items: PgItem[]; skipped: Skipped[] }> {
  const skipped: Skipped[] = [];
  const sources: EmbedItem[] = [];
  const meta = new Map<string, { it: JobItem; sha256: string; size: number }>();
  for (const it of job.items) {
    try {
      const bytes = await fs.promises.readFile(it.path);
      meta.set(it.id, { it, sha256: createHash('sha256').update(bytes).digest('hex'), size: bytes.length });
      sources.push({ id: it.id, source: bytes });
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      skipped.push({ id: it.id, reason: code === 'ENOENT' ? `file not found (${it.path})` : (e as Error).message });
    }
  }
  const res = await embedWithBackbone(backbone, sources, { head, onSkip: (s) => skipped.push(s) });
  const items: PgItem[] = await Promise.all(
    res.ids.map(async (id, i) => {
      const m = meta.get(id)!;
      // The same automatic fields as a local index build (a CSV source's label wins over the folder's).
      const auto = await autoFields(m.it.path, id).catch(() => ({}));
      const item: PgItem = { id, path: m.it.path, vector: res.vectors.slice(i * res.dim, (i + 1) * res.dim), file: { sha256: m.sha256, size: m.size }, fields: { ...auto, ...(m.it.label ? { label: m.it.label } : {}) } };
      if (m.it.label) item.label = m.it.label;
      if (m.it.domain) item.domain = m.it.domain;
      return item;
    }),
  );
  return { items, skipped };
}

/**
 * Claim and process jobs until stopped (or, with untilEmpty, until nothing is queued, retrying
 * or running). The caller has checked that backbone/head match the store's fingerprint.
 */
export async function runWorker(store: PgStore, opts: WorkerOptions): Promise<{ jobs: number; images: number; failed: number }> {
  const concurrency = opts.concurrency ?? 1;
  const queue = queueName(store);
  const worker = workerName();
  // Expired jobs (a dead worker's) are found by pg-boss maintenance: run it often enough that a
  // job comes back within a quarter of its timeout.
  const [q] = await store.db.query<{ s: number }>(`SELECT expire_seconds AS s FROM pgboss.queue WHERE name = $1`, [queue]).catch(() => []);
  const maintenanceSeconds = Math.max(1, Math.min(60, Math.floor((q?.s ?? 240) / 4)));
  const boss = await openBoss(store, { max: concurrency + 2, supervise: true, maintenanceSeconds });
  let stopping = false;
  opts.stop?.then(() => (stopping = true));
  const totals = { jobs: 0, images: 0, failed: 0 };
  const sleep = (s: number) => new Promise((r) => setTimeout(r, s * 1000));
  const pending = async () => {
    const [r] = await store.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM pgboss.job WHERE name = $1 AND state < 'completed'`, [queue]);
    return r.n;
  };
  try {
    await boss.createQueue(queue, { name: queue } as PgBoss.Queue).catch(() => undefined);
    const loop = async () => {
      while (!stopping) {
        const [job] = await boss.fetch<JobData>(queue, { batchSize: 1 });
        if (!job) {
          if (opts.untilEmpty && (await pending()) === 0) return;
          await sleep(opts.pollSeconds ?? 2);
          continue;
        }
        const t0 = performance.now();
        try {
          const data = checkJob(job.data);
          opts.onClaim?.(job.id, data.items.length);
          const { items, skipped } = await embedJob(data, opts.backbone, opts.head);
          const seconds = (performance.now() - t0) / 1000;
          await store.db.transaction(async (tx) => {
            await store.applyIn(tx, { upsert: items });
            crashPoint('worker:in-transaction');
            await recordStats(tx, store, worker, items.length, 0, seconds);
            await boss.complete(queue, job.id, { worker, images: items.length, skipped }, { db: { executeSql: async (text: string, values: unknown[]) => ({ rows: await tx.query(text, values) }) } });
          });
          totals.jobs++;
          totals.images += items.length;
          opts.onJob?.({ id: job.id, images: items.length, skipped, seconds });
        } catch (e) {
          const message = (e as Error).message;
          totals.failed++;
          await boss.fail(queue, job.id, { message, worker }).catch(() => undefined);
          await store.db.transaction((tx) => recordStats(tx, store, worker, 0, 1, (performance.now() - t0) / 1000)).catch(() => undefined);
          opts.onJob?.({ id: job.id, images: 0, skipped: [], seconds: (performance.now() - t0) / 1000, error: message });
        }
      }
    };
    await Promise.all(Array.from({ length: concurrency }, loop));
  } finally {
    await boss.stop({ graceful: false, wait: true, close: true });
  }
  return totals;
}
