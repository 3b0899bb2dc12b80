/** The gallery map keeps classes apart: clothing10 (40 photos per class) with mobilenet-v2-imagenet, k-NN on the 2-D points far above chance. */
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { indexFolder, openIndex, writeMap } from '../../src/api.ts';
import { majorityShare, mapKnnAccuracy } from '../../src/metrics/map-knn.ts';
import { ROOT, SHARED, tmpDir } from '../helpers/tmp.ts';

const DATA = path.join(SHARED, 'datasets/clothing10/images');
const MODEL = path.join(SHARED, 'models/mobilenet-v2-imagenet');
const ARTEFACTS = path.join(ROOT, 'out', 'test-artefacts');

test('map of clothing10 (400 photos, 10 classes): 5-NN on the UMAP points beats chance by a wide margin; PNG written', async (t) => {
  if (!fs.existsSync(DATA) || !fs.existsSync(MODEL)) return assert.fail(`${DATA} or ${MODEL} missing (../shared)`);
  const dir = tmpDir('lookalike-map-clothing-');
  const gallery = path.join(dir, 'images');
  for (const cls of fs.readdirSync(DATA).sort()) {
    fs.mkdirSync(path.join(gallery, cls), { recursive: true });
    for (const f of fs.readdirSync(path.join(DATA, cls)).sort().slice(0, 40)) fs.copyFileSync(path.join(DATA, cls, f), path.join(gallery, cls, f));
  }
  const idx = path.join(dir, 'clothing.lkx');
  await indexFolder(gallery, idx, { model: MODEL });
  const index = await openIndex(idx);
  try {
    const { map, colours } = await index.colouredMap({ color: 'label' });
    assert.equal(map.method, 'umap');
    assert.equal(colours.legend.length, 10);
    const labels = (await index.items(map.ids)).map((r) => String(r.fields.label));
    const acc = mapKnnAccuracy(map.x, map.y, labels);
    const chance = majorityShare(labels);
    t.diagnostic(`5-NN accuracy on the 2-D map: ${(acc * 100).toFixed(1)}% (chance ${(chance * 100).toFixed(1)}%)`);
    assert.ok(acc > 3 * chance, `5-NN on the map ${acc.toFixed(3)} vs chance ${chance.toFixed(3)}`);
  } finally {
    await index.close();
  }
  fs.mkdirSync(ARTEFACTS, { recursive: true });
  const png = path.join(ARTEFACTS, 'map-clothing10-400.png');
  const r = await writeMap(idx, png);
  assert.equal(r.cached, true, 'the map computed above is read from the cache');
  assert.ok(fs.statSync(png).size > 10_000);
});
