/**
 * The VectorStore contract as a reusable test suite: every store implementation (folder,
 * PGlite, Postgres) runs `storeContract(name, factory)` from its own test file.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { OpenOptions, StoreItem, VectorStore } from '../../src/store/types.ts';
import { searchBrute } from '../../src/store/exact.ts';
import { rng } from '../../src/util/random.ts';

/** How a contract run makes and opens stores. */
export interface StoreFactory {
  /** A fresh location where no store exists yet. */
  fresh(): Promise<string>;
  /** Open a location (openStore, or the implementation's own open). */
  open(location: string, opts?: OpenOptions): Promise<VectorStore>;
}

/** Creation metadata for contract stores. */
export function contractMeta(dim: number): NonNullable<OpenOptions['create']> {
  return { model: { name: 'contract-model', fingerprint: 'f'.repeat(64), spec: {} as never }, dim };
}

/** n random unit vectors of width dim (seeded). */
export function unitVectors(n: number, dim: number, seed = 1): Float32Array {
  const rnd = rng(seed);
  const v = new Float32Array(n * dim);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let d = 0; d < dim; d++) s += (v[i * dim + d] = rnd() * 2 - 1) ** 2;
    const inv = 1 / Math.sqrt(s);
    for (let d = 0; d < dim; d++) v[i * dim + d] *= inv;
  }
  return v;
}

/** Items with ids `prefix0000..` over the given vectors. */
export function itemsOf(vectors: Float32Array, dim: number, prefix = 'img/'): StoreItem[] {
  const n = vectors.length / dim;
  return Array.from({ length: n }, (_, i) => ({ id: `${prefix}${String(i).padStart(4, '0')}.jpg`, vector: vectors.slice(i * dim, (i + 1) * dim), file: { sha256: `h${i}`, size: i } }));
}

/** Brute-force expected ranking (ids) for one query over items, ties by id. */
function expected(items: StoreItem[], q: Float32Array, dim: number, k: number, exclude?: string): string[] {
  const sorted = [...items].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const g = new Float32Array(sorted.length * dim);
  sorted.forEach((it, i) => g.set(it.vector, i * dim));
  const ex = exclude === undefined ? undefined : Int32Array.from([sorted.findIndex((i) => i.id === exclude)]);
  const top = searchBrute(g, q, dim, k, ex);
  return [...top.indices].filter((i) => i >= 0).map((i) => sorted[i].id);
}

/** Register the contract tests for one implementation. */
export function storeContract(name: string, factory: StoreFactory): void {
  const dim = 16;

  test(`${name}: write, count, ids (sorted), meta, getVectors in the order asked; unknown ids are errors`, async () => {
    const loc = await factory.fresh();
    const s = await factory.open(loc, { write: true, create: contractMeta(dim) });
    try {
      const items = itemsOf(unitVectors(40, dim, 3), dim).reverse();
      await s.write({ upsert: items });
      assert.equal(await s.count(), 40);
      const ids = await s.ids();
      assert.deepEqual(ids, [...ids].sort());
      assert.equal(ids.length, 40);
      const meta = await s.meta();
      assert.equal(meta.dim, dim);
      assert.equal(meta.model.fingerprint, 'f'.repeat(64));
      const want = [items[5], items[0], items[17]];
      const got = await s.getVectors(want.map((i) => i.id));
      want.forEach((it, i) => assert.deepEqual([...got.subarray(i * dim, (i + 1) * dim)], [...it.vector]));
      await assert.rejects(s.getVectors(['nope.jpg']), /nope\.jpg/);
      const files = await s.files();
      assert.deepEqual(files.get(items[0].id), items[0].file);
    } finally {
      await s.close();
    }
  });

  test(`${name}: exact search equals brute force; ties by id; k clamped; exclude; minScore`, async () => {
    const loc = await factory.fresh();
    const s = await factory.open(loc, { write: true, create: contractMeta(dim) });
    try {
      const items = itemsOf(unitVectors(300, dim, 5), dim);
      // Exact duplicates under different ids: a tie that must come out in id order.
      items.push({ id: 'dup/b.jpg', vector: items[7].vector }, { id: 'dup/a.jpg', vector: items[7].vector });
      await s.write({ upsert: items.slice(0, 150) });
      await s.write({ upsert: items.slice(150) });
      const qs = unitVectors(6, dim, 9);
      qs.set(items[7].vector, 0);
      const hits = await s.search(qs, { k: 10, ann: 'off' });
      assert.equal(hits.length, 6);
      for (let q = 0; q < 6; q++) {
        assert.deepEqual(hits[q].map((h) => h.id), expected(items, qs.slice(q * dim, (q + 1) * dim), dim, 10), `query ${q}`);
        assert.deepEqual(hits[q].map((h) => h.rank), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
        for (let j = 1; j < 10; j++) assert.ok(hits[q][j - 1].score >= hits[q][j].score);
      }
      assert.deepEqual(hits[0].slice(0, 3).map((h) => h.id), ['dup/a.jpg', 'dup/b.jpg', items[7].id]);
      assert.ok(Math.abs(hits[0][0].score - 1) < 1e-5);
      const big = await s.search(qs.subarray(0, dim), { k: 1_000_000_000 });
      assert.equal(big[0].length, 302);
      const ex = await s.search(qs.subarray(0, 2 * dim), { k: 5, exclude: ['dup/a.jpg', undefined] });
      assert.ok(!ex[0].some((h) => h.id === 'dup/a.jpg'));
      assert.deepEqual(ex[0].map((h) => h.id), expected(items, qs.subarray(0, dim), dim, 5, 'dup/a.jpg'));
      const min = await s.search(qs.subarray(0, dim), { k: 300, minScore: 0.5 });
      assert.ok(min[0].length > 0 && min[0].every((h) => h.score >= 0.5));
      await assert.rejects(s.search(qs.subarray(0, dim), { k: 0 }), /k/);
    } finally {
      await s.close();
    }
  });

  test(`${name}: upsert replaces, remove deletes, scan yields each live item once in id order; state survives reopening`, async () => {
    const loc = await factory.fresh();
    const s = await factory.open(loc, { write: true, create: contractMeta(dim) });
    const items = itemsOf(unitVectors(50, dim, 11), dim);
    const fresh = unitVectors(3, dim, 12);
    try {
      await s.write({ upsert: items });
      await s.write({ upsert: [{ id: items[3].id, vector: fresh.slice(0, dim) }], remove: [items[4].id, items[10].id] });
      await assert.rejects(s.write({ remove: ['missing.jpg'] }), /missing\.jpg/);
      await assert.rejects(s.write({ upsert: [{ id: 'bad.jpg', vector: new Float32Array(dim - 1) }] }), /bad\.jpg/);
      await assert.rejects(s.write({ upsert: [{ id: '', vector: fresh.slice(0, dim) }] }));
      assert.equal(await s.count(), 48);
    } finally {
      await s.close();
    }
    const r = await factory.open(loc);
    try {
      assert.equal(await r.count(), 48);
      const ids = await r.ids();
      assert.ok(!ids.includes(items[4].id) && !ids.includes(items[10].id));
      assert.deepEqual(await r.has([items[3].id, items[4].id, 'missing.jpg', items[0].id]), [true, false, false, true], 'has: live, removed, unknown, live');
      assert.deepEqual([...(await r.getVectors([items[3].id]))], [...fresh.slice(0, dim)]);
      const seen: string[] = [];
      for await (const b of r.scan(7)) {
        assert.ok(b.ids.length <= 7);
        assert.equal(b.vectors.length, b.ids.length * dim);
        const v = await r.getVectors(b.ids);
        assert.deepEqual([...b.vectors], [...v]);
        seen.push(...b.ids);
      }
      assert.deepEqual(seen, ids);
      const hits = await r.search(fresh.slice(0, dim), { k: 1 });
      assert.equal(hits[0][0].id, items[3].id);
      const all = await r.search(items[4].vector, { k: 48 });
      assert.ok(!all[0].some((h) => h.id === items[4].id));
      await assert.rejects(r.write({ upsert: [] , remove: [items[0].id] }), /read-only|write/);
    } finally {
      await r.close();
    }
  });

  test(`${name}: one writer at a time (the second fails naming the holder); readers are not blocked`, async () => {
    const loc = await factory.fresh();
    const w = await factory.open(loc, { write: true, create: contractMeta(dim) });
    try {
      await w.write({ upsert: itemsOf(unitVectors(5, dim, 2), dim) });
      await assert.rejects(factory.open(loc, { write: true, create: contractMeta(dim) }), new RegExp(`${process.pid}`));
      const r = await factory.open(loc);
      assert.equal(await r.count(), 5);
      await r.close();
    } finally {
      await w.close();
    }
    const again = await factory.open(loc, { write: true });
    await again.close();
  });
}
