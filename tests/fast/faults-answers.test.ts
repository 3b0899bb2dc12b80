/**
 * Answers that reveal nothing (docs/reliability.md): error bodies without paths or stack traces,
 * malformed requests answered 4xx with the right reason, the Host header checked against DNS
 * rebinding, tokens that cannot be blank or short beyond loopback. A real server on loopback.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { indexFolder } from '../../src/api.ts';
import { writeClassFolders } from '../../src/data/synthetic.ts';
import { startServer, type Server } from '../../src/serve/app.ts';
import { tmpDir, writeTinyCnn } from '../helpers/tmp.ts';

const dir = tmpDir('lookalike-answers-');
const logs: string[] = [];
let server: Server;
let lkx: string;

test.before(async () => {
  const gallery = path.join(dir, 'gallery');
  await writeClassFolders(gallery, 2, 3, 0, 64);
  lkx = path.join(dir, 'g.lkx');
  await indexFolder(gallery, lkx, { model: writeTinyCnn(dir) });
  // No token: POST /reload is open to anyone, as it is on a default server.
  server = await startServer({ index: lkx, port: 0, log: (l) => logs.push(l), watch: false, allowHost: ['photos.lan'] });
});

test.after(async () => {
  await server?.close();
});

/** A raw request (fetch cannot set Host). */
function request(p: string, opts: { method?: string; headers?: Record<string, string>; body?: Buffer | string } = {}): Promise<{ status: number; body: Record<string, any> }> {
  const u = new URL(server.url);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: u.hostname, port: u.port, path: p, method: opts.method ?? 'GET', headers: opts.headers }, (res) => {
      let text = '';
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode!, body: text.startsWith('{') ? JSON.parse(text) : { text } }));
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

test('error answers carry no paths or stack traces: a broken manifest on POST /reload is a 500 naming only the request id; the log has the details', async () => {
  const manifest = path.join(lkx, 'manifest.json');
  const good = fs.readFileSync(manifest);
  fs.writeFileSync(manifest, '{"format": "lookalike-index", "version": 2, "segments": "broken"');
  try {
    const r = await request('/reload', { method: 'POST' });
    assert.equal(r.status, 500);
    assert.ok(!r.body.error.includes(dir) && !r.body.error.includes('/tmp') && !/\bat .*:\d+/.test(r.body.error), r.body.error);
    assert.equal(r.body.error, `internal error (the server log has the details under request id ${r.body.request_id})`);
    const line = logs.find((l) => l.includes(r.body.request_id))!;
    assert.ok(line.includes('manifest.json'), `the log keeps the details: ${line}`);
  } finally {
    fs.writeFileSync(manifest, good);
  }
  assert.equal((await request('/search?id=class00/000.jpg&k=2')).status, 200);
});

test('malformed multipart is a 400 with the reason; two files or too many fields say so (not "larger than N bytes")', async () => {
  const b = 'XyZbOuNdArY';
  const head = { 'content-type': `multipart/form-data; boundary=${b}` };
  let r = await request('/search', { method: 'POST', headers: head, body: `--${b}\r\nContent-Disposition: form-data; name="image"; filename="a.jpg"\r\nContent-Type: image/jpeg\r\n\r\nabc` });
  assert.equal(r.status, 400, JSON.stringify(r.body));
  assert.match(r.body.error, /^malformed multipart\/form-data body: /);
  r = await request('/search', { method: 'POST', headers: head, body: `--${b}\r\nbroken header line without colon\r\n\r\nabc\r\n--${b}--\r\n` });
  assert.ok(r.status === 400, `${r.status} ${JSON.stringify(r.body)}`);
  const part = (name: string, file?: string) => `--${b}\r\nContent-Disposition: form-data; name="${name}"${file ? `; filename="${file}"\r\nContent-Type: image/jpeg` : ''}\r\n\r\nxx\r\n`;
  r = await request('/search', { method: 'POST', headers: head, body: part('a', 'a.jpg') + part('b', 'b.jpg') + `--${b}--\r\n` });
  assert.equal(r.status, 413);
  assert.equal(r.body.error, 'send one image per request (the form has more than one file)');
  r = await request('/search', { method: 'POST', headers: head, body: Array.from({ length: 12 }, (_, i) => part(`f${i}`)).join('') + `--${b}--\r\n` });
  assert.equal(r.status, 413);
  assert.equal(r.body.error, 'too many form fields (at most 10 besides the image)');
});

test('DNS rebinding: a Host naming another site is refused; localhost, IP addresses and --allow-host names pass', async () => {
  const port = new URL(server.url).port;
  for (const host of [`evil.example:${port}`, 'rebind.attacker.net', `127.0.0.1.nip.io:${port}`]) {
    const r = await request('/search?id=class00/000.jpg', { headers: { host } });
    assert.equal(r.status, 403, host);
    assert.match(r.body.error, /is not a name of this server \(DNS rebinding guard\); .*--allow-host/);
  }
  for (const host of [`localhost:${port}`, `127.0.0.1:${port}`, `[::1]:${port}`, 'photos.lan', `PHOTOS.LAN:${port}`]) {
    assert.equal((await request('/info', { headers: { host } })).status, 200, host);
  }
});

test('a JSON vector that overflows float32 is a 400 naming the value, not scores of null', async () => {
  const dim = (await request('/info')).body.dim as number;
  const vector = Array(dim).fill(0.1);
  vector[3] = 1e39;
  const r = await request('/search', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ vector }) });
  assert.equal(r.status, 400);
  assert.match(r.body.error, /^vector: value 1e\+39 at position 3 does not fit a float32/);
});

test('tokens: blank ones are refused, beyond loopback at least 16 characters; without one the 403 says adding and removing are off while POST /reload works', async () => {
  for (const [host, token, why] of [
    ['127.0.0.1', ' ', /token is empty or contains white space/],
    ['0.0.0.0', 'x', /the token has 1 characters; beyond loopback it needs at least 16/],
    ['0.0.0.0', 'fifteen-chars-x', /needs at least 16/],
    ['0.0.0.0', undefined, /needs a token/],
  ] as const) {
    await assert.rejects(startServer({ index: lkx, host, port: 0, token, log: () => undefined, watch: false }), why, `${host} ${JSON.stringify(token)}`);
  }
  const r = await request('/items/x.jpg', { method: 'DELETE' });
  assert.equal(r.status, 403);
  assert.equal(r.body.error, 'this server was started without a token (LOOKALIKE_TOKEN or --token-file): adding and removing items over HTTP are off');
  assert.equal((await request('/reload', { method: 'POST' })).status, 200);
});
