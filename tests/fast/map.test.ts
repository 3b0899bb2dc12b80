/** The gallery map: `lookalike map` writes .html/.svg/.png, the cache beside the index survives the store's cleanup, colours by a field, PCA separates clusters. */
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { writeClassFolders } from '../../src/data/synthetic.ts';
import { indexFolder, openIndex, mapColours } from '../../src/api.ts';
import { pcaLayout, MAP_CACHE_FILE } from '../../src/index/map.ts';
import { runCli } from '../helpers/cli.ts';
import { tmpDir, writeTinyCnn } from '../helpers/tmp.ts';

test('lookalike map writes html, svg and png pictures coloured by label; the map is cached beside the index and reused', async () => {
  const dir = tmpDir('lookalike-map-');
  const gallery = path.join(dir, 'gallery');
  await writeClassFolders(gallery, 4, 8, 0, 48);
  const idx = path.join(dir, 'g.lkx');
  await indexFolder(gallery, idx, { model: writeTinyCnn(dir) });

  const html = path.join(dir, 'map.html');
  const r1 = await runCli(['map', idx, '--out', html]);
  assert.equal(r1.status, 0, r1.stderr);
  assert.match(r1.stdout, /32 items laid out with UMAP, 4 colours/);
  const page = fs.readFileSync(html, 'utf8');
  assert.equal((page.match(/<circle [^>]*><title>/g) ?? []).length, 32, 'one point per item, each with its id');
  assert.ok(fs.existsSync(path.join(idx, MAP_CACHE_FILE)), 'cached beside the index');

  // A write through the store (which cleans names it does not reference) keeps the cache file; the next map is recomputed for the new state.
  const w = await openIndex(idx, { write: true });
  const [first] = await w.ids();
  await w.remove([first]);
  await w.close();
  assert.ok(fs.existsSync(path.join(idx, MAP_CACHE_FILE)));
  const png = path.join(dir, 'map.png');
  const r2 = await runCli(['map', idx, '--out', png, '--color', 'folder']);
  assert.equal(r2.status, 0, r2.stderr);
  assert.match(r2.stdout, /31 items laid out with UMAP, 4 colours/);
  assert.doesNotMatch(r2.stdout, /cached/);
  const r3 = await runCli(['map', idx, '--out', path.join(dir, 'map.svg'), '--json']);
  assert.equal(JSON.parse(r3.stdout).cached, true, 'the same index state reads its cache');
  const bytes = fs.readFileSync(png);
  assert.deepEqual([...bytes.subarray(1, 4)], [...Buffer.from('PNG')]);
  // Writing again over its own picture is allowed; over a foreign file it is refused.
  assert.equal((await runCli(['map', idx, '--out', png])).status, 0);
  const foreign = path.join(dir, 'notes.html');
  fs.writeFileSync(foreign, '<!doctype html><p>mine</p>');
  const r4 = await runCli(['map', idx, '--out', foreign]);
  assert.notEqual(r4.status, 0);
  assert.match(r4.stderr, /--out .*notes\.html/);
  const r5 = await runCli(['map', idx, '--out', path.join(dir, 'm.png'), '--color', 'lable']);
  assert.notEqual(r5.status, 0);
  assert.match(r5.stderr, /--color lable: no such field .*did you mean "label"/);
  const r6 = await runCli(['map', idx, '--out', path.join(dir, 'm.jpg')]);
  assert.match(r6.stderr, /--out .*m\.jpg: expected a \.html, \.svg or \.png file/);
});

test('PCA puts two separated clusters apart along its first axis', () => {
  const dim = 8;
  const n = 40;
  const v = new Float32Array(n * dim);
  for (let i = 0; i < n; i++) {
    v[i * dim + (i < 20 ? 0 : 1)] = 1;
    v[i * dim + 2 + (i % 5)] = 0.1;
  }
  const xy = pcaLayout(v, dim);
  const a = Array.from({ length: 20 }, (_, i) => xy[2 * i]);
  const b = Array.from({ length: 20 }, (_, i) => xy[2 * (i + 20)]);
  assert.ok(Math.max(...a) < Math.min(...b) || Math.max(...b) < Math.min(...a), `${a} vs ${b}`);
});

test('mapColours: top categories get the palette, the rest grey; numbers a gradient with a two-stop legend', () => {
  const c = mapColours(['a', 'b', 'a', undefined, 'c'], 'label');
  assert.equal(c.kind, 'category');
  assert.equal(c.colours[0], c.colours[2]);
  assert.notEqual(c.colours[0], c.colours[1]);
  assert.deepEqual(c.legend.map((l) => [l.label, l.count]), [['a', 2], ['b', 1], ['c', 1], ['other', 1]]);
  const many = mapColours(Array.from({ length: 30 }, (_, i) => `v${i % 15}`));
  assert.equal(many.legend.length, 11);
  assert.equal(many.legend.at(-1)!.label, 'other');
  const num = mapColours([1, 5, 9], 'size');
  assert.equal(num.kind, 'number');
  assert.deepEqual(num.legend.map((l) => l.label), ['1', '9']);
  assert.notEqual(num.colours[0], num.colours[2]);
});
