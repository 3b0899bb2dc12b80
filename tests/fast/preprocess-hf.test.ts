/** Preprocessing parity with Hugging Face processors: Pillow resampling, crop, rescale, normalise, configs. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import sharp from 'sharp';
import { FILTERS, coefficients, resamplePil } from '../../src/models/resample.ts';
import { decodeRgb, normalizeInto, preprocess } from '../../src/models/preprocess.ts';
import { applyPreprocessorConfig, defaultSpec } from '../../src/models/spec.ts';
import { CLIP_MEAN, CLIP_STD, clipPreprocessor } from '../fixtures/hf.ts';
import { tmpDir } from '../helpers/tmp.ts';

const close = (a: number, b: number, eps = 1e-6) => assert.ok(Math.abs(a - b) <= eps, `${a} != ${b}`);

/** An 8 x 4 RGB image: R = 30x (a ramp), G = 255 - 30x, B = 128. */
function ramp(): Buffer {
  const b = Buffer.alloc(8 * 4 * 3);
  for (let y = 0; y < 4; y++) for (let x = 0; x < 8; x++) b.set([30 * x, 255 - 30 * x, 128], (y * 8 + x) * 3);
  return b;
}

test('bilinear 8->4 coefficients are Pillow\'s antialiased triangle, truncated at the edge and renormalised', () => {
  const c = coefficients(8, 4, FILTERS.bilinear);
  // out 0: center 1, support 2 -> taps 0..2 with tri(-0.25, 0.25, 0.75) = .75, .75, .25, / 1.75
  assert.deepEqual([c.bounds[0], c.bounds[1]], [0, 3]);
  close(c.kf[0], 0.75 / 1.75);
  close(c.kf[1], 0.75 / 1.75);
  close(c.kf[2], 0.25 / 1.75);
  // out 1: center 3 -> taps 1..4 with .125, .375, .375, .125
  assert.deepEqual([c.bounds[2], c.bounds[3]], [1, 4]);
  [0.125, 0.375, 0.375, 0.125].forEach((w, i) => close(c.kf[c.ksize + i], w));
});

test('bicubic (a = -0.5) 8->4 weights and pixel match a hand computation', () => {
  const c = coefficients(8, 4, FILTERS.bicubic);
  // out 1: center 3, support 4 -> taps 0..6 at d = -1.25 .. 1.75 (step .5)
  const raw = [-0.0703125, 0.2265625, 0.8671875, 0.8671875, 0.2265625, -0.0703125, -0.0234375];
  const sum = 2.0234375;
  assert.deepEqual([c.bounds[2], c.bounds[3]], [0, 7]);
  raw.forEach((w, i) => close(c.kf[c.ksize + i], w / sum));
  const out = resamplePil(ramp(), 8, 4, 3, 4, 4, 'bicubic');
  // R: 30 * sum(i * w_i) / sum = 30 * 4.9765625 / 2.0234375 = 73.78 -> 74 (sharp's cubic gives 75)
  assert.equal(out[1 * 3], 74);
  // G = 255 - R before rounding: 255 - 73.78 = 181.22 -> 181
  assert.equal(out[1 * 3 + 1], 181);
  assert.equal(out[1 * 3 + 2], 128);
});

test('bilinear ramp resize gives the hand-computed pixels, rows untouched when the height is kept', () => {
  const out = resamplePil(ramp(), 8, 4, 3, 4, 4, 'bilinear');
  // 30*(.75*1)/1.75 + 30*(.25*2)/1.75 = 21.43 -> 21; 75; 135; 150*.25/1.75 + 180*.75/1.75 + 210*.75/1.75 = 188.57 -> 189
  const row = [0, 1, 2, 3].map((x) => out[x * 3]);
  assert.deepEqual(row, [21, 75, 135, 189]);
  for (let y = 1; y < 4; y++) assert.deepEqual([0, 1, 2, 3].map((x) => out[(y * 4 + x) * 3]), row);
});

test('nearest picks floor((x + 0.5) * scale) like Pillow', () => {
  const out = resamplePil(ramp(), 8, 4, 3, 4, 4, 'nearest');
  assert.deepEqual([0, 1, 2, 3].map((x) => out[x * 3]), [30, 90, 150, 210]);
});

test('a CLIP preprocessor_config gives the Hugging Face tensor: shortest-edge resize, center crop, rescale, normalise', async () => {
  const dir = tmpDir();
  const file = path.join(dir, 'ramp.png');
  await sharp(ramp(), { raw: { width: 8, height: 4, channels: 3 } }).png().toFile(file);
  const pp = { ...clipPreprocessor(2), resample: 2 }; // bilinear, shortest edge 2, crop 2x2
  const spec = applyPreprocessorConfig(defaultSpec(), pp);
  assert.equal(spec.resampler, 'pil');
  // 8x4 -> shortest edge 2 -> 4x2; the ramp stays [21, 75, 135, 189] per row; crop 2x2 at left 1 -> [75, 135]
  const rgb = await decodeRgb(file, spec);
  assert.deepEqual([rgb.width, rgb.height], [2, 2]);
  assert.deepEqual([...rgb.data], [75, 180, 128, 135, 120, 128, 75, 180, 128, 135, 120, 128]);
  const t = await preprocess(file, spec);
  // NCHW: channel c, value (v / 255 - mean[c]) / std[c]
  const expect = (v: number, c: number) => (v / 255 - CLIP_MEAN[c]) / CLIP_STD[c];
  const want = [expect(75, 0), expect(135, 0), expect(75, 0), expect(135, 0), expect(180, 1), expect(120, 1), expect(180, 1), expect(120, 1), expect(128, 2), expect(128, 2), expect(128, 2), expect(128, 2)];
  assert.equal(t.length, 12);
  want.forEach((w, i) => close(t[i], w, 1e-5));
  close(t[0], -0.6973783, 1e-5); // (75/255 - 0.48145466) / 0.26862954, written out
});

test('BGR order and NHWC layout move the same values', () => {
  const spec = { ...defaultSpec(), crop: { height: 1, width: 2 }, mean: [0, 0, 0] as [number, number, number], std: [1, 1, 1] as [number, number, number], rescale: 1 };
  const rgb = Buffer.from([1, 2, 3, 4, 5, 6]);
  const nchw = new Float32Array(6);
  normalizeInto(rgb, spec, nchw, 0);
  assert.deepEqual([...nchw], [1, 4, 2, 5, 3, 6]);
  const nhwcBgr = new Float32Array(6);
  normalizeInto(rgb, { ...spec, layout: 'nhwc', channelOrder: 'bgr' }, nhwcBgr, 0);
  assert.deepEqual([...nhwcBgr], [3, 2, 1, 6, 5, 4]);
});

test('grayscale and RGBA inputs convert to RGB like PIL convert("RGB")', async () => {
  const dir = tmpDir();
  const gray = path.join(dir, 'g.png');
  await sharp(Buffer.from([10, 20, 30, 40]), { raw: { width: 2, height: 2, channels: 1 } }).png().toFile(gray);
  const rgba = path.join(dir, 'a.png');
  await sharp(Buffer.from([200, 100, 50, 0, 1, 2, 3, 255]), { raw: { width: 2, height: 1, channels: 4 } }).png().toFile(rgba);
  const spec = applyPreprocessorConfig(defaultSpec(), { size: { height: 2, width: 2 }, do_center_crop: false, resample: 3 });
  const g = await decodeRgb(gray, spec);
  assert.deepEqual([...g.data], [10, 10, 10, 20, 20, 20, 30, 30, 30, 40, 40, 40]);
  const a = await decodeRgb(rgba, { ...spec, resize: { mode: 'fixed', height: 1, width: 2 } });
  assert.deepEqual([...a.data], [200, 100, 50, 1, 2, 3]);
});

test('real processor configs: CLIP, SigLIP, DINOv2, ConvNeXT (crop_pct, and >= 384 warp), ViT', () => {
  const clip = applyPreprocessorConfig(defaultSpec(), { crop_size: 224, do_center_crop: true, do_normalize: true, do_resize: true, image_mean: CLIP_MEAN, image_std: CLIP_STD, resample: 3, size: 224 });
  assert.deepEqual(clip.resize, { mode: 'shortest-edge', shortestEdge: 224 });
  assert.deepEqual(clip.crop, { height: 224, width: 224 });
  assert.equal(clip.resample, 'bicubic');
  assert.deepEqual(clip.mean, CLIP_MEAN);
  const siglip = applyPreprocessorConfig(defaultSpec(), { do_normalize: true, do_rescale: true, do_resize: true, image_mean: [0.5, 0.5, 0.5], image_std: [0.5, 0.5, 0.5], resample: 3, rescale_factor: 0.00392156862745098, size: { height: 224, width: 224 } });
  assert.deepEqual(siglip.resize, { mode: 'fixed', height: 224, width: 224 });
  assert.equal(siglip.crop, null);
  assert.deepEqual(siglip.std, [0.5, 0.5, 0.5]);
  const dino = applyPreprocessorConfig(defaultSpec(), { crop_size: { height: 224, width: 224 }, do_center_crop: true, do_normalize: true, do_rescale: true, do_resize: true, image_mean: [0.485, 0.456, 0.406], image_std: [0.229, 0.224, 0.225], resample: 3, rescale_factor: 0.00392156862745098, size: { shortest_edge: 256 } });
  assert.deepEqual([dino.resize, dino.crop, dino.resample], [{ mode: 'shortest-edge', shortestEdge: 256 }, { height: 224, width: 224 }, 'bicubic']);
  const convnext = applyPreprocessorConfig(defaultSpec(), { crop_pct: 0.875, do_normalize: true, do_rescale: true, do_resize: true, resample: 3, size: { shortest_edge: 224 } });
  assert.deepEqual([convnext.resize, convnext.crop], [{ mode: 'shortest-edge', shortestEdge: 256 }, { height: 224, width: 224 }]);
  const convnext384 = applyPreprocessorConfig(defaultSpec(), { crop_pct: 0.875, resample: 3, size: { shortest_edge: 384 } });
  assert.deepEqual([convnext384.resize, convnext384.crop], [{ mode: 'fixed', height: 384, width: 384 }, null]);
  const vit = applyPreprocessorConfig(defaultSpec(), { do_normalize: true, do_resize: true, image_mean: [0.5, 0.5, 0.5], image_std: [0.5, 0.5, 0.5], resample: 2, size: { height: 224, width: 224 } });
  assert.deepEqual([vit.resize, vit.crop, vit.resample], [{ mode: 'fixed', height: 224, width: 224 }, null, 'bilinear']);
  const noNorm = applyPreprocessorConfig(defaultSpec(), { do_normalize: false, do_rescale: true, size: { shortest_edge: 256 }, crop_size: { height: 256, width: 256 }, do_center_crop: true });
  assert.deepEqual([noNorm.mean, noNorm.std], [[0, 0, 0], [1, 1, 1]]);
  assert.throws(() => applyPreprocessorConfig(defaultSpec(), { image_mean: [1, 2] }, 'x/preprocessor_config.json'), /x\/preprocessor_config.json: image_mean/);
});
