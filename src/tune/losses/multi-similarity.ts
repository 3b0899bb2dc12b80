/** Multi-similarity loss (Wang et al. 2019) on cosine similarity. */
import { SimilarityLoss, type LossInput } from './base.ts';
import type { LossDef } from './base.ts';

/**
 * Per anchor: (1/alpha) log(1 + sum_p exp(-alpha (s_ap - base))) + (1/beta) log(1 + sum_n exp(beta (s_an - base))),
 * over the mined (default: all) pairs, averaged over the batch.
 */
export class MultiSimilarityLoss extends SimilarityLoss {
  readonly name = 'multi-similarity';

  constructor(
    readonly alpha = 2,
    readonly beta = 50,
    readonly base = 0.5,
  ) {
    super();
  }

  /** Loss and dS. */
  fromSimilarity(s: Float32Array, n: number, labels: Int32Array, input: LossInput): { loss: number; dS: Float32Array } {
    const pairs = this.minedPairs(s, n, labels, input);
    const dS = new Float32Array(n * n);
    const posSum = new Float64Array(n), negSum = new Float64Array(n);
    for (let t = 0; t < pairs.posA.length; t++) posSum[pairs.posA[t]] += Math.exp(-this.alpha * (s[pairs.posA[t] * n + pairs.posB[t]] - this.base));
    for (let t = 0; t < pairs.negA.length; t++) negSum[pairs.negA[t]] += Math.exp(this.beta * (s[pairs.negA[t] * n + pairs.negB[t]] - this.base));
    let loss = 0;
    for (let a = 0; a < n; a++) loss += Math.log1p(posSum[a]) / this.alpha + Math.log1p(negSum[a]) / this.beta;
    for (let t = 0; t < pairs.posA.length; t++) {
      const a = pairs.posA[t], idx = a * n + pairs.posB[t];
      dS[idx] -= Math.exp(-this.alpha * (s[idx] - this.base)) / (1 + posSum[a]) / n;
    }
    for (let t = 0; t < pairs.negA.length; t++) {
      const a = pairs.negA[t], idx = a * n + pairs.negB[t];
      dS[idx] += Math.exp(this.beta * (s[idx] - this.base)) / (1 + negSum[a]) / n;
    }
    return { loss: loss / n, dS };
  }
}

/** The `multi-similarity` loss: its parameters (names, defaults, meaning) and how to build it. */
export const MULTI_SIMILARITY_LOSS: LossDef = {
  name: 'multi-similarity',
  params: { alpha: { default: 2, help: 'positive scale' }, beta: { default: 50, help: 'negative scale' }, base: { default: 0.5, help: 'similarity offset' } },
  make: (o) => new MultiSimilarityLoss(o.alpha, o.beta, o.base),
};
