/**
 * The one "same embedding" rule: two sources give comparable vectors only when the backbone
 * fingerprint and the head fingerprint (or the absence of a head) are both equal. Every place
 * that mixes or compares embeddings (index updates, opening a model for an index, workers,
 * rebuilds, server reloads) asks this file.
 */
import type { ModelSpec } from './spec.ts';

/** Which model (and tuned head) produced a set of embeddings. */
export interface EmbeddingSource {
  model: { name: string; fingerprint: string; spec: ModelSpec };
  head?: { file: string; fingerprint: string };
}

/** The fingerprints that decide comparability: backbone and head (null when none). */
export interface EmbeddingKey {
  model: string;
  head: string | null;
}

/** The comparability key of a source. */
export function embeddingKey(s: EmbeddingSource): EmbeddingKey {
  return { model: s.model.fingerprint, head: s.head?.fingerprint ?? null };
}

/** True when vectors from `a` and `b` can be compared or mixed. */
export function sameEmbedding(a: EmbeddingSource | EmbeddingKey, b: EmbeddingSource | EmbeddingKey): boolean {
  const ka = typeof a.model === 'string' ? (a as EmbeddingKey) : embeddingKey(a as EmbeddingSource);
  const kb = typeof b.model === 'string' ? (b as EmbeddingKey) : embeddingKey(b as EmbeddingSource);
  return ka.model === kb.model && ka.head === kb.head;
}

/** One-line description of a source for errors: name, short fingerprint, head. */
export function describeEmbedding(s: EmbeddingSource): string {
  return `${s.model.name} ${s.model.fingerprint.slice(0, 12)}, head ${s.head ? `${s.head.file} ${s.head.fingerprint.slice(0, 12)}` : 'none'}`;
}

/** Refuse to mix embeddings from different models (or heads); `what` names the index. */
export function assertSameEmbedding(a: EmbeddingSource, b: EmbeddingSource, what: string): void {
  if (!sameEmbedding(a, b)) {
    throw new Error(`${what}: embeddings come from a different model or head (index: ${describeEmbedding(a)}; now: ${describeEmbedding(b)}); rebuild the index, or use the same model and head`);
  }
}
