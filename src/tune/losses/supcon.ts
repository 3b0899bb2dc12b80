/** Supervised contrastive loss (Khosla et al. 2020) on cosine similarity. */
import { SimilarityLoss, logSumExp } from './base.ts';
import type { LossDef } from './base.ts';

/**
 * SupCon terms and dS for temperature tau: per anchor i with positives P(i),
 * L_i = -(1/|P(i)|) sum_p s_ip / tau + log sum_{a != i} exp(s_ia / tau); mean over anchors with a positive.
 */
export function supConTerms(s: Float32Array, n: number, labels: Int32Array, tau: number): { loss: number; dS: Float32Array } {
  const dS = new Float32Array(n * n);
  const row = new Float64Array(n);
  let anchors = 0;
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) if (j !== i && labels[j] === labels[i]) {
    anchors++;
    break;
  }
  if (anchors === 0) return { loss: 0, dS };
  let loss = 0;
  for (let i = 0; i < n; i++) {
    let np = 0;
    for (let j = 0; j < n; j++) if (j !== i && labels[j] === labels[i]) np++;
    if (np === 0) continue;
    for (let j = 0; j < n; j++) row[j] = j === i ? -Infinity : s[i * n + j] / tau;
    const lse = logSumExp(row);
    let li = lse;
    for (let j = 0; j < n; j++) {
      if (j === i) continue;
      const pos = labels[j] === labels[i];
      if (pos) li -= row[j] / np;
      dS[i * n + j] = (Math.exp(row[j] - lse) - (pos ? 1 / np : 0)) / tau / anchors;
    }
    loss += li / anchors;
  }
  return { loss, dS };
}

/** Supervised contrastive loss with a temperature (default 0.1). */
export class SupConLoss extends SimilarityLoss {
  readonly name = 'supcon';

  constructor(readonly temperature = 0.1) {
    super();
    if (!(temperature > 0)) throw new Error(`supcon: temperature must be > 0 (got ${temperature})`);
  }

  /** Loss and dS over all pairs of the batch. */
  fromSimilarity(s: Float32Array, n: number, labels: Int32Array): { loss: number; dS: Float32Array } {
    return supConTerms(s, n, labels, this.temperature);
  }
}

/** The `supcon` loss: its parameters (names, defaults, meaning) and how to build it. */
export const SUPCON_LOSS: LossDef = {
  name: 'supcon',
  params: { temperature: { default: 0.1, help: 'softmax temperature' } },
  make: (o) => new SupConLoss(o.temperature),
};
