/** The loss registry: one loss per file in this folder, each declaring its own parameters. */
import type { Loss, LossDef } from './base.ts';
import { ARCFACE_LOSS } from './arcface.ts';
import { CONTRASTIVE_LOSS } from './contrastive.ts';
import { COSFACE_LOSS } from './cosface.ts';
import { COSINE_EMBEDDING_LOSS } from './cosine-embedding.ts';
import { CROSS_ENTROPY_LOSS } from './cross-entropy.ts';
import { HYBRID_LOSS } from './hybrid.ts';
import { MULTI_SIMILARITY_LOSS } from './multi-similarity.ts';
import { SUPCON_LOSS } from './supcon.ts';
import { TRIPLET_LOSS } from './triplet.ts';
import type { Rng } from '../../util/random.ts';

/** Every loss `tune` can train with, in the order help lists them. */
export const LOSSES: readonly LossDef[] = [CROSS_ENTROPY_LOSS, CONTRASTIVE_LOSS, TRIPLET_LOSS, MULTI_SIMILARITY_LOSS, SUPCON_LOSS, ARCFACE_LOSS, COSFACE_LOSS, COSINE_EMBEDDING_LOSS, HYBRID_LOSS];

/** Loss names accepted by tune's `loss` option. */
export const LOSS_NAMES = ['cross-entropy', 'contrastive', 'triplet', 'multi-similarity', 'supcon', 'arcface', 'cosface', 'cosine-embedding', 'hybrid'] as const;
/** A loss name. */
export type LossName = (typeof LOSS_NAMES)[number];

/** Loss parameters; a loss reads the ones it declares, unset ones take that loss's default. */
export type LossOptions = Partial<Record<LossParamName, number>>;

/** Every parameter name some loss declares. */
export type LossParamName = 'smoothing' | 'posMargin' | 'negMargin' | 'margin' | 'alpha' | 'beta' | 'base' | 'temperature' | 'scale' | 'lambda';

/** The definition of a loss, or an error listing the known ones. */
export function lossDef(name: string): LossDef {
  const d = LOSSES.find((l) => l.name === name);
  if (!d) throw new Error(`unknown loss "${name}" (expected ${LOSS_NAMES.join(', ')})`);
  return d;
}

/** Create the named loss for dim-d embeddings and numClasses classes; parameters it declares and `o` leaves unset take its defaults. */
export function makeLoss(name: string, o: LossOptions, dim: number, numClasses: number, rng: Rng): Loss {
  const def = lossDef(name);
  const values: Record<string, number> = {};
  for (const [p, d] of Object.entries(def.params)) values[p] = o[p as LossParamName] ?? d.default;
  return def.make(values, { dim, numClasses, rng });
}
