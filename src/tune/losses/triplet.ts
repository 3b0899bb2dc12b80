/** Triplet margin loss on cosine similarity. */
import { SimilarityLoss, type LossInput } from './base.ts';
import { allTriplets, toTriplets } from '../miners.ts';
import type { LossDef } from './base.ts';

/** Each triplet costs relu(s_an - s_ap + margin); averaged over triplets with non-zero cost. */
export class TripletLoss extends SimilarityLoss {
  readonly name = 'triplet';

  constructor(readonly margin = 0.1) {
    super();
  }

  /** Loss and dS over the mined (default: all) triplets. */
  fromSimilarity(s: Float32Array, n: number, labels: Int32Array, input: LossInput): { loss: number; dS: Float32Array } {
    const t = this.miner ? toTriplets(this.miner.mine(s, n, labels, input.progress, input.rng)) : allTriplets(n, labels);
    const dS = new Float32Array(n * n);
    let active = 0;
    for (let i = 0; i < t.a.length; i++) if (s[t.a[i] * n + t.n[i]] - s[t.a[i] * n + t.p[i]] + this.margin > 0) active++;
    let loss = 0;
    for (let i = 0; i < t.a.length; i++) {
      const ap = t.a[i] * n + t.p[i], an = t.a[i] * n + t.n[i];
      const l = s[an] - s[ap] + this.margin;
      if (l <= 0) continue;
      loss += l / active;
      dS[an] += 1 / active;
      dS[ap] -= 1 / active;
    }
    return { loss, dS };
  }
}

/** The `triplet` loss: its parameters (names, defaults, meaning) and how to build it. */
export const TRIPLET_LOSS: LossDef = {
  name: 'triplet',
  params: { margin: { default: 0.1, help: 'cosine margin between the positive and the negative' } },
  make: (o) => new TripletLoss(o.margin),
};
