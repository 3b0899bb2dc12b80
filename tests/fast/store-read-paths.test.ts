/**
 * Search and eval read through VectorStore.search, never a whole in-memory matrix: a folder store
 * grown in several segments with tombstones, a fresh single-segment one, and a pglite store (which
 * has no matrix at all) holding the same items give the same rankings, scores and eval numbers,
 * in the library and through the CLI's --store.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { openStore } from '../../src/store/open-store.ts';
import type { StoreItem, VectorStore } from '../../src/store/types.ts';
import { FolderStore } from '../../src/store/folder/store.ts';
import { searchBrute } from '../../src/store/exact.ts';
import { searchByEmbeddings, searchByIds, type QueryResult } from '../../src/index/search.ts';
import { evaluateIndex } from '../../src/eval/from-index.ts';
import { readLabels } from '../../src/data/labels.ts';
import { contractMeta, itemsOf, unitVectors } from '../helpers/store-contract.ts';
import { runCli } from '../helpers/cli.ts';
import { tmpDir } from '../helpers/tmp.ts';

const dim = 16;
const dir = tmpDir('lookalike-read-paths-');

/** The final items: 100 random unit vectors, item 7 a copy of item 3 (a tie, broken by id). */
function finalItems(): StoreItem[] {
  const v = unitVectors(100, dim, 5);
  v.set(v.subarray(3 * dim, 4 * dim), 7 * dim);
  return itemsOf(v, dim);
}

/** Same items written in three segments, with removals and changed vectors in between (tombstones). */
async function segmented(loc: string, items: StoreItem[]): Promise<void> {
  const s = await openStore(loc, { write: true, create: contractMeta(dim) });
  const other = itemsOf(unitVectors(100, dim, 9), dim);
  try {
    await s.write({ upsert: items.slice(0, 40) });
    // items 40..49 first arrive with other vectors, then change; 95..99 arrive, leave, come back
    await s.write({ upsert: [...other.slice(40, 50), ...items.slice(50, 70), ...items.slice(95)] });
    await s.write({ upsert: items.slice(70, 95), remove: items.slice(95).map((i) => i.id) });
    await s.write({ upsert: [...items.slice(40, 50), ...items.slice(95)] });
    const layout = (s as FolderStore).layout();
    assert.ok(layout.segments.length >= 3 && layout.tombstones >= 1, `several segments and tombstones: ${JSON.stringify(layout)}`);
    assert.equal(await s.count(), 100);
  } finally {
    await s.close();
  }
}

async function single(loc: string, items: StoreItem[]): Promise<void> {
  const s = await openStore(loc, { write: true, create: contractMeta(dim) });
  try {
    await s.write({ upsert: items });
  } finally {
    await s.close();
  }
}

function sameResults(a: QueryResult[], b: QueryResult[], tol: number, what: string): void {
  assert.equal(a.length, b.length, what);
  a.forEach((r, i) => {
    assert.equal(r.query, b[i].query, what);
    assert.deepEqual(r.hits.map((h) => h.id), b[i].hits.map((h) => h.id), `${what}: ${r.query}`);
    r.hits.forEach((h, j) => assert.ok(Math.abs(h.score - b[i].hits[j].score) <= tol, `${what}: ${r.query} score ${h.score} vs ${b[i].hits[j].score}`));
  });
}

test('search and eval give the same results from a segmented folder store, a fresh one and pglite (no matrix)', async () => {
  const items = finalItems();
  const seg = path.join(dir, 'seg.lkx');
  const one = path.join(dir, 'one.lkx');
  const pg = `pglite:${path.join(dir, 'db')}`;
  await segmented(seg, items);
  await single(one, items);
  await single(pg, items);
  const labels = path.join(dir, 'labels.csv');
  fs.writeFileSync(labels, 'path,label,split\n' + items.map((it, i) => `${it.id},L${i % 6},${i % 4 === 0 ? 'query' : 'gallery'}`).join('\n') + '\n');
  const loo = path.join(dir, 'loo.csv');
  fs.writeFileSync(loo, 'path,label\n' + items.map((it, i) => `${it.id},L${i % 6}`).join('\n') + '\n');

  // The reference: brute force over the final matrix (ties by id = row order).
  const all = new Float32Array(items.length * dim);
  items.forEach((it, i) => all.set(it.vector, i * dim));
  const qRows = [3, 7, 0, 42, 99];
  const qIds = qRows.map((r) => items[r].id);
  const truth = searchBrute(all, Float32Array.from(qRows.flatMap((r) => [...items[r].vector])), dim, 12, Int32Array.from(qRows));
  const want = qIds.map((query, qi) => ({ query, ids: Array.from(truth.indices.subarray(qi * 12, qi * 12 + 12), (g) => items[g].id) }));
  assert.equal(want[0].ids[0], items[7].id, 'the copy of item 3 is its nearest neighbour');

  const stores: VectorStore[] = [await openStore(seg), await openStore(one), await openStore(pg)];
  const byIds: QueryResult[][] = [];
  const evals = [];
  try {
    for (const s of stores) {
      const res = await searchByIds(s, qIds, 12, true, { ann: 'off' });
      assert.deepEqual(res.map((r) => ({ query: r.query, ids: r.hits.map((h) => h.id) })), want, s.location);
      byIds.push(res);
      // the same vectors as fresh embeddings (excludeSelf by id) rank the same
      const emb = await searchByEmbeddings(s, { ids: qIds, vectors: await s.getVectors(qIds), dim, skipped: [] }, 12, true);
      sameResults(emb, res, 0, `${s.location} embeddings vs ids`);
      evals.push({ loo: await evaluateIndex(s, readLabels(loo)), split: await evaluateIndex(s, readLabels(labels)) });
    }
  } finally {
    for (const s of stores) await s.close();
  }
  sameResults(byIds[0], byIds[1], 0, 'segmented vs fresh folder');
  sameResults(byIds[2], byIds[1], 1e-6, 'pglite vs folder');
  for (const e of evals.slice(1)) {
    assert.equal(e.loo.protocol, 'leave-one-out');
    assert.deepEqual(e.loo.mean, evals[0].loo.mean);
    assert.deepEqual(e.loo.per_query, evals[0].loo.per_query);
    assert.equal(e.split.protocol, 'split query vs gallery');
    assert.deepEqual(e.split.mean, evals[0].split.mean);
  }
  assert.equal(evals[0].loo.gallery_size, 100);

  // The CLI through --store pglite:DIR (no matrix anywhere): the segmented folder store's rankings and eval numbers.
  const search = async (loc: string) => {
    const r = (await runCli(['search', '--store', loc, '--id', ...qIds, '-k', '12', '--exclude-self', '--json']));
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(r.stdout).results as QueryResult[];
  };
  const ev = async (loc: string) => {
    const r = (await runCli(['eval', '--store', loc, '--labels', loo, '--json']));
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(r.stdout).mean;
  };
  sameResults(await search(pg), byIds[0], 1e-6, 'CLI --store pglite');
  assert.deepEqual(await ev(pg), evals[0].loo.mean);
});
