/** CosFace (additive cosine margin) softmax loss with its own class weights. */
import { CosineClassifierLoss } from './base.ts';
import type { Rng } from '../../util/random.ts';

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
