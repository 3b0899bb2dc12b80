/**
 * Filtered search checked against brute force on any store: N random unit vectors (2,000 in the fast tier, 1,000 on PGlite) with
 * random fields, 50 random filters from 0.1% to 100% selectivity. Exact paths must give the
 * brute-force ranking (scores within float rounding; order up to near-ties); approximate paths
 * recall@10 >= 0.95; every path exactly min(k, matches) results.
 */
import assert from 'node:assert/strict';
import type { Fields, FilterNode } from '../../src/data/field-types.ts';
import { compileFilter } from '../../src/data/filter/match.ts';
import { parseFilter } from '../../src/data/filter/parse.ts';
import { searchStore } from '../../src/index/search.ts';
import type { StoreItem, VectorStore } from '../../src/store/types.ts';
import { rng } from '../../src/util/random.ts';

/** n random items (unit vectors of `dim`) with fields u (uniform number), cat (1,000 values), flag, day (date), tags (list). */
export function randomItems(n: number, dim: number, seed = 1): StoreItem[] {
  const r = rng(seed);
  return Array.from({ length: n }, (_, i) => {
    const v = new Float32Array(dim);
    let s = 0;
    for (let d = 0; d < dim; d++) s += (v[d] = r() * 2 - 1) ** 2;
    for (let d = 0; d < dim; d++) v[d] /= Math.sqrt(s);
    const day = new Date(Date.UTC(2020, 0, 1) + Math.floor(r() * 1000) * 86_400_000).toISOString().slice(0, 10);
    const fields: Fields = { u: Math.round(r() * 1e6) / 1e6, cat: `c${Math.floor(r() * 1000)}`, flag: r() < 0.3, day, tags: ['red', 'green', 'blue'].filter(() => r() < 0.4) };
    if (r() < 0.1) delete fields.flag;
    return { id: `item/${String(i).padStart(5, '0')}.jpg`, vector: v, fields };
  });
}

/** 50 filter expressions whose selectivities spread from about 0.1% to 100%. */
export function randomFilters(): string[] {
  const out: string[] = [];
  for (let i = 0; i < 50; i++) {
    const s = 10 ** (-3 + 3 * (i / 49));
    const u = s.toFixed(6);
    switch (i % 6) {
      case 0:
        out.push(`u < ${u}`);
        break;
      case 1:
        out.push(`not (u >= ${u})`);
        break;
      case 2:
        out.push(`cat in (${Array.from({ length: Math.max(1, Math.round(s * 1000)) }, (_, j) => `"c${j}"`).join(', ')})`);
        break;
      case 3:
        out.push(`(flag = true or flag = false) and u <= ${u}`);
        break;
      case 4:
        out.push(`u between 0 and ${u} or id = "item/00007.jpg"`);
        break;
      default:
        out.push(`u < ${(s * 2).toFixed(6)} and (tags = "red" or not exists(flag) or day >= 2021-06-01) and day >= 2020-01-01`);
    }
  }
  return out;
}

/** Brute-force filtered top-k: float64 cosines of the matching items, ties by id. */
export function bruteForce(items: StoreItem[], q: Float32Array, filter: FilterNode, k: number, exclude?: string): { id: string; score: number }[] {
  const test = compileFilter(filter);
  const scored: { id: string; score: number }[] = [];
  for (const it of items) {
    if (it.id === exclude || !test(it.fields ?? {}, it.id)) continue;
    let s = 0;
    for (let d = 0; d < q.length; d++) s += q[d] * it.vector[d];
    scored.push({ id: it.id, score: s });
  }
  scored.sort((a, b) => b.score - a.score || (a.id < b.id ? -1 : 1));
  return scored.slice(0, k);
}

/** Compare a store's filtered results with brute force for every filter; returns the mean recall@k. */
export async function checkFilters(store: VectorStore, items: StoreItem[], mode: { ann: 'on' | 'off' }, exact: boolean, k = 10): Promise<number> {
  const schema = await store.fieldSchema();
  const filters = randomFilters();
  const dim = items[0].vector.length;
  const r = rng(3);
  let recall = 0;
  let lists = 0;
  for (const text of filters) {
    const node = parseFilter(text, schema);
    const matches = items.filter((it) => compileFilter(node)(it.fields ?? {}, it.id)).length;
    // Two queries: a random item (excluded from its results) and one of the matches.
    const qi = Math.floor(r() * items.length);
    const queries = new Float32Array(2 * dim);
    queries.set(items[qi].vector, 0);
    queries.set(items[(qi * 7) % items.length].vector, dim);
    const exclude = [items[qi].id, undefined];
    const got = await searchStore(store, queries, k, exclude, { ...mode, filter: text });
    for (let q = 0; q < 2; q++) {
      const want = bruteForce(items, queries.subarray(q * dim, (q + 1) * dim), node, k, exclude[q]);
      const hits = got[q];
      assert.equal(hits.length, want.length, `${text}: ${hits.length} results, brute force ${want.length} (matches ${matches})`);
      assert.equal(hits.length, Math.min(k, matches - (exclude[q] !== undefined && compileFilter(node)(items[qi].fields ?? {}, items[qi].id) ? 1 : 0)), `${text}: not min(k, matches)`);
      const test = compileFilter(node);
      const byId = new Map(items.map((it) => [it.id, it]));
      for (const h of hits) assert.ok(test(byId.get(h.id)!.fields ?? {}, h.id), `${text}: ${h.id} does not match`);
      const wantIds = new Set(want.map((w) => w.id));
      recall += want.length ? hits.filter((h) => wantIds.has(h.id)).length / want.length : 1;
      lists++;
      if (!exact) continue;
      hits.forEach((h, j) => assert.ok(Math.abs(h.score - want[j].score) < 1e-5, `${text}: rank ${j + 1} score ${h.score}, brute force ${want[j].score}`));
      // Ids agree except where two brute-force scores are within rounding of each other.
      hits.forEach((h, j) => {
        if (h.id === want[j].id) return;
        const close = Math.abs(h.score - want[j].score) < 1e-5;
        assert.ok(close, `${text}: rank ${j + 1} is ${h.id}, brute force ${want[j].id}`);
      });
    }
  }
  return recall / lists;
}
