/**
 * bench:embed-shrink — the tolerance and the saving of shrink-on-load decoding
 * (src/models/shrink-decode.ts, LOOKALIKE_SHRINK_ON_LOAD=1) against the exact decode.
 *
 * Two galleries, both ways (exact decode vs shrink-on-load), per model:
 *  - clothing10's test split as it is (long side 256): the rule never applies at 224, so the
 *    vectors must be identical (max |difference| 0) and so must the metrics;
 *  - the same images upscaled 12x (long side 3072, lanczos3, JPEG q90), standing in for camera
 *    photos (no large real photos are available offline; upscaled images are smoother than real
 *    ones, so the cosine here is an optimistic estimate): cosine between the two embeddings of
 *    each image (min, median), label retrieval metrics (each image a query against the others)
 *    both ways, and decoding CPU per image both ways (alternated rounds).
 *
 *   npm run bench:embed-shrink [-- --quick] [--images N]
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { loadBackbone } from '../src/models/load.ts';
import { decodeRgb } from '../src/models/preprocess.ts';
import { decodeRgbShrunk } from '../src/models/shrink-decode.ts';
import { embedWithBackbone, type EmbedResult } from '../src/embed/pipeline.ts';
import { evaluateLabelled } from '../src/metrics/evaluate.ts';
import { Bench, benchArgs, median, ownCounters, type GroupResult, type PathResult } from './harness.ts';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const SHARED = path.resolve(HERE, '../../shared');
const { values } = benchArgs({ images: { type: 'string' }, models: { type: 'string' } });
const quick = Boolean(values.quick);
const N = Number(values.images ?? (quick ? 40 : 200));
const models = (values.models ?? 'mobilenet-v2-imagenet,mobilenet-v3-small-embedder').split(',').filter(Boolean);
const data = path.join(SHARED, 'datasets/clothing10');
const test = fs
  .readFileSync(path.join(data, 'labels.csv'), 'utf8')
  .trim()
  .split('\n')
  .slice(1)
  .map((l) => l.split(','))
  .filter((c) => c[2] === 'test')
  .map(([p, label]) => ({ id: p, label }));
// Evenly spaced over the split (the file is grouped by class), so every class is in the sample.
const rows = test.filter((_, i) => Math.floor((i * Math.min(N, test.length)) / test.length) !== Math.floor(((i - 1) * Math.min(N, test.length)) / test.length) || i === 0);

const b = new Bench(
  'embed-shrink',
  "Shrink-on-load decoding (LOOKALIKE_SHRINK_ON_LOAD=1: large JPEGs decoded at 1/2-1/8 DCT scale, reduced to 2x the model's resize target, then the exact Pillow resize) against the exact decode: identical vectors on clothing10 as it is (too small for the rule), and on the same images upscaled 12x (a stand-in for camera photos) the cosine between both embeddings, the retrieval metrics both ways and the decoding CPU per image.",
  { images: rows.length, models: models.join(' ') },
);
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'lookalike-bench-shrink-'));
process.on('exit', () => fs.rmSync(work, { recursive: true, force: true }));
const large = path.join(work, 'large');
b.log(`writing ${rows.length} upscaled JPEGs...`);
for (const r of rows) {
  const dst = path.join(large, r.id);
  fs.mkdirSync(path.dirname(dst), { recursive: true });
  const m = await sharp(path.join(data, r.id)).metadata();
  await sharp(path.join(data, r.id)).resize(m.width! * 12, m.height! * 12, { kernel: 'lanczos3' }).jpeg({ quality: 90 }).toFile(dst);
}

function metrics(e: EmbedResult): Record<string, number> {
  const label = new Map(rows.map((r) => [r.id, r.label]));
  const gallery = e.ids.map((id) => ({ id, label: label.get(id)! }));
  const queries = e.ids.map((id, q) => {
    const s = e.ids.map((_, i) => {
      let d = 0;
      for (let k = 0; k < e.dim; k++) d += e.vectors[q * e.dim + k] * e.vectors[i * e.dim + k];
      return d;
    });
    const ranking = e.ids.map((_, i) => i).sort((x, y) => s[y] - s[x] || x - y).map((i) => e.ids[i]);
    return { id, label: label.get(id)!, ranking };
  });
  return evaluateLabelled(gallery, queries, { excludeSelf: true }).mean;
}

function compareEmbeddings(a: EmbedResult, c: EmbedResult): { cosMin: number; cosMedian: number; maxDiff: number } {
  const cos: number[] = [];
  let maxDiff = 0;
  for (let i = 0; i < a.ids.length; i++) {
    let d = 0;
    for (let k = 0; k < a.dim; k++) {
      d += a.vectors[i * a.dim + k] * c.vectors[i * a.dim + k];
      maxDiff = Math.max(maxDiff, Math.abs(a.vectors[i * a.dim + k] - c.vectors[i * a.dim + k]));
    }
    cos.push(d);
  }
  return { cosMin: Math.min(...cos), cosMedian: median(cos), maxDiff };
}

const headline: string[] = [];
for (const id of models) {
  const dir = path.join(SHARED, 'models', id);
  if (!fs.existsSync(dir)) continue;
  const bb = await loadBackbone(dir);
  const spec = bb.spec;
  const items = (root: string) => rows.map((r) => ({ id: r.id, source: path.join(root, r.id) }));
  // Identical on the small originals.
  const smallExact = await embedWithBackbone(bb, items(data), { shrinkOnLoad: false });
  const smallShrunk = await embedWithBackbone(bb, items(data), { shrinkOnLoad: true });
  const small = compareEmbeddings(smallExact, smallShrunk);
  const exact = await embedWithBackbone(bb, items(large), { shrinkOnLoad: false });
  const shrunk = await embedWithBackbone(bb, items(large), { shrinkOnLoad: true });
  const cmp = compareEmbeddings(exact, shrunk);
  const mExact = metrics(exact);
  const mShrunk = metrics(shrunk);
  // Decoding CPU per image, alternated.
  const files = items(large).map((x) => fs.readFileSync(x.source as string));
  const cpu: Record<string, number[]> = { exact: [], shrunk: [] };
  const wall: Record<string, number[]> = { exact: [], shrunk: [] };
  for (let r = 0; r < (quick ? 2 : 3); r++) {
    for (const which of r % 2 ? ['shrunk', 'exact'] : ['exact', 'shrunk']) {
      const fn = which === 'exact' ? decodeRgb : decodeRgbShrunk;
      const c0 = ownCounters().cpuSeconds;
      const t0 = performance.now();
      for (const f of files) await fn(f, spec);
      wall[which].push((performance.now() - t0) / 1000);
      cpu[which].push(ownCounters().cpuSeconds - c0);
    }
  }
  await bb.dispose();
  const path_ = (name: string, label: string): PathResult => ({
    name,
    label,
    reps: 1,
    seconds: wall[name],
    median: median(wall[name]),
    min: Math.min(...wall[name]),
    max: Math.max(...wall[name]),
    throughput: files.length / median(wall[name]),
    cpuPerWall: cpu[name].reduce((a, x) => a + x, 0) / wall[name].reduce((a, x) => a + x, 0),
    cpuSeconds: cpu[name],
    columns: { 'CPU ms/image': ((1000 * median(cpu[name])) / files.length).toFixed(2) },
  });
  const g: GroupResult = {
    group: id,
    title: `${id}: decoding ${files.length} JPEGs of ~2304x3072 (clothing10 test split upscaled 12x), one at a time`,
    unit: 'images/s',
    baseline: 'exact',
    rounds: cpu.exact.length,
    paths: [path_('exact', 'exact decode (full-size JPEG decode, Pillow resize)'), path_('shrunk', 'shrink-on-load decode')],
    notes: [],
  };
  g.paths[1].ratio = median(wall.exact.map((w, i) => w / wall.shrunk[i]));
  b.record(g);
  const names = Object.keys(mExact);
  const worst = Math.max(...names.map((n) => Math.abs(mExact[n] - mShrunk[n])));
  b.groupNote(g, `clothing10 as it is (long side 256, ${smallExact.ids.length} images): max |difference| between the two decodes' embeddings ${small.maxDiff} (the rule never applies: identical)`);
  b.groupNote(g, `upscaled 12x: cosine between the two embeddings of an image: min ${cmp.cosMin.toFixed(6)}, median ${cmp.cosMedian.toFixed(6)}`);
  const shown = ['precision@10', 'recall@10', 'ap', 'map@r', 'ndcg@10'].filter((n) => n in mExact);
  b.groupNote(g, `upscaled 12x, label retrieval over ${exact.ids.length} images (each a query against the others): ${shown.map((n) => `${n} ${mExact[n].toFixed(4)} -> ${mShrunk[n].toFixed(4)}`).join(', ')}; largest change over all ${names.length} metrics ${worst.toFixed(4)}`);
  b.groupNote(g, `decoding CPU per image ${((1000 * median(cpu.exact)) / files.length).toFixed(2)} ms exact, ${((1000 * median(cpu.shrunk)) / files.length).toFixed(2)} ms with shrink-on-load; load average ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  headline.push(`With ${id}, shrink-on-load decodes ~2304x3072 JPEGs with ${((1000 * median(cpu.shrunk)) / files.length).toFixed(2)} instead of ${((1000 * median(cpu.exact)) / files.length).toFixed(2)} ms of CPU per image (embedding cosine >= ${cmp.cosMin.toFixed(4)}, retrieval metrics within ${worst.toFixed(4)}).`);
}
for (const h of headline) b.note(h);
await b.done();
