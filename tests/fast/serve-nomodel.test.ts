/** `lookalike serve` on an index whose model is not on the machine: what needs no model is served; image and text queries name the missing model. */
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { writeClassFolders } from '../../src/data/synthetic.ts';
import { indexFolder, openIndex } from '../../src/api.ts';
import { startServer } from '../../src/serve/app.ts';
import { tmpDir, writeTinyCnn } from '../helpers/tmp.ts';

test('serve without the index model: id and vector searches, filters, browsing, facets and thumbnails work; image and text queries answer 503 naming the model', async () => {
  const dir = tmpDir('lookalike-nomodel-');
  const gallery = path.join(dir, 'gallery');
  await writeClassFolders(gallery, 3, 4, 0, 64);
  fs.mkdirSync(path.join(dir, 'models'));
  const model = writeTinyCnn(path.join(dir, 'models'));
  const lkx = path.join(dir, 'g.lkx');
  await indexFolder(gallery, lkx, { model });
  const index = await openIndex(lkx);
  const vector = await index.vector('class01/000.jpg');
  const modelName = index.meta.model.name;
  await index.close();
  fs.rmSync(path.join(dir, 'models'), { recursive: true, force: true });

  const logs: string[] = [];
  const server = await startServer({ index: lkx, port: 0, log: (l) => logs.push(l), watch: false });
  try {
    const get = (p: string, init?: RequestInit) => fetch(server.url + p, init);
    const info = (await (await get('/info')).json()) as Record<string, unknown>;
    assert.equal(info.count, 12);
    assert.equal(info.model_available, false);
    assert.equal(info.text, false);
    assert.ok(logs.some((l) => l.includes(`model ${modelName} not available`)), logs.join('\n'));

    const byId = await get('/search?id=class00%2F000.jpg&k=3');
    assert.equal(byId.status, 200);
    const hits = ((await byId.json()) as { results: { id: string; score: number }[] }).results;
    assert.equal(hits[0].id, 'class00/000.jpg');
    const byVector = await get('/search', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ vector: [...vector], k: 2 }) });
    assert.equal(byVector.status, 200);
    assert.equal(((await byVector.json()) as { results: { id: string }[] }).results[0].id, 'class01/000.jpg');
    const filtered = await get('/search', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ id: 'class00/000.jpg', k: 10, filter: 'label = "class02"' }) });
    assert.equal(filtered.status, 200, await filtered.clone().text());
    assert.ok(((await filtered.json()) as { results: { id: string }[] }).results.every((h) => h.id.startsWith('class02/')));
    assert.equal((await get('/items?limit=5')).status, 200);
    assert.equal((await get('/facets')).status, 200);
    const thumb = await get('/items/class00%2F001.jpg/thumbnail');
    assert.equal(thumb.status, 200);

    const jpg = fs.readFileSync(path.join(gallery, 'class00/000.jpg'));
    const image = await get('/search?k=1', { method: 'POST', headers: { 'content-type': 'image/jpeg' }, body: new Uint8Array(jpg) });
    assert.equal(image.status, 503);
    const msg = ((await image.json()) as { error: string }).error;
    assert.ok(msg.includes(modelName) && /--model/.test(msg), msg);
    const text = await get('/search', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ text: 'a red square' }) });
    assert.equal(text.status, 503);
    assert.ok(((await text.json()) as { error: string }).error.includes(modelName));
  } finally {
    await server.close();
  }
});
