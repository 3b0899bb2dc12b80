/** Learning-rate schedule: linear warmup from 0, then cosine annealing down to a floor. */

/** Schedule settings. */
export interface ScheduleOptions {
  /** Peak learning rate, reached at the end of warmup. */
  lr: number;
  /** Optimiser steps of linear warmup (0 = none). */
  warmupSteps: number;
  /** Total optimiser steps of the run. */
  totalSteps: number;
  /** Final learning rate at the last step (default 0). */
  minLr?: number;
  /** 'cosine' (default) anneals after warmup; 'constant' keeps the peak. */
  kind?: 'cosine' | 'constant';
}

/**
 * Learning rate for optimiser step `step` (0-based): during warmup lr * (step + 1) / warmupSteps,
 * then minLr + (lr - minLr) * (1 + cos(pi * t)) / 2 with t going from 0 to 1 over the remaining steps.
 */
export function learningRate(step: number, o: ScheduleOptions): number {
  const minLr = o.minLr ?? 0;
  if (o.warmupSteps > 0 && step < o.warmupSteps) return (o.lr * (step + 1)) / o.warmupSteps;
  if (o.kind === 'constant') return o.lr;
  const rest = Math.max(1, o.totalSteps - o.warmupSteps - 1);
  const t = Math.min(1, Math.max(0, (step - o.warmupSteps) / rest));
  return minLr + ((o.lr - minLr) * (1 + Math.cos(Math.PI * t))) / 2;
}
