/** The folder store beyond the contract: segments, tombstones, compaction, v1 migration, corruption, cleanup, lock across processes. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { openStore } from '../../src/store/open-store.ts';
import { FolderStore } from '../../src/store/folder/store.ts';
import { verifyFolder } from '../../src/store/folder/verify.ts';
import { encodeNpy } from '../../src/util/npy.ts';
import { readManifest, type ManifestV2 } from '../../src/store/folder/manifest.ts';
import { contractMeta, itemsOf, unitVectors } from '../helpers/store-contract.ts';
import { cli, ROOT, tmpDir } from '../helpers/tmp.ts';

const dim = 8;

async function snapshot(loc: string): Promise<Record<string, number[]>> {
  const s = await openStore(loc);
  const out: Record<string, number[]> = {};
  for await (const b of s.scan(5)) b.ids.forEach((id, i) => (out[id] = [...b.vectors.subarray(i * dim, (i + 1) * dim)]));
  await s.close();
  return out;
}

test('each write adds a segment and a tombstone list; automatic and explicit compaction keep the contents', async () => {
  const loc = path.join(tmpDir(), 'g.lkx');
  const s = (await openStore(loc, { write: true, create: contractMeta(dim) })) as FolderStore;
  const items = itemsOf(unitVectors(60, dim, 4), dim);
  await s.write({ upsert: items.slice(0, 30) });
  await s.write({ upsert: items.slice(30, 35) });
  await s.write({ remove: [items[0].id], upsert: [{ id: items[1].id, vector: items[50].vector }] });
  let m = readManifest(loc) as ManifestV2;
  assert.equal(m.version, 2);
  assert.deepEqual(m.segments.map((x) => x.rows), [30, 5, 1]);
  assert.equal(m.tombstones.length, 1);
  assert.deepEqual(JSON.parse(fs.readFileSync(path.join(loc, m.tombstones[0].file), 'utf8')).sort(), [items[0].id, items[1].id].sort());
  assert.equal(m.count, 34);
  // Many small writes: size-tiered merging keeps the segment count bounded.
  for (let i = 35; i < 60; i++) await s.write({ upsert: [items[i]] });
  m = readManifest(loc) as ManifestV2;
  assert.ok(m.segments.length <= 8, `${m.segments.length} segments`);
  const before = await snapshot(loc);
  assert.equal(Object.keys(before).length, 59);
  assert.deepEqual(before[items[1].id], [...items[50].vector]);
  assert.equal(await s.compact(true), true);
  m = readManifest(loc) as ManifestV2;
  assert.equal(m.segments.length, 1);
  assert.equal(m.tombstones.length, 0);
  assert.deepEqual(await snapshot(loc), before);
  // Only referenced files remain.
  assert.deepEqual(fs.readdirSync(loc).sort(), ['lock.json', 'manifest.json', m.segments[0].npy.file, m.segments[0].ids.file, m.segments[0].idx!.file].sort());
  // Removing most rows triggers a full compaction on its own.
  await s.write({ remove: items.slice(2, 40).map((i) => i.id) });
  m = readManifest(loc) as ManifestV2;
  assert.equal(m.segments.length, 1);
  assert.equal(m.segments[0].rows, 21);
  await s.close();
  assert.ok(!fs.existsSync(path.join(loc, 'lock.json')));
  // numpy reads a segment as it is.
  const py = spawnSync('python3', ['-c', `import numpy as n; a=n.load(${JSON.stringify(path.join(loc, m.segments[0].npy.file))}); print(a.shape)`], { encoding: 'utf8' });
  if (py.status === 0) assert.equal(py.stdout.trim(), `(21, ${dim})`);
});

test('a v1 index (embeddings.npy + ids.json + files.json) opens, searches, and migrates to v2 on the first write', async () => {
  const loc = path.join(tmpDir(), 'old.lkx');
  fs.mkdirSync(loc);
  const v = unitVectors(10, dim, 8);
  const ids = Array.from({ length: 10 }, (_, i) => `z/${9 - i}.jpg`); // v1 rows were in listing order
  fs.writeFileSync(path.join(loc, 'embeddings.npy'), encodeNpy(v, 10, dim));
  fs.writeFileSync(path.join(loc, 'ids.json'), JSON.stringify(ids));
  fs.writeFileSync(path.join(loc, 'files.json'), JSON.stringify({ [ids[0]]: { sha256: 'abc', size: 3 } }));
  const meta = contractMeta(dim);
  fs.writeFileSync(path.join(loc, 'manifest.json'), JSON.stringify({ format: 'lookalike-index', version: 1, ...meta, count: 10, root: '/x', created: 'c', updated: 'u' }));
  const r = await openStore(loc);
  assert.equal(await r.count(), 10);
  assert.deepEqual(await r.ids(), [...ids].sort());
  const hit = await r.search(v.slice(3 * dim, 4 * dim), { k: 1 });
  assert.equal(hit[0][0].id, ids[3]);
  assert.deepEqual((await r.files()).get(ids[0]), { sha256: 'abc', size: 3 });
  await r.close();
  const before = await snapshot(loc);
  const w = await openStore(loc, { write: true });
  const extra = unitVectors(1, dim, 99);
  await w.write({ upsert: [{ id: 'new.jpg', vector: extra }] });
  await w.close();
  const m = readManifest(loc);
  assert.equal(m.version, 2);
  for (const f of ['embeddings.npy', 'ids.json', 'files.json']) assert.ok(!fs.existsSync(path.join(loc, f)), f);
  const after = await snapshot(loc);
  assert.deepEqual({ ...after, 'new.jpg': undefined }, { ...before, 'new.jpg': undefined });
  assert.deepEqual(after['new.jpg'], [...extra]);
  assert.equal((await verifyFolder(loc)).problems.length, 0);
});

test('corrupt files: truncated or bit-flipped segments, duplicate or non-string ids give one-line errors naming the file; verify exits 1', async () => {
  const dir = tmpDir();
  const make = async (name: string) => {
    const loc = path.join(dir, name);
    const s = await openStore(loc, { write: true, create: contractMeta(dim) });
    await s.write({ upsert: itemsOf(unitVectors(20, dim, 5), dim) });
    await s.close();
    const m = readManifest(loc) as ManifestV2;
    return { loc, m, npy: path.join(loc, m.segments[0].npy.file), side: path.join(loc, m.segments[0].ids.file) };
  };
  const t = await make('trunc.lkx');
  fs.truncateSync(t.npy, fs.statSync(t.npy).size - 7);
  await assert.rejects(openStore(t.loc), (e: Error) => e.message.includes(t.npy) && /truncated/.test(e.message) && !e.message.includes('\n'));
  const f = await make('flip.lkx');
  const buf = fs.readFileSync(f.npy);
  for (let i = 0; i < 40; i++) buf[buf.length - 1 - i * 13] ^= 0x7f; // flip bytes in the data (exponents included)
  fs.writeFileSync(f.npy, buf);
  const rep = await verifyFolder(f.loc);
  assert.ok(rep.problems.some((p) => p.includes(f.npy) && /checksum mismatch/.test(p)), rep.problems.join('\n'));
  const v = cli(['verify', f.loc]);
  assert.equal(v.status, 1);
  assert.match(v.stderr, /checksum mismatch/);
  assert.ok(v.stderr.includes(f.npy));
  assert.equal(cli(['verify', (await make('good.lkx')).loc]).status, 0);
  // Duplicate / non-string ids in an index written before id files (whose ids come from the sidecar):
  // rewrite the sidecar and its checksum so only the ids are wrong.
  for (const [name, bad, want] of [['dup.lkx', (ids: unknown[]) => (ids[3] = ids[2]), /item 3: duplicate id/], ['nonstr.lkx', (ids: unknown[]) => (ids[5] = 42), /item 5 is 42/]] as const) {
    const d = await make(name);
    const side = JSON.parse(fs.readFileSync(d.side, 'utf8'));
    bad(side.ids);
    const text = JSON.stringify(side);
    fs.writeFileSync(d.side, text);
    const { createHash } = await import('node:crypto');
    d.m.segments[0].ids = { ...d.m.segments[0].ids, bytes: Buffer.byteLength(text), sha256: createHash('sha256').update(text).digest('hex') };
    // With its id file the index opens from it, and verify finds the sidecar disagreeing.
    fs.writeFileSync(path.join(d.loc, 'manifest.json'), JSON.stringify(d.m));
    const vr = await verifyFolder(d.loc);
    assert.ok(vr.problems.some((p) => p.includes(d.side) && want.test(p)), vr.problems.join('\n'));
    delete d.m.segments[0].idx;
    fs.writeFileSync(path.join(d.loc, 'manifest.json'), JSON.stringify(d.m));
    await assert.rejects(openStore(d.loc), (e: Error) => e.message.includes(d.side) && want.test(e.message));
  }
  // A sidecar changed without fixing its checksum is caught when its records are first read (opening reads the id file), and by verify.
  const c = await make('side.lkx');
  fs.writeFileSync(c.side, fs.readFileSync(c.side, 'utf8').replace('img/0001', 'img/000X'));
  const cs = await openStore(c.loc);
  await assert.rejects(cs.items(['img/0002.jpg']), (e: Error) => e.message.includes(c.side) && /checksum mismatch/.test(e.message));
  await cs.close();
  assert.ok((await verifyFolder(c.loc)).problems.some((p) => p.includes(c.side) && /checksum mismatch/.test(p)));
  // An id file changed without fixing its checksums: a changed block is caught when a lookup
  // reads it, and by verify; a changed block directory on open.
  const x = await make('idx.lkx');
  const idxFile = path.join(x.loc, x.m.segments[0].idx!.file);
  const good = fs.readFileSync(idxFile);
  fs.writeFileSync(idxFile, good.toString('latin1').replace('img/0001', 'img/000X'), 'latin1');
  const xs = await openStore(x.loc);
  await assert.rejects(xs.getVectors(['img/0001.jpg']), (e: Error) => e.message.includes(idxFile) && /checksum mismatch in block 0/.test(e.message));
  await xs.close();
  assert.ok((await verifyFolder(x.loc)).problems.some((p) => p.includes(idxFile) && /checksum mismatch/.test(p)));
  const dirFlip = Buffer.from(good);
  dirFlip[48 + 8] ^= 1; // the first block's length, in the directory
  fs.writeFileSync(idxFile, dirFlip);
  await assert.rejects(openStore(x.loc), (e: Error) => e.message.includes(idxFile) && /checksum mismatch in the block directory/.test(e.message));
});

test('a crash leaves only store-made files behind, which the next writer removes; other files are never touched', async () => {
  const loc = path.join(tmpDir(), 'g.lkx');
  const s = await openStore(loc, { write: true, create: contractMeta(dim) });
  await s.write({ upsert: itemsOf(unitVectors(5, dim, 5), dim) });
  await s.close();
  fs.writeFileSync(path.join(loc, 'seg-000042.npy'), 'partial');
  fs.writeFileSync(path.join(loc, 'manifest.json.tmp-123-abc'), '{');
  fs.writeFileSync(path.join(loc, 'notes.txt'), 'mine');
  const w = await openStore(loc, { write: true });
  await w.close();
  assert.ok(!fs.existsSync(path.join(loc, 'seg-000042.npy')));
  assert.ok(!fs.existsSync(path.join(loc, 'manifest.json.tmp-123-abc')));
  assert.equal(fs.readFileSync(path.join(loc, 'notes.txt'), 'utf8'), 'mine');
  // A folder that is not an index is refused, for reading and writing.
  const other = path.join(path.dirname(loc), 'photos');
  fs.mkdirSync(other);
  fs.writeFileSync(path.join(other, 'a.txt'), 'x');
  await assert.rejects(openStore(other, { write: true, create: contractMeta(dim) }), /not a lookalike index/);
  await assert.rejects(openStore(path.join(other, 'a.txt')), /is a file/);
  assert.deepEqual(fs.readdirSync(other), ['a.txt']);
});

test('writer lock across processes: the second writer fails at once naming the holder; a dead holder\'s lock is taken over', async () => {
  const loc = path.join(tmpDir(), 'g.lkx');
  const s = await openStore(loc, { write: true, create: contractMeta(dim) });
  await s.write({ upsert: itemsOf(unitVectors(3, dim, 5), dim) });
  await s.close();
  const holder = spawn(process.execPath, ['--import', 'tsx', '-e', `
    const { openStore } = await import(${JSON.stringify(path.join(ROOT, 'src/store/open-store.ts'))});
    await openStore(${JSON.stringify(loc)}, { write: true });
    process.stdout.write('locked\\n');
    setInterval(() => {}, 1000);
  `], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    holder.stdout!.on('data', (d: Buffer) => d.toString().includes('locked') && resolve());
    holder.on('exit', (c) => reject(new Error(`holder exited ${c}`)));
  });
  const t0 = Date.now();
  await assert.rejects(openStore(loc, { write: true }), new RegExp(`process ${holder.pid}`));
  assert.ok(Date.now() - t0 < 2000);
  const r = await openStore(loc); // readers are not blocked
  assert.equal(await r.count(), 3);
  await r.close();
  holder.removeAllListeners('exit');
  holder.kill('SIGKILL');
  await new Promise((res) => holder.on('exit', res));
  assert.ok(fs.existsSync(path.join(loc, 'lock.json')), 'kill -9 leaves the lock file');
  const w = await openStore(loc, { write: true });
  await w.write({ remove: [(await w.ids())[0]] });
  await w.close();
  assert.equal((await snapshot(loc)) && (await (await openStore(loc)).count()), 2);
});
