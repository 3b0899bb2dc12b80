/** Contrastive loss on cosine similarity with a positive and a negative margin. */
import { SimilarityLoss, type LossInput } from './base.ts';
import type { LossDef } from './base.ts';

/**
 * Positive pairs cost relu(posMargin - s), negative pairs relu(s - negMargin); each part is
 * averaged over its pairs with non-zero cost (pytorch-metric-learning's AvgNonZeroReducer) and the two are added.
 */
export class ContrastiveLoss extends SimilarityLoss {
  readonly name = 'contrastive';

  constructor(
    readonly posMargin = 1,
    readonly negMargin = 0.3,
  ) {
    super();
  }

  /** Loss and dS over the mined (default: all) pairs. */
  fromSimilarity(s: Float32Array, n: number, labels: Int32Array, input: LossInput): { loss: number; dS: Float32Array } {
    const pairs = this.minedPairs(s, n, labels, input);
    const dS = new Float32Array(n * n);
    let pos = 0, posN = 0, neg = 0, negN = 0;
    for (let t = 0; t < pairs.posA.length; t++) if (this.posMargin - s[pairs.posA[t] * n + pairs.posB[t]] > 0) posN++;
    for (let t = 0; t < pairs.negA.length; t++) if (s[pairs.negA[t] * n + pairs.negB[t]] - this.negMargin > 0) negN++;
    for (let t = 0; t < pairs.posA.length; t++) {
      const idx = pairs.posA[t] * n + pairs.posB[t];
      const l = this.posMargin - s[idx];
      if (l > 0) (pos += l / posN), (dS[idx] -= 1 / posN);
    }
    for (let t = 0; t < pairs.negA.length; t++) {
      const idx = pairs.negA[t] * n + pairs.negB[t];
      const l = s[idx] - this.negMargin;
      if (l > 0) (neg += l / negN), (dS[idx] += 1 / negN);
    }
    return { loss: pos + neg, dS };
  }
}

/** The `contrastive` loss: its parameters (names, defaults, meaning) and how to build it. */
export const CONTRASTIVE_LOSS: LossDef = {
  name: 'contrastive',
  params: { posMargin: { default: 1, help: 'positive pairs cost relu(posMargin - s)' }, negMargin: { default: 0.3, help: 'negative pairs cost relu(s - negMargin)' } },
  make: (o) => new ContrastiveLoss(o.posMargin, o.negMargin),
};
