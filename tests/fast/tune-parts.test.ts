import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mPerClassBatches, randomBatches } from '../../src/tune/samplers.ts';
import { learningRate } from '../../src/tune/schedule.ts';
import { batchHard, multiSimilarityMine, progressiveMine, semiHard } from '../../src/tune/miners.ts';
import { Optimizer } from '../../src/tune/optim.ts';
import { makeParam } from '../../src/tune/params.ts';
import { Rng } from '../../src/util/random.ts';

test('m-per-class sampler: m distinct rows of batch/m distinct classes in every batch', () => {
  const labels = Int32Array.from({ length: 300 }, (_, i) => (i * 7) % 13); // 13 classes, 23-24 rows each
  labels[0] = 13; // a class with a single row: drawn with replacement
  const batches = mPerClassBatches(labels, 4, 32, new Rng(5));
  assert.equal(batches.length, Math.floor(300 / 32));
  for (const b of batches) {
    assert.equal(b.length, 32);
    const per = new Map<number, number[]>();
    for (const r of b) {
      assert.ok(r >= 0 && r < 300);
      const c = labels[r];
      per.set(c, [...(per.get(c) ?? []), r]);
    }
    assert.equal(per.size, 8);
    for (const [c, rows] of per) {
      assert.equal(rows.length, 4);
      if (c !== 13) assert.equal(new Set(rows).size, 4, `class ${c} repeats a row`);
    }
  }
  assert.throws(() => mPerClassBatches(labels, 4, 30, new Rng(1)), /multiple of m=4/);
  assert.throws(() => mPerClassBatches(Int32Array.from([0, 0, 1, 1]), 2, 8, new Rng(1)), /needs 4 classes/);
});

test('random sampler: a permutation split into batches; same seed, same batches', () => {
  const a = randomBatches(103, 10, new Rng(9));
  const all = a.flatMap((b) => [...b]).sort((x, y) => x - y);
  assert.deepEqual(all, Array.from({ length: 103 }, (_, i) => i)); // every row once; the last batch of 3 is kept
  assert.ok(a.slice(0, -1).every((b) => b.length === 10));
  assert.deepEqual(randomBatches(103, 10, new Rng(9)), a);
  assert.notDeepEqual(randomBatches(103, 10, new Rng(10)), a);
});

test('schedule: linear warmup then cosine to the floor', () => {
  const o = { lr: 1, warmupSteps: 10, totalSteps: 110, minLr: 0.1 };
  assert.equal(learningRate(0, o), 0.1);
  assert.equal(learningRate(4, o), 0.5);
  assert.equal(learningRate(9, o), 1);
  assert.equal(learningRate(10, o), 1); // cosine starts at the peak
  // midway through the 99-step cosine part: t = 49.5/99 = 0.5 -> 0.1 + 0.9 * 0.5
  assert.ok(Math.abs(learningRate(10 + 49.5, o) - 0.55) < 1e-12);
  assert.ok(Math.abs(learningRate(109, o) - 0.1) < 1e-12);
  assert.equal(learningRate(5, { lr: 2, warmupSteps: 0, totalSteps: 11 }), 1); // t = 0.5
  assert.equal(learningRate(50, { lr: 2, warmupSteps: 0, totalSteps: 100, kind: 'constant' }), 2);
});

// Same 4 unit vectors as the loss tests: s01=0 s02=0.6 s03=-1 s12=0.8 s13=0 s23=-0.6, labels 0,0,1,1.
const S = Float32Array.from([1, 0, 0.6, -1, 0, 1, 0.8, 0, 0.6, 0.8, 1, -0.6, -1, 0, -0.6, 1]);
const L = Int32Array.from([0, 0, 1, 1]);

test('miners on a known similarity matrix', () => {
  const bh = batchHard(S, 4, L);
  assert.deepEqual([...bh.a], [0, 1, 2, 3]);
  assert.deepEqual([...bh.p], [1, 0, 3, 2]);
  assert.deepEqual([...bh.n], [2, 2, 1, 1]);
  const sh = semiHard(S, 4, L, 0.65);
  assert.deepEqual([[...sh.a], [...sh.p], [...sh.n]], [[3], [2], [0]]);
  const ms = multiSimilarityMine(S, 4, L, 0.1);
  // anchor 0: minPos 0, maxNeg 0.6 -> pos (0,1) kept; negatives above -0.1: (0,2)
  // anchor 3: minPos -0.6, maxNeg 0 -> pos (3,2) kept; negatives above -0.7: (3,1) only
  assert.ok([...ms.negA].map((a, i) => `${a},${ms.negB[i]}`).includes('3,1'));
  assert.ok(![...ms.negA].map((a, i) => `${a},${ms.negB[i]}`).includes('3,0'));
  // progressive: at progress 1 every negative is the hardest; at 0 with hardStart 0 they are random
  const hard = progressiveMine(S, 4, L, 1, new Rng(1), 0, 1);
  assert.deepEqual([...hard.n], [2, 2, 1, 1]);
  const counts = [0, 0];
  for (let s = 0; s < 200; s++) counts[progressiveMine(S, 4, L, 0, new Rng(s), 0, 1).n[0] === 2 ? 0 : 1]++;
  assert.ok(counts[0] > 60 && counts[1] > 60, `random negatives at progress 0: ${counts}`);
});

test('optimisers: Adam first step is lr x sign(g); SGD momentum; AdamW decays decoupled', () => {
  const p = makeParam('w0', [3], Float32Array.from([1, 1, 1]), true);
  p.grad.set([2, -0.5, 0]);
  new Optimizer({ kind: 'adam', weightDecay: 0 }).step([p], 0.1);
  assert.ok(Math.abs(p.data[0] - 0.9) < 1e-6 && Math.abs(p.data[1] - 1.1) < 1e-6 && p.data[2] === 1);
  assert.deepEqual([...p.grad], [0, 0, 0]);
  const q = makeParam('w0', [1], Float32Array.from([1]), true);
  const sgd = new Optimizer({ kind: 'sgd', weightDecay: 0, momentum: 0.5 });
  q.grad[0] = 4;
  sgd.step([q], 0.1, 2); // g = 2 -> v = 2 -> w = 0.8
  q.grad[0] = 2;
  sgd.step([q], 0.1, 2); // g = 1 -> v = 2 -> w = 0.6
  assert.ok(Math.abs(q.data[0] - 0.6) < 1e-6);
  const r = makeParam('w0', [1], Float32Array.from([2]), true);
  new Optimizer({ kind: 'adamw', weightDecay: 0.5 }).step([r], 0.1); // zero grad: only decay 2 - 0.1*0.5*2
  assert.ok(Math.abs(r.data[0] - 1.9) < 1e-6);
});

test('validation metrics: the cross-domain protocol ranks only items of other domains', async () => {
  const { retrievalMetrics } = await import('../../src/tune/validation.ts');
  // Every item's nearest neighbour is a wrong identity, but among the other domain it is the right one.
  const vectors = Float32Array.from([1, 0, 0, 0.9, 0.44, 0, 0.8, 0, 0.6, 0.7, 0.5, 0.5]);
  const set = { vectors, dim: 3, labels: ['a', 'b', 'a', 'b'], domains: ['photo', 'photo', 'sketch', 'sketch'] };
  const plain = await retrievalMetrics(set);
  const cross = await retrievalMetrics({ ...set, crossDomain: true });
  assert.equal(plain['precision@1'], 0);
  assert.equal(cross['precision@1'], 1);
  await assert.rejects(retrievalMetrics({ vectors, dim: 3, labels: set.labels, crossDomain: true }), /domain column/);
});
