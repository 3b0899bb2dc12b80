/** Optimisers over parameter lists: Adam, AdamW (decoupled weight decay) and SGD with momentum. */
import type { Param } from './params.ts';

/** Optimiser kinds. */
export type OptimizerKind = 'adam' | 'adamw' | 'sgd';

/** Optimiser settings. */
export interface OptimizerOptions {
  kind: OptimizerKind;
  weightDecay: number;
  /** SGD momentum (default 0.9). */
  momentum?: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
}

/** Applies one update from the accumulated gradients (divided by `scale`), then clears them. */
export class Optimizer {
  private m = new Map<Param, Float32Array>();
  private v = new Map<Param, Float32Array>();
  private t = 0;

  constructor(readonly o: OptimizerOptions) {
    if (!['adam', 'adamw', 'sgd'].includes(o.kind)) throw new Error(`unknown optimiser "${o.kind}" (expected adam, adamw, sgd)`);
  }

  /** One step at learning rate lr over params; gradients are divided by scale (accumulation steps) and zeroed. */
  step(params: Param[], lr: number, scale = 1): void {
    this.t++;
    const { kind, weightDecay: wd } = this.o;
    const b1 = this.o.beta1 ?? 0.9, b2 = this.o.beta2 ?? 0.999, eps = this.o.eps ?? 1e-8, mom = this.o.momentum ?? 0.9;
    const c1 = 1 - Math.pow(b1, this.t), c2 = 1 - Math.pow(b2, this.t);
    for (const p of params) {
      const w = p.data, g = p.grad, decay = p.decay ? wd : 0;
      let m = this.m.get(p);
      if (!m) this.m.set(p, (m = new Float32Array(w.length)));
      if (kind === 'sgd') {
        for (let i = 0; i < w.length; i++) {
          const gi = g[i] / scale + decay * w[i];
          m[i] = mom * m[i] + gi;
          w[i] -= lr * m[i];
          g[i] = 0;
        }
        continue;
      }
      let v = this.v.get(p);
      if (!v) this.v.set(p, (v = new Float32Array(w.length)));
      const a = lr / c1, bc2 = 1 / c2, inv = 1 / scale, nb1 = 1 - b1, nb2 = 1 - b2;
      // Tight loops per variant: this runs over every weight at every step.
      if (kind === 'adamw' && decay > 0) {
        const shrink = 1 - lr * decay;
        for (let i = 0; i < w.length; i++) w[i] *= shrink;
      }
      const l2 = kind === 'adam' ? decay : 0;
      for (let i = 0; i < w.length; i++) {
        const gi = g[i] * inv + l2 * w[i];
        const mi = (m[i] = b1 * m[i] + nb1 * gi);
        const vi = (v[i] = b2 * v[i] + nb2 * gi * gi);
        w[i] -= (a * mi) / (Math.sqrt(vi * bc2) + eps);
      }
      g.fill(0);
    }
  }
}
