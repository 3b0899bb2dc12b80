/** Filtered search on the folder store, exact and through the ANN graph, against brute force (issue 20). */
import test from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { openStore } from '../../src/store/open-store.ts';
import { clearAnnCache } from '../../src/store/ann-search.ts';
import { searchStore } from '../../src/index/search.ts';
import { tmpDir } from '../helpers/tmp.ts';
import { checkFilters, randomItems } from '../helpers/filtered-search.ts';

const items = randomItems(2000, 16);
const model = { name: 'random', fingerprint: 'sha256:test', spec: {} as never };

async function fresh() {
  const dir = path.join(tmpDir(), 'f.lkx');
  const w = await openStore(dir, { write: true, create: { model, dim: 16 } });
  // Three segments and a tombstone, so the bitmap spans segments and removed rows.
  await w.write({ upsert: items.slice(0, 700) });
  await w.write({ upsert: items.slice(700, 1400) });
  await w.write({ upsert: items.slice(1400) });
  await w.write({ upsert: [{ ...items[5] }], remove: [] });
  await w.close();
  return dir;
}

test('folder store: 50 random filters, exact path, identical to brute force and min(k, matches) results', async () => {
  const store = await openStore(await fresh());
  try {
    const recall = await checkFilters(store, items, { ann: 'off' }, true);
    assert.equal(recall, 1);
  } finally {
    await store.close();
  }
});

test('folder store with the ANN graph: recall@10 >= 0.95 and always min(k, matches) results', async () => {
  clearAnnCache();
  const store = await openStore(await fresh());
  try {
    const recall = await checkFilters(store, items, { ann: 'on' }, false);
    assert.ok(recall >= 0.95, `recall@10 ${recall}`);
  } finally {
    await store.close();
  }
});

test('paging, score floor and group-by give the same results as the full ranking cut by hand', async () => {
  const store = await openStore(await fresh());
  try {
    const q = items[11].vector;
    const [all] = await searchStore(store, q, 60, undefined, { ann: 'off', filter: 'u < 0.5', withFields: true });
    const pages = [];
    for (let p = 0; p < 3; p++) pages.push(...(await searchStore(store, q, 20, undefined, { ann: 'off', filter: 'u < 0.5', offset: p * 20 }))[0]);
    assert.deepEqual(pages.map((h) => [h.rank, h.id]), all.map((h) => [h.rank, h.id]));
    const floor = all[30].score;
    const [above] = await searchStore(store, q, 60, undefined, { ann: 'off', filter: 'u < 0.5', minScore: floor });
    assert.deepEqual(above.map((h) => h.id), all.filter((h) => h.score >= floor).map((h) => h.id));
    // Best 2 per tag set value of `flag` (true, false, missing): at most 6 results, the best of each group.
    const [grouped] = await searchStore(store, q, 10, undefined, { ann: 'off', groupBy: 'flag', perGroup: 2, withFields: true });
    const [full] = await searchStore(store, q, 2000, undefined, { ann: 'off', withFields: true });
    const want: string[] = [];
    const used = new Map<string, number>();
    for (const h of full) {
      const key = JSON.stringify(h.fields!.flag ?? null);
      if ((used.get(key) ?? 0) >= 2) continue;
      used.set(key, (used.get(key) ?? 0) + 1);
      want.push(h.id);
    }
    assert.equal(want.length, 6);
    assert.deepEqual(grouped.map((h) => h.id), want);
    assert.deepEqual(grouped.map((h) => h.rank), [1, 2, 3, 4, 5, 6]);
  } finally {
    await store.close();
  }
});

test('bad filters and options are one-line errors naming the position or the option', async () => {
  const store = await openStore(await fresh());
  try {
    const q = items[0].vector;
    await assert.rejects(searchStore(store, q, 5, undefined, { filter: 'colour = "red"' }), (e: Error & { position?: number }) => e.position === 0 && !e.message.includes('\n'));
    await assert.rejects(searchStore(store, q, 5, undefined, { filter: 'u < "abc"' }), (e: Error & { position?: number }) => e.position === 4);
    await assert.rejects(searchStore(store, q, 5, undefined, { filter: '(u < 1' }), /unclosed "\(" at 0/);
    await assert.rejects(searchStore(store, q, 5, undefined, { filter: 'cat = "x"; drop table t' }), (e: Error & { position?: number }) => typeof e.position === 'number');
    await assert.rejects(searchStore(store, q, 5, undefined, { groupBy: 'flg' }), /flg: no such field.*did you mean "flag"/);
    await assert.rejects(searchStore(store, q, 5, undefined, { offset: -1 }), /offset/);
  } finally {
    await store.close();
  }
});
