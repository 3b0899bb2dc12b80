/** Helpers for the kill -9 suites: a gallery of many tiny distinct images, and reading an index's state. */
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { rng } from '../../src/util/random.ts';
import { openStore } from '../../src/store/open-store.ts';

/** Write n distinct tiny PNGs (8x8 random pixels) under dir in folders of 100; returns their ids. */
export async function writeTinyGallery(dir: string, n: number, seed = 1, size = 8): Promise<string[]> {
  const rnd = rng(seed);
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const id = `f${String(Math.floor(i / 100)).padStart(2, '0')}/${String(i).padStart(5, '0')}.png`;
    const px = Buffer.alloc(size * size * 3);
    for (let j = 0; j < px.length; j++) px[j] = Math.floor(rnd() * 256);
    fs.mkdirSync(path.join(dir, path.dirname(id)), { recursive: true });
    fs.writeFileSync(path.join(dir, id), await sharp(px, { raw: { width: size, height: size, channels: 3 } }).png().toBuffer());
    ids.push(id);
  }
  return ids;
}

/** An index's items as id -> vector (or undefined when there is no index yet); throws if it does not load. */
export async function indexState(loc: string): Promise<Map<string, Float32Array> | undefined> {
  if (!fs.existsSync(path.join(loc, 'manifest.json'))) return undefined;
  const s = await openStore(loc);
  try {
    const out = new Map<string, Float32Array>();
    for await (const b of s.scan(1024)) b.ids.forEach((id, i) => out.set(id, b.vectors.slice(i * b.dim, (i + 1) * b.dim)));
    return out;
  } finally {
    await s.close();
  }
}

/** Largest absolute difference between the vectors of `a` and `ref` (ids of a must be in ref). */
export function maxDiff(a: Map<string, Float32Array>, ref: Map<string, Float32Array>): number {
  let m = 0;
  for (const [id, v] of a) {
    const r = ref.get(id);
    if (!r) return Infinity;
    for (let i = 0; i < v.length; i++) m = Math.max(m, Math.abs(v[i] - r[i]));
  }
  return m;
}
