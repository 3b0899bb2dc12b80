/** Cosine-embedding loss with one random positive and one random negative per item (as in the cross-modal seed). */
import { SimilarityLoss, type LossInput } from './base.ts';
import type { LossDef } from './base.ts';

/**
 * Per item: a random same-class partner costs 1 - s, a random other-class item costs
 * max(0, s - margin) (PyTorch's CosineEmbeddingLoss); mean over all pairs drawn.
 */
export class CosineEmbeddingLoss extends SimilarityLoss {
  readonly name = 'cosine-embedding';

  constructor(readonly margin = 0) {
    super();
  }

  /** Loss and dS for one random positive and negative per row (drawn from input.rng). */
  fromSimilarity(s: Float32Array, n: number, labels: Int32Array, input: LossInput): { loss: number; dS: Float32Array } {
    const pairs: [number, number, 1 | -1][] = [];
    for (let i = 0; i < n; i++) {
      const pos: number[] = [], neg: number[] = [];
      for (let j = 0; j < n; j++) if (j !== i) (labels[j] === labels[i] ? pos : neg).push(j);
      if (pos.length) pairs.push([i, pos[input.rng.int(pos.length)], 1]);
      if (neg.length) pairs.push([i, neg[input.rng.int(neg.length)], -1]);
    }
    const dS = new Float32Array(n * n);
    let loss = 0;
    const m = pairs.length || 1;
    for (const [i, j, y] of pairs) {
      const idx = i * n + j;
      if (y === 1) (loss += (1 - s[idx]) / m), (dS[idx] -= 1 / m);
      else if (s[idx] > this.margin) (loss += (s[idx] - this.margin) / m), (dS[idx] += 1 / m);
    }
    return { loss, dS };
  }
}

/** The `cosine-embedding` loss: its parameters (names, defaults, meaning) and how to build it. */
export const COSINE_EMBEDDING_LOSS: LossDef = {
  name: 'cosine-embedding',
  params: { margin: { default: 0, help: 'negatives cost max(0, s - margin)' } },
  make: (o) => new CosineEmbeddingLoss(o.margin),
};
