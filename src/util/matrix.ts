/** Row-major float matrices (n x dim in one Float32Array). */

/** Copy the given rows of a row-major matrix, in the given order, into a new matrix. */
export function gatherRows(vectors: Float32Array, dim: number, rows: readonly number[]): Float32Array {
  const out = new Float32Array(rows.length * dim);
  rows.forEach((r, i) => out.set(vectors.subarray(r * dim, (r + 1) * dim), i * dim));
  return out;
}
