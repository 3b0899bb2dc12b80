/**
 * PgStore: the VectorStore on Postgres + pgvector, in-process with PGlite (`pglite:DIR`) or on
 * a server through `pg` (`postgres://...`). One table per index (lookalike.items_NAME) with an
 * HNSW index (vector_cosine_ops); metadata in lookalike.indexes. Search asks pgvector for
 * candidates (HNSW, or a sequential scan when exact) and re-scores them exactly here, so scores
 * are exact cosines and ties go by id, as in the folder store.
 */
import fs from 'node:fs';
import type { FieldSchema, FilterNode } from '../../data/field-types.ts';
import { checkFields } from '../../data/fields/sidecar.ts';
import { filterSql } from './filter-sql.ts';
import type { FileRecord, Hit, ItemRecord, OpenOptions, SearchOptions, StoreChange, StoreItem, StoreMeta, VectorBlock, VectorStore } from '../types.ts';
import { ANN_AUTO_MIN } from '../ann-mode.ts';
import { checkEf } from '../../util/options.ts';
import { searchExact } from '../exact.ts';
import { openDb, retryOnLoss } from './db.ts';
import type { Db, Sql } from './sql.ts';
import { isPgLocation, parsePgLocation, redact, type PgLocation } from './location.ts';
import { takeWriterLock, type HeldLock } from './lock.ts';
import { COPY_COLUMNS, copyRows } from './copy.ts';
import { createHnswIndex, createItemsTable, DDL_LOCK, HNSW_MAX_DIM, hnswName, itemsTable, migrate } from './tables.ts';
import { dotRows, parseVectorBinary, toVectorBinary, toVectorText } from './vectors.ts';

/** Extra candidates fetched beyond k before exact re-scoring (absorbs pgvector's float rounding). */
const RESCORE_MARGIN = 16;
/**
 * A write of at least this many new items into an empty table on a server is a bulk first load:
 * COPY (binary) into the bare table, the HNSW index built once when the writer closes.
 */
const BULK_MIN_ROWS = 500;
/** maintenance_work_mem of the HNSW build after a bulk load (pgvector builds in memory while the graph fits). */
const HNSW_BUILD_MEM = '512MB';
/** Rows per multi-row INSERT (8 parameters each, far below the 65535 parameter limit). */
const INSERT_ROWS = 500;
/** Queries per search statement (one LATERAL join). */
const QUERY_BATCH = 32;
/**
 * An exact search of at least this many queries reads the table once (binary, in id order) and
 * ranks it here with the exact kernel, as the folder store does: one pass instead of a sequential
 * scan per query on the server and k vectors per query on the wire.
 */
const SCAN_MIN_QUERIES = 8;
/** Rows per block when an exact search reads the table. */
const SCAN_BLOCK_ROWS = 8192;

/** The embedding an index holds: backbone and head fingerprints (a rebuild with another model changes it). */
function embeddingKey(model: string | null | undefined, head: string | null | undefined): string {
  return `${model ?? ''}/${head ?? ''}`;
}

/**
 * The error of a reader whose index was rebuilt with another model under it (HTTP 409 in serve):
 * its query vectors are from the old model, so it must reopen the index rather than search.
 */
export function indexChangedError(where: string, index: string, now: { dim: number; key: string }): Error {
  const e = new Error(`${where}: index "${index}" was rebuilt with another model since it was opened (now ${now.dim}-d, model ${now.key.split('/')[0].slice(0, 12)}); reopen it to search it (restart serve, or run the command again)`);
  return Object.assign(e, { statusCode: 409, code: 'LOOKALIKE_INDEX_CHANGED' });
}

/** An item as PgStore writes it: a StoreItem plus the source path it was read from. */
export type PgItem = StoreItem & { path?: string };

interface IndexRow {
  dim: number;
  model: StoreMeta['model'];
  head: StoreMeta['head'] | null;
  root: string | null;
  created: Date;
  updated: Date;
}

/** The Postgres/PGlite VectorStore. */
export class PgStore implements VectorStore {
  readonly location: string;
  readonly kind: 'pglite' | 'postgres';
  readonly index: string;
  readonly table: string;
  private closed = false;
  /** The embedding (embeddingKey) this store was opened with; a search of another one is refused. */
  embedding = '';

  constructor(
    readonly db: Db,
    readonly loc: PgLocation,
    /** Vector width; 0 until the first write of a store created without one (its table is made then). */
    public dim: number,
    private readonly writable: boolean,
    private readonly releases: (() => Promise<void> | void)[],
  ) {
    this.location = loc.location;
    this.kind = loc.kind;
    this.index = loc.index;
    this.table = itemsTable(loc.index);
  }

  private where(): string {
    return `${redact(this.location)}`;
  }

  /**
   * True once the index has its items table (a store created with dim 0 gets it at its first
   * write). Throws indexChangedError when a --rebuild swapped in another model's vectors since open.
   */
  private async ready(): Promise<boolean> {
    const [r] = await this.db.query<{ dim: number; m: string | null; h: string | null }>(
      `SELECT dim, model::jsonb->>'fingerprint' AS m, head::jsonb->>'fingerprint' AS h FROM lookalike.indexes WHERE name = $1`,
      [this.index],
    );
    if (!r) throw new Error(`${this.where()}: index "${this.index}" was dropped`);
    const key = embeddingKey(r.m, r.h);
    if (!this.embedding) this.embedding = key;
    if (key !== this.embedding || (this.dim > 0 && r.dim !== this.dim)) throw indexChangedError(this.where(), this.index, { dim: r.dim, key });
    this.dim = r.dim;
    return this.dim > 0;
  }

  /** Decode one vector_send(embedding) row; a width other than the index's means it was rebuilt under us. */
  private decode(e: Uint8Array, out: Float32Array, offset: number): void {
    const n = parseVectorBinary(e, out, offset, this.dim);
    if (n !== this.dim) throw indexChangedError(this.where(), this.index, { dim: n, key: '' });
  }

  /** Rethrow pgvector's width mismatch (a rebuild swapped under a running statement) as indexChangedError. */
  private changed(e: unknown): never {
    const m = /different vector dimensions (\d+) and (\d+)/.exec((e as Error)?.message ?? '');
    if (m) throw indexChangedError(this.where(), this.index, { dim: Number(m[1]) === this.dim ? Number(m[2]) : Number(m[1]), key: '' });
    throw e;
  }

  /** Metadata: model, head, dim, dates. */
  async meta(): Promise<StoreMeta> {
    const [r] = await this.db.query<IndexRow>('SELECT dim, model, head, root, created, updated FROM lookalike.indexes WHERE name = $1', [this.index]);
    if (!r) throw new Error(`${this.where()}: index "${this.index}" was dropped`);
    const m: StoreMeta = { model: r.model, dim: r.dim, created: new Date(r.created).toISOString(), updated: new Date(r.updated).toISOString() };
    if (r.head) m.head = r.head;
    if (r.root) m.root = r.root;
    return m;
  }

  /** Number of live items. */
  async count(): Promise<number> {
    if (!(await this.ready())) return 0;
    const [r] = await this.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${this.table}`);
    return r.n;
  }

  /** Live ids, sorted (byte order, as JS sorts ASCII). */
  async ids(): Promise<string[]> {
    if (!(await this.ready())) return [];
    return (await this.db.query<{ id: string }>(`SELECT id FROM ${this.table} ORDER BY id`)).map((r) => r.id);
  }

  /** Content records by id. */
  async files(): Promise<Map<string, FileRecord>> {
    if (!(await this.ready())) return new Map();
    const rows = await this.db.query<{ id: string; sha256: string; size: string | number }>(`SELECT id, sha256, size FROM ${this.table} WHERE sha256 IS NOT NULL ORDER BY id`);
    return new Map(rows.map((r) => [r.id, { sha256: r.sha256, size: Number(r.size) }]));
  }

  /** Field name -> type of every field written so far. */
  async fieldSchema(): Promise<FieldSchema> {
    const [r] = await this.db.query<{ t: FieldSchema | string }>('SELECT field_types AS t FROM lookalike.indexes WHERE name = $1', [this.index]);
    return typeof r?.t === 'string' ? JSON.parse(r.t) : { ...(r?.t ?? {}) };
  }

  /** Records (file, label, domain, fields) of these ids, in the order given. */
  async items(ids: string[]): Promise<ItemRecord[]> {
    const found = new Map<string, ItemRecord>();
    if (await this.ready()) {
      for (let i = 0; i < ids.length; i += 10_000) {
        const rows = await this.db.query<{ id: string; sha256: string | null; size: string | number | null; label: string | null; domain: string | null; fields: unknown }>(
          `SELECT id, sha256, size, label, domain, fields FROM ${this.table} WHERE id = ANY($1::text[])`,
          [ids.slice(i, i + 10_000)],
        );
        for (const r of rows) {
          const rec: ItemRecord = { id: r.id, fields: (typeof r.fields === 'string' ? JSON.parse(r.fields) : r.fields) ?? {} };
          if (r.sha256) rec.file = { sha256: r.sha256, size: Number(r.size) };
          if (r.label !== null) rec.label = r.label;
          if (r.domain !== null) rec.domain = r.domain;
          found.set(r.id, rec);
        }
      }
    }
    return ids.map((id) => {
      const rec = found.get(id);
      if (!rec) throw new Error(`${this.where()}: no id "${id}" in index "${this.index}"`);
      return rec;
    });
  }

  /** Whether each id is live, in the order given. */
  async has(ids: string[]): Promise<boolean[]> {
    const found = new Set<string>();
    if (await this.ready()) {
      for (let i = 0; i < ids.length; i += 10_000) {
        for (const r of await this.db.query<{ id: string }>(`SELECT id FROM ${this.table} WHERE id = ANY($1::text[])`, [ids.slice(i, i + 10_000)])) found.add(r.id);
      }
    }
    return ids.map((id) => found.has(id));
  }

  /** Live ids matching `filter` (all when undefined), sorted. */
  async select(filter?: FilterNode): Promise<string[]> {
    if (!filter) return this.ids();
    if (!(await this.ready())) return [];
    const f = filterSql(filter, { fields: 'fields', id: 'id', firstParam: 1 });
    return (await this.db.query<{ id: string }>(`SELECT id FROM ${this.table} WHERE ${f.sql} ORDER BY id`, f.params)).map((r) => r.id);
  }

  /** Vectors of these ids in the order given; an unknown id is an error naming it. */
  async getVectors(ids: string[]): Promise<Float32Array> {
    if (!(await this.ready())) {
      if (ids.length) throw new Error(`${this.where()}: no id "${ids[0]}" in index "${this.index}" (it is empty)`);
      return new Float32Array(0);
    }
    const out = new Float32Array(ids.length * this.dim);
    const row = new Map<string, Uint8Array>();
    for (let i = 0; i < ids.length; i += 10_000) {
      const part = ids.slice(i, i + 10_000);
      const rows = await this.db.query<{ id: string; e: Uint8Array }>(`SELECT id, vector_send(embedding) AS e FROM ${this.table} WHERE id = ANY($1::text[])`, [part]);
      for (const r of rows) row.set(r.id, r.e);
    }
    ids.forEach((id, i) => {
      const e = row.get(id);
      if (e === undefined) throw new Error(`${this.where()}: no id "${id}" in index "${this.index}"`);
      this.decode(e, out, i * this.dim);
    });
    return out;
  }

  /** Every live item in id order, in blocks (keyset pagination: bounded memory). */
  async *scan(blockRows = 4096): AsyncIterable<VectorBlock> {
    if (!(await this.ready())) return;
    let after: string | null = null;
    for (;;) {
      const rows: { id: string; e: Uint8Array }[] = after === null
        ? await this.db.query(`SELECT id, vector_send(embedding) AS e FROM ${this.table} ORDER BY id LIMIT $1`, [blockRows])
        : await this.db.query(`SELECT id, vector_send(embedding) AS e FROM ${this.table} WHERE id > $1 ORDER BY id LIMIT $2`, [after, blockRows]);
      if (!rows.length) return;
      const vectors = new Float32Array(rows.length * this.dim);
      rows.forEach((r, i) => this.decode(r.e, vectors, i * this.dim));
      yield { ids: rows.map((r) => r.id), vectors, dim: this.dim };
      if (rows.length < blockRows) return;
      after = rows[rows.length - 1].id;
    }
  }

  /** Whether a search with these options uses the HNSW index. */
  async usesAnn(opts: Pick<SearchOptions, 'ann'>, count?: number): Promise<boolean> {
    const mode = opts.ann ?? 'auto';
    if (mode === 'off' || this.dim > HNSW_MAX_DIM) return false;
    if (mode === 'on') return true;
    return (count ?? (await this.count())) >= ANN_AUTO_MIN;
  }

  /** Top-k per query row: pgvector candidates, exact re-scoring, ties by id. */
  async search(queries: Float32Array, opts: SearchOptions): Promise<Hit[][]> {
    if (!Number.isInteger(opts.k) || opts.k < 1) throw new Error(`k must be a positive integer, got ${opts.k}`);
    if (!(await this.ready())) return [];
    const { dim } = this;
    if (queries.length % dim !== 0) throw new Error(`${this.where()}: queries are not ${dim}-d rows`);
    const nq = queries.length / dim;
    const count = await this.count();
    const f = opts.filter && filterSql(opts.filter, { fields: 'fields', id: 'id', firstParam: 4 });
    const matches = f ? (await this.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${this.table} WHERE ${filterSql(opts.filter!, { fields: 'fields', id: 'id', firstParam: 1 }).sql}`, f.params))[0].n : count;
    const k = Math.min(opts.k, matches);
    const out: Hit[][] = [];
    if (!nq) return out;
    if (k === 0) return Array.from({ length: nq }, () => []);
    const ann = await this.usesAnn(opts, count);
    const limit = k + 1 + RESCORE_MARGIN;
    const ef = Math.max(opts.ef ?? 40, limit);
    if (opts.ef !== undefined) checkEf(opts.ef);
    // A filtered search stays in SQL (the filter is a WHERE clause there).
    if (!ann && !f && (nq >= SCAN_MIN_QUERIES || limit * 8 >= count)) return this.searchScan(queries, nq, k, opts);
    // Over the wire (`pg`) query vectors go in pgvector's binary format; PGlite takes text.
    const encode = this.db.kind === 'postgres' ? toVectorBinary : toVectorText;
    for (let q0 = 0; q0 < nq; q0 += QUERY_BATCH) {
      const q1 = Math.min(nq, q0 + QUERY_BATCH);
      const params: unknown[] = [];
      const values: string[] = [];
      for (let q = q0; q < q1; q++) {
        params.push(encode(queries, q * dim, dim));
        values.push(`(${q}, $${params.length}::vector(${dim}))`);
      }
      params.push(limit);
      const lim = params.length;
      const fb = opts.filter && filterSql(opts.filter, { fields: 'fields', id: 'id', firstParam: lim + 1 });
      if (fb) params.push(...fb.params);
      const rows = await retryOnLoss(this.where(), () =>
        this.db.transaction(async (tx: Sql) => {
          if (ann) await tx.query(`SELECT set_config('hnsw.ef_search', $1, true)`, [String(Math.min(ef, 1000))]);
          else await tx.query(`SELECT set_config('enable_indexscan', 'off', true)`);
          // A filtered HNSW scan keeps going until LIMIT rows match (pgvector >= 0.8 iterative scans).
          if (ann && fb) await tx.query(`SELECT set_config('hnsw.iterative_scan', 'relaxed_order', true)`);
          return tx.query<{ i: number; id: string; e: Uint8Array }>(
            // The queries are materialised once, not recomputed per scanned row; results come back binary.
            `WITH q(i, v) AS MATERIALIZED (VALUES ${values.join(', ')})
             SELECT q.i, c.id, vector_send(c.embedding) AS e
               FROM q CROSS JOIN LATERAL (
                 SELECT id, embedding FROM ${this.table}${fb ? ` WHERE ${fb.sql}` : ''}
                  ORDER BY embedding <=> q.v LIMIT $${lim}) AS c`,
            params,
          );
        }),
      ).catch((e) => this.changed(e));
      const byQuery = new Map<number, { id: string; e: Uint8Array }[]>();
      for (const r of rows) {
        const list = byQuery.get(r.i) ?? [];
        list.push(r);
        byQuery.set(r.i, list);
      }
      const v = new Float32Array(dim);
      for (let q = q0; q < q1; q++) {
        const skip = opts.exclude?.[q];
        const scored: { id: string; score: number }[] = [];
        for (const c of byQuery.get(q) ?? []) {
          if (c.id === skip) continue;
          this.decode(c.e, v, 0);
          const score = dotRows(queries, q * dim, v, 0, dim);
          if (opts.minScore !== undefined && score < opts.minScore) continue;
          scored.push({ id: c.id, score });
        }
        scored.sort((a, b) => b.score - a.score || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
        out.push(scored.slice(0, k).map((s, j) => ({ rank: j + 1, id: s.id, score: s.score })));
      }
    }
    if (ann && f) {
      // An iterative scan stops at hnsw.max_scan_tuples: a query it left short is ranked exactly over the matches.
      for (let q = 0; q < nq; q++) {
        const self = opts.exclude?.[q];
        if (out[q].length >= k - (self !== undefined ? 1 : 0) || (opts.minScore !== undefined && out[q].length)) continue;
        [out[q]] = await this.search(queries.subarray(q * dim, (q + 1) * dim), { ...opts, ann: 'off', exclude: [self] });
      }
    }
    return out;
  }

  /**
   * Exact top-k of many queries: the table read once in id order (binary), each block ranked by
   * the exact kernel (as the folder store ranks its segments) and merged per query by (score
   * descending, id ascending). Memory: one block plus queries x k hits.
   */
  private async searchScan(queries: Float32Array, nq: number, k: number, opts: SearchOptions): Promise<Hit[][]> {
    const { dim } = this;
    const extra = opts.exclude?.some((e) => e !== undefined) ? 1 : 0;
    let best: { id: string; score: number }[][] = Array.from({ length: nq }, () => []);
    for await (const b of this.scan(SCAN_BLOCK_ROWS)) {
      const n = b.ids.length;
      const kk = Math.min(n, k + extra);
      const top = await searchExact(b.vectors, queries, dim, kk, { chunk: n });
      best = best.map((have, q) => {
        const skip = opts.exclude?.[q];
        const fresh: { id: string; score: number }[] = [];
        for (let j = 0; j < kk; j++) {
          const r = top.indices[q * kk + j];
          if (r < 0) break;
          const score = top.scores[q * kk + j];
          if (b.ids[r] === skip || (opts.minScore !== undefined && score < opts.minScore)) continue;
          fresh.push({ id: b.ids[r], score });
        }
        if (!have.length) return fresh.slice(0, k);
        // Blocks come in id order: on equal scores the earlier block's (smaller) id goes first.
        const merged: { id: string; score: number }[] = [];
        let i = 0;
        let j = 0;
        while (merged.length < k && (i < have.length || j < fresh.length)) {
          if (j >= fresh.length || (i < have.length && have[i].score >= fresh[j].score)) merged.push(have[i++]);
          else merged.push(fresh[j++]);
        }
        return merged;
      });
    }
    return best.map((list) => list.map((h, j) => ({ rank: j + 1, id: h.id, score: h.score })));
  }

  private checkItems(items: StoreItem[]): void {
    const seen = new Set<string>();
    for (const it of items) {
      if (typeof it.id !== 'string' || !it.id) throw new Error(`${this.where()}: an item has an empty id`);
      if (seen.has(it.id)) throw new Error(`${this.where()}: id "${it.id}" appears twice in one write`);
      seen.add(it.id);
      if (!(it.vector instanceof Float32Array) || it.vector.length !== this.dim) throw new Error(`${this.where()}: item "${it.id}" has ${it.vector?.length}-d vector, index "${this.index}" is ${this.dim}-d`);
      let n = 0;
      for (let d = 0; d < this.dim; d++) n += it.vector[d] * it.vector[d];
      if (!Number.isFinite(n) || Math.abs(n - 1) > 1e-3) throw new Error(`${this.where()}: item "${it.id}" vector is not L2-normalised (norm² ${n})`);
    }
  }

  /**
   * Upsert and delete inside the caller's transaction (used by write and by workers). With
   * `bulk` (write on a server), new items for an empty table go in by COPY into the bare table;
   * its HNSW index is then built by finishLoad, once, instead of row by row.
   */
  async applyIn(tx: Sql, change: StoreChange, bulk = false): Promise<void> {
    let items = (change.upsert ?? []) as PgItem[];
    // Field types are checked and extended under a row lock, so concurrent writers agree on them.
    let types: FieldSchema | undefined;
    if (items.some((it) => it.fields !== undefined)) {
      const [r] = await tx.query<{ t: FieldSchema | string }>('SELECT field_types AS t FROM lookalike.indexes WHERE name = $1 FOR UPDATE', [this.index]);
      let schema: FieldSchema = typeof r?.t === 'string' ? JSON.parse(r.t) : { ...(r?.t ?? {}) };
      items = items.map((it) => {
        if (it.fields === undefined) return it;
        const c = checkFields(it.fields, schema, `${this.where()}: id "${it.id}"`);
        schema = c.schema;
        return { ...it, fields: c.fields };
      });
      types = schema;
    }
    if (this.dim === 0) {
      // Created without a width: the first vectors fix it and make the table (in this transaction).
      const [r] = await tx.query<{ dim: number }>('SELECT dim FROM lookalike.indexes WHERE name = $1 FOR UPDATE', [this.index]);
      if (r.dim === 0 && items.length) {
        const d = items[0].vector?.length ?? 0;
        await createItemsTable(tx, this.index, d);
        await tx.query('UPDATE lookalike.indexes SET dim = $2 WHERE name = $1', [this.index, d]);
        this.dim = d;
      } else if (r.dim === 0) {
        if (change.remove?.length) throw new Error(`${this.where()}: cannot remove "${change.remove[0]}": not in index "${this.index}" (it is empty)`);
        return;
      } else this.dim = r.dim;
    }
    this.checkItems(items);
    const remove = change.remove ?? [];
    if (remove.length) {
      const gone = await tx.query<{ id: string }>(`DELETE FROM ${this.table} WHERE id = ANY($1::text[]) RETURNING id`, [remove]);
      if (gone.length !== new Set(remove).size) {
        const deleted = new Set(gone.map((r) => r.id));
        const missing = remove.filter((id) => !deleted.has(id));
        throw new Error(`${this.where()}: cannot remove ${missing.slice(0, 3).map((id) => `"${id}"`).join(', ')}${missing.length > 3 ? ` and ${missing.length - 3} more` : ''}: not in index "${this.index}"`);
      }
    }
    if (bulk && tx.copyIn && !remove.length && items.length >= BULK_MIN_ROWS) {
      const [e] = await tx.query<{ empty: boolean }>(`SELECT NOT EXISTS (SELECT 1 FROM ${this.table}) AS empty`);
      if (e.empty) {
        await tx.query('SELECT pg_advisory_xact_lock($1)', [DDL_LOCK]);
        await tx.query(`DROP INDEX IF EXISTS lookalike."${hnswName(this.index)}"`);
        await tx.copyIn(`COPY ${this.table} (${COPY_COLUMNS.join(', ')}) FROM STDIN (FORMAT binary)`, copyRows(items));
        items = [];
      }
    }
    // Over the wire (`pg`) vectors go in pgvector's binary format; PGlite takes text.
    const encode = this.db.kind === 'postgres' ? toVectorBinary : toVectorText;
    for (let i = 0; i < items.length; i += INSERT_ROWS) {
      const part = items.slice(i, i + INSERT_ROWS);
      const params: unknown[] = [];
      const values = part.map((it) => {
        const b = params.length;
        const fields = it.fields && Object.keys(it.fields).length ? JSON.stringify(it.fields) : null;
        params.push(it.id, it.path ?? null, it.file?.sha256 ?? null, it.file?.size ?? null, it.label ?? null, it.domain ?? null, fields, encode(it.vector));
        return `($${b + 1}, $${b + 2}, $${b + 3}, $${b + 4}, $${b + 5}, $${b + 6}, $${b + 7}::jsonb, $${b + 8}::vector)`;
      });
      await tx.query(
        `INSERT INTO ${this.table} (id, path, sha256, size, label, domain, fields, embedding) VALUES ${values.join(', ')}
         ON CONFLICT (id) DO UPDATE SET path = EXCLUDED.path, sha256 = EXCLUDED.sha256, size = EXCLUDED.size,
           label = EXCLUDED.label, domain = EXCLUDED.domain, fields = EXCLUDED.fields, embedding = EXCLUDED.embedding`,
        params,
      );
    }
    if (types) await tx.query('UPDATE lookalike.indexes SET field_types = $2::jsonb WHERE name = $1', [this.index, JSON.stringify(types)]);
    await tx.query('UPDATE lookalike.indexes SET updated = now() WHERE name = $1', [this.index]);
  }

  /** Apply one change in one transaction (needs write: true). */
  async write(change: StoreChange): Promise<void> {
    if (!this.writable) throw new Error(`${this.where()}: opened read-only; open with { write: true } to write`);
    if (this.closed) throw new Error(`${this.where()}: store is closed`);
    const dim = this.dim;
    try {
      // A transaction cut by a lost connection was rolled back: it is applied again (upserts by id, so never twice).
      await retryOnLoss(this.where(), () => {
        this.dim = dim;
        return this.db.transaction((tx) => this.applyIn(tx, change, true));
      });
    } catch (e) {
      this.dim = dim; // a table made by a rolled-back first write does not exist
      throw e;
    }
  }

  /**
   * Build the HNSW index when it is missing (after a bulk first load, or one a killed writer
   * left): once, on the loaded table, with HNSW_BUILD_MEM. A writer's close does it.
   */
  async finishLoad(): Promise<void> {
    if (!this.writable || this.dim === 0 || this.dim > HNSW_MAX_DIM) return;
    const [r] = await this.db.query<{ missing: boolean }>(`SELECT to_regclass($1) IS NOT NULL AND to_regclass($2) IS NULL AS missing`, [this.table, `lookalike."${hnswName(this.index)}"`]);
    if (!r.missing) return;
    await this.db.transaction(async (tx) => {
      await tx.query(`SELECT set_config('maintenance_work_mem', $1, true)`, [HNSW_BUILD_MEM]);
      await createHnswIndex(tx, this.index);
    });
  }

  /** Release the writer lock and the connection(s); a writer builds a missing HNSW index first. */
  async close(): Promise<void> {
    if (this.closed) return;
    const built = this.writable ? this.finishLoad().then(() => undefined, (e: Error) => e) : undefined;
    const err = await built;
    this.closed = true;
    for (const r of this.releases.reverse()) await r();
    if (err) throw err;
  }
}

/** A pglite folder must be a PGlite database, or (when creating) missing or empty: never someone's folder. */
function checkPgliteDir(dir: string, shown: string, create: boolean): void {
  const st = fs.statSync(dir, { throwIfNoEntry: false });
  if (!st) {
    if (!create) throw new Error(`${shown}: no such database folder (create it with \`lookalike index FOLDER --store ${shown}\`)`);
    return;
  }
  if (!st.isDirectory()) throw new Error(`${shown}: ${dir} is a file, not a PGlite database folder`);
  const names = fs.readdirSync(dir).filter((n) => n !== 'lookalike.lock');
  if (names.length && !names.includes('PG_VERSION')) throw new Error(`${shown}: ${dir} exists and is not a PGlite database (no PG_VERSION); refusing to write into it`);
}

/** Options for openPgStore beyond OpenOptions. */
export interface PgOpenOptions extends OpenOptions {
  /** Pool size for postgres:// (default 4). */
  max?: number;
  /** With write: do not take this index's lock; the caller holds one that covers it (a rebuild's staging index, under its index's lock). */
  covered?: boolean;
}

/**
 * Open (or with `create`, create) the index a `postgres://` or `pglite:` location names.
 * Migrations run on open; `write: true` takes the index's writer lock.
 */
export async function openPgStore(location: string, opts: PgOpenOptions = {}): Promise<PgStore> {
  if (!isPgLocation(location)) throw new Error(`${location}: not a postgres:// or pglite: location`);
  const loc = parsePgLocation(location);
  const shown = redact(location);
  const releases: (() => Promise<void> | void)[] = [];
  const undo = async () => {
    for (const r of releases.reverse()) await Promise.resolve(r()).catch(() => undefined);
  };
  try {
    if (loc.kind === 'pglite') checkPgliteDir(loc.dataDir!, shown, !!opts.create);
    let db: Db;
    try {
      db = await openDb(loc, { max: opts.max });
    } catch (e) {
      throw new Error(`${shown}: ${(e as Error).message}`);
    }
    releases.push(() => db.close());
    await migrate(db);
    const rowSql = `SELECT dim, model::jsonb->>'fingerprint' AS m, head::jsonb->>'fingerprint' AS h FROM lookalike.indexes WHERE name = $1`;
    let [row] = await db.query<{ dim: number; m: string | null; h: string | null }>(rowSql, [loc.index]);
    if (!row && opts.create) {
      const c = opts.create;
      await db.transaction(async (tx) => {
        if (c.dim > 0) await createItemsTable(tx, loc.index, c.dim);
        await tx.query(
          `INSERT INTO lookalike.indexes (name, dim, model, head, root) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (name) DO NOTHING`,
          [loc.index, c.dim, JSON.stringify(c.model), c.head ? JSON.stringify(c.head) : null, c.root ?? null],
        );
      });
      [row] = await db.query<{ dim: number; m: string | null; h: string | null }>(rowSql, [loc.index]);
    }
    if (!row) throw new Error(`${shown}: no index "${loc.index}" in this database (create it with \`lookalike index FOLDER --store ${shown}\`)`);
    let lock: HeldLock | undefined;
    if (opts.write && !opts.covered) {
      lock = await takeWriterLock(db, loc.index, shown);
      releases.push(() => lock!.release());
    }
    const store = new PgStore(db, loc, row.dim, !!opts.write, releases);
    store.embedding = embeddingKey(row.m, row.h);
    return store;
  } catch (e) {
    await undo();
    throw e;
  }
}
