/** Filtered search on the Postgres store (PGlite: parameterised WHERE over a jsonb column; HNSW with iterative scans) against brute force (issue 20). */
import test from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { openStore } from '../../src/store/open-store.ts';
import { tmpDir } from '../helpers/tmp.ts';
import { checkFilters, randomItems } from '../helpers/filtered-search.ts';

const items = randomItems(1000, 16);

test('pglite: 50 random filters, exact and HNSW, against brute force with min(k, matches) results', async () => {
  const location = `pglite:${path.join(tmpDir(), "db")}?index=filters`;
  const w = await openStore(location, { write: true, create: { model: { name: 'random', fingerprint: 'sha256:test', spec: {} as never }, dim: 16 } });
  await w.write({ upsert: items });
  await w.close();
  const store = await openStore(location);
  try {
    assert.deepEqual(Object.keys(await store.fieldSchema()).sort(), ['cat', 'day', 'flag', 'tags', 'u']);
    assert.equal(await checkFilters(store, items, { ann: 'off' }, true), 1);
    const recall = await checkFilters(store, items, { ann: 'on' }, false);
    assert.ok(recall >= 0.95, `recall@10 ${recall}`);
  } finally {
    await store.close();
  }
});
