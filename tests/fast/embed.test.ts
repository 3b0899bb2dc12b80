import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { loadBackbone } from '../../src/models/load.ts';
import { embedWithBackbone } from '../../src/embed/pipeline.ts';
import { pool, l2normalize } from '../../src/models/pool.ts';
import { preprocess } from '../../src/models/preprocess.ts';
import { defaultSpec } from '../../src/models/spec.ts';
import { classImage } from '../../src/data/synthetic.ts';
import { tmpDir, writeTinyCnn, writeTinyVit } from '../helpers/tmp.ts';

const tiny = { resize: { mode: 'fixed' as const, height: 32, width: 32 }, crop: null };

test('pooling: cls, mean of patch tokens, gap and gem on hand-made outputs', () => {
  const spec = { ...defaultSpec(), prefixTokens: 1 };
  // [1, 3 tokens, 2 dims]: CLS = (1,2), patches (3,4) and (5,6)
  const tokens = { data: Float32Array.from([1, 2, 3, 4, 5, 6]), dims: [1, 3, 2] };
  assert.deepEqual([...pool(tokens, { ...spec, pooling: 'cls' }).data], [1, 2]);
  assert.deepEqual([...pool(tokens, { ...spec, pooling: 'mean' }).data], [4, 5]);
  assert.deepEqual([...pool(tokens, { ...spec, pooling: 'auto' }).data], [1, 2]);
  // NCHW [1, 2 channels, 1, 2]: channel 0 = (1, 3), channel 1 = (0, 8)
  const map = { data: Float32Array.from([1, 3, 0, 8]), dims: [1, 2, 1, 2] };
  assert.deepEqual([...pool(map, { ...spec, pooling: 'gap' }).data], [2, 4]);
  const gem = pool(map, { ...spec, pooling: 'gem', gemP: 3 }).data;
  assert.ok(Math.abs(gem[0] - Math.cbrt((1 + 27) / 2)) < 1e-5);
  assert.ok(Math.abs(gem[1] - Math.cbrt((1e-18 + 512) / 2)) < 1e-4);
  // NHWC [1, 1, 2, 2 channels]: same values laid out channels-last
  const nhwc = { data: Float32Array.from([1, 0, 3, 8]), dims: [1, 1, 2, 2] };
  assert.deepEqual([...pool(nhwc, { ...spec, layout: 'nhwc', pooling: 'gap' }).data], [2, 4]);
  assert.throws(() => pool(tokens, { ...spec, pooling: 'gap' }), /does not apply/);
  const v = l2normalize(Float32Array.from([3, 4, 0, 0]), 2);
  assert.deepEqual([...v], [Math.fround(0.6), Math.fround(0.8), 0, 0]);
});

test('preprocess: resize, crop and ImageNet normalisation of a solid image', async () => {
  const img = await sharp({ create: { width: 40, height: 20, channels: 3, background: { r: 255, g: 0, b: 128 } } }).png().toBuffer();
  const spec = { ...defaultSpec(), resize: { mode: 'shortest-edge' as const, shortestEdge: 10 }, crop: { height: 8, width: 8 } };
  const t = await preprocess(img, spec);
  assert.equal(t.length, 3 * 8 * 8);
  const expect = [(1 - 0.485) / 0.229, (0 - 0.456) / 0.224, (128 / 255 - 0.406) / 0.225];
  for (let c = 0; c < 3; c++) for (const p of [0, 63]) assert.ok(Math.abs(t[c * 64 + p] - expect[c]) < 1e-4, `channel ${c}`);
  const bgr = await preprocess(img, { ...spec, channelOrder: 'bgr', layout: 'nhwc' });
  assert.ok(Math.abs(bgr[0] - expect[2]) < 1e-4 && Math.abs(bgr[2] - expect[0]) < 1e-4);
});

test('tiny CNN and tiny ViT embed through the pipeline into unit vectors; similar images are closer', async () => {
  const dir = tmpDir();
  for (const [file, pooling] of [[writeTinyCnn(dir), 'auto'], [writeTinyVit(dir), 'cls'], [writeTinyVit(dir), 'mean']] as const) {
    const bb = await loadBackbone(file, { overrides: { ...tiny, pooling } });
    const items = await Promise.all([[0, 1], [0, 2], [3, 1]].map(async ([c, s], i) => ({ id: `i${i}`, source: await classImage(c, s) })));
    const r = await embedWithBackbone(bb, items, { batchSize: 2 });
    assert.equal(r.ids.length, 3);
    assert.equal(r.dim, 16);
    for (let i = 0; i < 3; i++) {
      const n = Math.hypot(...r.vectors.subarray(i * 16, i * 16 + 16));
      assert.ok(Math.abs(n - 1) < 1e-5);
    }
    const dot = (a: number, b: number) => r.vectors.subarray(a * 16, a * 16 + 16).reduce((s, v, k) => s + v * r.vectors[b * 16 + k], 0);
    assert.ok(dot(0, 1) > dot(0, 2), `${file} ${pooling}: same class closer than other class`);
    await bb.dispose();
  }
});

test('corrupt, truncated, zero-byte and unsupported files are reported and skipped; the rest embed', async () => {
  const dir = tmpDir();
  const model = writeTinyCnn(dir);
  const good = await classImage(1, 1);
  fs.writeFileSync(path.join(dir, 'good.jpg'), good);
  fs.writeFileSync(path.join(dir, 'empty.jpg'), Buffer.alloc(0));
  fs.writeFileSync(path.join(dir, 'truncated.jpg'), good.subarray(0, Math.floor(good.length / 3)));
  fs.writeFileSync(path.join(dir, 'garbage.png'), Buffer.from('this is not an image at all'));
  fs.writeFileSync(path.join(dir, 'good2.png'), await classImage(2, 1, 64, 'png'));
  const bb = await loadBackbone(model, { overrides: tiny });
  const ids = ['good.jpg', 'empty.jpg', 'truncated.jpg', 'garbage.png', 'missing.jpg', 'good2.png'];
  const seen: string[] = [];
  const r = await embedWithBackbone(bb, ids.map((id) => ({ id, source: path.join(dir, id) })), { batchSize: 4, onSkip: (s) => seen.push(s.id) });
  assert.deepEqual(r.ids, ['good.jpg', 'good2.png']);
  assert.deepEqual(r.skipped.map((s) => s.id).sort(), ['empty.jpg', 'garbage.png', 'missing.jpg', 'truncated.jpg']);
  assert.deepEqual(seen.sort(), ['empty.jpg', 'garbage.png', 'missing.jpg', 'truncated.jpg']);
  for (const s of r.skipped) assert.ok(s.reason.length > 3, `reason for ${s.id}: ${s.reason}`);
  const why = Object.fromEntries(r.skipped.map((s) => [s.id, s.reason]));
  assert.match(why['missing.jpg'], /not found/);
  assert.match(why['empty.jpg'], /empty file/);
  assert.match(why['truncated.jpg'], /truncated|corrupt|premature/i);
  assert.match(why['garbage.png'], /unsupported|unrecognised/);
  await bb.dispose();
});

test('loading a missing model or a non-ONNX file fails with the path in the message', async () => {
  const dir = tmpDir();
  await assert.rejects(loadBackbone(path.join(dir, 'nope.onnx')), /nope\.onnx/);
  fs.writeFileSync(path.join(dir, 'bad.onnx'), 'not onnx');
  await assert.rejects(loadBackbone(path.join(dir, 'bad.onnx')), /bad\.onnx/);
});

test('--device cuda without the CUDA provider fails at once with what to install', async () => {
  const { assertCudaAvailable } = await import('../../src/models/ort.ts');
  const dir = tmpDir();
  assert.throws(() => assertCudaAvailable(dir), /CUDA provider is not installed.*libonnxruntime_providers_cuda\.so/);
  fs.writeFileSync(path.join(dir, 'libonnxruntime_providers_cuda.so'), '');
  assert.doesNotThrow(() => assertCudaAvailable(dir));
});
