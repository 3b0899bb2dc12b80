/** Oxford/Paris protocol: junk removal and the trapezoid AP of the official compute_ap. */
import test from 'node:test';
import assert from 'node:assert/strict';
import { oxfordAp, oxfordMap, trapezoidAp } from '../../src/metrics/oxford.ts';
import { averagePrecision } from '../../src/metrics/retrieval.ts';

const close = (a: number, b: number) => assert.ok(Math.abs(a - b) < 1e-12, `${a} != ${b}`);

/** The revisited-Oxford compute_ap (Radenovic et al.), written from positive ranks, as an independent check. */
function computeApFromRanks(ranks: number[], nres: number): number {
  let ap = 0;
  const step = 1 / nres;
  ranks.forEach((rank, j) => {
    const p0 = rank === 0 ? 1 : j / rank;
    const p1 = (j + 1) / (rank + 1);
    ap += ((p0 + p1) * step) / 2;
  });
  return ap;
}

test('junk is removed before scoring; good and ok are positives', () => {
  // Ranking: j1 g1 x1 o1 j2 x2; positives g1, o1 and g2 (never retrieved); junk j1, j2.
  // Without junk: g1 x1 o1 x2 -> rel 1 0 1 0, R = 3.
  // Trapezoids: rank 1 adds (1/3)(1 + 1)/2 = 1/3; rank 3 adds (1/3)(1/2 + 2/3)/2 = 7/36 -> 19/36.
  const q = { id: 'q', ranking: ['j1', 'g1', 'x1', 'o1', 'j2', 'x2'], good: ['g1', 'g2'], ok: ['o1'], junk: ['j1', 'j2'] };
  close(oxfordAp(q), 19 / 36);
  close(computeApFromRanks([0, 2], 3), 19 / 36);
  // Had the junk counted as negatives: rel 0 1 0 1 0 0 -> 1/12 + 5/36 = 8/36.
  close(trapezoidAp([false, true, false, true, false, false], 3), 8 / 36);
  // The trapezoid rule differs from the step-wise AP used elsewhere: (1 + 2/3) / 3 = 5/9.
  close(averagePrecision([true, false, true, false], 3), 5 / 9);
  assert.notEqual(oxfordAp(q), averagePrecision([true, false, true, false], 3));
});

test('perfect and empty rankings, mAP and errors', () => {
  close(trapezoidAp([true, true, false], 2), 1);
  assert.equal(trapezoidAp([false, false], 2), 0);
  assert.equal(trapezoidAp([true], 0), 0);
  const a = { id: 'a', ranking: ['p', 'n'], good: ['p'], ok: [], junk: [] };
  const b = { id: 'b', ranking: ['n', 'p'], good: [], ok: ['p'], junk: ['n'] };
  const c = { id: 'c', ranking: ['n', 'p'], good: ['p'], ok: [], junk: [] };
  const m = oxfordMap([a, b, c]);
  close(m.ap.a, 1);
  close(m.ap.b, 1); // the only negative is junk
  close(m.ap.c, 0.25); // rank 1: precision 1 -> 0 at recall 0; rank 2: recall 0 -> 1, area 1 x (0 + 1/2) / 2
  close(m.map, (1 + 1 + 0.25) / 3);
  assert.throws(() => oxfordMap([{ ...a, good: [] }]), /query a: no good or ok images/);
  assert.throws(() => oxfordAp({ ...a, junk: ['p'] }), /p is both junk and a positive/);
  assert.throws(() => oxfordMap([a, a]), /appears more than once/);
});

test('agrees with the rank formula on random rankings', () => {
  let seed = 3;
  const rand = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
  for (let t = 0; t < 200; t++) {
    const n = 1 + Math.floor(rand() * 30);
    const rel = Array.from({ length: n }, () => rand() < 0.3);
    const R = rel.filter(Boolean).length + Math.floor(rand() * 2);
    if (R === 0) continue;
    const ranks = rel.flatMap((r, i) => (r ? [i] : []));
    close(trapezoidAp(rel, R), computeApFromRanks(ranks, R));
  }
});
