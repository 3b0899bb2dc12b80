/** CLI: `search --text` and `eval --captions` on an index built with a CLIP-layout folder; `models info`. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { indexCommand } from '../../src/cli/index-cmd.ts';
import { searchCommand } from '../../src/cli/search-cmd.ts';
import { evalCommand } from '../../src/cli/eval-cmd.ts';
import { modelsCommand } from '../../src/cli/models-cmd.ts';
import { solidPng, writeClipFolder, writeDinoFolder } from '../fixtures/hf.ts';
import { tmpDir } from '../helpers/tmp.ts';

/** Run a command in-process and capture what it writes to stdout. */
async function capture(run: () => Promise<unknown>): Promise<string> {
  // Let the test reporter flush what it has queued first, so its lines are not captured.
  await new Promise((r) => setTimeout(r, 50));
  const write = process.stdout.write.bind(process.stdout);
  let out = '';
  process.stdout.write = ((chunk: string | Uint8Array) => {
    out += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString();
    return true;
  }) as typeof process.stdout.write;
  try {
    await run();
  } finally {
    process.stdout.write = write;
  }
  return out;
}

test('index a folder with a CLIP-layout model, then search it by text and evaluate captions', async () => {
  const d = tmpDir();
  const clip = writeClipFolder(path.join(d, 'clip')).dir;
  fs.mkdirSync(path.join(d, 'g', 'images'), { recursive: true });
  await solidPng(path.join(d, 'g', 'images', 'r.png'), [230, 20, 20]);
  await solidPng(path.join(d, 'g', 'images', 'gr.png'), [20, 230, 20], 50, 30);
  await solidPng(path.join(d, 'g', 'images', 'b.png'), [20, 20, 230]);
  const csv = path.join(d, 'g', 'captions.csv');
  fs.writeFileSync(csv, 'path,caption\nimages/r.png,a red dress\nimages/gr.png,green car\nimages/b.png,"blue, blue dog"\nimages/r.png,red\n');
  const lkx = path.join(d, 'g.lkx');
  await capture(() => indexCommand().parseAsync(['node', 'index', path.join(d, 'g'), '--model', clip, '--out', lkx]));
  const res = JSON.parse(await capture(() => searchCommand().parseAsync(['node', 'search', lkx, '--text', 'a red dress', 'blue', '-k', '2', '--json'])));
  assert.deepEqual(res.results.map((r: { query: string; hits: { id: string }[] }) => [r.query, r.hits[0].id]), [
    ['a red dress', 'images/r.png'],
    ['blue', 'images/b.png'],
  ]);
  const table = await capture(() => evalCommand().parseAsync(['node', 'eval', lkx, '--captions', csv]));
  assert.match(table, /3 images, 4 captions/);
  assert.match(table, /image->text +100\.0 +100\.0 +100\.0/);
  assert.match(table, /text->image +100\.0 +100\.0 +100\.0/);
  const direct = JSON.parse(await capture(() => evalCommand().parseAsync(['node', 'eval', '--captions', csv, '--model', clip, '--k', '1', '--json'])));
  assert.deepEqual([direct.imageToText, direct.textToImage], [{ 1: 1 }, { 1: 1 }]);
});

test('search --text refuses an index whose vectors are not in the text space', async () => {
  const d = tmpDir();
  const clip = writeClipFolder(path.join(d, 'clip')).dir;
  fs.mkdirSync(path.join(d, 'g'));
  await solidPng(path.join(d, 'g', 'r.png'), [230, 20, 20]);
  const lkx = path.join(d, 'pre.lkx');
  await capture(() => indexCommand().parseAsync(['node', 'index', path.join(d, 'g'), '--model', clip, '--output', 'pooler_output', '--out', lkx]));
  await assert.rejects(searchCommand().parseAsync(['node', 'search', lkx, '--text', 'red']), /index vectors are 8-d but .* text embeddings are 4-d/);
  const dino = writeDinoFolder(path.join(d, 'dino'));
  const lkx2 = path.join(d, 'dino.lkx');
  await capture(() => indexCommand().parseAsync(['node', 'index', path.join(d, 'g'), '--model', dino, '--out', lkx2]));
  await assert.rejects(searchCommand().parseAsync(['node', 'search', lkx2, '--text', 'red']), /place one of onnx\/text_model\.onnx/);
});

test('models list and info print presets and a folder description', async () => {
  const list = await capture(() => modelsCommand().parseAsync(['node', 'models', 'list']));
  assert.match(list, /^name +family +input +dim +text +licence +source +available/);
  assert.match(list, /clip-vit-b32 +clip +224 RGB, CLIP mean\/std +512 +yes +MIT +hf:Xenova\/clip-vit-base-patch32 +(yes|no)/);
  assert.match(list, /dinov2-small +dinov2 +224 RGB, ImageNet mean\/std +384 +no +Apache-2.0 +hf:Xenova\/dinov2-small +(yes|no)/);
  const d = tmpDir();
  const clip = writeClipFolder(path.join(d, 'clip')).dir;
  const info = await capture(() => modelsCommand().parseAsync(['node', 'models', 'info', clip, '--feature', 'pre-projection']));
  assert.match(info, /family: +clip \(model_type clip\)/);
  assert.match(info, /pooler_output {2}float32 \[batch, 8\] {3}<- embedding/);
  assert.match(info, /preprocess: +resize shortest edge 32 bicubic, crop 32x32/);
  assert.match(info, /text tower: +output text_embeds, max_length padding to 77 tokens/);
});
