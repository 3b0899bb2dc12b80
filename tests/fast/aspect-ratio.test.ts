import { test } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { loadBackbone } from '../../src/models/load.ts';
import { embedWithBackbone } from '../../src/embed/pipeline.ts';
import { decodeRgb, normalizeInto } from '../../src/models/preprocess.ts';
import { pool } from '../../src/models/pool.ts';
import { defaultSpec } from '../../src/models/spec.ts';
import { tmpDir, writeTinyCnn } from '../helpers/tmp.ts';
import type { Backbone } from '../../src/models/backbone.ts';
import { gradientPicture } from '../helpers/pictures.ts';

const MEAN = [0.485, 0.456, 0.406];
const STD = [0.229, 0.224, 0.225];


/** Reference: sharp's own resize to exactly `w x h` (no crop), normalised by plain loops (NCHW), run through the backbone, L2-normalised. */
async function reference(bb: Backbone, img: Buffer, w: number, h: number): Promise<number[]> {
  const { data } = await sharp(img).resize(w, h, { fit: 'fill', kernel: 'linear' }).raw().toBuffer({ resolveWithObject: true });
  const t = new Float32Array(3 * w * h);
  for (let c = 0; c < 3; c++) for (let p = 0; p < w * h; p++) t[c * w * h + p] = (data[p * 3 + c] / 255 - MEAN[c]) / STD[c];
  const out = await bb.run(t, 1, { height: h, width: w });
  const v = [...out.data];
  const n = Math.hypot(...v);
  return v.map((x) => x / n);
}

const cos = (a: ArrayLike<number>, b: ArrayLike<number>) => Array.from(a).reduce((s, x, i) => s + x * b[i], 0);

test('--resize N --crop none keeps each image\'s aspect ratio end to end: rows equal a reference decode at W x H, in input order', async () => {
  const dir = tmpDir();
  const model = writeTinyCnn(dir, { anySize: true });
  const bb = await loadBackbone(model, { overrides: { resize: { mode: 'shortest-edge', shortestEdge: 16 }, crop: null } });
  try {
    const wide = await gradientPicture(48, 24); // -> 32 x 16
    const tall = await gradientPicture(20, 40); // -> 16 x 32
    const square = await gradientPicture(30, 30); // -> 16 x 16
    const dec = await decodeRgb(wide, bb.spec);
    assert.deepEqual([dec.width, dec.height], [32, 16]);
    // One batch with three sizes (and a repeated one): each row is its own image's embedding, in input order.
    const items = [wide, tall, square, wide].map((source, i) => ({ id: `i${i}`, source }));
    const r = await embedWithBackbone(bb, items, { batchSize: 4 });
    assert.deepEqual(r.ids, ['i0', 'i1', 'i2', 'i3']);
    const refs = [await reference(bb, wide, 32, 16), await reference(bb, tall, 16, 32), await reference(bb, square, 16, 16)];
    for (const [row, ref] of [[0, 0], [1, 1], [2, 2], [3, 0]]) {
      const got = r.vectors.subarray(row * r.dim, (row + 1) * r.dim);
      assert.ok(cos(got, refs[ref]) > 0.9999, `row ${row}: cosine ${cos(got, refs[ref])} to its reference`);
    }
    // The wide image squeezed into a 16 x 16 slot (what a fixed-size tensor would do) is a different embedding.
    assert.ok(cos(r.vectors.subarray(0, r.dim), await reference(bb, wide, 16, 16)) < 0.9999);
  } finally {
    await bb.dispose();
  }
});

test('--crop none is refused for a model with a fixed input size, naming the crop option and the size', async () => {
  const dir = tmpDir();
  const bb = await loadBackbone(writeTinyCnn(dir), { overrides: { resize: { mode: 'shortest-edge', shortestEdge: 32 }, crop: null } });
  try {
    await assert.rejects(embedWithBackbone(bb, [{ id: 'a', source: await gradientPicture(48, 24) }]), (e: Error) => e.name === 'OptionError' && /crop\b.*none.*fixed at 32x32/.test(e.message));
  } finally {
    await bb.dispose();
  }
});

test('normalizeInto refuses a decoded buffer of another size than the slot (never cut or sheared)', () => {
  const spec = { ...defaultSpec(), resize: { mode: 'fixed' as const, height: 4, width: 4 }, crop: null };
  const dst = new Float32Array(3 * 16);
  assert.throws(() => normalizeInto(Buffer.alloc(4 * 6 * 3), spec, dst, 0), /expected 4x4/);
  normalizeInto(Buffer.alloc(4 * 6 * 3), spec, new Float32Array(3 * 24), 0, { height: 4, width: 6 });
});

test('an explicit pooling that cannot apply is an error naming the output; auto on an already pooled map is kept', () => {
  const spec = { ...defaultSpec(), layout: 'nchw' as const };
  const pooled = { data: Float32Array.from([1, 2, 3, 4, 5, 6]), dims: [2, 3, 1, 1], name: 'pooler_output' };
  for (const pooling of ['gem', 'gap'] as const) {
    assert.throws(() => pool(pooled, { ...spec, pooling }), (e: Error) => e.name === 'OptionError' && new RegExp(`pooling ${pooling} cannot apply to the output pooler_output of shape \\[2,3,1,1\\]: it is already pooled`).test(e.message));
  }
  assert.deepEqual([...pool(pooled, { ...spec, pooling: 'auto' }).data], [1, 2, 3, 4, 5, 6]);
  const flat = { data: Float32Array.from([1, 2]), dims: [1, 2], name: 'embedding' };
  assert.throws(() => pool(flat, { ...spec, pooling: 'gem' }), /pooling gem does not apply to the output embedding of shape \[1,2\]: it is already pooled/);
  assert.throws(() => pool({ data: flat.data, dims: flat.dims }, { ...spec, pooling: 'gap', output: 'feat' }), /output feat of shape/);
});
