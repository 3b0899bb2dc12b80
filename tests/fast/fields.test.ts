/**
 * Item fields end to end (issue 20): found automatically (class folder, size, dimensions, EXIF
 * date and camera), read from a CSV sidecar on `index --fields`, changed with `fields set`
 * without re-embedding, used by `search --where`, and "more like these" checked against the
 * same query built by hand.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import * as api from '../../src/api.ts';
import { writeClassFolders } from '../../src/data/synthetic.ts';
import { combineExamples } from '../../src/index/like.ts';
import { runCli } from '../helpers/cli.ts';
import { tmpDir, writeTinyCnn, TINY_FLAGS } from '../helpers/tmp.ts';

const dir = tmpDir('lookalike-fields-');
const gallery = path.join(dir, 'g');
const out = path.join(dir, 'g.lkx');
const csv = path.join(dir, 'items.csv');

const built = (async () => {
  const files = await writeClassFolders(gallery, 3, 5, 0, 48);
  // Two photos with EXIF (as a camera writes it), one without.
  for (const f of files.slice(0, 2)) {
    const p = path.join(gallery, f);
    const buf = await sharp(fs.readFileSync(p)).withExif({ IFD0: { Make: 'Canon', Model: 'EOS 5D' }, IFD2: { DateTimeOriginal: '2021:05:03 10:20:30' } }).jpeg().toBuffer();
    fs.writeFileSync(p, buf);
  }
  fs.writeFileSync(csv, ['path,price:number,brand,tags:list', ...files.map((f, i) => `${f},${i * 5},${i % 2 ? 'acme' : 'zenith'},${i % 3 ? 'red' : 'red|sale'}`)].join('\n') + '\n');
  const model = writeTinyCnn(dir);
  const r = await runCli(['index', gallery, '--model', model, ...TINY_FLAGS, '--out', out, '--fields', csv, '--json']);
  assert.equal(r.status, 0, r.stderr);
  return { files, model };
})();

test('index --fields: automatic fields, EXIF and the sidecar are stored per item', async () => {
  const { files } = await built;
  const r = await runCli(['fields', out, '--id', files[0], files[7], '--json']);
  assert.equal(r.status, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  const [a, b] = j.items;
  assert.equal(a.fields.label, 'class00');
  assert.equal(a.fields.folder, 'class00');
  assert.equal(a.fields.format, 'jpeg');
  assert.equal(a.fields.width, 48);
  assert.equal(a.fields.size, fs.statSync(path.join(gallery, files[0])).size);
  assert.equal(a.fields.camera, 'Canon EOS 5D');
  assert.match(String(a.fields.taken), /^2021-05-03/);
  assert.equal(b.fields.label, 'class01');
  assert.equal(b.fields.camera, undefined);
  assert.equal(b.fields.price, 35);
  assert.equal(b.fields.brand, 'acme');
  assert.deepEqual(a.fields.tags, ['red', 'sale']);
  assert.equal(j.types.price, 'number');
  assert.equal(j.types.tags, 'list');
});

test('search --where returns exactly min(k, matches) matching results, with their fields', async () => {
  const { files } = await built;
  const r = await runCli(['search', out, '--id', files[3], '-k', '4', '--where', 'price < 30 and brand = "zenith"', '--fields', '--json']);
  assert.equal(r.status, 0, r.stderr);
  const hits = JSON.parse(r.stdout).results[0].hits;
  // price < 30: items 0..5; zenith: even i -> items 0, 2, 4.
  assert.deepEqual(hits.map((h: { id: string }) => h.id).sort(), [files[0], files[2], files[4]].sort());
  for (const h of hits) assert.ok(h.fields.price < 30 && h.fields.brand === 'zenith');
  const none = await runCli(['search', out, '--id', files[3], '--where', 'price > 1000', '--json']);
  assert.deepEqual(JSON.parse(none.stdout).results[0].hits, []);
});

test('a bad filter or sidecar is a one-line error naming the position or the file and line; the index is left as it was', async () => {
  const { files, model } = await built;
  const r = await runCli(['search', out, '--id', files[3], '--where', 'prise < 30']);
  assert.notEqual(r.status, 0);
  assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  assert.match(r.stderr, /unknown field "prise" at 0.*did you mean "price"/);
  const bad = path.join(dir, 'bad.csv');
  fs.writeFileSync(bad, `path,price:number\n${files[0]},12\n${files[1]},abc\n`);
  const before = fs.readFileSync(path.join(out, 'manifest.json'), 'utf8');
  const b = await runCli(['index', gallery, '--model', model, ...TINY_FLAGS, '--out', out, '--fields', bad]);
  assert.notEqual(b.status, 0);
  assert.match(b.stderr, /bad\.csv:3.*price.*"abc".*number/);
  assert.equal(fs.readFileSync(path.join(out, 'manifest.json'), 'utf8'), before);
});

test('fields set changes fields without re-embedding; a re-index with a new sidecar updates fields only', async () => {
  const { files, model } = await built;
  const index = await api.openIndex(out);
  const v0 = await index.vector(files[6]);
  await index.close();
  const r = await runCli(['fields', 'set', out, 'price=7.5', 'brand=', '--json', '--id', files[6]]);
  assert.equal(r.status, 0, r.stderr);
  const after = await api.openIndex(out);
  try {
    const [rec] = await after.items([files[6]]);
    assert.equal(rec.fields.price, 7.5);
    assert.equal(rec.fields.brand, undefined);
    assert.deepEqual(await after.vector(files[6]), v0);
  } finally {
    await after.close();
  }
  const wrong = await runCli(['fields', 'set', out, 'price=cheap', '--id', files[6]]);
  assert.match(wrong.stderr, /price=cheap: the field is a number/);
  fs.writeFileSync(csv, ['path,price:number', ...files.map((f) => `${f},1`)].join('\n') + '\n');
  const re = await runCli(['index', gallery, '--model', model, ...TINY_FLAGS, '--out', out, '--fields', csv, '--json']);
  assert.equal(re.status, 0, re.stderr);
  const s = JSON.parse(re.stdout);
  assert.equal(s.embedded, 0);
  assert.equal(s.fields_updated, files.length);
});

test('like/unlike: the normalised mean of positives minus half the negatives, examples left out, same as the query built by hand', async () => {
  const { files } = await built;
  const index = await api.openIndex(out);
  try {
    const [a, b, c] = [files[0], files[1], files[10]];
    const got = await index.search({ like: [{ id: a }, { id: b }], unlike: [{ id: c }] }, { k: 5 });
    const q = combineExamples([await index.vector(a), await index.vector(b)], [await index.vector(c)], index.dim);
    // By hand: mean of positives minus 0.5 x the negative, normalised.
    const [va, vb, vc] = [await index.vector(a), await index.vector(b), await index.vector(c)];
    const hand = Float32Array.from(va, (x, d) => (x + vb[d]) / 2 - 0.5 * vc[d]);
    const n = Math.hypot(...hand);
    hand.forEach((x, d) => assert.ok(Math.abs(x / n - q[d]) < 1e-6));
    const [want] = await index.searchVectors(q, { k: 8 });
    assert.deepEqual(got.hits.map((h) => h.id), want.filter((h) => ![a, b, c].includes(h.id)).slice(0, 5).map((h) => h.id));
    const cli = await runCli(['search', out, '--like', a, b, '--unlike', c, '-k', '5', '--json']);
    assert.deepEqual(JSON.parse(cli.stdout).results[0].hits.map((h: { id: string }) => h.id), got.hits.map((h) => h.id));
    assert.match((await runCli(['search', out, '--unlike', c])).stderr, /--unlike needs --like/);
  } finally {
    await index.close();
  }
});

test('eval and dedup within a filter see only the matching items', async () => {
  await built;
  const labels = path.join(dir, 'labels.csv');
  const rows = fs.readFileSync(path.join(gallery, 'labels.csv'), 'utf8').trim().split('\n').map((l) => l.split(',').slice(0, 2).join(','));
  fs.writeFileSync(labels, rows.join('\n') + '\n');
  const all = JSON.parse((await runCli(['eval', out, '--labels', labels, '--json'])).stdout);
  const one = await runCli(['eval', out, '--labels', labels, '--where', 'label = "class01"', '--json']);
  assert.equal(one.status, 0, one.stderr);
  const j = JSON.parse(one.stdout);
  assert.equal(all.queries_scored, 15);
  assert.equal(j.queries_scored, 5);
  // Within one class every neighbour is relevant.
  assert.equal(j.mean['precision@1'], 1);
  const d = await runCli(['dedup', out, '--threshold', '0.5', '--where', 'label = "class02"', '--json']);
  assert.equal(d.status, 0, d.stderr);
  const groups = JSON.parse(d.stdout);
  assert.equal(groups.items, 5);
  for (const g of groups.groups) for (const m of g.members) assert.match(m.id, /^class02\//);
});
