/** Per-query retrieval metrics: hand-worked examples, edge cases, properties, aggregation. */
import test from 'node:test';
import assert from 'node:assert/strict';
import {
  apAt,
  averagePrecision,
  hitAt,
  hitsAt,
  mapAtR,
  mpAt,
  ndcgAt,
  nsScore,
  precisionAt,
  recallAt,
  reciprocalRank,
  rPrecision,
} from '../../src/metrics/retrieval.ts';
import { weightedTopK } from '../../src/metrics/competition.ts';
import { aggregate, domainMean, mean } from '../../src/metrics/aggregate.ts';
import { evaluateJudgements, evaluateLabelled, metricNames, parseKs, rankByScores, scoreQuery } from '../../src/metrics/evaluate.ts';

const close = (a: number, b: number, msg?: string) => assert.ok(Math.abs(a - b) < 1e-12, `${msg ?? ''} ${a} != ${b}`);

// Worked example used throughout docs/metrics.md: relevant at ranks 1, 3, 6 of a 6-item list; R = 4
// (one relevant gallery item was never retrieved).
const rel = [true, false, true, false, false, true];
const R = 4;

test('hits, precision@k keeps divisor k past the end of the list', () => {
  assert.equal(hitsAt(rel, 1), 1);
  assert.equal(hitsAt(rel, 5), 2);
  assert.equal(hitsAt(rel, 100), 3);
  close(precisionAt(rel, 1), 1);
  close(precisionAt(rel, 5), 2 / 5);
  close(precisionAt(rel, 10), 3 / 10); // list has 6 items; divisor stays 10
  assert.throws(() => precisionAt(rel, 0), /positive integer/);
  assert.throws(() => precisionAt(rel, 1.5), /positive integer/);
});

test('recall@k and hit@k', () => {
  close(recallAt(rel, R, 1), 1 / 4);
  close(recallAt(rel, R, 5), 2 / 4);
  close(recallAt(rel, R, 10), 3 / 4);
  assert.equal(hitAt([false, false, true], 2), 0);
  assert.equal(hitAt([false, false, true], 3), 1);
  assert.equal(recallAt([], 0, 5), 0);
});

test('mp@k divides by min(k, R)', () => {
  close(mpAt(rel, R, 1), 1);
  close(mpAt(rel, R, 5), 2 / 4); // hits(4) / 4
  close(mpAt(rel, R, 10), 2 / 4);
  close(mpAt([true, true, false], 2, 5), 1); // R = 2 < k: two of two
  assert.equal(mpAt([false], 0, 5), 0);
});

test('ndcg@k with binary gains and an ideal of min(k, R) ones', () => {
  const dcg = 1 / Math.log2(2) + 1 / Math.log2(4);
  const ideal = 1 + 1 / Math.log2(3) + 1 / Math.log2(4) + 1 / Math.log2(5);
  close(ndcgAt(rel, R, 5), dcg / ideal);
  close(ndcgAt(rel, R, 1), 1);
  close(ndcgAt([false, true], 1, 2), 1 / Math.log2(3));
  assert.equal(ndcgAt([false], 0, 3), 0);
});

test('ap@k, ap, map@r, r_precision', () => {
  close(apAt(rel, R, 5), (1 + 2 / 3) / 4);
  close(apAt(rel, R, 1), 1);
  close(apAt([false, true], 3, 2), 1 / 2 / 2); // divisor min(2, 3) = 2
  close(averagePrecision(rel, R), (1 + 2 / 3 + 3 / 6) / 4);
  close(mapAtR(rel, R), (1 + 2 / 3) / 4); // only ranks <= R = 4 count
  close(rPrecision(rel, R), 2 / 4);
  assert.equal(averagePrecision([false, false], 0), 0);
});

test('rr, ns@4 and the weighted top-k score', () => {
  assert.equal(reciprocalRank(rel), 1);
  close(reciprocalRank([false, false, true]), 1 / 3);
  assert.equal(reciprocalRank([false, false]), 0);
  assert.equal(nsScore([true, true, false, true, true]), 3);
  assert.equal(weightedTopK(rel), 1000);
  assert.equal(weightedTopK([false, false, true]), 400);
  assert.equal(weightedTopK([false, false, false, false, false, false, true]), 100);
  assert.equal(weightedTopK([false, false, false, false, false, false, false, false, false, false, true]), 0);
});

/** Deterministic PRNG (mulberry32). */
function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

test('properties over random rankings: ranges, perfect ranking, reversal, promotion', () => {
  const rand = rng(7);
  const ks = [1, 3, 5, 10, 50];
  for (let trial = 0; trial < 300; trial++) {
    const n = 1 + Math.floor(rand() * 40);
    const r: boolean[] = Array.from({ length: n }, () => rand() < 0.3);
    const listed = r.filter(Boolean).length;
    const Rq = listed + Math.floor(rand() * 3);
    if (Rq === 0) continue;
    const m = scoreQuery(r, Rq, ks);
    for (const [name, v] of Object.entries(m)) {
      const max = name === 'weighted_topk' ? 1000 : name === 'ns@4' ? 4 : 1;
      assert.ok(v >= 0 && v <= max + 1e-12, `${name} = ${v} out of range`);
    }
    // A perfect ranking: every relevant item first.
    const perfect = Array.from({ length: Math.max(n, Rq) }, (_, i) => i < Rq);
    const p = scoreQuery(perfect, Rq, ks);
    for (const k of ks) {
      for (const name of ['hit', 'mp', 'ndcg', 'ap']) close(p[`${name}@${k}`], 1, `${name}@${k}`);
      close(p[`precision@${k}`], Math.min(k, Rq) / k);
      close(p[`recall@${k}`], Math.min(k, Rq) / Rq);
    }
    for (const name of ['ap', 'map@r', 'r_precision', 'rr']) close(p[name], 1, name);
    assert.equal(p.weighted_topk, 1000);
    // Reversing the perfect ranking never raises anything; in particular precision@1.
    const rev = scoreQuery([...perfect].reverse(), Rq, ks);
    for (const name of Object.keys(p)) assert.ok(rev[name] <= p[name] + 1e-12, `reversal raised ${name}`);
    // Sorting the given list by relevance never lowers precision@1 (and reversing that order never raises it).
    const sorted = [...r].sort((a, b) => Number(b) - Number(a));
    assert.ok(precisionAt([...sorted].reverse(), 1) <= precisionAt(sorted, 1));
    assert.ok(precisionAt(r, 1) <= precisionAt(sorted, 1));
    // Promoting a relevant item one place never lowers a metric.
    const i = r.findIndex((x, j) => x && j > 0 && !r[j - 1]);
    if (i > 0) {
      const up = [...r];
      [up[i - 1], up[i]] = [up[i], up[i - 1]];
      const mu = scoreQuery(up, Rq, ks);
      for (const name of Object.keys(m)) assert.ok(mu[name] >= m[name] - 1e-12, `promotion lowered ${name}`);
    }
  }
});

test('metric names follow expected.json', () => {
  assert.deepEqual(metricNames([5]), ['precision@5', 'recall@5', 'hit@5', 'mp@5', 'ndcg@5', 'ap@5', 'ap', 'map@r', 'r_precision', 'rr', 'weighted_topk', 'ns@4']);
  assert.deepEqual(parseKs('1, 5,10'), [1, 5, 10]);
  assert.throws(() => parseKs('1,0'), /positive integers/);
  assert.throws(() => parseKs('5,5'), /twice/);
});

test('UnED means: per domain first, then unweighted over domains', () => {
  // domain a: hit@1 = 1, 1, 0 -> 2/3; domain b: 0 -> 0; mr@1 = 1/3 while the plain mean is 1/2.
  close(domainMean([{ domain: 'a', value: 1 }, { domain: 'a', value: 1 }, { domain: 'a', value: 0 }, { domain: 'b', value: 0 }]), 1 / 3);
  close(mean([1, 1, 0, 0]), 1 / 2);
  assert.ok(Number.isNaN(mean([])));
  const out = aggregate(
    [
      { id: 'q1', domain: 'a', metrics: { 'hit@1': 1, 'mp@5': 1 } },
      { id: 'q2', domain: 'a', metrics: { 'hit@1': 0, 'mp@5': 0.5 } },
      { id: 'q3', domain: 'b', metrics: { 'hit@1': 0, 'mp@5': 0.2 } },
    ],
    ['hit@1'],
  );
  close(out['hit@1'], 1 / 3);
  close(out['mr@1'], (0.5 + 0) / 2);
  close(out['mmp@5'], (0.75 + 0.2) / 2);
});

test('empty queries: skipped and listed by default, or scored 0', () => {
  const js = [
    { id: 'a', rel: [true, false], R: 1 },
    { id: 'b', rel: [false, false], R: 0 },
  ];
  const skip = evaluateJudgements(js);
  assert.equal(skip.queries_scored, 1);
  assert.deepEqual(skip.queries_skipped_no_relevant, ['b']);
  assert.equal(skip.mean['precision@1'], 1);
  assert.equal(skip.mean.weighted_topk, 1000);
  const zero = evaluateJudgements(js, { empty: 'zero' });
  assert.equal(zero.queries_scored, 2);
  assert.deepEqual(zero.queries_skipped_no_relevant, []);
  assert.deepEqual(zero.queries_zero_no_relevant, ['b']);
  assert.equal(zero.mean['precision@1'], 0.5);
  assert.equal(zero.mean.weighted_topk, 500);
  assert.equal(zero.mean['mr@1'], 0.5);
  const none = evaluateJudgements([{ id: 'b', rel: [false], R: 0 }]);
  assert.ok(Number.isNaN(none.mean.ap));
  assert.throws(() => evaluateJudgements([{ id: 'x', rel: [true, true], R: 1 }]), /2 relevant items ranked but R = 1/);
  assert.throws(() => evaluateJudgements([js[0], js[0]]), /appears more than once/);
});

test('k larger than the gallery, mr@1/mmp@5 without 1 and 5 among the cut-offs', () => {
  const gallery = [
    { id: 'g1', label: 'x' },
    { id: 'g2', label: 'y' },
  ];
  const queries = [
    { id: 'q1', label: 'x', ranking: ['g1', 'g2'] },
    { id: 'q2', label: 'x', ranking: ['g2', 'g1'] },
  ];
  const r = evaluateLabelled(gallery, queries, { ks: [3, 100] });
  close(r.per_query.q1['precision@100'], 1 / 100);
  close(r.mean['precision@100'], 1 / 100);
  close(r.mean['recall@100'], 1);
  close(r.per_query.q1['mp@100'], 1); // R = 1: hits(1) / 1
  close(r.per_query.q2['mp@100'], 0);
  close(r.mean['mr@1'], 1 / 2);
  close(r.mean['mmp@5'], 1 / 2);
  assert.equal(r.per_query.q1['mp@5'], undefined, 'per-query records hold only the chosen cut-offs');
});

test('labelled rankings: self-exclusion by id, duplicated and unknown ids', () => {
  const gallery = [
    { id: 'a', label: 'x' },
    { id: 'b', label: 'x' },
    { id: 'c', label: 'y' },
  ];
  const q = { id: 'a', label: 'x', ranking: ['a', 'c', 'b'] };
  const withSelf = evaluateLabelled(gallery, [q]);
  assert.equal(withSelf.per_query.a['precision@1'], 1);
  close(withSelf.per_query.a.ap, (1 + 2 / 3) / 2);
  const noSelf = evaluateLabelled(gallery, [q], { excludeSelf: true });
  assert.equal(noSelf.per_query.a['precision@1'], 0);
  close(noSelf.per_query.a.ap, 1 / 2); // ranking c, b; R = 1
  close(noSelf.per_query.a.rr, 1 / 2);
  assert.throws(() => evaluateLabelled([...gallery, { id: 'a', label: 'y' }], [q], { source: 'cases.json' }), /cases\.json: gallery id a appears more than once/);
  assert.throws(() => evaluateLabelled(gallery, [q, q]), /query id a appears more than once/);
  assert.throws(() => evaluateLabelled(gallery, [{ ...q, ranking: ['zz'] }], { source: 'r.json' }), /r\.json: query a: ranking has unknown gallery id zz/);
  assert.throws(() => evaluateLabelled(gallery, [{ ...q, ranking: ['b', 'b'] }]), /ranked twice/);
});

test('ties are broken by gallery order', () => {
  assert.deepEqual([...rankByScores([0.5, 0.9, 0.5, 0.9, NaN, 0.1])], [1, 3, 0, 2, 5, 4]);
  // Two tied items, relevant one later in gallery order: it ranks second.
  const gallery = [
    { id: 'g0', label: 'n' },
    { id: 'g1', label: 'p' },
  ];
  const order = rankByScores([0.7, 0.7]);
  const r = evaluateLabelled(gallery, [{ id: 'q', label: 'p', ranking: [...order].map((i) => gallery[i].id) }]);
  assert.equal(r.per_query.q['precision@1'], 0);
  close(r.per_query.q.rr, 1 / 2);
});
