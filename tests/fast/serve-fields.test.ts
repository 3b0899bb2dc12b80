/** The HTTP API's fields and filters (issue 20): filtered search, paging, group_by, like/unlike, browse, facets, PATCH; bad filters are 400s naming the position. */
import test from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { writeClassFolders } from '../../src/data/synthetic.ts';
import { indexFolder } from '../../src/api.ts';
import { startServer, type Server } from '../../src/serve/app.ts';
import { tmpDir, writeTinyCnn } from '../helpers/tmp.ts';

const dir = tmpDir('lookalike-serve-fields-');
const TOKEN = 'test-token-fields-0123456789';
let server: Server;
let files: string[];

test.before(async () => {
  const gallery = path.join(dir, 'g');
  files = await writeClassFolders(gallery, 3, 6, 0, 40);
  const model = writeTinyCnn(dir);
  const lkx = path.join(dir, 'g.lkx');
  await indexFolder(gallery, lkx, { model: { model, resize: '32x32', crop: 'none' } });
  server = await startServer({ index: lkx, port: 0, token: TOKEN, log: () => undefined, watch: false });
});
test.after(() => server?.close());

const post = (body: unknown, auth = false) => fetch(`${server.url}/search`, { method: 'POST', headers: { 'content-type': 'application/json', ...(auth ? { authorization: `Bearer ${TOKEN}` } : {}) }, body: JSON.stringify(body) });

test('POST /search with a filter returns only matching items, min(k, matches) of them, each with its fields', async () => {
  const r = await post({ id: files[0], k: 10, filter: 'label = "class01"' });
  assert.equal(r.status, 200);
  const j = await r.json();
  assert.equal(j.results.length, 6);
  for (const h of j.results) assert.equal(h.fields.label, 'class01');
  const plain = await (await post({ id: files[0], k: 3 })).json();
  assert.ok(plain.results.every((h: { fields?: { label?: string } }) => typeof h.fields?.label === 'string'));
});

test('offset pages and group_by: pages concatenate to the long list; one result per label', async () => {
  const long = (await (await post({ id: files[0], k: 12 })).json()).results.map((h: { id: string }) => h.id);
  const p1 = (await (await post({ id: files[0], k: 6 })).json()).results.map((h: { id: string }) => h.id);
  const p2 = (await (await post({ id: files[0], k: 6, offset: 6 })).json()).results;
  assert.deepEqual([...p1, ...p2.map((h: { id: string }) => h.id)], long);
  assert.equal(p2[0].rank, 7);
  const g = (await (await fetch(`${server.url}/search?id=${encodeURIComponent(files[0])}&group_by=label&k=10`)).json()).results;
  assert.deepEqual(g.map((h: { fields: { label: string } }) => h.fields.label).sort(), ['class00', 'class01', 'class02']);
});

test('like/unlike over HTTP leaves the examples out', async () => {
  const r = await post({ like: [files[0], { id: files[1] }], unlike: [files[12]], k: 5 });
  assert.equal(r.status, 200, await r.clone().text());
  const ids = (await r.json()).results.map((h: { id: string }) => h.id);
  assert.equal(ids.length, 5);
  for (const x of [files[0], files[1], files[12]]) assert.ok(!ids.includes(x));
  assert.equal((await post({ like: ['nope.jpg'] })).status, 404);
});

test('bad filters and parameters are 400s with one line naming the position or parameter', async () => {
  for (const [filter, re] of [
    ['lable = "x"', /unknown field "lable" at 0.*did you mean "label"/],
    ['size < "big"', /at 7/],
    ['(label = "a"', /at/],
    ['label = "x"); DROP TABLE items; --', /at/],
  ] as const) {
    const r = await post({ id: files[0], filter });
    assert.equal(r.status, 400, filter);
    const j = await r.json();
    assert.match(j.error, re);
    assert.ok(!j.error.includes('\n'));
  }
  assert.match((await (await post({ id: files[0], group_by: 'lbl' })).json()).error, /group_by lbl: no such field/);
  assert.match((await (await post({ id: files[0], offset: -2 })).json()).error, /offset/);
});

test('GET /items browses the filtered gallery in pages; /facets counts values; PATCH changes fields (token) without re-embedding', async () => {
  const page = await (await fetch(`${server.url}/items?filter=${encodeURIComponent('label = "class02"')}&limit=4&offset=4`)).json();
  assert.equal(page.total, 6);
  assert.equal(page.items.length, 2);
  assert.ok(page.items.every((i: { fields: { label: string } }) => i.fields.label === 'class02'));
  const f = await (await fetch(`${server.url}/facets`)).json();
  const label = f.facets.find((x: { field: string }) => x.field === 'label');
  assert.deepEqual(label.values.map((v: { count: number }) => v.count), [6, 6, 6]);
  const size = f.facets.find((x: { field: string }) => x.field === 'size');
  assert.ok(size.min <= size.max);
  const id = files[3];
  const before = await (await post({ id, k: 3 })).json();
  assert.equal((await fetch(`${server.url}/items/${encodeURIComponent(id)}`, { method: 'PATCH', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ fields: { price: 9 } }) })).status, 401);
  const r = await fetch(`${server.url}/items/${encodeURIComponent(id)}`, { method: 'PATCH', headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` }, body: JSON.stringify({ fields: { price: 9 } }) });
  assert.equal(r.status, 200, await r.clone().text());
  assert.equal((await r.json()).fields.price, 9);
  const bad = await fetch(`${server.url}/items/${encodeURIComponent(id)}`, { method: 'PATCH', headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` }, body: JSON.stringify({ fields: { price: 'nine' } }) });
  assert.equal(bad.status, 400);
  const found = await (await post({ id: files[0], filter: 'price = 9' })).json();
  assert.deepEqual(found.results.map((h: { id: string }) => h.id), [id]);
  const after = await (await post({ id, k: 3 })).json();
  assert.deepEqual(after.results.map((h: { id: string; score: number }) => [h.id, h.score]), before.results.map((h: { id: string; score: number }) => [h.id, h.score]));
});
