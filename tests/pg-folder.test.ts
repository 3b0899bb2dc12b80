/**
 * The folder store and the pglite store give identical top-10 lists (ids and scores) for the same
 * model and images: synthetic images always, ../shared/datasets/ukbench56 when present.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { writeClassFolders } from '../src/data/synthetic.ts';
import { listFolder } from '../src/data/images.ts';
import { embedImages } from '../src/embed/pipeline.ts';
import { loadBackbone } from '../src/models/load.ts';
import { openStore } from '../src/store/open.ts';
import type { StoreItem } from '../src/store/types.ts';
import { SHARED, TINY_FLAGS, tmpDir, writeTinyCnn } from './helpers/tmp.ts';
import { runCli } from './helpers/pg.ts';

const dir = tmpDir('lookalike-pg-folder-');
const db = path.join(dir, 'db');

async function compare(name: string, folder: string): Promise<void> {
  const backbone = await loadBackbone(writeTinyCnn(dir), { overrides: { resize: { mode: 'fixed', height: 32, width: 32 }, crop: null } });
  const ids = listFolder(folder).images;
  const e = await embedImages(backbone, ids.map((id) => ({ id, source: path.join(folder, id) })));
  await backbone.dispose();
  assert.equal(e.ids.length, ids.length);
  const items: StoreItem[] = e.ids.map((id, i) => ({ id, vector: e.vectors.slice(i * e.dim, (i + 1) * e.dim) }));
  const create = { model: { name: 'tiny', fingerprint: 'tiny', spec: backbone.spec }, dim: e.dim };
  const stores = [await openStore(path.join(dir, `${name}.lkx`), { write: true, create }), await openStore(`pglite:${db}?index=${name}`, { write: true, create })];
  try {
    for (const s of stores) await s.write({ upsert: items });
    const exclude = e.ids;
    const [folderTop, pgTop, pgAnn] = [
      await stores[0].search(e.vectors, { k: 10, ann: 'off', exclude }),
      await stores[1].search(e.vectors, { k: 10, ann: 'off', exclude }),
      await stores[1].search(e.vectors, { k: 10, ann: 'on', ef: 400, exclude }),
    ];
    assert.equal(folderTop.length, e.ids.length);
    // Same ids in the same order; scores agree to float32 rounding (the folder store sums in float32
    // through ORT's GEMM, the pg store re-scores in float64 and rounds once).
    assert.deepEqual(pgTop.map((h) => h.map((x) => x.id)), folderTop.map((h) => h.map((x) => x.id)), `${name}: top-10 ids differ`);
    pgTop.forEach((h, q) => h.forEach((x, j) => assert.ok(Math.abs(x.score - folderTop[q][j].score) < 1e-5, `${name}: score ${x.score} vs ${folderTop[q][j].score}`)));
    // HNSW with a search depth above the gallery size visits everything: the same lists.
    assert.deepEqual(pgAnn.map((h) => h.map((x) => x.id)), folderTop.map((h) => h.map((x) => x.id)));
  } finally {
    for (const s of stores) await s.close();
  }
}

test('folder store and pglite store: identical top-10 lists on synthetic images', async () => {
  const g = path.join(dir, 'synthetic');
  await writeClassFolders(g, 8, 6, 0);
  await compare('synthetic', g);
});

const ukbench = path.join(SHARED, 'datasets/ukbench56');
test('folder store and pglite store: identical top-10 lists on ukbench56', { skip: fs.existsSync(ukbench) ? false : `${ukbench} is absent` }, async () => {
  await compare('ukbench', ukbench);
});

test('CLI: index and search with --store pglite:DIR give the folder store\'s results', async () => {
  const g = path.join(dir, 'cli-gallery');
  await writeClassFolders(g, 4, 5, 0);
  const model = writeTinyCnn(dir);
  const pg = `pglite:${path.join(dir, 'cli-db')}`;
  const lkx = path.join(dir, 'cli.lkx');
  for (const out of [lkx, pg]) {
    const r = await runCli(['index', g, '--model', model, ...TINY_FLAGS, '--store', out, '--json']);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).images, 20);
  }
  const ids = ['class00/000.jpg', 'class02/003.jpg'];
  const [a, b] = await Promise.all([lkx, pg].map((s) => runCli(['search', '--store', s, '--id', ...ids, '-k', '10', '--json'])));
  assert.equal(b.status, 0, b.stderr);
  const top = (r: { stdout: string }) => JSON.stringify(JSON.parse(r.stdout).results.map((q: { hits: { id: string }[] }) => q.hits.map((h) => h.id)));
  assert.equal(top(b), top(a));
  assert.equal(JSON.parse(b.stdout).results[0].hits.length, 10);
  // eval and tune take the same --store locations and give the folder store's figures.
  const labels = path.join(g, 'labels.csv');
  fs.writeFileSync(labels, 'path,label\n' + listFolder(g).images.map((id) => `${id},${id.split('/')[0]}`).join('\n') + '\n');
  const [ea, eb] = await Promise.all([lkx, pg].map((s) => runCli(['eval', '--store', s, '--labels', labels, '--json'])));
  assert.equal(eb.status, 0, eb.stderr);
  assert.deepEqual(JSON.parse(eb.stdout).mean, JSON.parse(ea.stdout).mean);
  assert.equal(JSON.parse(eb.stdout).queries_scored, 20);
  const head = path.join(dir, 'pg-head.onnx');
  const t = await runCli(['tune', '--store', pg, '--labels', labels, '--epochs', '2', '--out', head, '--json']);
  assert.equal(t.status, 0, t.stderr);
  assert.ok(fs.statSync(head).size > 0);
  // Re-running the index on a changed folder upserts by content and deletes what disappeared.
  fs.rmSync(path.join(g, 'class01/000.jpg'));
  const again = await runCli(['index', g, '--model', model, ...TINY_FLAGS, '--store', pg, '--json']);
  assert.equal(again.status, 0, again.stderr);
  const r2 = JSON.parse(again.stdout);
  assert.deepEqual([r2.images, r2.added, r2.removed, r2.unchanged], [19, 0, 1, 19]);
});
