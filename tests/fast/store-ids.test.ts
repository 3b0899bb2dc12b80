/** Opening an index builds nothing per item: binary id files, per-segment tombstones, old indexes without id files, ANN key files. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { FolderStore } from '../../src/store/folder/store.ts';
import { readManifest, writeManifest, type ManifestV2 } from '../../src/store/folder/manifest.ts';
import { decodeIds, encodeIds } from '../../src/store/folder/id-list.ts';
import { writeBulk } from '../../src/store/folder/bulk.ts';
import { AnnGraph, readAnnManifest } from '../../src/store/ann.ts';
import { KeyTable } from '../../src/store/ann-keys.ts';
import { ANN_AUTO_MIN, annCosts, chooseAnn } from '../../src/store/ann-mode.ts';
import { contractMeta, itemsOf, unitVectors } from '../helpers/store-contract.ts';
import { tmpDir } from '../helpers/tmp.ts';
import type { Hit, StoreItem } from '../../src/store/types.ts';
import { rowCacheBytes } from '../../src/store/folder/row-cache.ts';
import { config } from '../../src/util/config.ts';

const dim = 8;

/** Ids that sort differently by UTF-8 bytes and by UTF-16 code units, plus plain ones. */
const ODD = ['a\u{1F600}.jpg', 'a\uE000.jpg', 'a\u00fc.jpg', 'a/b.jpg', 'A.jpg', 'z'];

function brute(items: Map<string, Float32Array>, q: Float32Array, k: number): string[] {
  const all = [...items].map(([id, v]) => ({ id, s: Math.fround(v.reduce((a, x, d) => a + x * q[d], 0)) }));
  all.sort((a, b) => b.s - a.s || (a.id < b.id ? -1 : 1));
  return all.slice(0, k).map((h) => h.id);
}

/** A store built by several writes with replacements and removals, and the model of what is live. */
async function built(loc: string): Promise<Map<string, Float32Array>> {
  const s = await FolderStore.open(loc, { write: true, create: contractMeta(dim) });
  const v = unitVectors(80, dim, 3);
  const items: StoreItem[] = itemsOf(v.subarray(0, 60 * dim), dim);
  ODD.forEach((id, i) => items.push({ id, vector: v.slice((60 + i) * dim, (61 + i) * dim) }));
  const live = new Map<string, Float32Array>();
  await s.write({ upsert: items.slice(0, 40) });
  await s.write({ upsert: items.slice(40) });
  // replace one item of each segment, remove two
  await s.write({ upsert: [{ id: items[3].id, vector: v.slice(70 * dim, 71 * dim) }, { id: ODD[1], vector: v.slice(71 * dim, 72 * dim) }], remove: [items[5].id, ODD[0]] });
  for (const it of items) live.set(it.id, it.vector);
  live.set(items[3].id, v.slice(70 * dim, 71 * dim));
  live.set(ODD[1], v.slice(71 * dim, 72 * dim));
  live.delete(items[5].id);
  live.delete(ODD[0]);
  await s.close();
  return live;
}

async function check(loc: string, live: Map<string, Float32Array>): Promise<void> {
  const s = await FolderStore.open(loc);
  assert.equal(await s.count(), live.size);
  assert.deepEqual(await s.ids(), [...live.keys()].sort());
  const scanned: string[] = [];
  for await (const b of s.scan(7)) {
    b.ids.forEach((id, i) => assert.deepEqual([...b.vectors.subarray(i * dim, (i + 1) * dim)], [...live.get(id)!], id));
    scanned.push(...b.ids);
  }
  assert.deepEqual(scanned, [...live.keys()].sort(), 'scan merges the segments in id order');
  for (const id of [...live.keys()]) assert.deepEqual([...(await s.getVectors([id]))], [...live.get(id)!], id);
  await assert.rejects(s.getVectors(['img/0005.jpg']), /no id "img\/0005\.jpg"/, 'a removed id is gone');
  await assert.rejects(s.getVectors([ODD[0]]), /no id/);
  const q = live.get(ODD[2])!;
  const [hits] = await s.search(q, { k: 10, ann: 'off' });
  assert.deepEqual(hits.map((h: Hit) => h.id), brute(live, q, 10));
  const [ex] = await s.search(q, { k: 5, ann: 'off', exclude: [ODD[2]] });
  assert.ok(!ex.some((h) => h.id === ODD[2]));
  await s.close();
}

test('every segment gets a binary id file covered by the manifest; lookups, scan, search and tombstones work through it', async () => {
  const loc = path.join(tmpDir(), 'g.lkx');
  const live = await built(loc);
  const m = readManifest(loc) as ManifestV2;
  assert.ok(m.segments.length >= 2);
  for (const sg of m.segments) {
    assert.ok(sg.idx, `${sg.npy.file} has an id file`);
    const ids = JSON.parse(fs.readFileSync(path.join(loc, sg.ids.file), 'utf8')).ids as string[];
    const f = decodeIds(fs.readFileSync(path.join(loc, sg.idx!.file)), sg.idx!.file, sg.rows);
    assert.deepEqual(Array.from({ length: f.length }, (_, r) => f.at(r)), ids, 'the id file holds the sidecar ids in row order');
    ids.forEach((id, r) => assert.equal(f.find(id), r));
    assert.equal(f.find('nope'), -1);
  }
  // Blocks: every row and id through a file of 3-row blocks (first, middle, last block; ids
  // between and around them are absent).
  const many = [...ODD, ...Array.from({ length: 11 }, (_, i) => `img/${i}.jpg`)].sort();
  const blocked = decodeIds(encodeIds(many, 'b.ids', 3), 'b.ids', many.length);
  assert.deepEqual(Array.from({ length: many.length }, (_, r) => blocked.at(r)), many);
  many.forEach((id, r) => assert.equal(blocked.find(id), r, id));
  for (const absent of ['', '0', 'img/1.jpf', 'img/10.jpgx', '\u{10FFFF}']) assert.equal(blocked.find(absent), -1, absent);
  await check(loc, live);
  // The newest segment's id blocks are read by lookups, not at open: damaged after a reader was
  // warmed, they fail a new reader's lookup, while the warmed one (a server) reads nothing more.
  const newest = m.segments[m.segments.length - 1];
  const newestIdx = path.join(loc, newest.idx!.file);
  const intact = fs.readFileSync(newestIdx);
  const warmed = await FolderStore.open(loc);
  await warmed.warm({ exact: false });
  const flipped = Buffer.from(intact);
  flipped[flipped.length - 1] ^= 0x01;
  fs.writeFileSync(newestIdx, flipped);
  const inNewest = JSON.parse(fs.readFileSync(path.join(loc, newest.ids.file), 'utf8')).ids.filter((id: string) => live.has(id)) as string[];
  const cold = await FolderStore.open(loc);
  await assert.rejects(cold.getVectors([inNewest[0]]), new RegExp(`${newest.idx!.file}: checksum mismatch in block 0`));
  await cold.close();
  for (const id of live.keys()) assert.deepEqual([...(await warmed.getVectors([id]))], [...live.get(id)!], id);
  await warmed.close();
  fs.writeFileSync(newestIdx, intact);
  // A damaged id file is a one-line error naming it.
  const idx = path.join(loc, m.segments[0].idx!.file);
  const bytes = fs.readFileSync(idx);
  bytes[bytes.length - 1] ^= 0x01;
  fs.writeFileSync(idx, bytes);
  await assert.rejects(FolderStore.open(loc), new RegExp(`${m.segments[0].idx!.file}: checksum mismatch`));
});

test('an index written before id files opens from its sidecars and gains id files with its next write', async () => {
  const loc = path.join(tmpDir(), 'old.lkx');
  const live = await built(loc);
  const m = readManifest(loc) as ManifestV2;
  for (const sg of m.segments) {
    fs.rmSync(path.join(loc, sg.idx!.file));
    delete sg.idx;
  }
  writeManifest(loc, m);
  await check(loc, live);
  const w = await FolderStore.open(loc, { write: true });
  const extra = unitVectors(1, dim, 99);
  await w.write({ upsert: [{ id: 'zz/new.jpg', vector: extra }] });
  await w.close();
  live.set('zz/new.jpg', extra);
  const after = readManifest(loc) as ManifestV2;
  assert.ok(after.segments.every((sg) => sg.idx && fs.existsSync(path.join(loc, sg.idx.file))), 'old segments gained id files');
  await check(loc, live);
});

test('uniqueness is guaranteed when writing: id files refuse ids out of order or repeated; a bad old sidecar is named', async () => {
  assert.throws(() => encodeIds(['b', 'a'], 'x.ids'), /x\.ids: ids must be strictly ascending; item 1 "a" follows "b"/);
  assert.throws(() => encodeIds(['a', 'a'], 'x.ids'), /\(a duplicate\)/);
  assert.throws(() => encodeIds(['a', ''], 'x.ids'), /not a non-empty string id/);
  const dir = path.join(tmpDir(), 'bulk.lkx');
  const v = unitVectors(2, dim, 1);
  await assert.rejects(writeBulk(dir, { model: contractMeta(dim).model, dim }, 2, [{ ids: ['b', 'a'], vectors: v }]), /strictly ascending/);
  assert.ok(!fs.existsSync(path.join(dir, 'manifest.json')), 'nothing committed');
  // An old segment (no id file) whose sidecar repeats an id: the error names the sidecar and the item.
  const loc = path.join(tmpDir(), 'dup.lkx');
  const s = await FolderStore.open(loc, { write: true, create: contractMeta(dim) });
  await s.write({ upsert: itemsOf(unitVectors(3, dim, 2), dim) });
  await s.close();
  const m = readManifest(loc) as ManifestV2;
  const side = path.join(loc, m.segments[0].ids.file);
  const json = JSON.parse(fs.readFileSync(side, 'utf8'));
  json.ids[2] = json.ids[1];
  const buf = Buffer.from(JSON.stringify(json));
  fs.writeFileSync(side, buf);
  m.segments[0].ids = { ...m.segments[0].ids, bytes: buf.length, sha256: (await import('node:crypto')).createHash('sha256').update(buf).digest('hex') };
  delete m.segments[0].idx;
  writeManifest(loc, m);
  await assert.rejects(FolderStore.open(loc), /seg-000001\.json: item 2: duplicate id "img\/0001\.jpg"/);
});

test('the ANN key file: a mapped graph maps keys to ids in place; graphs saved with a JSON key map still open', async () => {
  const dir = tmpDir();
  const n = 300;
  const v = unitVectors(n, dim, 5);
  const ids = Array.from({ length: n }, (_, i) => (i % 7 === 0 ? `é/${i}` : `p/${String(i).padStart(4, '0')}`));
  const g = AnnGraph.create(dim);
  g.add(ids, v);
  const m = g.save(dir, 'gen1#300');
  assert.ok(m.keys.endsWith('.keys') && m.keysBytes === fs.statSync(path.join(dir, m.keys)).size);
  const viewed = AnnGraph.open(dir, { view: true, verify: 'size' })!;
  assert.equal(viewed.size, n);
  for (const i of [0, 7, 42, 299]) assert.deepEqual(viewed.candidates(v.subarray(i * dim, (i + 1) * dim), 1), [[ids[i]]]);
  // The key file read in place, probed and then (after 1,024 lookups) read whole, maps every key as in memory.
  const inPlace = KeyTable.fromFile(path.join(dir, m.keys));
  const inMemory = KeyTable.fromBuffer(fs.readFileSync(path.join(dir, m.keys)), m.keys);
  for (let round = 0; round < 4; round++) for (let key = 0; key <= n + 1; key++) assert.equal(inPlace.idOf(key), inMemory.idOf(key), `key ${key}`);
  assert.deepEqual(new Set([...inMemory.entries()].map((e) => e.id)), new Set(ids));
  inPlace.close();
  const loaded = AnnGraph.open(dir)!;
  assert.equal(loaded.size, n);
  assert.equal(loaded.readOnly, false);
  assert.deepEqual([...loaded.ids()].sort(), [...ids].sort());
  // The same graph with the JSON key map older versions wrote.
  const keyOf = new Map([...ids.keys()].map((i) => [ids[i], i + 1]));
  const legacy = { next: n + 1, keys: ids.map((id) => keyOf.get(id)!), ids, hashes: ids.map(() => 0) };
  const name = m.keys.replace(/\.keys$/, '.keys.json');
  fs.writeFileSync(path.join(dir, name), JSON.stringify(legacy));
  fs.rmSync(path.join(dir, m.keys));
  const { keysBytes: _b, keysSha256: _s, ...rest } = readAnnManifest(dir)!;
  fs.writeFileSync(path.join(dir, 'ann.json'), JSON.stringify({ ...rest, keys: name }));
  const old = AnnGraph.open(dir, { view: true, verify: 'size' })!;
  assert.ok(old.readOnly, 'read in place, not loaded, with a legacy key map too');
  for (const i of [0, 7, 42, 299]) assert.deepEqual(old.candidates(v.subarray(i * dim, (i + 1) * dim), 1), [[ids[i]]]);
});

test('--ann auto weighs both paths for the request: a one-shot search never builds a graph, and uses a ready one', () => {
  const big = { count: 1_000_000, dim: 512 };
  assert.equal(chooseAnn('auto', { ...big, queries: 1, graph: 'none' }), false, 'no graph: building it costs more than one exact pass');
  assert.equal(chooseAnn('auto', { ...big, queries: 1000, graph: 'none' }), false);
  assert.equal(chooseAnn('auto', { ...big, queries: 1, graph: 'ready' }), true, 'a saved, current graph: mapped, cheaper than reading every row');
  assert.equal(chooseAnn('auto', { ...big, queries: 1000, graph: 'ready', lag: 10_000 }), true);
  assert.equal(chooseAnn('auto', { ...big, queries: 1_000_000, graph: 'none' }), true, 'leave-one-out over 1M: building pays for itself');
  assert.equal(chooseAnn('auto', { count: ANN_AUTO_MIN - 1, dim: 512, queries: 1, graph: 'ready' }), false, 'below ANN_AUTO_MIN: exact');
  assert.equal(chooseAnn('on', { count: 10, dim: 8, queries: 1, graph: 'none' }), true);
  assert.equal(chooseAnn('off', { ...big, queries: 1, graph: 'ready' }), false);
  const c = annCosts({ ...big, queries: 1, graph: 'ready' });
  assert.ok(c.ann < c.exact / 10, JSON.stringify(c));
});

test('a store searched again keeps its rows in memory within config.cacheMb; a one-shot search caches nothing; close frees it', async () => {
  const loc = path.join(tmpDir(), 'cache.lkx');
  const live = await built(loc);
  const before = rowCacheBytes();
  const s = await FolderStore.open(loc);
  const q = live.get(ODD[2])!;
  const first = await s.search(q, { k: 5, ann: 'off' });
  assert.equal(rowCacheBytes(), before, 'the first search reads without caching');
  const second = await s.search(q, { k: 5, ann: 'off' });
  assert.ok(rowCacheBytes() > before, 'the second search caches the chunks it read');
  const third = await s.search(q, { k: 5, ann: 'off' });
  assert.deepEqual(second, first);
  assert.deepEqual(third, first, 'cached rows give the same results');
  await s.close();
  assert.equal(rowCacheBytes(), before, 'close frees the cache');
  const saved = config.cacheMb;
  config.cacheMb = 0;
  try {
    const t = await FolderStore.open(loc);
    for (let i = 0; i < 3; i++) await t.search(q, { k: 5, ann: 'off' });
    assert.equal(rowCacheBytes(), before, 'a zero budget caches nothing');
    await t.close();
  } finally {
    config.cacheMb = saved;
  }
});

test('an index whose id file is of the first format (LKXIDS01) opens and searches as before; a full compaction rewrites it in blocks', async () => {
  const loc = path.join(tmpDir(), 'v1.lkx');
  const s = await FolderStore.open(loc, { write: true, create: contractMeta(dim) });
  const v = unitVectors(30, dim, 4);
  await s.write({ upsert: itemsOf(v, dim) });
  await s.close();
  const m = readManifest(loc) as ManifestV2;
  const sg = m.segments[0];
  const ids = JSON.parse(fs.readFileSync(path.join(loc, sg.ids.file), 'utf8')).ids as string[];
  const parts = ids.map((id) => Buffer.from(id));
  const head = Buffer.alloc(16 + 4 * (ids.length + 1));
  head.write('LKXIDS01', 0, 'latin1');
  head.writeUInt32LE(ids.length, 8);
  head.writeUInt32LE(1, 12);
  let off = 0;
  parts.forEach((p, i) => (head.writeUInt32LE(off, 16 + 4 * i), (off += p.length)));
  head.writeUInt32LE(off, 16 + 4 * ids.length);
  const v1 = Buffer.concat([head, ...parts]);
  fs.writeFileSync(path.join(loc, sg.idx!.file), v1);
  sg.idx = { ...sg.idx!, bytes: v1.length, sha256: createHash('sha256').update(v1).digest('hex') };
  writeManifest(loc, m);
  const r = await FolderStore.open(loc);
  assert.deepEqual(await r.ids(), ids);
  const [hits] = await r.search(v.subarray(7 * dim, 8 * dim), { k: 1 });
  assert.equal(hits[0].id, ids[7]);
  await r.close();
  const w = await FolderStore.open(loc, { write: true });
  assert.ok(await w.compact(true), 'a full compaction rewrites the lone segment');
  await w.close();
  const after = readManifest(loc) as ManifestV2;
  assert.equal(fs.readFileSync(path.join(loc, after.segments[0].idx!.file)).toString('latin1', 0, 8), 'LKXIDS02');
  const again = await FolderStore.open(loc);
  assert.deepEqual(await again.ids(), ids);
  await again.close();
});
