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
import { SHARED, tmpDir, writeTinyCnn } from './helpers/tmp.ts';

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
