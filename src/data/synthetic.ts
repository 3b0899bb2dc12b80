/** Images drawn with sharp from SVG: labelled classes of coloured shapes, for demos and tests. */
import fs from 'node:fs';
import path from 'node:path';
import { rng } from '../util/random.ts';
import { sharpLib } from '../util/lazy-import.ts';

const SHAPES = ['circle', 'square', 'triangle', 'stripes'] as const;
const COLOURS = ['#d62728', '#2ca02c', '#1f77b4', '#ff7f0e', '#9467bd', '#17becf'];

/** SVG of one class member: class c fixes colour and shape, the seed jitters position, size and background. */
export function classSvg(c: number, seed: number, size = 64): string {
  const r = rng(seed * 7919 + c * 104729 + 1);
  const colour = COLOURS[c % COLOURS.length];
  const shape = SHAPES[Math.floor(c / COLOURS.length) % SHAPES.length];
  const bg = Math.round(200 + r() * 55);
  const cx = size * (0.35 + r() * 0.3);
  const cy = size * (0.35 + r() * 0.3);
  const s = size * (0.2 + r() * 0.15);
  let body: string;
  if (shape === 'circle') body = `<circle cx="${cx}" cy="${cy}" r="${s}" fill="${colour}"/>`;
  else if (shape === 'square') body = `<rect x="${cx - s}" y="${cy - s}" width="${2 * s}" height="${2 * s}" fill="${colour}"/>`;
  else if (shape === 'triangle') body = `<polygon points="${cx},${cy - s} ${cx - s},${cy + s} ${cx + s},${cy + s}" fill="${colour}"/>`;
  else body = [0, 1, 2, 3].map((i) => `<rect x="0" y="${(i * size) / 4}" width="${size}" height="${size / 8}" fill="${colour}"/>`).join('');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${size}" height="${size}"><rect width="100%" height="100%" fill="rgb(${bg},${bg},${bg})"/>${body}</svg>`;
}

/** Render one synthetic image as JPEG (or PNG) bytes. */
export async function classImage(c: number, seed: number, size = 64, format: 'jpeg' | 'png' = 'jpeg'): Promise<Buffer> {
  const img = sharpLib()(Buffer.from(classSvg(c, seed, size)));
  return format === 'png' ? img.png().toBuffer() : img.jpeg({ quality: 90 }).toBuffer();
}

/**
 * Write a class-folder dataset: `dir/<class>/<i>.jpg` plus `dir/labels.csv` (path,label,split),
 * the first `perClass - queriesPerClass` images of each class in split "gallery", the rest "query".
 */
export async function writeClassFolders(dir: string, classes: number, perClass: number, queriesPerClass = 1, size = 64): Promise<string[]> {
  const rows = ['path,label,split'];
  const files: string[] = [];
  for (let c = 0; c < classes; c++) {
    const name = `class${String(c).padStart(2, '0')}`;
    fs.mkdirSync(path.join(dir, name), { recursive: true });
    for (let i = 0; i < perClass; i++) {
      const rel = `${name}/${String(i).padStart(3, '0')}.jpg`;
      fs.writeFileSync(path.join(dir, rel), await classImage(c, i, size));
      rows.push(`${rel},${name},${i < perClass - queriesPerClass ? 'gallery' : 'query'}`);
      files.push(rel);
    }
  }
  fs.writeFileSync(path.join(dir, 'labels.csv'), rows.join('\n') + '\n');
  return files;
}

/**
 * Write a competition folder: `dir/query/qNNNN.jpg`, `dir/gallery/gNNNN.jpg` and `dir/truth.json`
 * (one query per class, `galleryPerClass` gallery images per class, shuffled names).
 */
export async function writeCompetition(dir: string, classes: number, galleryPerClass = 2, size = 64): Promise<Record<string, string[]>> {
  fs.mkdirSync(path.join(dir, 'query'), { recursive: true });
  fs.mkdirSync(path.join(dir, 'gallery'), { recursive: true });
  const r = rng(42);
  const order = Array.from({ length: classes * galleryPerClass }, (_, i) => i).sort(() => r() - 0.5);
  const truth: Record<string, string[]> = {};
  for (let c = 0; c < classes; c++) {
    const q = `q${String(c).padStart(4, '0')}.jpg`;
    fs.writeFileSync(path.join(dir, 'query', q), await classImage(c, 1000 + c, size));
    truth[q] = [];
    for (let j = 0; j < galleryPerClass; j++) {
      const g = `g${String(order[c * galleryPerClass + j]).padStart(4, '0')}.jpg`;
      fs.writeFileSync(path.join(dir, 'gallery', g), await classImage(c, j, size));
      truth[q].push(g);
    }
  }
  fs.writeFileSync(path.join(dir, 'truth.json'), JSON.stringify(truth, null, 1));
  return truth;
}
