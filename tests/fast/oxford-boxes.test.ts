/** eval --oxford --query-boxes: queries embedded from their boxes with the index's model. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { writeClassFolders } from '../../src/data/synthetic.ts';
import { embedQueryBoxes, evaluateOxfordIndex } from '../../src/eval/oxford-index.ts';
import { readOxfordTruth } from '../../src/metrics/oxford-truth.ts';
import { openStore } from '../../src/store/open-store.ts';
import { loadBackbone } from '../../src/models/load.ts';
import { embedWithBackbone } from '../../src/embed/pipeline.ts';
import { runCli } from '../helpers/cli.ts';
import { tmpDir, writeTinyCnn, TINY_FLAGS } from '../helpers/tmp.ts';

async function setup(): Promise<{ dir: string; gt: string; lkx: string; flat: string }> {
  const dir = tmpDir();
  const classes = path.join(dir, 'classes');
  await writeClassFolders(classes, 3, 5, 0, 48);
  // A flat folder of unique names (Oxford names are base names), one truth query per class.
  const flat = path.join(dir, 'jpg');
  fs.mkdirSync(flat);
  const gt = path.join(dir, 'gt');
  fs.mkdirSync(gt);
  for (const c of [0, 1, 2]) {
    const files = fs.readdirSync(path.join(classes, `class0${c}`)).sort();
    files.forEach((f) => fs.copyFileSync(path.join(classes, `class0${c}`, f), path.join(flat, `l${c}_${f}`)));
    fs.writeFileSync(path.join(gt, `l${c}_1_good.txt`), files.map((f) => `l${c}_${f.replace(/\.jpg$/, '')}`).join('\n') + '\n');
  }
  const lkx = path.join(dir, 'ox.lkx');
  const r = await runCli(['index', flat, '--model', writeTinyCnn(dir), ...TINY_FLAGS, '--out', lkx]);
  assert.equal(r.status, 0, r.stderr);
  return { dir, gt, lkx, flat };
}

const boxes = (gt: string, box: (c: number) => string) => [0, 1, 2].forEach((c) => fs.writeFileSync(path.join(gt, `l${c}_1_query.txt`), `oxc1_l${c}_000 ${box(c)}\n`));

test('query boxes: a whole-image box scores as the whole-image protocol; a smaller box is embedded from its crop; bad boxes name the file or query', async () => {
  const { dir, gt, lkx, flat } = await setup();
  const { width, height } = await sharp(path.join(flat, 'l0_000.jpg')).metadata();
  boxes(gt, () => `0 0 ${width} ${height}`);
  const whole = await evaluateOxfordIndex(lkx, gt);
  const boxed = await evaluateOxfordIndex(lkx, gt, { queryBoxes: true });
  for (const q of Object.keys(whole.per_query)) assert.ok(Math.abs(whole.per_query[q].ap - boxed.per_query[q].ap) < 1e-9, q);
  // A quarter box: different query vectors, so different rankings somewhere; the CLI flag reaches it.
  boxes(gt, () => `3.5 2.2 ${width! / 2} ${height! / 2}`);
  const quarter = await runCli(['eval', lkx, '--oxford', gt, '--query-boxes', '--json']);
  assert.equal(quarter.status, 0, quarter.stderr);
  const q = JSON.parse(quarter.stdout);
  assert.equal(q.queries_scored, 3);
  // Each query row is the model's embedding of exactly its crop (cut here with sharp, box rounded outward).
  const store = await openStore(lkx);
  try {
    const rows = await embedQueryBoxes(store, readOxfordTruth(gt), gt, undefined);
    const bb = await loadBackbone(path.join(dir, 'tiny-cnn.onnx'), { overrides: { resize: { mode: 'fixed', height: 32, width: 32 }, crop: null } });
    const crops = await Promise.all([0, 1, 2].map(async (c) => ({ id: `${c}`, source: await sharp(path.join(flat, `l${c}_000.jpg`)).extract({ left: 3, top: 2, width: Math.ceil(width! / 2) - 3, height: Math.ceil(height! / 2) - 2 }).png().toBuffer() })));
    const want = await embedWithBackbone(bb, crops);
    const full = await store.getVectors(['l0_000.jpg', 'l1_000.jpg', 'l2_000.jpg']);
    await bb.dispose();
    const cos = (a: Float32Array, i: number, b: Float32Array) => a.subarray(i * 16, i * 16 + 16).reduce((t, v, k) => t + v * b[i * 16 + k], 0);
    for (let i = 0; i < 3; i++) {
      assert.ok(cos(rows, i, want.vectors) > 0.99999, `query ${i} is its crop's embedding`);
      assert.ok(cos(rows, i, full) < 0.9999, `query ${i} is not the whole image's embedding`);
    }
  } finally {
    await store.close();
  }
  boxes(gt, () => `${width! + 5} 0 ${width! + 9} 4`);
  await assert.rejects(evaluateOxfordIndex(lkx, gt, { queryBoxes: true }), /query l\d_1: box .* is outside its \d+x\d+ image/);
  boxes(gt, () => `4 4 2 9`);
  await assert.rejects(evaluateOxfordIndex(lkx, gt, { queryBoxes: true }), /l0_1_query\.txt: expected "oxc1_NAME x0 y0 x1 y1" with x0 < x1/);
  // Whole images need no boxes at all.
  boxes(gt, () => '');
  assert.equal((await evaluateOxfordIndex(lkx, gt)).queries_scored, 3);
});
