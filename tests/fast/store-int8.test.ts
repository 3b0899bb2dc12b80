/** Exact search through int8 blocks (long-lived readers): the bound holds, and hits equal the float32 path's, ties, removals, exclusions and filters included. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { FolderStore } from '../../src/store/folder/store.ts';
import { searchSegments } from '../../src/store/folder/chunked-search.ts';
import { searchQuantized } from '../../src/store/folder/quant-search.ts';
import { QuantCache } from '../../src/store/folder/quant-cache.ts';
import { quantBlock, quantBound, quantQuery, quantTop, releaseQuantBlock } from '../../src/store/quant-exact.ts';
import { rowCacheBytes } from '../../src/store/folder/row-cache.ts';
import type { Segment } from '../../src/store/folder/segments.ts';
import type { StoreItem } from '../../src/store/types.ts';
import { parseFilter } from '../../src/data/filter/parse.ts';
import { config } from '../../src/util/config.ts';
import { contractMeta, unitVectors } from '../helpers/store-contract.ts';
import { tmpDir } from '../helpers/tmp.ts';

const dim = 16;

test('int8 estimates stay within their bound for every row, and a block returns its best rows by estimate', async () => {
  const n = 300;
  const rows = unitVectors(n, dim, 5);
  // A spiky row (one large component) and a flat one stress the per-row scale.
  rows.fill(0, 0, dim);
  rows[3] = 1;
  rows.fill(1 / Math.sqrt(dim), dim, 2 * dim);
  const block = await quantBlock(rows, dim);
  const queries = unitVectors(5, dim, 9);
  const qq = Array.from({ length: 5 }, (_, q) => quantQuery(queries, q * dim, dim));
  const top = await quantTop(block, qq, n);
  for (let q = 0; q < 5; q++) {
    const bound = quantBound(block, qq[q]);
    assert.ok(bound > 0 && bound < 0.1, `bound ${bound}`);
    for (let j = 0; j < n; j++) {
      const r = top.rows[q * n + j];
      let exact = 0;
      for (let d = 0; d < dim; d++) exact += rows[r * dim + d] * queries[q * dim + d];
      assert.ok(Math.abs(exact - top.scores[q * n + j]) <= bound, `row ${r}: |${exact} - ${top.scores[q * n + j]}| > ${bound}`);
      if (j) assert.ok(top.scores[q * n + j] <= top.scores[q * n + j - 1], 'estimates come sorted');
    }
  }
  await releaseQuantBlock(block);
});

/** Items with many exact ties (the same vector under several ids) and near-ties, written in three segments. */
function galleryItems(): StoreItem[] {
  const v = unitVectors(420, dim, 3);
  const items: StoreItem[] = [];
  for (let i = 0; i < 420; i++) {
    // every 7th item repeats an earlier vector: equal scores, ranked by id
    const src = i % 7 === 6 ? i - 3 : i;
    const vec = v.slice(src * dim, (src + 1) * dim);
    if (i % 11 === 0) vec[0] += 1e-4; // a near-tie, within any int8 bound
    let s = 0;
    for (const x of vec) s += x * x;
    items.push({ id: `p/${String((i * 37) % 420).padStart(3, '0')}-${i}.jpg`, vector: vec.map((x) => x / Math.sqrt(s)), fields: { rare: i % 25 === 0, bucket: i % 10 } });
  }
  return items;
}

test('a long-lived reader answers exact searches through int8 blocks with the float32 path\'s hits, and frees them on close', async () => {
  const loc = path.join(tmpDir(), 'int8.lkx');
  const items = galleryItems();
  const w = await FolderStore.open(loc, { write: true, create: contractMeta(dim) });
  await w.write({ upsert: items.slice(0, 150) });
  await w.write({ upsert: items.slice(150, 300) });
  await w.write({ upsert: items.slice(300), remove: items.slice(0, 150).filter((_, i) => i % 20 === 0).map((it) => it.id) });
  await w.close();
  const saved = config.int8MinRows;
  const before = rowCacheBytes();
  const s = await FolderStore.open(loc);
  const live = items.filter((_, i) => !(i < 150 && i % 20 === 0));
  try {
    config.int8MinRows = 0;
    await s.warm();
    assert.ok(rowCacheBytes() - before >= items.length * dim, 'every segment has its int8 block');
    const schema = await s.fieldSchema();
    const broad = parseFilter('rare = false', schema); // 96% of each block: still through the blocks
    const narrow = parseFilter('bucket = 3', schema); // 10%: the float32 path reads its rows
    for (let qi = 0; qi < 24; qi++) {
      const it = live[(qi * 53) % live.length];
      const k = [1, 7, 40][qi % 3];
      const cases = [
        { k, ann: 'off' as const },
        { k, ann: 'off' as const, exclude: [it.id] },
        { k, ann: 'off' as const, filter: qi % 2 ? broad : narrow, exclude: [it.id] },
      ];
      for (const opts of cases) {
        config.int8MinRows = 0;
        const got = await s.search(it.vector, opts);
        config.int8MinRows = Number.MAX_SAFE_INTEGER;
        const want = await s.search(it.vector, opts);
        assert.deepEqual(got, want, `query ${it.id} ${JSON.stringify({ ...opts, filter: undefined })}`);
        assert.equal(got[0].length, k);
      }
    }
  } finally {
    config.int8MinRows = saved;
    await s.close();
  }
  assert.equal(rowCacheBytes(), before, 'close frees the blocks');
  // A budget that holds the first segment's blocks but not the second's keeps none (blocks for
  // only some segments are never used), and searches take the float32 path.
  const savedMb = config.cacheMb;
  const t = await FolderStore.open(loc);
  try {
    config.int8MinRows = 0;
    config.cacheMb = (150 * (dim + 4) * 1.5) / 2 ** 20;
    await t.warm();
    assert.equal(rowCacheBytes(), before, 'no blocks held when they do not all fit');
    const got = await t.search(live[3].vector, { k: 7, ann: 'off' });
    config.cacheMb = 0;
    assert.deepEqual(got, await t.search(live[3].vector, { k: 7, ann: 'off' }));
  } finally {
    config.int8MinRows = saved;
    config.cacheMb = savedMb;
    await t.close();
  }
});

test('small blocks: a block is asked again until its bound clears the k-th score; a block mostly out of the search is left to the float32 path', async () => {
  const loc = path.join(tmpDir(), 'int8-blocks.lkx');
  const items = galleryItems();
  const w = await FolderStore.open(loc, { write: true, create: contractMeta(dim) });
  await w.write({ upsert: items.slice(0, 210) });
  await w.write({ upsert: items.slice(210) });
  await w.close();
  const s = await FolderStore.open(loc);
  const segs = (s as unknown as { segs: Segment[] }).segs;
  const cache = new QuantCache(16);
  const saved = config.int8MinRows;
  try {
    cache.warm(segs, dim);
    await cache.settled();
    const blocks = cache.ready(segs)!;
    assert.equal(blocks.reduce((a, b) => a + b.length, 0), Math.ceil(210 / 16) * 2);
    for (let qi = 0; qi < 12; qi++) {
      const q = items[(qi * 31) % items.length].vector;
      for (const k of [1, 10, 60]) {
        const got = await searchQuantized(segs, blocks, 16, dim, q, k);
        const want = await searchSegments(segs, dim, q, k);
        assert.deepEqual(got, want, `query ${qi} k ${k}`);
      }
    }
    const mostlyOut = segs.map((sg) => sg.withLive(Uint8Array.from(sg.live, (_, r) => (r % 16 < 13 ? 1 : 0))));
    assert.equal(await searchQuantized(mostlyOut, blocks, 16, dim, items[0].vector, 5), undefined);
  } finally {
    config.int8MinRows = saved;
    cache.clear();
    await s.close();
  }
});

test('a store opened again (a server\'s next generation) shares the blocks of the segments it has in common and builds only the new ones', async () => {
  const loc = path.join(tmpDir(), 'int8-shared.lkx');
  const items = galleryItems();
  const w = await FolderStore.open(loc, { write: true, create: contractMeta(dim) });
  await w.write({ upsert: items.slice(0, 200) });
  await w.write({ upsert: items.slice(200, 400) });
  await w.close();
  const saved = config.int8MinRows;
  const before = rowCacheBytes();
  const perRow = dim + 4;
  config.int8MinRows = 0;
  const a = await FolderStore.open(loc);
  let b: FolderStore | undefined;
  try {
    await a.warm();
    assert.equal(rowCacheBytes() - before, 400 * perRow);
    // An upload: one more segment (and a removal, a tombstone on an old one).
    const w2 = await FolderStore.open(loc, { write: true });
    await w2.write({ upsert: items.slice(400), remove: [items[5].id] });
    await w2.close();
    b = await FolderStore.open(loc);
    await b.warm();
    assert.equal(rowCacheBytes() - before, 420 * perRow, 'only the new segment was built');
    await a.close();
    assert.equal(rowCacheBytes() - before, 420 * perRow, 'the blocks b uses stay when a closes');
    // The removed item's own vector: its old row is in a shared block, and must not come back.
    const q = items[5].vector;
    const got = await b.search(q, { k: 9, ann: 'off' });
    assert.ok(!got[0].some((h) => h.id === items[5].id), 'a removed item is not found through a shared block');
    config.int8MinRows = Number.MAX_SAFE_INTEGER;
    assert.deepEqual(got, await b.search(q, { k: 9, ann: 'off' }));
  } finally {
    config.int8MinRows = saved;
    await a.close();
    await b?.close();
  }
  assert.equal(rowCacheBytes(), before, 'the last store to close frees them');
});
