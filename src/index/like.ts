/**
 * "More like these, less like those": one query vector from several positive and negative
 * examples (docs/filters.md#more-like-these). The rule (Rocchio's, as Qdrant's "average vector"
 * recommendation uses it):
 *
 *   q = normalise( mean(positives) - unlikeWeight * mean(negatives) )
 *
 * over L2-normalised example vectors; with no negatives it is the normalised mean of the
 * positives. The examples that are items of the index are left out of the results.
 */
import type { FilterNode } from '../data/field-types.ts';
import { OptionError } from '../util/options.ts';

/** Default weight of the negatives' mean. */
export const UNLIKE_WEIGHT = 0.5;

/** The combined query of unit example vectors (each dim wide); at least one positive is needed. */
export function combineExamples(like: Float32Array[], unlike: Float32Array[], dim: number, unlikeWeight = UNLIKE_WEIGHT): Float32Array {
  if (!like.length) throw new OptionError('{{like}}: give at least one positive example (an id, image or vector)');
  if (!Number.isFinite(unlikeWeight) || unlikeWeight < 0) throw new OptionError(`{{unlikeWeight}} ${unlikeWeight}: expected a number >= 0`);
  const acc = new Float64Array(dim);
  for (const v of like) for (let d = 0; d < dim; d++) acc[d] += v[d] / like.length;
  for (const v of unlike) for (let d = 0; d < dim; d++) acc[d] -= (unlikeWeight * v[d]) / unlike.length;
  let n = 0;
  for (let d = 0; d < dim; d++) n += acc[d] * acc[d];
  if (!(n > 1e-12)) throw new OptionError('{{like}}: the examples cancel out (positives equal the weighted negatives); give different examples or a smaller unlikeWeight');
  const out = new Float32Array(dim);
  const inv = 1 / Math.sqrt(n);
  for (let d = 0; d < dim; d++) out[d] = acc[d] * inv;
  return out;
}

/** `filter` and "id not in ids": the examples themselves are not results. */
export function excludingIds(filter: FilterNode | undefined, ids: string[]): FilterNode | undefined {
  if (!ids.length) return filter;
  const not: FilterNode = { op: 'not', arg: { op: 'in', field: 'id', type: 'string', values: ids } };
  return filter ? { op: 'and', args: [filter, not] } : not;
}
