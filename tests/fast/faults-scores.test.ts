/** Deterministic scores (docs/reliability.md): a query gives bit-identical scores and order alone or inside a batch. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { openIndex } from '../../src/api.ts';
import { openStore } from '../../src/store/open-store.ts';
import { searchBrute, searchExact } from '../../src/store/exact.ts';
import { contractMeta, itemsOf, unitVectors } from '../helpers/store-contract.ts';
import { tmpDir } from '../helpers/tmp.ts';

test('one query alone and inside a batch of 7 (the server micro-batch) gets bit-identical scores and order, ties by id; an identical vector scores the same every time', async () => {
  const dim = 512;
  const n = 3000;
  const loc = path.join(tmpDir(), 'g.lkx');
  const gallery = unitVectors(n, dim, 11);
  const s = await openStore(loc, { write: true, create: contractMeta(dim) });
  const items = itemsOf(gallery, dim);
  // Two ids with the same vector: a tie, broken by id.
  items.push({ id: 'zz-copy-of-5', vector: items[5].vector });
  await s.write({ upsert: items });
  await s.close();
  const ix = await openIndex(loc);
  try {
    const batch = new Float32Array(7 * dim);
    const others = unitVectors(6, dim, 99);
    batch.set(gallery.subarray(5 * dim, 6 * dim), 0);
    batch.set(others, dim);
    const alone = await ix.searchVectors(gallery.slice(5 * dim, 6 * dim), { k: 20, ann: 'off' });
    for (const at of [0, 3, 6]) {
      const b = new Float32Array(batch);
      b.copyWithin(at * dim, 0, dim);
      b.set(gallery.subarray(5 * dim, 6 * dim), at * dim);
      const inBatch = await ix.searchVectors(b, { k: 20, ann: 'off' });
      assert.deepEqual(inBatch[at], alone[0], `query at position ${at} of the batch`);
    }
    assert.equal(alone[0][0].id, items[5].id);
    assert.equal(alone[0][1].id, 'zz-copy-of-5');
    assert.equal(alone[0][0].score, alone[0][1].score);
  } finally {
    await ix.close();
  }
  // The kernel's scores are the reference dot product's, bit for bit, whatever the batch.
  const q = gallery.slice(0, 7 * dim);
  const exact = await searchExact(gallery, q, dim, 10);
  const brute = searchBrute(gallery, q, dim, 10);
  assert.deepEqual(exact.scores, brute.scores);
  assert.deepEqual(exact.indices, brute.indices);
});
