/**
 * `index --rebuild` on Postgres: the new contents are built in a staging index (its own table,
 * recorded in lookalike.rebuilds so that only lookalike ever drops it), while the old index stays
 * searchable; then one transaction swaps the staging table in under the index's name and drops
 * the table it replaces. A crash or kill before that commit leaves the old index as it was (and
 * the staging index, which the next --rebuild resumes or drops); nothing else is ever dropped.
 */
import { randomBytes } from 'node:crypto';
import { sameEmbedding, type EmbeddingSource } from '../../models/compat.ts';
import { crashPoint } from '../../util/atomic.ts';
import type { Sql } from './sql.ts';
import { withIndex } from './location.ts';
import { DDL_LOCK, itemsTable } from './tables.ts';
import { openPgStore, type PgStore } from './store.ts';

/** Drop a staging index recorded for `index` (its table, metadata and record), inside tx. */
async function dropStaging(tx: Sql, index: string, staging: string): Promise<void> {
  const [rec] = await tx.query<{ staging: string }>('SELECT staging FROM lookalike.rebuilds WHERE index_name = $1 FOR UPDATE', [index]);
  if (rec?.staging !== staging) throw new Error(`index "${index}": staging index "${staging}" is not the one recorded for its rebuild; leaving it alone`);
  await tx.query(`DROP TABLE IF EXISTS ${itemsTable(staging)}`);
  await tx.query('DELETE FROM lookalike.indexes WHERE name = $1', [staging]);
  await tx.query('DELETE FROM lookalike.rebuilds WHERE index_name = $1', [index]);
}

/**
 * Open the staging index of a rebuild of `old` (whose writer lock the caller holds, and which
 * covers the staging index): an interrupted rebuild's staging index when it has the same
 * embedding, else a new one (a previous staging index of another model is dropped first).
 */
export async function openRebuildStaging(old: PgStore, source: EmbeddingSource, root: string): Promise<{ staging: PgStore; resumed: boolean }> {
  const { db, index } = old;
  const [rec] = await db.query<{ staging: string }>('SELECT staging FROM lookalike.rebuilds WHERE index_name = $1', [index]);
  if (rec) {
    const [m] = await db.query<{ model: EmbeddingSource['model']; head: EmbeddingSource['head'] | null; root: string | null }>('SELECT model, head, root FROM lookalike.indexes WHERE name = $1', [rec.staging]);
    const same = m && sameEmbedding({ model: m.model, ...(m.head ? { head: m.head } : {}) }, source) && m.root === root;
    if (same) return { staging: await openPgStore(withIndex(old.loc, rec.staging), { write: true, covered: true }), resumed: true };
    await db.transaction((tx) => dropStaging(tx, index, rec.staging));
  }
  let name = '';
  for (let attempt = 0; !name; attempt++) {
    const candidate = `rebuild_${randomBytes(6).toString('hex')}`;
    const made = await db.transaction(async (tx) => {
      // A fresh name: never an index that exists (a user's index is never taken over).
      const taken = await tx.query('SELECT 1 FROM lookalike.indexes WHERE name = $1', [candidate]);
      if (taken.length) return false;
      await tx.query('INSERT INTO lookalike.indexes (name, dim, model, head, root) VALUES ($1, 0, $2, $3, $4)', [candidate, JSON.stringify(source.model), source.head ? JSON.stringify(source.head) : null, root]);
      await tx.query('INSERT INTO lookalike.rebuilds (index_name, staging) VALUES ($1, $2)', [index, candidate]);
      return true;
    });
    if (made) name = candidate;
    else if (attempt >= 5) throw new Error(`index "${index}": could not pick a free staging index name`);
  }
  return { staging: await openPgStore(withIndex(old.loc, name), { write: true, covered: true }), resumed: false };
}

/**
 * Swap a finished staging index in under `old`'s name, in one transaction: drop old's table
 * (the one this rebuild replaces), rename the staging table and its HNSW index, copy the
 * staging metadata over, forget the staging index.
 */
export async function swapRebuild(old: PgStore, staging: PgStore): Promise<void> {
  // A bulk-loaded staging index gets its HNSW index before it is swapped in.
  await staging.finishLoad();
  await old.db.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock($1)', [DDL_LOCK]);
    const [rec] = await tx.query<{ staging: string }>('SELECT staging FROM lookalike.rebuilds WHERE index_name = $1 FOR UPDATE', [old.index]);
    if (rec?.staging !== staging.index) throw new Error(`index "${old.index}": its rebuild record names "${rec?.staging}", not "${staging.index}"; not swapping`);
    const [s] = await tx.query<{ dim: number }>('SELECT dim FROM lookalike.indexes WHERE name = $1', [staging.index]);
    await tx.query(`DROP TABLE IF EXISTS ${old.table}`);
    if (s.dim > 0) {
      await tx.query(`ALTER TABLE ${staging.table} RENAME TO "items_${old.index}"`);
      await tx.query(`ALTER INDEX IF EXISTS lookalike."items_${staging.index}_hnsw" RENAME TO "items_${old.index}_hnsw"`);
      await tx.query(`ALTER INDEX IF EXISTS lookalike."items_${staging.index}_fields" RENAME TO "items_${old.index}_fields"`);
    }
    await tx.query(
      `UPDATE lookalike.indexes AS o SET dim = s.dim, model = s.model, head = s.head, root = s.root, field_types = s.field_types, updated = now()
         FROM lookalike.indexes AS s WHERE o.name = $1 AND s.name = $2`,
      [old.index, staging.index],
    );
    await tx.query('DELETE FROM lookalike.indexes WHERE name = $1', [staging.index]);
    await tx.query('DELETE FROM lookalike.rebuilds WHERE index_name = $1', [old.index]);
    // A kill here (tests) aborts the transaction: the old index stays.
    crashPoint('pg-rebuild:swap');
  });
  old.dim = staging.dim;
  old.embedding = staging.embedding;
}
