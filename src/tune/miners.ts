/**
 * Miners pick the pairs or triplets a metric loss trains on, from the batch's cosine similarities
 * (pytorch-metric-learning style): none (all), batch-hard, semi-hard, multi-similarity, and
 * progressive (the share of hardest negatives rises from start to end over training).
 */
import type { Rng } from '../util/random.ts';

/** Miner kinds. */
export type MinerKind = 'none' | 'batch-hard' | 'semi-hard' | 'multi-similarity' | 'progressive';

/** Anchor-positive-negative triplets (row indices into the batch). */
export interface Triplets {
  kind: 'triplets';
  a: Int32Array;
  p: Int32Array;
  n: Int32Array;
}

/** Positive and negative pairs (row indices into the batch). */
export interface Pairs {
  kind: 'pairs';
  posA: Int32Array;
  posB: Int32Array;
  negA: Int32Array;
  negB: Int32Array;
}

/** What a miner returns. */
export type Mined = Triplets | Pairs;

/** A miner: selects from the n x n similarity matrix s given labels and training progress in [0, 1]. */
export interface Miner {
  name: MinerKind;
  mine(s: Float32Array, n: number, labels: Int32Array, progress: number, rng: Rng): Mined;
}

/** The miners and the parameters each owns (name, default, meaning): the tune option schema reads these. */
export const MINERS: readonly { name: MinerKind; params: Record<string, { default: number; help: string }> }[] = [
  { name: 'none', params: {} },
  { name: 'batch-hard', params: {} },
  { name: 'semi-hard', params: { minerMargin: { default: 0.2, help: 'keeps negatives with s_ap - minerMargin < s_an < s_ap' } } },
  { name: 'multi-similarity', params: {} },
  { name: 'progressive', params: { hardStart: { default: 0, help: 'share of hardest negatives at the start' }, hardEnd: { default: 1, help: 'share of hardest negatives at the end' } } },
];

/** Miner settings. */
export interface MinerOptions {
  /** Semi-hard margin (cosine), default 0.2 (the `minerMargin` tune option). */
  margin?: number;
  /** Multi-similarity miner epsilon, default 0.1. */
  epsilon?: number;
  /** Progressive: share of hardest negatives at the start and at the end (default 0 -> 1). */
  hardStart?: number;
  hardEnd?: number;
}

/** Every positive pair (i < j... both orders, as anchors) and every negative pair. */
export function allPairs(n: number, labels: Int32Array): Pairs {
  const pa: number[] = [], pb: number[] = [], na: number[] = [], nb: number[] = [];
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++) {
      if (i === j) continue;
      if (labels[i] === labels[j]) pa.push(i), pb.push(j);
      else na.push(i), nb.push(j);
    }
  return { kind: 'pairs', posA: Int32Array.from(pa), posB: Int32Array.from(pb), negA: Int32Array.from(na), negB: Int32Array.from(nb) };
}

/** Every valid triplet (a, p, n): label(a) = label(p) != label(n), a != p. */
export function allTriplets(n: number, labels: Int32Array): Triplets {
  const A: number[] = [], P: number[] = [], N: number[] = [];
  for (let a = 0; a < n; a++)
    for (let p = 0; p < n; p++) {
      if (p === a || labels[p] !== labels[a]) continue;
      for (let q = 0; q < n; q++) if (labels[q] !== labels[a]) A.push(a), P.push(p), N.push(q);
    }
  return { kind: 'triplets', a: Int32Array.from(A), p: Int32Array.from(P), n: Int32Array.from(N) };
}

/** Pairs of a mined set (triplets give their (a,p) and (a,n) pairs, duplicates removed). */
export function toPairs(m: Mined): Pairs {
  if (m.kind === 'pairs') return m;
  const pos = new Map<string, [number, number]>();
  const neg = new Map<string, [number, number]>();
  for (let t = 0; t < m.a.length; t++) {
    pos.set(`${m.a[t]},${m.p[t]}`, [m.a[t], m.p[t]]);
    neg.set(`${m.a[t]},${m.n[t]}`, [m.a[t], m.n[t]]);
  }
  const P = [...pos.values()], N = [...neg.values()];
  return { kind: 'pairs', posA: Int32Array.from(P, (x) => x[0]), posB: Int32Array.from(P, (x) => x[1]), negA: Int32Array.from(N, (x) => x[0]), negB: Int32Array.from(N, (x) => x[1]) };
}

/** Triplets of a mined set (pairs give every positive x negative combination sharing an anchor). */
export function toTriplets(m: Mined): Triplets {
  if (m.kind === 'triplets') return m;
  const negsOf = new Map<number, number[]>();
  m.negA.forEach((a, t) => {
    const l = negsOf.get(a);
    if (l) l.push(m.negB[t]);
    else negsOf.set(a, [m.negB[t]]);
  });
  const A: number[] = [], P: number[] = [], N: number[] = [];
  m.posA.forEach((a, t) => {
    for (const q of negsOf.get(a) ?? []) A.push(a), P.push(m.posB[t]), N.push(q);
  });
  return { kind: 'triplets', a: Int32Array.from(A), p: Int32Array.from(P), n: Int32Array.from(N) };
}

/** Batch-hard: per anchor, the least similar positive and the most similar negative. */
export function batchHard(s: Float32Array, n: number, labels: Int32Array): Triplets {
  const A: number[] = [], P: number[] = [], N: number[] = [];
  for (let a = 0; a < n; a++) {
    let bp = -1, bn = -1, sp = Infinity, sn = -Infinity;
    for (let j = 0; j < n; j++) {
      if (j === a) continue;
      const v = s[a * n + j];
      if (labels[j] === labels[a]) {
        if (v < sp) (sp = v), (bp = j);
      } else if (v > sn) (sn = v), (bn = j);
    }
    if (bp >= 0 && bn >= 0) A.push(a), P.push(bp), N.push(bn);
  }
  return { kind: 'triplets', a: Int32Array.from(A), p: Int32Array.from(P), n: Int32Array.from(N) };
}

/** Semi-hard: triplets whose negative is less similar than the positive but within the margin (s_ap - margin < s_an < s_ap). */
export function semiHard(s: Float32Array, n: number, labels: Int32Array, margin: number): Triplets {
  const A: number[] = [], P: number[] = [], N: number[] = [];
  for (let a = 0; a < n; a++)
    for (let p = 0; p < n; p++) {
      if (p === a || labels[p] !== labels[a]) continue;
      const sap = s[a * n + p];
      for (let q = 0; q < n; q++) {
        if (labels[q] === labels[a]) continue;
        const san = s[a * n + q];
        if (san < sap && san > sap - margin) A.push(a), P.push(p), N.push(q);
      }
    }
  return { kind: 'triplets', a: Int32Array.from(A), p: Int32Array.from(P), n: Int32Array.from(N) };
}

/**
 * Multi-similarity mining (Wang et al. 2019): keep negatives more similar than the anchor's
 * least similar positive minus epsilon, and positives less similar than its most similar negative plus epsilon.
 */
export function multiSimilarityMine(s: Float32Array, n: number, labels: Int32Array, epsilon: number): Pairs {
  const pa: number[] = [], pb: number[] = [], na: number[] = [], nb: number[] = [];
  for (let a = 0; a < n; a++) {
    let minPos = Infinity, maxNeg = -Infinity;
    for (let j = 0; j < n; j++) {
      if (j === a) continue;
      const v = s[a * n + j];
      if (labels[j] === labels[a]) minPos = Math.min(minPos, v);
      else maxNeg = Math.max(maxNeg, v);
    }
    for (let j = 0; j < n; j++) {
      if (j === a) continue;
      const v = s[a * n + j];
      if (labels[j] === labels[a]) {
        if (v - epsilon < maxNeg) pa.push(a), pb.push(j);
      } else if (v + epsilon > minPos) na.push(a), nb.push(j);
    }
  }
  return { kind: 'pairs', posA: Int32Array.from(pa), posB: Int32Array.from(pb), negA: Int32Array.from(na), negB: Int32Array.from(nb) };
}

/**
 * Progressive: one negative per (anchor, positive): the anchor's hardest negative with probability
 * h = hardStart + (hardEnd - hardStart) * progress, otherwise a uniformly random negative.
 */
export function progressiveMine(s: Float32Array, n: number, labels: Int32Array, progress: number, rng: Rng, hardStart: number, hardEnd: number): Triplets {
  const h = hardStart + (hardEnd - hardStart) * Math.min(1, Math.max(0, progress));
  const A: number[] = [], P: number[] = [], N: number[] = [];
  for (let a = 0; a < n; a++) {
    const negs: number[] = [];
    let hardest = -1, sh = -Infinity;
    for (let j = 0; j < n; j++)
      if (labels[j] !== labels[a]) {
        negs.push(j);
        if (s[a * n + j] > sh) (sh = s[a * n + j]), (hardest = j);
      }
    if (!negs.length) continue;
    for (let p = 0; p < n; p++) {
      if (p === a || labels[p] !== labels[a]) continue;
      A.push(a), P.push(p), N.push(rng.next() < h ? hardest : negs[rng.int(negs.length)]);
    }
  }
  return { kind: 'triplets', a: Int32Array.from(A), p: Int32Array.from(P), n: Int32Array.from(N) };
}

/** Build a miner by name. */
export function makeMiner(kind: MinerKind, o: MinerOptions = {}): Miner {
  switch (kind) {
    case 'none':
      return { name: kind, mine: (_s, n, labels) => allPairs(n, labels) };
    case 'batch-hard':
      return { name: kind, mine: (s, n, labels) => batchHard(s, n, labels) };
    case 'semi-hard':
      return { name: kind, mine: (s, n, labels) => semiHard(s, n, labels, o.margin ?? 0.2) };
    case 'multi-similarity':
      return { name: kind, mine: (s, n, labels) => multiSimilarityMine(s, n, labels, o.epsilon ?? 0.1) };
    case 'progressive':
      return { name: kind, mine: (s, n, labels, progress, rng) => progressiveMine(s, n, labels, progress, rng, o.hardStart ?? 0, o.hardEnd ?? 1) };
    default:
      throw new Error(`unknown miner "${kind as string}" (expected none, batch-hard, semi-hard, multi-similarity, progressive)`);
  }
}
