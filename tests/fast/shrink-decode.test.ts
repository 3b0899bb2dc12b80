import { test } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { decodeRgb } from '../../src/models/preprocess.ts';
import { decodeRgbShrunk, shrinkTarget } from '../../src/models/shrink-decode.ts';
import { defaultSpec, type ModelSpec } from '../../src/models/spec.ts';
import { classImage } from '../../src/data/synthetic.ts';

const pil: ModelSpec = { ...defaultSpec(), resize: { mode: 'fixed', height: 32, width: 32 }, crop: null, resampler: 'pil' };

test('shrink-on-load applies only to Pillow-exact specs and images at least 6x the resize target', () => {
  assert.equal(shrinkTarget(pil, 100, 100), undefined, 'about 3x: no DCT scaling to gain');
  assert.equal(shrinkTarget(pil, 191, 400), undefined, 'one axis under 6x');
  assert.deepEqual(shrinkTarget(pil, 192, 400), { width: 64, height: 133 }, '6x: reduced to 2x the target on the tighter axis');
  assert.equal(shrinkTarget({ ...pil, resampler: undefined }, 1000, 1000), undefined, 'sharp-resized specs shrink on load already');
});

test('small images and non-JPEGs decode exactly as decodeRgb; a large JPEG decodes to the same size within a few levels', async () => {
  const small = await classImage(1, 3, 64);
  const a = await decodeRgb(small, pil);
  const b = await decodeRgbShrunk(small, pil);
  assert.deepEqual([b.width, b.height], [a.width, a.height]);
  assert.equal(Buffer.compare(a.data, b.data), 0, 'below the threshold: bit-identical');
  const png = await sharp(await classImage(2, 1, 64)).resize(400, 400).png().toBuffer();
  assert.equal(Buffer.compare((await decodeRgb(png, pil)).data, (await decodeRgbShrunk(png, pil)).data), 0, 'PNG: bit-identical');
  const large = await sharp(await classImage(2, 1, 64)).resize(400, 400, { kernel: 'lanczos3' }).jpeg({ quality: 92 }).toBuffer();
  const exact = await decodeRgb(large, pil);
  const fast = await decodeRgbShrunk(large, pil);
  assert.deepEqual([fast.width, fast.height], [32, 32]);
  let sum = 0;
  let differs = false;
  for (let i = 0; i < exact.data.length; i++) {
    sum += Math.abs(exact.data[i] - fast.data[i]);
    differs ||= exact.data[i] !== fast.data[i];
  }
  assert.ok(differs, 'the large JPEG took the shrink-on-load path');
  assert.ok(sum / exact.data.length < 4, `mean |difference| ${sum / exact.data.length} levels`);
});
