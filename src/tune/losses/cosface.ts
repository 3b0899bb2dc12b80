/** CosFace (additive cosine margin) softmax loss with its own class weights. */
import { CosineClassifierLoss } from './base.ts';
import type { Rng } from '../../util/random.ts';
import type { LossDef } from './base.ts';

/** Target logit scale * (cos theta_y - margin); defaults scale 64, margin 0.35. */
export class CosFaceLoss extends CosineClassifierLoss {
  readonly name = 'cosface';

  constructor(dim: number, numClasses: number, rng: Rng, scale = 64, readonly margin = 0.35) {
    super(dim, numClasses, scale, rng);
  }

  /** c - m, derivative 1. */
  target(c: number): { phi: number; dphi: number } {
    return { phi: c - this.margin, dphi: 1 };
  }
}

/** The `cosface` loss: its parameters (names, defaults, meaning) and how to build it. */
export const COSFACE_LOSS: LossDef = {
  name: 'cosface',
  params: { scale: { default: 64, help: 'logit scale' }, margin: { default: 0.35, help: 'additive cosine margin' } },
  make: (o, c) => new CosFaceLoss(c.dim, c.numClasses, c.rng, o.scale, o.margin),
};
