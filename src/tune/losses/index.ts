/** Build a loss by name (one loss per file in this folder). */
import type { Loss } from './base.ts';
import { ArcFaceLoss } from './arcface.ts';
import { ContrastiveLoss } from './contrastive.ts';
import { CosFaceLoss } from './cosface.ts';
import { CosineEmbeddingLoss } from './cosine-embedding.ts';
import { CrossEntropyLoss } from './cross-entropy.ts';
import { HybridLoss } from './hybrid.ts';
import { MultiSimilarityLoss } from './multi-similarity.ts';
import { SupConLoss } from './supcon.ts';
import { TripletLoss } from './triplet.ts';
import type { Rng } from '../../util/random.ts';

/** Loss names accepted by `lookalike tune --loss`. */
export const LOSS_NAMES = ['cross-entropy', 'contrastive', 'triplet', 'multi-similarity', 'supcon', 'arcface', 'cosface', 'cosine-embedding', 'hybrid'] as const;
/** A loss name. */
export type LossName = (typeof LOSS_NAMES)[number];

/** Loss hyper-parameters; unset fields take each loss's default. */
export interface LossOptions {
  smoothing?: number;
  posMargin?: number;
  negMargin?: number;
  margin?: number;
  alpha?: number;
  beta?: number;
  base?: number;
  temperature?: number;
  scale?: number;
  lambda?: number;
}

/** Create the named loss for dim-d embeddings and numClasses classes. */
export function makeLoss(name: string, o: LossOptions, dim: number, numClasses: number, rng: Rng): Loss {
  switch (name as LossName) {
    case 'cross-entropy':
      return new CrossEntropyLoss(o.smoothing ?? 0);
    case 'contrastive':
      return new ContrastiveLoss(o.posMargin, o.negMargin);
    case 'triplet':
      return new TripletLoss(o.margin);
    case 'multi-similarity':
      return new MultiSimilarityLoss(o.alpha, o.beta, o.base);
    case 'supcon':
      return new SupConLoss(o.temperature);
    case 'arcface':
      return new ArcFaceLoss(dim, numClasses, rng, o.scale, o.margin);
    case 'cosface':
      return new CosFaceLoss(dim, numClasses, rng, o.scale, o.margin);
    case 'cosine-embedding':
      return new CosineEmbeddingLoss(o.margin);
    case 'hybrid':
      return new HybridLoss(o.lambda, o.temperature, o.smoothing ?? 0);
    default:
      throw new Error(`unknown loss "${name}" (expected ${LOSS_NAMES.join(', ')})`);
  }
}
