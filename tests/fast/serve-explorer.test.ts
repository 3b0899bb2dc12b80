/** The explorer's routes (issue 21): the full-size image with the thumbnail's path checks, the map (cached per index state), duplicate groups with their threshold; bad parameters are 400s naming them. */
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { writeClassFolders } from '../../src/data/synthetic.ts';
import { indexFolder } from '../../src/api.ts';
import { startServer, type Server } from '../../src/serve/app.ts';
import { tmpDir, writeTinyCnn } from '../helpers/tmp.ts';

const dir = tmpDir('lookalike-serve-explorer-');
let server: Server;
let files: string[];
let gallery: string;

test.before(async () => {
  gallery = path.join(dir, 'g');
  files = await writeClassFolders(gallery, 3, 7, 0, 40);
  fs.rmSync(path.join(gallery, 'labels.csv'));
  fs.copyFileSync(path.join(gallery, files[0]), path.join(gallery, 'class00/copy.jpg'));
  // A TIFF in the gallery: browsers do not show it, so the full-size route re-encodes it.
  await sharp(path.join(gallery, files[1])).tiff().toFile(path.join(gallery, 'class00/scan.tif'));
  fs.writeFileSync(path.join(dir, 'secret.jpg'), fs.readFileSync(path.join(gallery, files[0])));
  const lkx = path.join(dir, 'g.lkx');
  await indexFolder(gallery, lkx, { model: { model: writeTinyCnn(dir), resize: '32x32', crop: 'none' } });
  server = await startServer({ index: lkx, port: 0, log: () => undefined, watch: false });
});
test.after(() => server?.close());

const get = (p: string) => fetch(`${server.url}${p}`);

test('GET /items/ID/image: the original bytes for browser formats, WebP for others; only indexed ids inside the gallery', async () => {
  const r = await get(`/items/${encodeURIComponent(files[0])}/image`);
  assert.equal(r.status, 200);
  assert.equal(r.headers.get('content-type'), 'image/jpeg');
  assert.deepEqual(Buffer.from(await r.arrayBuffer()), fs.readFileSync(path.join(gallery, files[0])));
  const tif = await get(`/items/${encodeURIComponent('class00/scan.tif')}/image`);
  assert.equal(tif.status, 200);
  assert.equal(tif.headers.get('content-type'), 'image/webp');
  assert.equal((await sharp(Buffer.from(await tif.arrayBuffer())).metadata()).width, 40);
  for (const id of ['../secret.jpg', 'class00/../../secret.jpg', 'nope.jpg']) {
    const bad = await get(`/items/${encodeURIComponent(id)}/image`);
    assert.equal(bad.status, 404, id);
    assert.match((await bad.json()).error, /no item .* in the index/);
  }
});

test('GET /map: one point per item in [0, 1], coloured by label by default; another field; an unknown one is a 400', async () => {
  const m = await (await get('/map')).json();
  assert.equal(m.count, 23);
  assert.equal(m.method, 'umap');
  assert.equal(m.color, 'label');
  for (const k of ['ids', 'x', 'y', 'colours', 'values']) assert.equal(m[k].length, 23, k);
  assert.ok(m.x.every((v: number) => v >= 0 && v <= 1) && m.y.every((v: number) => v >= 0 && v <= 1));
  assert.deepEqual(m.legend.map((l: { label: string; count: number }) => [l.label, l.count]), [['class00', 9], ['class01', 7], ['class02', 7]]);
  const again = await (await get('/map?color=size')).json();
  assert.deepEqual(again.x, m.x, 'the same map, another colour');
  assert.equal(again.kind, 'number');
  const bad = await get('/map?color=lable');
  assert.equal(bad.status, 400);
  assert.match((await bad.json()).error, /color lable: no such field .*did you mean "label"/);
  assert.equal((await get('/map?method=tsne')).status, 400);
});

test('GET /duplicates: the byte copy groups with its original at the auto threshold; a given threshold and a filter; bad ones are 400s', async () => {
  const d = await (await get('/duplicates')).json();
  assert.equal(d.rule === 'given', false);
  const g = d.groups.find((x: { members: { id: string }[] }) => x.members.some((m) => m.id === 'class00/copy.jpg'));
  assert.ok(g, JSON.stringify(d.groups));
  assert.ok(g.members.some((m: { id: string }) => m.id === files[0]));
  for (const m of g.members) assert.equal(m.fields.label, 'class00'), assert.match(m.thumbnail, /\/thumbnail$/), assert.equal(typeof m.size, 'number');
  const strict = await (await get('/duplicates?threshold=0.99999&filter=label%20%3D%20%22class00%22')).json();
  assert.equal(strict.threshold, 0.99999);
  assert.equal(strict.rule, 'given');
  assert.ok(strict.items === 9 && strict.groups.every((x: { members: { fields: { label: string } }[] }) => x.members.every((m) => m.fields.label === 'class00')));
  for (const [q, re] of [['threshold=2', /threshold 2: expected a cosine/], ['threshold=abc', /threshold/], ['filter=lable%20%3D%201', /unknown field "lable"/]] as const) {
    const r = await get(`/duplicates?${q}`);
    assert.equal(r.status, 400, q);
    assert.match((await r.json()).error, re);
  }
});
