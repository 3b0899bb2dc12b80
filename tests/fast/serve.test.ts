/** `lookalike serve`: the HTTP API against a real server on an ephemeral loopback port. */
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { writeClassFolders } from '../../src/data/synthetic.ts';
import { indexFolder } from '../../src/api.ts';
import { startServer, type Server } from '../../src/serve/app.ts';
import { openStore } from '../../src/store/open-store.ts';
import { solidPng, writeClipFolder } from '../fixtures/hf.ts';
import { SHARED, tmpDir, writeTinyCnn } from '../helpers/tmp.ts';

const dir = tmpDir('lookalike-serve-');
const TOKEN = 'test-token-123';
const logs: string[] = [];
let server: Server;
let gallery: string;
let lkx: string;
let firstId: string;

/** A PNG whose header claims width x height (IHDR only, no pixel data). */
function pngHeader(width: number, height: number): Buffer {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (b: Buffer) => {
    let c = 0xffffffff;
    for (const x of b) c = crcTable[(c ^ x) & 0xff] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type: string, data: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const c = Buffer.alloc(4);
    c.writeUInt32BE(crc(td));
    return Buffer.concat([len, td, c]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8;
  ihdr[9] = 2;
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', zlib.deflateSync(Buffer.alloc(7))), chunk('IEND', Buffer.alloc(0))]);
}

const get = (p: string, init?: RequestInit) => fetch(server.url + p, init);
const json = async (r: Response) => ({ status: r.status, body: (await r.json()) as Record<string, any>, headers: r.headers });
const upload = (bytes: Buffer, name = 'q.jpg', fields: Record<string, string> = {}) => {
  const fd = new FormData();
  for (const [k, v] of Object.entries(fields)) fd.append(k, v);
  fd.append('image', new Blob([new Uint8Array(bytes)]), name);
  return fd;
};

test.before(async () => {
  gallery = path.join(dir, 'gallery');
  await writeClassFolders(gallery, 4, 4, 0, 64);
  const model = writeTinyCnn(dir);
  lkx = path.join(dir, 'g.lkx');
  await indexFolder(gallery, lkx, { model });
  server = await startServer({ index: lkx, port: 0, token: TOKEN, uploadBytes: 200_000, log: (l) => logs.push(l), watch: true });
  firstId = 'class00/000.jpg';
});

test.after(async () => {
  await server?.close();
});

test('healthz, info, page; search by id (GET and JSON), k, exclude_self, min_score; thumbnails', async () => {
  assert.deepEqual((await json(await get('/healthz'))).body, { ok: true });
  const info = (await json(await get('/info'))).body;
  assert.equal(info.count, 16);
  assert.equal(info.dim, 16);
  assert.equal(info.text, false);
  assert.equal(info.store, 'folder');
  const page = await get('/');
  assert.equal(page.status, 200);
  assert.match(page.headers.get('content-type') ?? '', /text\/html/);

  const r = await json(await get(`/search?id=${encodeURIComponent(firstId)}&k=5`));
  assert.equal(r.status, 200);
  assert.equal(r.body.results.length, 5);
  assert.equal(r.body.results[0].id, firstId);
  assert.ok(Math.abs(r.body.results[0].score - 1) < 1e-5);
  assert.equal(r.body.results[0].thumbnail, '/items/class00%2F000.jpg/thumbnail');
  assert.ok(r.headers.get('x-request-id'));
  // Same class ranks first with this gallery (4 drawn classes).
  assert.ok(r.body.results.slice(1, 3).every((h: { id: string }) => h.id.startsWith('class00/')), JSON.stringify(r.body.results));

  const ex = await json(await get('/search', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ id: firstId, k: 3, exclude_self: true }) }));
  assert.equal(ex.status, 200);
  assert.equal(ex.body.results.length, 3);
  assert.ok(!ex.body.results.some((h: { id: string }) => h.id === firstId));
  const floor = r.body.results[2].score;
  const ms = await json(await get(`/search?id=${encodeURIComponent(firstId)}&k=16&min_score=${floor}`));
  assert.ok(ms.body.results.length >= 3 && ms.body.results.every((h: { score: number }) => h.score >= floor));
  const big = await json(await get(`/search?id=${encodeURIComponent(firstId)}&k=100000`));
  assert.equal(big.body.results.length, 16);
  assert.equal((await json(await get(`/search?id=${encodeURIComponent(firstId)}&k=0`))).status, 400);
  assert.equal((await json(await get('/search?id=nope.jpg'))).status, 404);

  const th = await get(r.body.results[1].thumbnail);
  assert.equal(th.status, 200);
  assert.equal(th.headers.get('content-type'), 'image/webp');
  const bytes = Buffer.from(await th.arrayBuffer());
  assert.equal(bytes.toString('latin1', 8, 12), 'WEBP');
});

test('search by uploaded image: multipart and raw body; a real shared photo when present', async () => {
  const bytes = fs.readFileSync(path.join(gallery, 'class02/001.jpg'));
  const m = await json(await get('/search?k=3', { method: 'POST', body: upload(bytes) }));
  assert.equal(m.status, 200, JSON.stringify(m.body));
  assert.equal(m.body.results[0].id, 'class02/001.jpg');
  assert.ok(m.body.results[0].score > 0.999);
  const raw = await json(await get('/search?k=2', { method: 'POST', headers: { 'content-type': 'image/jpeg' }, body: new Uint8Array(bytes) }));
  assert.equal(raw.body.results[0].id, 'class02/001.jpg');
  const shared = path.join(SHARED, 'datasets/ukbench56');
  const photo = fs.existsSync(shared) ? fs.readdirSync(shared, { recursive: true }).map(String).find((f) => /\.jpe?g$/i.test(f)) : undefined;
  if (!photo) return test.skip?.('../shared/datasets/ukbench56 absent: real-photo upload not exercised');
  const p = await json(await get('/search?k=4', { method: 'POST', body: upload(fs.readFileSync(path.join(shared, photo)), path.basename(photo)) }));
  assert.equal(p.status, 200, JSON.stringify(p.body));
  assert.equal(p.body.results.length, 4);
});

test('limits: oversize upload, non-image, 30000x30000 header, unknown type; the server keeps serving and logs one line per error', async () => {
  logs.length = 0;
  const big = await json(await get('/search', { method: 'POST', body: upload(Buffer.alloc(300_000, 1), 'big.jpg') }));
  assert.equal(big.status, 413);
  assert.match(big.body.error, /larger than 200000 bytes/);
  const rawBig = await json(await get('/search', { method: 'POST', headers: { 'content-type': 'image/jpeg' }, body: new Uint8Array(Buffer.alloc(300_000, 1)) }));
  assert.equal(rawBig.status, 413);
  const text = await json(await get('/search', { method: 'POST', body: upload(Buffer.from('hello, not an image'), 'x.jpg') }));
  assert.equal(text.status, 415);
  assert.match(text.body.error, /not an image/);
  const huge = await json(await get('/search', { method: 'POST', headers: { 'content-type': 'image/png' }, body: new Uint8Array(pngHeader(30000, 30000)) }));
  assert.equal(huge.status, 413);
  assert.match(huge.body.error, /30000x30000 = 900000000 pixels; the limit is 40000000/);
  const svg = await json(await get('/search', { method: 'POST', headers: { 'content-type': 'image/svg+xml' }, body: new Uint8Array(Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>')) }));
  assert.equal(svg.status, 415);
  const xml = await json(await get('/search', { method: 'POST', headers: { 'content-type': 'application/xml' }, body: '<a/>' }));
  assert.equal(xml.status, 415);
  for (const r of [big, rawBig, text, huge, svg, xml]) {
    assert.equal(typeof r.body.error, 'string');
    assert.ok(!r.body.error.includes('\n'));
    assert.ok(logs.some((l) => l.includes(r.body.request_id as string) && !l.includes('\n')), `no log line for ${r.body.request_id}`);
  }
  assert.equal((await get('/healthz')).status, 200);
});

test('no path escapes: traversal ids, static paths, and only indexed items get thumbnails', async () => {
  for (const p of ['/items/..%2F..%2Fetc%2Fpasswd/thumbnail', '/items/%2Fetc%2Fpasswd/thumbnail', '/search?id=..%2F..%2Fetc%2Fpasswd', '/..%2F..%2Fetc%2Fpasswd', '/../../etc/passwd', '/%2e%2e/%2e%2e/etc/passwd', '/app.js/../../../package.json']) {
    const r = await get(p);
    const body = await r.text();
    assert.ok(r.status === 404 || r.status === 400, `${p}: ${r.status}`);
    assert.ok(!body.includes('root:') && !body.includes('"dependencies"'), p);
  }
  // A file that exists in the indexed folder but is not an item (labels.csv) is not served.
  fs.writeFileSync(path.join(gallery, 'notes.jpg'), 'not indexed');
  assert.equal((await get('/items/notes.jpg/thumbnail')).status, 404);
  // No listing of the page folder.
  assert.equal((await get('/?list')).headers.get('content-type')?.includes('json') ?? false, false);
});

test('POST /items and DELETE /items/:id need the token, persist through the store, and update results', async () => {
  const bytes = fs.readFileSync(path.join(gallery, 'class03/002.jpg'));
  assert.equal((await get('/items', { method: 'POST', body: upload(bytes, 'a.jpg', { id: 'new/a.jpg' }) })).status, 401);
  assert.equal((await get('/items', { method: 'POST', headers: { authorization: 'Bearer wrong' }, body: upload(bytes, 'a.jpg', { id: 'new/a.jpg' }) })).status, 403);
  assert.equal((await get('/items/class00%2F000.jpg', { method: 'DELETE' })).status, 401);
  const auth = { authorization: `Bearer ${TOKEN}` };
  const bad = await json(await get('/items', { method: 'POST', headers: auth, body: upload(bytes, 'a.jpg', { id: '../escape.jpg' }) }));
  assert.equal(bad.status, 400);
  assert.ok(!fs.existsSync(path.join(dir, 'escape.jpg')));
  const add = await json(await get('/items', { method: 'POST', headers: auth, body: upload(bytes, 'a.jpg', { id: 'new/a.jpg' }) }));
  assert.equal(add.status, 201, JSON.stringify(add.body));
  assert.equal(add.body.count, 17);
  assert.equal((await json(await get('/items', { method: 'POST', headers: auth, body: upload(bytes, 'a.jpg', { id: 'new/a.jpg' }) }))).status, 409);
  const s = await json(await get('/search?id=new%2Fa.jpg&k=2'));
  assert.deepEqual(s.body.results.map((h: { id: string }) => h.id).sort(), ['class03/002.jpg', 'new/a.jpg']);
  assert.equal((await get('/items/new%2Fa.jpg/thumbnail')).status, 200);
  // Persisted: another reader of the folder sees it.
  const store = await openStore(lkx);
  assert.ok((await store.ids()).includes('new/a.jpg'));
  await store.close();
  const del = await json(await get('/items/new%2Fa.jpg', { method: 'DELETE', headers: auth }));
  assert.equal(del.status, 200);
  assert.equal(del.body.count, 16);
  assert.equal((await get('/search?id=new%2Fa.jpg')).status, 404);
  assert.equal((await get('/items/new%2Fa.jpg', { method: 'DELETE', headers: auth })).status, 404);
  // The indexed folder's own files are never deleted.
  const del2 = await json(await get('/items/class01%2F000.jpg', { method: 'DELETE', headers: auth }));
  assert.equal(del2.status, 200);
  assert.ok(fs.existsSync(path.join(gallery, 'class01/000.jpg')));
  const store2 = await openStore(lkx);
  assert.equal(await store2.count(), 15);
  await store2.close();
});

test('a full queue answers 503 with Retry-After; reload during queries drops nothing', async () => {
  const g2 = path.join(dir, 'g2');
  await writeClassFolders(g2, 3, 3, 0, 48);
  const model = writeTinyCnn(dir);
  const out = path.join(dir, 'g2.lkx');
  await indexFolder(g2, out, { model });
  const s2 = await startServer({ index: out, port: 0, queue: 1, log: () => undefined, watch: true });
  try {
    const bytes = fs.readFileSync(path.join(g2, 'class00/000.jpg'));
    const rs = await Promise.all(Array.from({ length: 12 }, () => fetch(`${s2.url}/search?k=1`, { method: 'POST', headers: { 'content-type': 'image/jpeg' }, body: new Uint8Array(bytes) })));
    const codes = rs.map((r) => r.status);
    assert.ok(codes.includes(503), `codes ${codes}`);
    assert.ok(codes.includes(200), `codes ${codes}`);
    assert.ok(codes.every((c) => c === 200 || c === 503));
    assert.equal(rs.find((r) => r.status === 503)!.headers.get('retry-after'), '1');
    await Promise.all(rs.map((r) => r.arrayBuffer()));

    // Queries run without pause while the index is rebuilt on disk with 3 more images.
    let stop = false;
    const statuses: number[] = [];
    const gens = new Set<string>();
    const counts = new Set<number>();
    const worker = async () => {
      while (!stop) {
        const r = await fetch(`${s2.url}/search?id=class00%2F000.jpg&k=20`);
        statuses.push(r.status);
        gens.add(r.headers.get('x-generation') ?? '');
        counts.add(((await r.json()) as { count: number }).count);
      }
    };
    const workers = Array.from({ length: 8 }, worker);
    await new Promise((r) => setTimeout(r, 200));
    await writeClassFolders(path.join(g2, 'more'), 1, 3, 0, 48);
    await indexFolder(g2, out, { model });
    const t0 = Date.now();
    while (!counts.has(12) && Date.now() - t0 < 20_000) await new Promise((r) => setTimeout(r, 100));
    stop = true;
    await Promise.all(workers);
    assert.ok(counts.has(12), `the rebuilt index (12 items) was never served; counts seen ${[...counts]}`);
    assert.ok(statuses.length > 20);
    assert.ok(statuses.every((c) => c === 200), `statuses ${[...new Set(statuses)]}`);
    assert.ok(gens.size >= 2);
    // POST /reload without a token configured is allowed and bumps the generation.
    const r = await json(await fetch(`${s2.url}/reload`, { method: 'POST' }));
    assert.equal(r.status, 200);
    assert.ok(r.body.generation >= 3);
    // Without --cors there is no CORS header.
    assert.equal((await fetch(`${s2.url}/healthz`, { headers: { origin: 'http://evil.example' } })).headers.get('access-control-allow-origin'), null);
  } finally {
    await s2.close();
  }
});

test('text search with a CLIP-layout model; CORS only for the given origin; no public bind without a token', async () => {
  const d = path.join(dir, 'clip');
  const clip = writeClipFolder(path.join(d, 'model')).dir;
  fs.mkdirSync(path.join(d, 'g'), { recursive: true });
  await solidPng(path.join(d, 'g', 'r.png'), [230, 20, 20]);
  await solidPng(path.join(d, 'g', 'b.png'), [20, 20, 230]);
  await solidPng(path.join(d, 'g', 'gr.png'), [20, 230, 20]);
  const out = path.join(d, 'c.lkx');
  await indexFolder(path.join(d, 'g'), out, { model: clip });
  const s3 = await startServer({ index: out, port: 0, cors: 'http://app.example', log: () => undefined, watch: false });
  try {
    const info = (await json(await fetch(`${s3.url}/info`))).body;
    assert.equal(info.text, true);
    const r = await json(await fetch(`${s3.url}/search?text=${encodeURIComponent('a red dress')}&k=1`));
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.results[0].id, 'r.png');
    const b = await json(await fetch(`${s3.url}/search`, { method: 'POST', headers: { 'content-type': 'application/json', origin: 'http://app.example' }, body: JSON.stringify({ text: 'blue', k: 1 }) }));
    assert.equal(b.body.results[0].id, 'b.png');
    assert.equal(b.headers.get('access-control-allow-origin'), 'http://app.example');
    const pre = await fetch(`${s3.url}/search`, { method: 'OPTIONS', headers: { origin: 'http://app.example', 'access-control-request-method': 'POST' } });
    assert.equal(pre.status, 204);
    assert.match(pre.headers.get('access-control-allow-methods') ?? '', /POST/);
    // Mutations are off without a token.
    assert.equal((await fetch(`${s3.url}/items/r.png`, { method: 'DELETE', headers: { authorization: 'Bearer x' } })).status, 403);
  } finally {
    await s3.close();
  }
  await assert.rejects(startServer({ index: out, host: '0.0.0.0', port: 0, log: () => undefined }), /beyond loopback needs a token/);
});
