import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { openStore } from '../../src/store/open-store.ts';
import { searchStore } from '../../src/index/search.ts';
import { formatRerank, parseRerank } from '../../src/index/rerank/options.ts';
import type { VectorStore } from '../../src/store/types.ts';
import { contractMeta } from '../helpers/store-contract.ts';
import { Rng } from '../../src/util/random.ts';
import { tmpDir } from '../helpers/tmp.ts';

// A tiny gallery in 3 loose clusters (plus noise), and queries near the clusters: plain number[][]
// so that every reference below is computed with loops over arrays, not with the code under test.
const DIM = 6;
const rng = new Rng(11);
const norm = (v: number[]) => {
  const n = Math.hypot(...v);
  return v.map((x) => x / n);
};
const centres = Array.from({ length: 3 }, () => Array.from({ length: DIM }, () => rng.normal()));
const GALLERY = Array.from({ length: 14 }, (_, i) => norm(centres[i % 3].map((c) => c + 0.9 * rng.normal())));
const QUERIES = [0, 1, 2].map((c) => norm(centres[c].map((x) => x + 1.2 * rng.normal())));
const IDS = GALLERY.map((_, i) => `g${String(i).padStart(2, '0')}`);

const dot = (a: number[], b: number[]) => a.reduce((s, x, i) => s + x * b[i], 0);
const f32 = (rows: number[][]) => Float32Array.from(rows.flat());
/** Indices of `rows` sorted by decreasing cosine to v. */
const byScore = (v: number[], rows: number[][]) => rows.map((r, i) => [dot(v, r), i]).sort((a, b) => b[0] - a[0]).map((x) => x[1]);
const weighted = (v: number[], rows: number[][], n: number, alpha: number, self: number[] | undefined) => {
  const out = self ? [...self] : new Array(DIM).fill(0);
  for (const j of byScore(v, rows).slice(0, n)) {
    const w = Math.max(dot(v, rows[j]), 0) ** alpha;
    for (let d = 0; d < DIM; d++) out[d] += w * rows[j][d];
  }
  return norm(out);
};
/** Reference ranking: ids of `rows` by cosine to v, and the scores. */
const rank = (v: number[], rows: number[][]) => byScore(v, rows).map((j) => ({ id: IDS[j], score: dot(v, rows[j]) }));

async function store(): Promise<VectorStore> {
  const loc = path.join(tmpDir(), 'idx');
  const w = await openStore(loc, { write: true, create: contractMeta(DIM) });
  await w.write({ upsert: GALLERY.map((v, i) => ({ id: IDS[i], vector: Float32Array.from(v), fields: { half: i < 7 ? 'a' : 'b' } })) });
  await w.close();
  return openStore(loc);
}

function same(got: { id: string; score: number }[], want: { id: string; score: number }[], what: string): void {
  assert.deepEqual(got.map((h) => h.id), want.map((h) => h.id), what);
  got.forEach((h, i) => assert.ok(Math.abs(h.score - want[i].score) < 1e-5, `${what}: score ${h.score} vs ${want[i].score} at rank ${i + 1}`));
}

test('rerank option: parsed once, defaults filled, applied in the fixed order dba, aqe, kr; bad values are OptionErrors naming rerank', () => {
  assert.deepEqual(parseRerank(undefined), []);
  assert.deepEqual(parseRerank('none'), []);
  assert.equal(formatRerank(parseRerank('aqe:n=4+dba')), 'dba:n=3,alpha=3+aqe:n=4,alpha=3');
  assert.equal(formatRerank(parseRerank('kr')), 'kr:k1=20,k2=6,lambda=0.3');
  assert.deepEqual(parseRerank([{ method: 'aqe', params: { alpha: 1 } }]), [{ method: 'aqe', params: { n: 3, alpha: 1 } }]);
  for (const [bad, msg] of [
    ['qe', /rerank qe: unknown method/],
    ['aqe+aqe', /aqe is given twice/],
    ['aqe:n=0', /aqe:n=0: expected an integer from 1 to 100/],
    ['aqe:n=2.5', /expected an integer/],
    ['kr:lambda=2', /kr:lambda=2: expected a number from 0 to 1/],
    ['dba:m=3', /unknown parameter "m"/],
    ['aqe:n', /"n" is not PARAM=VALUE/],
  ] as const) {
    assert.throws(() => parseRerank(bad), (e: Error) => e.name === 'OptionError' && msg.test(e.message), bad);
  }
});

test('no rerank (or none): searchStore gives exactly the store\'s own ranking', async () => {
  const s = await store();
  try {
    const q = f32(QUERIES);
    const plain = await s.search(q, { k: 5 });
    assert.deepEqual(await searchStore(s, q, 5, undefined), plain);
    assert.deepEqual(await searchStore(s, q, 5, undefined, { rerank: 'none' }), plain);
  } finally {
    await s.close();
  }
});

test('αQE equals a loop reference: q + Σ sim^α · neighbour over the top-n, normalised, then ranked; also with the query excluded', async () => {
  const s = await store();
  try {
    for (const [n, alpha] of [[3, 3], [1, 0], [5, 1.5]]) {
      const hits = await searchStore(s, f32(QUERIES), 6, undefined, { rerank: `aqe:n=${n},alpha=${alpha}` });
      QUERIES.forEach((q, i) => same(hits[i], rank(weighted(q, GALLERY, n, alpha, q), GALLERY).slice(0, 6), `aqe n=${n} alpha=${alpha} query ${i}`));
    }
    // Query by an indexed item with itself excluded: its neighbours (and results) leave it out.
    const self = 4;
    const others = GALLERY.filter((_, j) => j !== self);
    const idsOthers = IDS.filter((_, j) => j !== self);
    const [hits] = await searchStore(s, Float32Array.from(GALLERY[self]), 5, [IDS[self]], { rerank: 'aqe:n=2,alpha=3' });
    const e = weighted(GALLERY[self], others, 2, 3, GALLERY[self]);
    const want = byScore(e, others).slice(0, 5).map((j) => ({ id: idsOthers[j], score: dot(e, others[j]) }));
    same(hits, want, 'aqe with exclude');
  } finally {
    await s.close();
  }
});

test('DBA equals a loop reference: each gallery vector becomes Σ sim^α · neighbour over its top-n (itself included); combined with αQE too', async () => {
  const s = await store();
  try {
    const aug = (n: number, alpha: number) => GALLERY.map((g) => weighted(g, GALLERY, n, alpha, undefined));
    const hits = await searchStore(s, f32(QUERIES), 7, undefined, { rerank: 'dba:n=3,alpha=2' });
    const g3 = aug(3, 2);
    QUERIES.forEach((q, i) => same(hits[i], rank(q, g3).slice(0, 7), `dba query ${i}`));
    const both = await searchStore(s, f32(QUERIES), 7, undefined, { rerank: 'aqe:n=2,alpha=3+dba:n=3,alpha=2', minScore: 0.2 });
    QUERIES.forEach((q, i) => {
      const e = weighted(q, g3, 2, 3, q);
      same(both[i], rank(e, g3).slice(0, 7).filter((h) => h.score >= 0.2), `dba+aqe query ${i}`);
    });
    // dba with n=1 is the identity: the plain ranking.
    same((await searchStore(s, f32(QUERIES), 5, undefined, { rerank: 'dba:n=1' }))[0], rank(QUERIES[0], GALLERY).slice(0, 5), 'dba n=1');
  } finally {
    await s.close();
  }
});

/** k-reciprocal re-ranking written out from Zhong et al.'s reference code (full argsort, dense matrices, number[][]). */
function krReference(q: number[][], g: number[][], k1: number, k2: number, lambda: number): number[][] {
  const all = [...q, ...g];
  const N = all.length;
  const d = all.map((a) => all.map((b) => Math.max(0, 2 - 2 * dot(a, b))));
  const od = d.map((row) => {
    const m = Math.max(...row);
    return row.map((x) => x / m);
  });
  const argsort = (row: number[]) => row.map((x, j) => [x, j]).sort((a, b) => a[0] - b[0] || a[1] - b[1]).map((x) => x[1]);
  const R = od.map(argsort);
  const recip = (i: number, k: number) => R[i].slice(0, k + 1).filter((f) => R[f].slice(0, k + 1).includes(i));
  const V = Array.from({ length: N }, () => new Array(N).fill(0));
  for (let i = 0; i < N; i++) {
    const base = recip(i, k1);
    let exp = [...base];
    for (const c of base) {
      const cand = recip(c, Math.round(k1 / 2));
      if (cand.filter((x) => base.includes(x)).length > (2 / 3) * cand.length) exp = exp.concat(cand);
    }
    exp = [...new Set(exp)];
    const w = exp.map((j) => Math.exp(-od[i][j]));
    const sw = w.reduce((a, b) => a + b, 0);
    exp.forEach((j, t) => (V[i][j] = w[t] / sw));
  }
  const Vq = k2 > 1 ? V.map((_, i) => V[0].map((__, j) => R[i].slice(0, k2).reduce((s, r) => s + V[r][j], 0) / k2)) : V;
  return q.map((_, i) =>
    g.map((__, gj) => {
      const j = q.length + gj;
      let m = 0;
      for (let c = 0; c < N; c++) m += Math.min(Vq[i][c], Vq[j][c]);
      return (1 - m / (2 - m)) * (1 - lambda) + od[i][j] * lambda;
    }),
  );
}

test('k-reciprocal re-ranking equals a dense reference written from the authors\' code, each query with the gallery alone (ranks, 1 - distance scores)', async () => {
  const s = await store();
  try {
    for (const [k1, k2, lambda] of [[4, 2, 0.3], [6, 1, 0.5], [20, 6, 0.3]]) {
      const hits = await searchStore(s, f32(QUERIES), 14, undefined, { rerank: `kr:k1=${k1},k2=${k2},lambda=${lambda}` });
      QUERIES.forEach((q, i) => {
        const [ref] = krReference([q], GALLERY, k1, k2, lambda);
        const want = ref.map((dist, j) => ({ id: IDS[j], score: 1 - dist })).sort((a, b) => b.score - a.score);
        same(hits[i], want, `kr k1=${k1} k2=${k2} lambda=${lambda} query ${i}`);
      });
    }
    // A query's results do not depend on the other queries searched with it.
    const alone = await searchStore(s, f32(QUERIES.slice(1, 2)), 14, undefined, { rerank: 'kr:k1=4,k2=2' });
    same(alone[0], (await searchStore(s, f32(QUERIES), 14, undefined, { rerank: 'kr:k1=4,k2=2' }))[1], 'kr alone vs in a batch');
    // Excluding an id drops it and nothing else.
    const [ex] = await searchStore(s, f32(QUERIES.slice(0, 1)), 14, ['g03'], { rerank: 'kr:k1=4,k2=2' });
    const [full] = await searchStore(s, f32(QUERIES.slice(0, 1)), 14, undefined, { rerank: 'kr:k1=4,k2=2' });
    assert.deepEqual(ex.map((h) => h.id), full.map((h) => h.id).filter((id) => id !== 'g03'));
  } finally {
    await s.close();
  }
});

test('a filter restricts re-ranked results (and αQE neighbours) to matching items; DBA and kr neighbourhoods keep the whole gallery', async () => {
  const s = await store();
  try {
    const inA = (id: string) => Number(id.slice(1)) < 7;
    const keptA = GALLERY.filter((_, j) => j < 7);
    for (const rerank of ['aqe:n=2', 'dba:n=3', 'kr:k1=4,k2=2', 'dba+aqe']) {
      const all = await searchStore(s, f32(QUERIES), 14, undefined, { rerank });
      const only = await searchStore(s, f32(QUERIES), 14, undefined, { rerank, filter: 'half = "a"' });
      if (rerank === 'aqe:n=2') {
        QUERIES.forEach((q, i) => {
          const e = weighted(q, keptA, 2, 3, q);
          same(only[i], byScore(e, keptA).map((j) => ({ id: IDS[j], score: dot(e, keptA[j]) })), `aqe within the filter, query ${i}`);
        });
      } else if (rerank !== 'dba+aqe') {
        only.forEach((hits, i) => same(hits, all[i].filter((h) => inA(h.id)).map((h, r) => ({ ...h, rank: r + 1 })), `${rerank} filtered, query ${i}`));
      }
      assert.ok(only.every((hits) => hits.length === 7 && hits.every((h) => inA(h.id))), rerank);
    }
    await assert.rejects(searchStore(s, f32(QUERIES), 3, undefined, { rerank: 'aqe', groupBy: 'half' }), /rerank and groupBy do not combine/);
  } finally {
    await s.close();
  }
});

test('rankRows (how experiments score a re-ranked mode) equals the αQE loop reference and searchStore for every method, with a left-out row per query', async () => {
  const { rankRows } = await import('../../src/index/rerank/rerank-search.ts');
  const ids = (top: { indices: Int32Array; k: number }, i: number) => Array.from(top.indices.subarray(i * top.k, (i + 1) * top.k)).filter((j) => j >= 0).map((j) => IDS[j]);
  const top = await rankRows(f32(GALLERY), f32(QUERIES), DIM, 6, parseRerank('aqe:n=3,alpha=3'));
  QUERIES.forEach((q, i) => same(ids(top, i).map((id, j) => ({ id, score: top.scores[i * top.k + j] })), rank(weighted(q, GALLERY, 3, 3, q), GALLERY).slice(0, 6), `rankRows aqe query ${i}`));
  const s = await store();
  try {
    const exclude = Int32Array.from([4, -1, 9]);
    for (const r of ['dba:n=3,alpha=1', 'aqe+dba', 'kr', 'dba+aqe+kr', 'none']) {
      const got = await rankRows(f32(GALLERY), f32(QUERIES), DIM, 14, parseRerank(r), exclude);
      const want = await searchStore(s, f32(QUERIES), 14, Array.from(exclude, (j) => (j >= 0 ? IDS[j] : undefined)), { rerank: r });
      QUERIES.forEach((_, i) => same(ids(got, i).map((id, j) => ({ id, score: got.scores[i * got.k + j] })), want[i], `rankRows ${r} query ${i}`));
    }
  } finally {
    await s.close();
  }
});
