/** Text towers: tokenizer padding/truncation (CLIP 77, SigLIP 64), masking, text embeddings, captions and cross-modal recall. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { embedTexts, loadTextEncoder, loadTokenizer, tokenizeBatch } from '../../src/models/text-encoder.ts';
import { captionEvalOfBackbone, rankCaptions } from '../../src/embed/text-queries.ts';
import { readCaptions } from '../../src/data/captions-csv.ts';
import { loadBackbone } from '../../src/models/load.ts';
import { crossModalRecall } from '../../src/metrics/crossmodal.ts';
import { solidPng, writeClipFolder } from '../fixtures/hf.ts';
import { tmpDir } from '../helpers/tmp.ts';

const close = (a: number, b: number, eps = 1e-5) => assert.ok(Math.abs(a - b) <= eps, `${a} != ${b}`);
const unit = (v: number[]) => v.map((x) => x / Math.hypot(...v));

test('CLIP tokenizer: BOS + words + EOS, padded to 77 with <|endoftext|>, mask 1 on real tokens', async () => {
  const dir = tmpDir();
  const f = writeClipFolder(path.join(dir, 'clip'));
  const enc = await loadTextEncoder(f.dir);
  assert.deepEqual(enc.rules, { maxLength: 77, padding: 'max_length', padId: f.eos });
  const b = tokenizeBatch(enc.tokenizer, ['A red DRESS', 'dog'], enc.rules);
  assert.equal(b.length, 77);
  const row0 = Array.from(b.ids.subarray(0, 77), Number);
  assert.deepEqual(row0.slice(0, 6), [f.bos, f.vocab['a</w>'], f.vocab['red</w>'], f.vocab['dress</w>'], f.eos, f.eos]);
  assert.ok(row0.slice(5).every((id) => id === f.eos));
  assert.deepEqual(Array.from(b.mask.subarray(0, 6), Number), [1, 1, 1, 1, 1, 0]);
  assert.equal(Array.from(b.mask.subarray(77), Number).reduce((a, x) => a + x, 0), 3);
  await enc.dispose();
});

test('truncation keeps BOS and the final EOS (CLIP pools at its end-of-text)', async () => {
  const dir = tmpDir();
  const f = writeClipFolder(path.join(dir, 'clip'), { maxLength: 8 });
  const { tokenizer } = loadTokenizer(f.dir);
  const long = Array.from({ length: 20 }, (_, i) => ['red', 'green', 'blue'][i % 3]).join(' ');
  const b = tokenizeBatch(tokenizer, [long], { maxLength: 8, padding: 'max_length', padId: f.eos });
  const ids = Array.from(b.ids, Number);
  assert.deepEqual(ids, [f.bos, f.vocab['red</w>'], f.vocab['green</w>'], f.vocab['blue</w>'], f.vocab['red</w>'], f.vocab['green</w>'], f.vocab['blue</w>'], f.eos]);
  assert.ok(Array.from(b.mask, Number).every((m) => m === 1));
  const longest = tokenizeBatch(tokenizer, ['red', 'red green'], { maxLength: 8, padding: 'longest', padId: 0 });
  assert.equal(longest.length, 4);
});

test('text embeddings: padding is masked for CLIP; SigLIP-like towers see all 64 positions', async () => {
  const dir = tmpDir();
  const clip = writeClipFolder(path.join(dir, 'clip'));
  const enc = await loadTextEncoder(clip.dir);
  const e = await embedTexts(enc, ['red', 'a green dress', 'blue'], 2);
  await enc.dispose();
  assert.equal(e.dim, 4);
  // bag of words: red = [1,-1,-1,0]; EOS = [0,0,0,.25]; BOS, "a" = 0; 74 masked pads add nothing
  unit([1, -1, -1, 0.25]).forEach((v, i) => close(e.vectors[i], v));
  unit([-1, 1, -1, 0.5 + 0.25]).forEach((v, i) => close(e.vectors[4 + i], v));
  unit([-1, -1, 1, 0.25]).forEach((v, i) => close(e.vectors[8 + i], v));
  const sig = writeClipFolder(path.join(dir, 'siglip'), { family: 'siglip' });
  const senc = await loadTextEncoder(sig.dir);
  assert.equal(senc.rules.maxLength, 64);
  assert.equal(senc.output, 'pooler_output');
  assert.deepEqual(senc.inputs.map((i) => i.name), ['input_ids']);
  const s = await embedTexts(senc, ['red']);
  await senc.dispose();
  // no BOS; "red", EOS, then 62 pads (= EOS id) all counted: 63 * 0.25
  unit([1, -1, -1, 63 * 0.25]).forEach((v, i) => close(s.vectors[i], v));
});

test('text tower errors name the file and the problem', async () => {
  const dir = tmpDir();
  const f = writeClipFolder(path.join(dir, 'clip'));
  fs.rmSync(path.join(f.dir, 'tokenizer.json'));
  await assert.rejects(loadTextEncoder(f.dir), /no tokenizer\.json/);
  fs.rmSync(path.join(f.dir, 'onnx', 'text_model.onnx'));
  await assert.rejects(loadTextEncoder(f.dir), /no text model for dtype fp32; place one of onnx\/text_model\.onnx/);
  await assert.rejects(loadTextEncoder(path.join(dir, 'nope')), /no such file or folder/);
});

test('captions CSV: header, quoted commas, errors with line numbers', () => {
  const dir = tmpDir();
  const f = path.join(dir, 'c.csv');
  fs.writeFileSync(f, 'path,caption\nimages/a.jpg,"a red, red dress"\r\nimages/b.jpg,blue car\n');
  assert.deepEqual(readCaptions(f), [
    { path: 'images/a.jpg', caption: 'a red, red dress' },
    { path: 'images/b.jpg', caption: 'blue car' },
  ]);
  fs.writeFileSync(f, 'file,text\na,b\n');
  assert.throws(() => readCaptions(f), /expected a header with "path" and "caption"/);
  fs.writeFileSync(f, 'path,caption\na.jpg,\n');
  assert.throws(() => readCaptions(f), /c\.csv:2: missing path or caption/);
});

test('cross-modal recall by hand: image->text counts any own caption, text->image the own image, ties by order', () => {
  // 2 images, 3 captions (0,1 -> image 0; 2 -> image 1)
  const sim = Float32Array.from([
    0.1, 0.9, 0.5, // image 0: best caption 1 (own) -> rank 0
    0.8, 0.2, 0.3, // image 1: own caption 2 ranks 1 (after caption 0)
  ]);
  const r = crossModalRecall(sim, 2, [0, 0, 1], [1, 2]);
  assert.deepEqual(r.imageToText, { 1: 0.5, 2: 1 });
  // caption 0: image 1 (0.8) beats image 0 (0.1) -> miss at 1; caption 1 -> image 0 hit; caption 2: 0.5 vs 0.3 -> image 0 wins, miss
  assert.deepEqual(r.textToImage, { 1: 1 / 3, 2: 1 });
  const tie = crossModalRecall(Float32Array.from([0.5, 0.5]), 2, [1], [1]);
  assert.equal(tie.textToImage[1], 0, 'equal scores: the earlier image ranks first');
  assert.throws(() => crossModalRecall(sim, 2, [0, 0, 2]), /out of range/);
});

test('image<->caption retrieval through a CLIP-like folder: colours find their captions', async () => {
  const dir = tmpDir();
  const f = writeClipFolder(path.join(dir, 'clip'));
  fs.mkdirSync(path.join(dir, 'images'));
  await solidPng(path.join(dir, 'images', 'r.png'), [230, 20, 20]);
  await solidPng(path.join(dir, 'images', 'g.png'), [20, 230, 20], 48, 40);
  await solidPng(path.join(dir, 'images', 'b.png'), [20, 20, 230], 40, 60);
  const caps = [
    { path: 'images/r.png', caption: 'a red dress' },
    { path: 'images/g.png', caption: 'a green car' },
    { path: 'images/b.png', caption: 'a blue dog' },
    { path: 'images/r.png', caption: 'red' },
    { path: 'images/missing.png', caption: 'green dog' },
  ];
  const backbone = await loadBackbone(f.dir);
  const text = await loadTextEncoder(f.dir);
  const r = await captionEvalOfBackbone(backbone, text, caps, dir, [1, 5]);
  assert.deepEqual(r.imageToText, { 1: 1, 5: 1 });
  assert.deepEqual(r.textToImage, { 1: 1, 5: 1 });
  assert.equal(r.captions, 4);
  assert.equal(r.skippedImages.length, 1);
  const q = await embedTexts(text, ['blue', 'green', 'red']);
  const img = await (await import('../../src/embed/pipeline.ts')).embedWithBackbone(backbone, [{ id: 'r', source: path.join(dir, 'images', 'r.png') }]);
  assert.deepEqual((await rankCaptions(img.vectors, q.vectors, 4)).order, [2, 0, 1]);
  await backbone.dispose();
  await text.dispose();
});
