/** Batch samplers over labelled rows: random batches, or m items per class per batch. */
import type { Rng } from '../util/random.ts';

/** Sampler kinds. */
export type SamplerKind = 'random' | 'm-per-class';

/** Split rows 0..n-1 into shuffled batches of `batchSize` (the last one may be smaller, dropped if below 2). */
export function randomBatches(n: number, batchSize: number, rng: Rng): Int32Array[] {
  const order = rng.shuffle(Int32Array.from({ length: n }, (_, i) => i));
  const out: Int32Array[] = [];
  for (let i = 0; i < n; i += batchSize) {
    const b = order.subarray(i, Math.min(n, i + batchSize));
    if (b.length >= 2) out.push(b.slice());
  }
  return out;
}

/**
 * m-per-class batches (as pytorch-metric-learning's MPerClassSampler): each batch holds
 * batchSize / m classes with exactly m rows each (drawn with replacement when a class has fewer
 * than m rows). One epoch yields about n / batchSize batches, every class visited in turn.
 */
export function mPerClassBatches(labels: Int32Array, m: number, batchSize: number, rng: Rng): Int32Array[] {
  if (m < 1 || !Number.isInteger(m)) throw new Error(`m-per-class: m must be a positive integer (got ${m})`);
  if (batchSize % m !== 0) throw new Error(`m-per-class: batch size ${batchSize} must be a multiple of m=${m}`);
  const byClass = new Map<number, number[]>();
  labels.forEach((c, i) => {
    const l = byClass.get(c);
    if (l) l.push(i);
    else byClass.set(c, [i]);
  });
  const classes = [...byClass.keys()];
  const perBatch = batchSize / m;
  if (classes.length < perBatch) {
    throw new Error(`m-per-class: batch size ${batchSize} with m=${m} needs ${perBatch} classes, the training set has ${classes.length}`);
  }
  const nBatches = Math.max(1, Math.floor(labels.length / batchSize));
  const pools = new Map<number, number[]>();
  // Distinct rows of class c: refill (reshuffled) when fewer than m remain, so a batch never repeats a row.
  const takeM = (c: number): number[] => {
    let pool = pools.get(c);
    if (!pool || pool.length < m) {
      pool = rng.shuffle([...byClass.get(c)!]);
      pools.set(c, pool);
    }
    return pool.splice(pool.length - m, m);
  };
  const out: Int32Array[] = [];
  let classOrder: number[] = [];
  for (let b = 0; b < nBatches; b++) {
    const batch = new Int32Array(batchSize);
    const chosen = new Set<number>();
    let k = 0;
    while (chosen.size < perBatch) {
      if (classOrder.length === 0) classOrder = rng.shuffle([...classes]);
      const c = classOrder.pop()!;
      if (chosen.has(c)) continue;
      chosen.add(c);
      const rows = byClass.get(c)!;
      if (rows.length >= m) for (const r of takeM(c)) batch[k++] = r;
      else for (let j = 0; j < m; j++) batch[k++] = rows[rng.int(rows.length)];
    }
    out.push(batch);
  }
  return out;
}
