/**
 * Synthetic clustered embeddings with a confusing rotation, for tests, the benchmark and demos:
 * each row is a weak class signal plus a strong "style" signal shared across classes, rotated by a
 * random orthogonal matrix so neither is axis-aligned. Frozen cosine neighbours mostly share the
 * style, not the class; a tuned head can learn to ignore the style.
 */
import { Rng } from '../util/random.ts';

/** A labelled synthetic set. */
export interface SyntheticSet {
  vectors: Float32Array;
  dim: number;
  labels: Int32Array;
  numClasses: number;
}

/** Options for synthetic data. */
export interface SyntheticOptions {
  n: number;
  dim: number;
  classes: number;
  /** Number of styles (nuisance clusters), default 4. */
  styles?: number;
  /** Scale of the class signal, style signal and isotropic noise (defaults 1, 3, 1). */
  classScale?: number;
  styleScale?: number;
  noise?: number;
  seed?: number;
}

/** Random orthogonal dim x dim matrix (Gram-Schmidt on a Gaussian matrix). */
export function randomRotation(dim: number, rng: Rng): Float32Array {
  const q = new Float64Array(dim * dim);
  for (let i = 0; i < q.length; i++) q[i] = rng.normal();
  for (let i = 0; i < dim; i++) {
    for (let j = 0; j < i; j++) {
      let d = 0;
      for (let k = 0; k < dim; k++) d += q[i * dim + k] * q[j * dim + k];
      for (let k = 0; k < dim; k++) q[i * dim + k] -= d * q[j * dim + k];
    }
    let s = 0;
    for (let k = 0; k < dim; k++) s += q[i * dim + k] ** 2;
    s = Math.sqrt(s);
    for (let k = 0; k < dim; k++) q[i * dim + k] /= s;
  }
  return Float32Array.from(q);
}

/**
 * Generate rows: class centre (in the first half of the dimensions) x classScale + style centre
 * (second half) x styleScale + noise, then rotated. Labels cycle through the classes.
 * Two calls with the same seed and the same class/style settings share centres and rotation.
 */
export function syntheticSet(o: SyntheticOptions, rowSeed = (o.seed ?? 1) + 1000): SyntheticSet {
  const { n, dim, classes } = o;
  const styles = o.styles ?? 4;
  const rng = new Rng(o.seed ?? 1);
  const half = Math.floor(dim / 2);
  const centres = Float32Array.from({ length: classes * dim }, (_, i) => (i % dim < half ? rng.normal() : 0));
  const styleC = Float32Array.from({ length: styles * dim }, (_, i) => (i % dim >= half ? rng.normal() : 0));
  const rot = randomRotation(dim, rng);
  const r = new Rng(rowSeed);
  const vectors = new Float32Array(n * dim);
  const labels = new Int32Array(n);
  const v = new Float32Array(dim);
  const cs = o.classScale ?? 1, ss = o.styleScale ?? 3, ns = o.noise ?? 1;
  for (let i = 0; i < n; i++) {
    const c = i % classes, s = r.int(styles);
    labels[i] = c;
    for (let k = 0; k < dim; k++) v[k] = cs * centres[c * dim + k] + ss * styleC[s * dim + k] + ns * r.normal();
    for (let a = 0; a < dim; a++) {
      let acc = 0;
      for (let k = 0; k < dim; k++) acc += rot[a * dim + k] * v[k];
      vectors[i * dim + a] = acc;
    }
  }
  return { vectors, dim, labels, numClasses: classes };
}
