/** HF-layout folders: family defaults (outputs, pooling), --dtype files, presets, cache and offline errors, models info. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { config } from '../../src/util/config.ts';
import { loadBackbone } from '../../src/models/load.ts';
import { familyOf, familyOutput, hfOnnxFile } from '../../src/models/hf.ts';
import { fetchHubModel, hubCacheDir, hubTarget, isHubId, resolveHubModel, selectFiles } from '../../src/models/hub.ts';
import { PRESETS, findPreset } from '../../src/models/presets.ts';
import { modelInfo } from '../../src/models/info.ts';
import { formatInfo } from '../../src/models/info-text.ts';
import { embedWithBackbone } from '../../src/embed/pipeline.ts';
import { CLIP_MEAN, CLIP_STD, writeClipFolder, writeDinoFolder, writeResnetFolder } from '../fixtures/hf.ts';
import { tmpDir } from '../helpers/tmp.ts';

const close = (a: number, b: number, eps = 1e-5) => assert.ok(Math.abs(a - b) <= eps, `${a} != ${b}`);
const unit = (v: number[]) => {
  const n = Math.hypot(...v);
  return v.map((x) => x / n);
};

/** 32x32 PNG: left half `a`, right half `b` (patch-aligned, so patch means are exact). */
async function halves(file: string, a: number[], b: number[]): Promise<string> {
  const buf = Buffer.alloc(32 * 32 * 3);
  for (let y = 0; y < 32; y++) for (let x = 0; x < 32; x++) buf.set(x < 16 ? a : b, (y * 32 + x) * 3);
  await sharp(buf, { raw: { width: 32, height: 32, channels: 3 } }).png().toFile(file);
  return file;
}
const norm = (v: number, c: number, mean: number[], std: number[]) => (v / 255 - mean[c]) / std[c];
const IMNET_MEAN = [0.485, 0.456, 0.406];
const IMNET_STD = [0.229, 0.224, 0.225];
const EXACT = { resize: { mode: 'fixed' as const, height: 32, width: 32 }, crop: null };

test('config.json model_type maps to families and their default outputs', () => {
  assert.equal(familyOf({ model_type: 'clip' }), 'clip');
  assert.equal(familyOf({ model_type: 'siglip' }), 'siglip');
  assert.equal(familyOf({ model_type: 'dinov2' }), 'dinov2');
  assert.equal(familyOf({ model_type: 'convnext' }), 'cnn');
  assert.equal(familyOf({ model_type: 'swin' }), 'swin');
  assert.equal(familyOf(null), 'unknown');
  const clipOuts = ['image_embeds', 'last_hidden_state', 'pooler_output'];
  assert.equal(familyOutput('clip', clipOuts).output, 'image_embeds');
  assert.equal(familyOutput('clip', clipOuts, 'pre-projection').output, 'pooler_output');
  assert.deepEqual(familyOutput('dinov2', ['last_hidden_state', 'pooler_output'], 'projected', { num_register_tokens: 4 }), { output: 'last_hidden_state', pooling: 'cls', prefixTokens: 5 });
  assert.equal(familyOutput('cnn', ['logits']).output, 'logits');
  assert.equal(familyOutput('siglip', ['last_hidden_state']).pooling, 'mean');
});

test('CLIP-like folder: image_embeds by default, pre-projection pooler_output on request, values by hand', async () => {
  const dir = tmpDir();
  writeClipFolder(path.join(dir, 'clip'));
  const img = await halves(path.join(dir, 'rb.png'), [255, 0, 0], [0, 0, 255]);
  const b = await loadBackbone(path.join(dir, 'clip'), { overrides: EXACT });
  assert.equal(b.spec.output, 'image_embeds');
  assert.equal(b.spec.resample, 'bicubic');
  const e = await embedWithBackbone(b, [{ id: 'rb', source: img }]);
  await b.dispose();
  // pooler = mean over 16 patch tokens of the normalised colour = average of red and blue halves
  const pooled = [0, 1, 2].map((c) => (norm([255, 0, 0][c], c, CLIP_MEAN, CLIP_STD) + norm([0, 0, 255][c], c, CLIP_MEAN, CLIP_STD)) / 2);
  unit([...pooled, 0]).forEach((v, i) => close(e.vectors[i], v));
  assert.equal(e.dim, 4);
  const pre = await loadBackbone(path.join(dir, 'clip'), { overrides: EXACT, feature: 'pre-projection' });
  assert.equal(pre.spec.output, 'pooler_output');
  const e2 = await embedWithBackbone(pre, [{ id: 'rb', source: img }]);
  await pre.dispose();
  assert.equal(e2.dim, 8);
  unit([...pooled, 0, 0, 0, 0, 0]).forEach((v, i) => close(e2.vectors[i], v));
});

test('DINOv2-like folder: CLS token by default, mean of patch tokens skips the CLS', async () => {
  const dir = tmpDir();
  writeDinoFolder(path.join(dir, 'dino'));
  const img = await halves(path.join(dir, 'rg.png'), [255, 0, 0], [0, 255, 0]);
  const a = norm(255, 0, IMNET_MEAN, IMNET_STD);
  const r0 = [a, norm(0, 1, IMNET_MEAN, IMNET_STD), norm(0, 2, IMNET_MEAN, IMNET_STD)];
  const g0 = [norm(0, 0, IMNET_MEAN, IMNET_STD), norm(255, 1, IMNET_MEAN, IMNET_STD), norm(0, 2, IMNET_MEAN, IMNET_STD)];
  const cls = await loadBackbone(path.join(dir, 'dino'), { overrides: EXACT });
  assert.deepEqual([cls.spec.output, cls.spec.pooling, cls.spec.prefixTokens], ['last_hidden_state', 'cls', 1]);
  const ec = await embedWithBackbone(cls, [{ id: 'x', source: img }]);
  await cls.dispose();
  // CLS = per-channel max over patches
  unit([0, 1, 2].map((c) => Math.max(r0[c], g0[c])).concat([0, 0, 0, 0, 0])).forEach((v, i) => close(ec.vectors[i], v));
  const mean = await loadBackbone(path.join(dir, 'dino'), { overrides: { ...EXACT, pooling: 'mean' } });
  const em = await embedWithBackbone(mean, [{ id: 'x', source: img }]);
  await mean.dispose();
  unit([0, 1, 2].map((c) => (r0[c] + g0[c]) / 2).concat([0, 0, 0, 0, 0])).forEach((v, i) => close(em.vectors[i], v));
});

test('ResNet-like folder: pooler_output (GAP) by default; GeM(p) over the spatial map by flag', async () => {
  const dir = tmpDir();
  writeResnetFolder(path.join(dir, 'rn'));
  const img = await halves(path.join(dir, 'wb.png'), [255, 255, 255], [0, 0, 0]);
  const w = [0, 1, 2].map((c) => norm(255, c, IMNET_MEAN, IMNET_STD));
  const k = [0, 1, 2].map((c) => norm(0, c, IMNET_MEAN, IMNET_STD));
  const relu = (x: number) => Math.max(0, x);
  // channel c: half the patches relu(w[c] + b[c]), half relu(k[c] + b[c]); channels 3..7 just relu(b[c])
  const bias = (c: number) => 0.1 * c;
  const halvesOf = (c: number) => (c < 3 ? [relu(w[c] + bias(c)), relu(k[c] + bias(c))] : [bias(c), bias(c)]);
  const gap = await loadBackbone(path.join(dir, 'rn'), { overrides: EXACT });
  assert.deepEqual([gap.spec.output, gap.spec.pooling], ['pooler_output', 'auto']);
  const eg = await embedWithBackbone(gap, [{ id: 'x', source: img }]);
  await gap.dispose();
  unit(Array.from({ length: 8 }, (_, c) => (halvesOf(c)[0] + halvesOf(c)[1]) / 2)).forEach((v, i) => close(eg.vectors[i], v));
  const gem = await loadBackbone(path.join(dir, 'rn'), { overrides: { ...EXACT, output: 'last_hidden_state', pooling: 'gem', gemP: 3 } });
  const ee = await embedWithBackbone(gem, [{ id: 'x', source: img }]);
  await gem.dispose();
  const gemOf = (c: number) => Math.cbrt((Math.max(halvesOf(c)[0], 1e-6) ** 3 + Math.max(halvesOf(c)[1], 1e-6) ** 3) / 2);
  unit(Array.from({ length: 8 }, (_, c) => gemOf(c))).forEach((v, i) => close(ee.vectors[i], v));
  // logits by name: a 2-D output needs no pooling
  const lg = await loadBackbone(path.join(dir, 'rn'), { overrides: { ...EXACT, output: 'logits' } });
  assert.equal(lg.spec.pooling, 'auto');
  assert.equal((await embedWithBackbone(lg, [{ id: 'x', source: img }])).dim, 5);
  await lg.dispose();
});

test('--dtype picks onnx/<tower>_<dtype>.onnx and names the files to place when missing', async () => {
  const dir = tmpDir();
  const clip = path.join(dir, 'clip');
  writeClipFolder(clip, { dtypes: ['_quantized'] });
  assert.equal(hfOnnxFile(clip, 'vision', 'quantized'), path.join(clip, 'onnx', 'vision_model_quantized.onnx'));
  assert.equal(hfOnnxFile(clip, 'text', 'fp32'), path.join(clip, 'onnx', 'text_model.onnx'));
  await assert.rejects(loadBackbone(clip, { dtype: 'fp16' }), /no image model for dtype fp16; place one of onnx\/vision_model_fp16\.onnx, vision_model_fp16\.onnx, onnx\/model_fp16\.onnx/);
  await assert.rejects(loadBackbone(clip, { dtype: 'fp8' }), /dtype fp8: expected one of fp32, fp16, quantized/);
  const q = await loadBackbone(clip, { dtype: 'quantized' });
  assert.equal(q.spec.output, 'image_embeds');
  await q.dispose();
});

test('presets: HF entries have repos, sizes and text flags; ids and presets resolve to the cache folder', () => {
  for (const name of ['clip-vit-b32', 'clip-vit-b16', 'clip-vit-l14', 'siglip-base', 'dinov2-small', 'dinov2-base', 'vit-base', 'resnet50', 'efficientnet-b0', 'convnext-base']) {
    const p = findPreset(name);
    assert.ok(p, name);
    assert.equal(p.source.kind, 'hf');
    assert.ok(p.dim > 0);
  }
  assert.equal(findPreset('clip-vit-l14')?.dim, 768);
  assert.equal(findPreset('dinov2-small')?.dim, 384);
  assert.equal(findPreset('siglip-base')?.text, true);
  assert.equal(findPreset('dinov2-base')?.text, false);
  assert.equal(new Set(PRESETS.map((p) => p.name)).size, PRESETS.length, 'preset names are unique');
  assert.ok(isHubId('Xenova/clip-vit-base-patch32'));
  assert.ok(!isHubId('./model.onnx') && !isHubId('a/b/c') && !isHubId('model.onnx'));
  assert.equal(hubTarget('clip-vit-b32')?.repo, 'Xenova/clip-vit-base-patch32');
  assert.equal(hubTarget('nothing-like-this'), undefined);
});

test('offline: a missing preset fails at once naming the files and folder; placed files load', async () => {
  const saved = { cacheDir: config.cacheDir, offline: config.offline };
  config.cacheDir = tmpDir();
  config.offline = true;
  try {
    const folder = hubCacheDir('Xenova/clip-vit-base-patch32');
    const t0 = Date.now();
    await assert.rejects(loadBackbone('clip-vit-b32'), (e: Error) => {
      assert.match(e.message, /clip-vit-b32: not in the model cache and offline/);
      assert.ok(e.message.includes(folder), e.message);
      assert.match(e.message, /onnx\/vision_model\.onnx or onnx\/model\.onnx, preprocessor_config\.json, config\.json/);
      assert.match(e.message, /https:\/\/huggingface\.co\/Xenova\/clip-vit-base-patch32/);
      return true;
    });
    assert.ok(Date.now() - t0 < 2000, 'fails at once');
    await assert.rejects(resolveHubModel('Xenova/clip-vit-base-patch32', { text: true }), /tokenizer\.json/);
    await assert.rejects(fetchHubModel('clip-vit-b32'), /offline/);
    writeClipFolder(folder);
    const b = await loadBackbone('clip-vit-b32');
    assert.equal(b.name, 'clip-vit-b32');
    assert.equal(b.spec.output, 'image_embeds');
    await b.dispose();
    const info = await modelInfo('clip-vit-b32');
    assert.equal(info.available, true);
    assert.equal(info.text?.output, 'text_embeds');
    const missing = await modelInfo('dinov2-small');
    assert.equal(missing.available, false);
    assert.match(formatInfo(missing), /not in the cache; place onnx\/vision_model\.onnx or onnx\/model\.onnx/);
  } finally {
    Object.assign(config, saved);
  }
});

test('fetch downloads the towers of the chosen dtype into the cache through @huggingface/hub', async () => {
  const src = tmpDir();
  writeClipFolder(src, { dtypes: ['_quantized'] });
  fs.writeFileSync(path.join(src, 'onnx', 'model.onnx'), 'combined'); // CLIP exports also hold a combined graph
  const listing = ['config.json', 'preprocessor_config.json', 'tokenizer.json', 'tokenizer_config.json', 'onnx/model.onnx', 'onnx/vision_model.onnx', 'onnx/vision_model_quantized.onnx', 'onnx/text_model.onnx', 'onnx/text_model_quantized.onnx', 'README.md'];
  assert.deepEqual(selectFiles(listing, { dtype: 'quantized' }), ['config.json', 'preprocessor_config.json', 'tokenizer.json', 'tokenizer_config.json', 'onnx/vision_model_quantized.onnx', 'onnx/text_model_quantized.onnx']);
  assert.deepEqual(selectFiles(['onnx/model.onnx', 'onnx/model.onnx_data', 'config.json'], { text: false }), ['onnx/model.onnx', 'onnx/model.onnx_data', 'config.json']);
  // A local stand-in for the Hub API (no network): tree listing and resolve URLs served from `src`.
  const requested: string[] = [];
  const fakeFetch = (async (input: string | URL | Request, init?: RequestInit) => {
    const url = new URL(typeof input === 'string' ? input : input instanceof URL ? input.href : input.url);
    requested.push(url.pathname);
    if (url.pathname.includes('/api/models/Xenova/clip-vit-base-patch32/tree/')) {
      const body = listing.filter((p) => p !== 'README.md').map((p) => ({ type: 'file', path: p, size: fs.statSync(path.join(src, p)).size, oid: 'x' }));
      return new Response(JSON.stringify(body), { status: 200, headers: { 'content-type': 'application/json' } });
    }
    const m = /\/Xenova\/clip-vit-base-patch32\/resolve\/[^/]+\/(.+)$/.exec(url.pathname);
    if (m) {
      const data = fs.readFileSync(path.join(src, decodeURIComponent(m[1])));
      const range = /bytes=(\d+)-(\d*)/.exec(new Headers(init?.headers).get('Range') ?? '');
      const etag = `"${data.length}"`;
      if (range) {
        const from = Number(range[1]);
        const to = range[2] ? Math.min(Number(range[2]), data.length - 1) : data.length - 1;
        return new Response(data.subarray(from, to + 1), { status: 206, headers: { 'content-range': `bytes ${from}-${to}/${data.length}`, etag, 'content-type': 'application/octet-stream' } });
      }
      return new Response(data, { status: 200, headers: { 'content-length': String(data.length), etag, 'content-type': 'application/octet-stream' } });
    }
    return new Response('not found', { status: 404 });
  }) as typeof fetch;
  const saved = { cacheDir: config.cacheDir, offline: config.offline };
  config.cacheDir = tmpDir();
  config.offline = false;
  try {
    const dir = await fetchHubModel('clip-vit-b32', { dtype: 'quantized', fetch: fakeFetch, hubUrl: 'http://hub.test' });
    assert.equal(dir, hubCacheDir('Xenova/clip-vit-base-patch32'));
    assert.ok(fs.readFileSync(path.join(dir, 'onnx', 'vision_model_quantized.onnx')).equals(fs.readFileSync(path.join(src, 'onnx', 'vision_model_quantized.onnx'))));
    assert.ok(!fs.existsSync(path.join(dir, 'onnx', 'model.onnx')));
    assert.ok(requested.some((p) => p.includes('/api/models/')));
    config.offline = true;
    const b = await loadBackbone('clip-vit-b32', { dtype: 'quantized' });
    assert.equal(b.spec.output, 'image_embeds');
    await b.dispose();
  } finally {
    Object.assign(config, saved);
  }
});

test('models info describes a bare .onnx: inputs, outputs, shapes, pooling, dim, fingerprint, size warning', async () => {
  const dir = tmpDir();
  writeResnetFolder(path.join(dir, 'rn'));
  const file = path.join(dir, 'rn', 'onnx', 'model.onnx');
  const i = await modelInfo(file, { overrides: { output: 'last_hidden_state' } });
  assert.equal(i.kind, 'onnx-file');
  assert.deepEqual(i.inputs?.[0], { name: 'pixel_values', shape: ['batch', 3, 32, 32], type: 'float32' });
  assert.deepEqual(i.outputs?.map((o) => o.name), ['last_hidden_state', 'pooler_output', 'logits']);
  assert.equal(i.pooling, 'gap');
  assert.equal(i.dim, 8);
  assert.match(i.fingerprint ?? '', /^[0-9a-f]{64}$/);
  const text = formatInfo(i);
  assert.match(text, /last_hidden_state {2}float32 \[batch, 8, 4, 4\] {3}<- embedding/);
  // The graph's fixed input size is used when no flag sets one; a flag that disagrees gets a warning.
  assert.match(text, /preprocess: +resize shortest edge 36 bilinear, crop 32x32/);
  assert.doesNotMatch(text, /warning/);
  const forced = await modelInfo(file, { overrides: { output: 'last_hidden_state', resize: { mode: 'shortest-edge', shortestEdge: 256 }, crop: { height: 224, width: 224 } } });
  assert.match(formatInfo(forced), /warning: .*takes 32x32 images but the spec makes 224x224/);
  const other = await modelInfo(file, { overrides: { output: 'last_hidden_state', pooling: 'gem' } });
  assert.notEqual(other.fingerprint, i.fingerprint, 'the spec is part of the fingerprint');
});
