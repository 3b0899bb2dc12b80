import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { loadBackbone } from '../../src/models/load.ts';
import { embedWithBackbone } from '../../src/embed/pipeline.ts';
import { parseViews } from '../../src/models/views.ts';
import { tmpDir, TINY_FLAGS, writeTinyCnn } from '../helpers/tmp.ts';
import { runCli } from '../helpers/cli.ts';
import type { Backbone } from '../../src/models/backbone.ts';
import { gradientPicture } from '../helpers/pictures.ts';

const MEAN = [0.485, 0.456, 0.406];
const STD = [0.229, 0.224, 0.225];


const unit = (v: number[]) => {
  const n = Math.hypot(...v);
  return v.map((x) => x / n);
};

/** One view, computed apart from the pipeline: sharp resize to exactly w x h, mirrored by sharp when `flip`, normalised by loops (NCHW), run alone, L2-normalised. */
async function oneView(bb: Backbone, img: Buffer, w: number, h: number, flip: boolean): Promise<number[]> {
  let s = sharp(img).resize(w, h, { fit: 'fill', kernel: 'linear' });
  if (flip) s = sharp(await s.png().toBuffer()).flop();
  const { data } = await s.raw().toBuffer({ resolveWithObject: true });
  const t = new Float32Array(3 * w * h);
  for (let c = 0; c < 3; c++) for (let p = 0; p < w * h; p++) t[c * w * h + p] = (data[p * 3 + c] / 255 - MEAN[c]) / STD[c];
  return unit([...(await bb.run(t, 1, { height: h, width: w })).data]);
}

/** Reference of a view set: the mean of the views' unit descriptors, L2-normalised. */
async function reference(bb: Backbone, img: Buffer, sizes: [number, number][], flip: boolean): Promise<number[]> {
  const views: number[][] = [];
  for (const [w, h] of sizes) for (const f of flip ? [false, true] : [false]) views.push(await oneView(bb, img, w, h, f));
  return unit(views[0].map((_, k) => views.reduce((s, v) => s + v[k], 0) / views.length));
}

const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => Math.max(...Array.from(a, (x, i) => Math.abs(x - b[i])));
const row = (v: Float32Array, dim: number, r: number) => v.subarray(r * dim, (r + 1) * dim);

test('views: an image embeds as the normalised mean of its flipped and rescaled views (any-size graph, mixed sizes, a broken file skipped)', async () => {
  const dir = tmpDir();
  const model = writeTinyCnn(dir, { anySize: true });
  // Shortest edge 16, no crop: each scale keeps the aspect ratio (0.75 -> 12, 1.5 -> 24).
  const bb = await loadBackbone(model, { overrides: { resize: { mode: 'shortest-edge', shortestEdge: 16 }, crop: null, views: parseViews('flip,scales=0.75,1.5') } });
  const plain = await loadBackbone(model, { overrides: { resize: { mode: 'shortest-edge', shortestEdge: 16 }, crop: null } });
  try {
    assert.deepEqual(bb.spec.views, { scales: [0.75, 1.5], flip: true });
    assert.notEqual(bb.fingerprint, plain.fingerprint);
    const wide = await gradientPicture(48, 24);
    const tall = await gradientPicture(20, 40, 1);
    const items = [
      { id: 'wide', source: wide },
      { id: 'broken', source: Buffer.from('not an image') },
      { id: 'tall', source: tall },
      { id: 'wide2', source: wide },
    ];
    const r = await embedWithBackbone(bb, items, { batchSize: 4 });
    assert.deepEqual(r.ids, ['wide', 'tall', 'wide2']);
    assert.deepEqual(r.skipped.map((s) => s.id), ['broken']);
    const refWide = await reference(bb, wide, [[24, 12], [48, 24]], true);
    const refTall = await reference(bb, tall, [[12, 24], [24, 48]], true);
    for (const [i, ref] of [[0, refWide], [1, refTall], [2, refWide]] as const) assert.ok(maxDiff(row(r.vectors, r.dim, i), ref) < 1e-5, `row ${i}: ${maxDiff(row(r.vectors, r.dim, i), ref)}`);
    // A single view is not the same embedding.
    const one = await embedWithBackbone(plain, [items[0]]);
    assert.ok(maxDiff(one.vectors, refWide) > 1e-3);
    // Fixed resize with a center crop: each scale scales both (resize 20x20 -> 15x15 / 30x30, crop 16 -> 12 / 24).
    const cropped = await loadBackbone(model, { overrides: { resize: { mode: 'fixed', height: 20, width: 20 }, crop: { height: 16, width: 16 }, views: parseViews('scales=0.75,1.5') } });
    try {
      const c = await embedWithBackbone(cropped, [items[2]]);
      const cut = async (s: number, crop: number) => sharp(await sharp(tall).resize(s, s, { fit: 'fill', kernel: 'linear' }).extract({ left: (s - crop) >> 1, top: (s - crop) >> 1, width: crop, height: crop }).png().toBuffer());
      const views = [await oneView(cropped, await (await cut(15, 12)).png().toBuffer(), 12, 12, false), await oneView(cropped, await (await cut(30, 24)).png().toBuffer(), 24, 24, false)];
      assert.ok(maxDiff(c.vectors, unit(views[0].map((x, k) => x + views[1][k]))) < 1e-5);
    } finally {
      await cropped.dispose();
    }
  } finally {
    await bb.dispose();
    await plain.dispose();
  }
});

test('views: flip works on a fixed-size graph (the head applies to the pooled views); scales there are refused naming views and the size', async () => {
  const dir = tmpDir();
  const model = writeTinyCnn(dir);
  const fixed = { resize: { mode: 'fixed' as const, height: 32, width: 32 }, crop: null };
  const img = await gradientPicture(40, 30);
  const bb = await loadBackbone(model, { overrides: { ...fixed, views: parseViews('flip') } });
  try {
    const r = await embedWithBackbone(bb, [{ id: 'a', source: img }, { id: 'b', source: img }], { batchSize: 2 });
    const ref = await reference(bb, img, [[32, 32]], true);
    assert.ok(maxDiff(row(r.vectors, r.dim, 0), ref) < 1e-5 && maxDiff(row(r.vectors, r.dim, 1), ref) < 1e-5);
    // A head sees the descriptor pooled over the views (here a diagonal one, written in the test).
    const head = { file: 'diag', fingerprint: 'diag', inputDim: undefined, dispose: async () => {}, apply: async (data: Float32Array, _n: number, dim: number) => ({ data: data.map((x, i) => x * ((i % dim) + 1)), dim }) };
    const h = await embedWithBackbone(bb, [{ id: 'a', source: img }], { head });
    assert.ok(maxDiff(h.vectors, unit(ref.map((x, k) => x * (k + 1)))) < 1e-5);
  } finally {
    await bb.dispose();
  }
  const scaled = await loadBackbone(model, { overrides: { ...fixed, views: parseViews('flip,scales=0.707,1') } });
  try {
    await assert.rejects(embedWithBackbone(scaled, [{ id: 'a', source: img }]), (e: Error) => e.name === 'OptionError' && /views\b.*scales=0\.707,1.*fixed at 32x32/.test(e.message));
  } finally {
    await scaled.dispose();
  }
});

test('views: parsing (order, none, one view = no views) and one-line errors naming --views with a suggestion', async () => {
  assert.deepEqual(parseViews('scales=1.414,0.707,1,flip'), { scales: [0.707, 1, 1.414], flip: true });
  assert.equal(parseViews('none'), undefined);
  assert.equal(parseViews('scales=1'), undefined);
  for (const [bad, why] of [['flp', /did you mean "flip"/], ['scales=0.1', /from 0\.25 to 4/], ['flip,flip', /twice/], ['scale=2', /did you mean "scales"/], ['scales=1,1', /twice/]] as const) {
    assert.throws(() => parseViews(bad), (e: Error) => e.name === 'OptionError' && why.test(e.message), bad);
  }
  const dir = tmpDir();
  fs.writeFileSync(path.join(dir, 'a.png'), await gradientPicture(40, 30));
  const r = await runCli(['index', dir, '--model', writeTinyCnn(dir), ...TINY_FLAGS, '--views', 'flp', '--out', path.join(dir, 'x.lkx')]);
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /^[^\n]*--views flp: unknown view "flp" \(did you mean "flip"\?\)[^\n]*\n$/);
});

test('views: an index built with views embeds image queries with the same views (query = its own indexed row)', async () => {
  const dir = tmpDir();
  const imgs = path.join(dir, 'imgs');
  fs.mkdirSync(imgs);
  for (let i = 0; i < 3; i++) fs.writeFileSync(path.join(imgs, `p${i}.png`), await gradientPicture(40 + 8 * i, 30, i));
  const model = writeTinyCnn(dir, { anySize: true });
  const out = path.join(dir, 'v.lkx');
  const built = await runCli(['index', imgs, '--model', model, '--resize', '16', '--crop', 'none', '--views', 'flip,scales=0.75,1.5', '--out', out, '--json']);
  assert.equal(built.status, 0, built.stderr);
  const manifest = fs.readFileSync(path.join(out, fs.readdirSync(out).find((f) => /manifest|meta/.test(f))!), 'utf8');
  assert.match(manifest, /"views":\s*\{\s*"scales":\s*\[\s*0\.75,\s*1\.5\s*\],\s*"flip":\s*true/);
  const s = await runCli(['search', out, path.join(imgs, 'p1.png'), '-k', '1', '--json']);
  assert.equal(s.status, 0, s.stderr);
  const hit = JSON.parse(s.stdout).results[0].hits[0];
  assert.equal(hit.id, 'p1.png');
  assert.ok(hit.score > 0.99999, `score ${hit.score}`);
  // Naming the model without the index's views is another embedding: refused.
  const other = await runCli(['search', out, path.join(imgs, 'p1.png'), '--model', model, '--resize', '16', '--crop', 'none']);
  assert.notEqual(other.status, 0);
  assert.match(other.stderr, /not the one the index was built with/);
});
