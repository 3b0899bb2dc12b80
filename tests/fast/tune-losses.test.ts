import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makeLoss, LOSS_NAMES } from '../../src/tune/losses/index.ts';
import type { Loss, LossInput } from '../../src/tune/losses/base.ts';
import { makeMiner } from '../../src/tune/miners.ts';
import { Rng } from '../../src/util/random.ts';

// Four 2-d embeddings (not unit length), labels 0,0,1,1.
// Unit rows: u0=(1,0) u1=(0,1) u2=(0.6,0.8) u3=(-1,0); cosines: s01=0 s02=0.6 s03=-1 s12=0.8 s13=0 s23=-0.6.
const EMB = Float32Array.from([2, 0, 0, 0.5, 3, 4, -1, 0]);
const LABELS = Int32Array.from([0, 0, 1, 1]);
const S = [
  [1, 0, 0.6, -1],
  [0, 1, 0.8, 0],
  [0.6, 0.8, 1, -0.6],
  [-1, 0, -0.6, 1],
];

function input(emb = EMB, labels = LABELS, extra: Partial<LossInput> = {}): LossInput {
  return { emb, n: labels.length, dim: emb.length / labels.length, labels, numClasses: 2, progress: 0, rng: new Rng(7), ...extra };
}

const close = (a: number, b: number, tol = 1e-5) => assert.ok(Math.abs(a - b) <= tol * Math.max(1, Math.abs(b)), `${a} != ${b}`);

test('contrastive: mean non-zero positive cost + mean non-zero negative cost', () => {
  const l = makeLoss('contrastive', { posMargin: 1, negMargin: 0.3 }, 2, 2, new Rng(1));
  // positives: 1-0 (x2), 1+0.6 (x2) -> 1.3 ; negatives above 0.3: 0.6-0.3 (x2), 0.8-0.3 (x2) -> 0.4
  close(l.compute(input()).loss, 1.3 + 0.4);
});

test('triplet: all triplets and batch-hard', () => {
  const all = makeLoss('triplet', { margin: 0.1 }, 2, 2, new Rng(1));
  // non-zero triplet costs: 0.7 0.9 0.1 1.3 1.5 0.7
  close(all.compute(input()).loss, (0.7 + 0.9 + 0.1 + 1.3 + 1.5 + 0.7) / 6);
  const hard = makeLoss('triplet', { margin: 0.1 }, 2, 2, new Rng(1));
  hard.miner = makeMiner('batch-hard');
  close(hard.compute(input()).loss, (0.7 + 0.9 + 1.5 + 0.7) / 4);





});

test('multi-similarity: formula per anchor', () => {
  const a = 2, b = 50, base = 0.5;
  const l = makeLoss('multi-similarity', { alpha: a, beta: b, base }, 2, 2, new Rng(1));
  let want = 0;
  for (let i = 0; i < 4; i++) {
    let ps = 0, ns = 0;
    for (let j = 0; j < 4; j++) {
      if (j === i) continue;
      if (LABELS[j] === LABELS[i]) ps += Math.exp(-a * (S[i][j] - base));
      else ns += Math.exp(b * (S[i][j] - base));
    }
    want += Math.log(1 + ps) / a + Math.log(1 + ns) / b;
  }
  close(l.compute(input()).loss, want / 4, 1e-4);
});

test('supcon and hybrid: hand-computed', () => {
  const tau = 0.5;
  let sup = 0;
  for (let i = 0; i < 4; i++) {
    const p = i ^ 1; // the one positive of each row
    let z = 0;
    for (let j = 0; j < 4; j++) if (j !== i) z += Math.exp(S[i][j] / tau);
    sup += -S[i][p] / tau + Math.log(z);
  }
  sup /= 4;
  close(makeLoss('supcon', { temperature: tau }, 2, 2, new Rng(1)).compute(input()).loss, sup, 1e-4);
  const logits = Float32Array.from([2, 1, 0, 0, 1, 3, -1, 1]);
  const ce = (-Math.log(Math.exp(2) / (Math.exp(2) + Math.exp(1))) - Math.log(0.5) - Math.log(Math.exp(3) / (Math.exp(1) + Math.exp(3))) - Math.log(Math.exp(1) / (Math.exp(-1) + Math.exp(1)))) / 4;
  const h = makeLoss('hybrid', { lambda: 0.5, temperature: tau }, 2, 2, new Rng(1)).compute(input(EMB, LABELS, { logits }));
  close(h.loss, ce + 0.5 * sup, 1e-4);
});

test('cross-entropy with label smoothing', () => {
  const logits = Float32Array.from([2, 1, 0]);
  const z = Math.exp(2) + Math.exp(1) + 1;
  const logp = [2 - Math.log(z), 1 - Math.log(z), -Math.log(z)];
  const q = [0.9 + 0.1 / 3, 0.1 / 3, 0.1 / 3];
  const want = -(q[0] * logp[0] + q[1] * logp[1] + q[2] * logp[2]);
  const l = makeLoss('cross-entropy', { smoothing: 0.1 }, 2, 3, new Rng(1));
  const out = l.compute({ emb: new Float32Array(2), n: 1, dim: 2, labels: Int32Array.from([0]), logits, numClasses: 3, progress: 0, rng: new Rng(1) });
  close(out.loss, want);
  close(out.dLogits![0], Math.exp(logp[0]) - q[0]);
});

test('arcface and cosface: margins on the target cosine', () => {
  const emb = Float32Array.from([1, 1]);
  const c = Math.SQRT1_2;
  for (const [name, phi] of [
    ['arcface', Math.cos(Math.PI / 4 + 0.5)],
    ['cosface', c - 0.5],
  ] as const) {
    const l = makeLoss(name, { scale: 2, margin: 0.5 }, 2, 2, new Rng(1));
    l.params[0].data.set([1, 0, 0, 1]); // W columns = e0, e1
    const want = -Math.log(Math.exp(2 * phi) / (Math.exp(2 * phi) + Math.exp(2 * c)));
    close(l.compute({ emb, n: 1, dim: 2, labels: Int32Array.from([0]), numClasses: 2, progress: 0, rng: new Rng(1) }).loss, want);
  }
});

test('cosine-embedding: one positive and one negative pair per item', () => {
  // Both negatives of every item have cosine 0.6, positives cosine 1: loss = 4 x (0.6 - 0.2) / 8 pairs.
  const emb = Float32Array.from([1, 0, 2, 0, 0.6, 0.8, 1.2, 1.6]);
  close(makeLoss('cosine-embedding', { margin: 0.2 }, 2, 2, new Rng(1)).compute(input(emb)).loss, 0.2);
});

// Finite-difference checks of every hand-written gradient (embeddings, logits, own parameters).
function numericCheck(name: string, miner?: string) {
  const rng = new Rng(11);
  const n = 8, dim = 5, C = 3;
  const emb = Float32Array.from({ length: n * dim }, () => rng.normal());
  const logits = Float32Array.from({ length: n * C }, () => rng.normal());
  const labels = Int32Array.from({ length: n }, (_, i) => i % C);
  const l: Loss = makeLoss(name, { margin: name === 'triplet' ? 0.5 : undefined, negMargin: name === 'contrastive' ? -0.5 : undefined }, dim, C, new Rng(3));
  if (miner) l.miner = makeMiner(miner as never);
  const run = () => l.compute({ emb, n, dim, labels, logits: l.needsClassifier ? logits : undefined, numClasses: C, progress: 0.5, rng: new Rng(5) });
  for (const p of l.params) p.grad.fill(0);
  const base = run();
  const own = l.params.map((p) => Float32Array.from(p.grad));
  const h = 1e-3;
  const check = (arr: Float32Array, grad: Float32Array, what: string) => {
    for (let i = 0; i < Math.min(arr.length, 12); i++) {
      const v = arr[i];
      arr[i] = v + h;
      const up = run().loss;
      arr[i] = v - h;
      const down = run().loss;
      arr[i] = v;
      const num = (up - down) / (2 * h);
      assert.ok(Math.abs(num - grad[i]) < 2e-3 + 2e-2 * Math.abs(num), `${name}${miner ? '+' + miner : ''} ${what}[${i}]: numeric ${num} vs analytic ${grad[i]}`);
    }
  };
  check(emb, base.dEmb, 'emb');
  if (base.dLogits) check(logits, base.dLogits, 'logits');
  l.params.forEach((p, k) => check(p.data, own[k], p.name));
}

for (const name of LOSS_NAMES) test(`gradient check: ${name}`, () => numericCheck(name));
for (const miner of ['batch-hard', 'multi-similarity', 'progressive']) test(`gradient check: triplet + ${miner}`, () => numericCheck('triplet', miner));
test('gradient check: multi-similarity + multi-similarity miner', () => numericCheck('multi-similarity', 'multi-similarity'));
