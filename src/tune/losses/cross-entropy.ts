/** Cross-entropy on the head's classifier logits, with label smoothing. */
import { Loss, softmaxCrossEntropy, type LossInput, type LossOutput } from './base.ts';
import type { LossDef } from './base.ts';

/** Softmax cross-entropy over classes; target = (1 - smoothing) one-hot + smoothing / classes. */
export class CrossEntropyLoss extends Loss {
  readonly name = 'cross-entropy';
  override readonly needsClassifier = true;

  constructor(readonly smoothing = 0) {
    super();
    if (smoothing < 0 || smoothing >= 1) throw new Error(`cross-entropy: label smoothing must be in [0, 1) (got ${smoothing})`);
  }

  /** Loss from input.logits; the embedding gradient flows back through the classifier (dEmb is zero here). */
  compute(input: LossInput): LossOutput {
    if (!input.logits) throw new Error('cross-entropy: the head has no classifier (logits missing)');
    const { loss, dLogits } = softmaxCrossEntropy(input.logits, input.n, input.numClasses, input.labels, this.smoothing);
    return { loss, dEmb: new Float32Array(input.n * input.dim), dLogits };
  }
}

/** The `cross-entropy` loss: its parameters (names, defaults, meaning) and how to build it. */
export const CROSS_ENTROPY_LOSS: LossDef = {
  name: 'cross-entropy',
  params: { smoothing: { default: 0, help: 'label smoothing' } },
  make: (o) => new CrossEntropyLoss(o.smoothing),
};
