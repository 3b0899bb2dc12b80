/** Hybrid loss (the competition paper): cross-entropy on the classifier + lambda x a contrastive term on normalised embeddings. */
import { Loss, gram, gramBackward, normalizeBackward, normalizeRows, softmaxCrossEntropy, type LossInput, type LossOutput } from './base.ts';
import { supConTerms } from './supcon.ts';
import type { LossDef } from './base.ts';

/** CE (label smoothing) + lambda * supervised contrastive (temperature) on the L2-normalised head outputs; defaults lambda 0.5, temperature 0.1. */
export class HybridLoss extends Loss {
  readonly name = 'hybrid';
  override readonly needsClassifier = true;

  constructor(
    readonly lambda = 0.5,
    readonly temperature = 0.1,
    readonly smoothing = 0,
  ) {
    super();
  }

  /** CE gradient goes to the logits, the contrastive gradient to the embeddings. */
  compute(input: LossInput): LossOutput {
    if (!input.logits) throw new Error('hybrid: the head has no classifier (logits missing)');
    const { emb, n, dim, labels } = input;
    const ce = softmaxCrossEntropy(input.logits, n, input.numClasses, labels, this.smoothing);
    const { unit, norms } = normalizeRows(emb, n, dim);
    const con = supConTerms(gram(unit, n, dim), n, labels, this.temperature);
    for (let i = 0; i < con.dS.length; i++) con.dS[i] *= this.lambda;
    const dEmb = normalizeBackward(unit, norms, gramBackward(unit, con.dS, n, dim), n, dim);
    return { loss: ce.loss + this.lambda * con.loss, dEmb, dLogits: ce.dLogits };
  }
}

/** The `hybrid` loss: its parameters (names, defaults, meaning) and how to build it. */
export const HYBRID_LOSS: LossDef = {
  name: 'hybrid',
  params: { lambda: { default: 0.5, help: 'weight of the contrastive term against cross-entropy' }, temperature: { default: 0.1, help: 'contrastive temperature' }, smoothing: { default: 0, help: 'label smoothing of the cross-entropy term' } },
  make: (o) => new HybridLoss(o.lambda, o.temperature, o.smoothing),
};
