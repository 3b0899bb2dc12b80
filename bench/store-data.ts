/**
 * Synthetic folder stores for the store benches (bench:store, bench:open): clustered unit
 * vectors (1,000 Gaussian clusters) written straight into a folder store, cached in a folder
 * between runs (2 GB for 1M x 512).
 */
import fs from 'node:fs';
import path from 'node:path';
import { rng, gaussian } from '../src/util/random.ts';
import { writeBulk } from '../src/store/folder/bulk.ts';

/** Clusters of the synthetic data. */
export const CLUSTERS = 1000;

/** Cluster centres (unit) and a row generator: centre + noise, normalised (noise from `noiseSeed`, default the same stream). */
export function generator(dim: number, seed: number, noiseSeed?: number) {
  let g = gaussian(rng(seed));
  const centres = new Float32Array(CLUSTERS * dim);
  for (let i = 0; i < centres.length; i++) centres[i] = g();
  if (noiseSeed !== undefined) g = gaussian(rng(noiseSeed));
  const row = (out: Float32Array, o: number, c: number) => {
    let s = 0;
    for (let d = 0; d < dim; d++) s += (out[o + d] = centres[c * dim + d] + 0.6 * g()) ** 2;
    const inv = 1 / Math.sqrt(s);
    for (let d = 0; d < dim; d++) out[o + d] *= inv;
  };
  return { row, rnd: rng(seed + 1) };
}

/** The id of synthetic item i. */
export const idOf = (i: number) => `c${String(i % CLUSTERS).padStart(4, '0')}/${String(i).padStart(8, '0')}.jpg`;

/** The cached store folder for n x dim items under `root` (created on first use). */
export async function dataset(root: string, n: number, dim: number): Promise<string> {
  const dir = path.join(root, `n${n}-d${dim}.lkx`);
  if (fs.existsSync(path.join(dir, 'manifest.json'))) return dir;
  fs.rmSync(dir, { recursive: true, force: true });
  process.stderr.write(`writing ${n} x ${dim} synthetic vectors to ${dir}...\n`);
  // Ids sorted: generate in id order (cluster-major ids sort by cluster, then index).
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => (idOf(a) < idOf(b) ? -1 : 1));
  const gen = generator(dim, 7);
  const block = 8192;
  function* blocks() {
    for (let i = 0; i < n; i += block) {
      const part = order.slice(i, i + block);
      const vectors = new Float32Array(part.length * dim);
      part.forEach((r, j) => gen.row(vectors, j * dim, r % CLUSTERS));
      yield { ids: part.map(idOf), vectors };
    }
  }
  await writeBulk(dir, { model: { name: 'synthetic', fingerprint: 'synthetic', spec: {} as never }, dim }, n, blocks());
  return dir;
}
