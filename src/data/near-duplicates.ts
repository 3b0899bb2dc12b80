/**
 * Near-duplicate test sets: each source image written as is plus edited copies, the edits a
 * photo collection accumulates: re-encoded as low-quality JPEG, resized, cropped by 5%, slightly
 * recoloured. Used by the dedup tests and docs/dedup.md to measure precision and recall.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Sharp } from 'sharp';
import { sharpLib } from '../util/lazy-import.ts';

/** The edits applied to each source image (name -> sharp pipeline). */
export const EDITS: Record<string, (img: Sharp, w: number, h: number) => Sharp> = {
  jpeg30: (img) => img.jpeg({ quality: 30 }),
  resized: (img, w) => img.resize({ width: Math.max(8, Math.round(w * 0.6)) }).jpeg({ quality: 90 }),
  crop5: (img, w, h) => img.extract({ left: Math.round(w * 0.025), top: Math.round(h * 0.025), width: Math.round(w * 0.95), height: Math.round(h * 0.95) }).jpeg({ quality: 90 }),
  recolour: (img) => img.modulate({ brightness: 1.08, saturation: 0.85, hue: 6 }).jpeg({ quality: 90 }),
};

/**
 * Write `dupOf` source images with every edit (group folder `dupNN/`: original.jpg plus one file
 * per edit) and `distinct` further source images as singletons (`single/NNN.jpg`) into `dir`.
 * Returns id -> true group for every written file (singletons get their own id as group).
 */
export async function writeNearDuplicates(dir: string, sources: Buffer[], dupOf: number): Promise<Map<string, string>> {
  if (sources.length < dupOf) throw new Error(`writeNearDuplicates: ${sources.length} sources, ${dupOf} wanted as originals`);
  const sharp = sharpLib();
  const truth = new Map<string, string>();
  for (let i = 0; i < sources.length; i++) {
    const src = sources[i];
    if (i < dupOf) {
      const g = `dup${String(i).padStart(2, '0')}`;
      fs.mkdirSync(path.join(dir, g), { recursive: true });
      const base = sharp(src).rotate();
      const { width = 64, height = 64 } = await base.metadata();
      fs.writeFileSync(path.join(dir, g, 'original.jpg'), await sharp(src).jpeg({ quality: 95 }).toBuffer());
      truth.set(`${g}/original.jpg`, g);
      for (const [name, edit] of Object.entries(EDITS)) {
        fs.writeFileSync(path.join(dir, g, `${name}.jpg`), await edit(sharp(src), width, height).toBuffer());
        truth.set(`${g}/${name}.jpg`, g);
      }
    } else {
      fs.mkdirSync(path.join(dir, 'single'), { recursive: true });
      const id = `single/${String(i).padStart(3, '0')}.jpg`;
      fs.writeFileSync(path.join(dir, id), await sharp(src).jpeg({ quality: 95 }).toBuffer());
      truth.set(id, id);
    }
  }
  return truth;
}
