import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { loadBackbone } from '../../src/models/load.ts';
import { buildIndex } from '../../src/index/build.ts';
import { loadIndex } from '../../src/index/whole-index.ts';
import { decodeNpy, encodeNpy } from '../../src/util/npy.ts';
import { classImage, writeClassFolders } from '../../src/data/synthetic.ts';
import { cli, tmpDir, writeTinyCnn, TINY_FLAGS } from '../helpers/tmp.ts';

const tiny = { resize: { mode: 'fixed' as const, height: 32, width: 32 }, crop: null };

test('npy round trip; header is 64-byte aligned and numpy reads it when python3+numpy exist', () => {
  const data = Float32Array.from({ length: 12 }, (_, i) => i / 7);
  const buf = encodeNpy(data, 3, 4);
  const hlen = buf.readUInt16LE(8);
  assert.equal((10 + hlen) % 64, 0);
  const back = decodeNpy(buf);
  assert.deepEqual([back.rows, back.cols], [3, 4]);
  assert.deepEqual([...back.data], [...data]);
  assert.throws(() => decodeNpy(buf.subarray(0, buf.length - 4), 'x.npy'), /x\.npy.*truncated/);
  const dir = tmpDir();
  fs.writeFileSync(path.join(dir, 'a.npy'), buf);
  const py = spawnSync('python3', ['-c', `import json, numpy as n; a=n.load(${JSON.stringify(path.join(dir, 'a.npy'))}); print(json.dumps([list(a.shape), str(a.dtype), a.tolist()]))`], { encoding: 'utf8' });
  if (py.status === 0) {
    const [shape, dtype, rows] = JSON.parse(py.stdout);
    assert.deepEqual(shape, [3, 4]);
    assert.equal(dtype, 'float32');
    assert.deepEqual(rows.flat(), [...data]);
  }
});

test('incremental re-index embeds only new and changed files and drops deleted ones', async () => {
  const dir = tmpDir();
  const gallery = path.join(dir, 'gallery');
  await writeClassFolders(gallery, 3, 3, 0);
  const bb = await loadBackbone(writeTinyCnn(dir), { overrides: tiny });
  const out = path.join(dir, 'g.lkx');
  const r1 = await buildIndex({ folder: gallery, out, backbone: bb });
  assert.equal(r1.added.length, 9);
  const first = await loadIndex(out);
  assert.equal(first.ids.length, 9);
  assert.ok(first.ids.every((id) => /^class0\d\/\d{3}\.jpg$/.test(id)));
  // change one, delete one, add one, keep the rest
  fs.writeFileSync(path.join(gallery, 'class00/000.jpg'), await classImage(2, 50));
  fs.rmSync(path.join(gallery, 'class01/001.jpg'));
  fs.writeFileSync(path.join(gallery, 'class02/new.jpg'), await classImage(2, 77));
  let embedded = 0;
  const r2 = await buildIndex({ folder: gallery, out, backbone: bb, onProgress: (d) => (embedded = d) });
  assert.deepEqual(r2.added, ['class02/new.jpg']);
  assert.deepEqual(r2.changed, ['class00/000.jpg']);
  assert.deepEqual(r2.removed, ['class01/001.jpg']);
  assert.equal(r2.unchanged, 7);
  assert.equal(embedded, 2);
  const second = await loadIndex(out);
  assert.equal(second.ids.length, 9);
  const row = (ix: typeof first, id: string) => [...ix.vectors.subarray(ix.ids.indexOf(id) * ix.dim, (ix.ids.indexOf(id) + 1) * ix.dim)];
  assert.deepEqual(row(second, 'class02/002.jpg'), row(first, 'class02/002.jpg'));
  assert.notDeepEqual(row(second, 'class00/000.jpg'), row(first, 'class00/000.jpg'));
  assert.equal(second.manifest.created, first.manifest.created);
  const r3 = await buildIndex({ folder: gallery, out, backbone: bb });
  assert.equal(r3.added.length + r3.changed.length + r3.removed.length, 0);
  await bb.dispose();
});

test('an index of another model is refused instead of mixing embeddings', async () => {
  const dir = tmpDir();
  const gallery = path.join(dir, 'gallery');
  await writeClassFolders(gallery, 2, 2, 0);
  const a = await loadBackbone(writeTinyCnn(dir), { overrides: tiny });
  const out = path.join(dir, 'g.lkx');
  await buildIndex({ folder: gallery, out, backbone: a });
  const other = await loadBackbone(writeTinyCnn(dir), { overrides: { ...tiny, pooling: 'none', mean: [0.5, 0.5, 0.5] } });
  await assert.rejects(buildIndex({ folder: gallery, out, backbone: other }), /different model/);
  const rebuilt = await buildIndex({ folder: gallery, out, backbone: other, rebuild: true });
  assert.equal(rebuilt.added.length, 4);
});

test('a crash during an index write leaves the previous index loadable', async () => {
  const dir = tmpDir();
  const gallery = path.join(dir, 'gallery');
  await writeClassFolders(gallery, 2, 3, 0);
  const model = writeTinyCnn(dir);
  const out = path.join(dir, 'g.lkx');
  assert.equal(cli(['index', gallery, '--model', model, ...TINY_FLAGS, '--out', out, '--json']).status, 0);
  const before = await loadIndex(out);
  fs.writeFileSync(path.join(gallery, 'class00/extra.jpg'), await classImage(1, 99));
  for (const step of ['store:segment', 'store:manifest-tmp']) {
    const r = cli(['index', gallery, '--model', model, ...TINY_FLAGS, '--out', out, '--json'], { LOOKALIKE_CRASH_AT: step });
    assert.equal(r.signal, 'SIGKILL', `${step}: ${r.stderr}`);
    const after = await loadIndex(out);
    assert.deepEqual(after.ids, before.ids, `after a crash at ${step}`);
    assert.deepEqual([...after.vectors], [...before.vectors]);
  }
  const ok = cli(['index', gallery, '--model', model, ...TINY_FLAGS, '--out', out, '--json']);
  assert.equal(ok.status, 0, ok.stderr);
  assert.equal(JSON.parse(ok.stdout).added, 1);
  assert.equal((await loadIndex(out)).ids.length, before.ids.length + 1);
  assert.ok(!fs.existsSync(`${out}.old`));
  // Files a crash left behind (unreferenced segments, temp manifests) were cleaned by the next writer.
  assert.ok(fs.readdirSync(out).every((n) => !/tmp/.test(n)));
});
