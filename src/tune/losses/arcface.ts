/** ArcFace (additive angular margin) softmax loss with its own class weights. */
import { CosineClassifierLoss } from './base.ts';
import type { Rng } from '../../util/random.ts';
import type { LossDef } from './base.ts';

/** Target logit scale * cos(theta_y + margin), margin in radians (default 0.5 = 28.6 degrees), scale default 64. */
export class ArcFaceLoss extends CosineClassifierLoss {
  readonly name = 'arcface';

  constructor(dim: number, numClasses: number, rng: Rng, scale = 64, readonly margin = 0.5) {
    super(dim, numClasses, scale, rng);
  }

  /** cos(acos(c) + m) and its derivative sin(theta + m) / sin(theta). */
  target(c: number): { phi: number; dphi: number } {
    const cc = Math.min(1 - 1e-7, Math.max(-1 + 1e-7, c));
    const theta = Math.acos(cc);
    return { phi: Math.cos(theta + this.margin), dphi: Math.sin(theta + this.margin) / Math.sin(theta) };
  }
}

/** The `arcface` loss: its parameters (names, defaults, meaning) and how to build it. */
export const ARCFACE_LOSS: LossDef = {
  name: 'arcface',
  params: { scale: { default: 64, help: 'logit scale' }, margin: { default: 0.5, help: 'additive angular margin, radians' } },
  make: (o, c) => new ArcFaceLoss(c.dim, c.numClasses, c.rng, o.scale, o.margin),
};
