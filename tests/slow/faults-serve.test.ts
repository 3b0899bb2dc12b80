/**
 * Nothing the server reads can block it (docs/reliability.md): gallery files replaced by a FIFO,
 * a device node, a link to /dev/zero and a link into /proc are answered 4xx at once, the server
 * keeps serving, `index` skips them with the reason, and SIGTERM stops the server within 5 s
 * even while a client holds a request open.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { classImage } from '../../src/data/synthetic.ts';
import { runCli } from '../helpers/cli.ts';
import { startServeProc } from '../helpers/serve-proc.ts';
import { tmpDir, TINY_FLAGS, writeTinyCnn } from '../helpers/tmp.ts';

test('a FIFO, a device, a link to /dev/zero and a /proc link in a served gallery: thumbnails 4xx at once, index skips them with the reason, SIGTERM stops the server within 5 s', { skip: process.platform !== 'linux' }, async () => {
  const dir = tmpDir();
  const model = writeTinyCnn(dir);
  const gal = path.join(dir, 'gallery');
  fs.mkdirSync(gal);
  for (let i = 0; i < 10; i++) fs.writeFileSync(path.join(gal, `img-${i}.jpg`), await classImage(i % 4, i));
  const out = path.join(dir, 'g.lkx');
  let r = await runCli(['index', gal, '--model', model, ...TINY_FLAGS, '--out', out]);
  assert.equal(r.status, 0, r.stderr);
  // Indexed files replaced by things that must never be opened or read.
  const replace = (name: string, make: (f: string) => void) => {
    fs.rmSync(path.join(gal, name));
    make(path.join(gal, name));
  };
  replace('img-0.jpg', (f) => assert.equal(spawnSync('mkfifo', [f]).status, 0));
  let device = false;
  replace('img-1.jpg', (f) => {
    // mknod needs root (CAP_MKNOD); otherwise a link to a device stands in for it.
    device = spawnSync('mknod', [f, 'c', '1', '5']).status === 0;
    if (!device) fs.symlinkSync('/dev/zero', f);
  });
  replace('img-2.jpg', (f) => fs.symlinkSync('/dev/zero', f));
  replace('img-3.jpg', (f) => fs.symlinkSync('/proc/self/fd/0', f));
  fs.symlinkSync('/proc', path.join(gal, 'proc'));
  const server = await startServeProc([out, '--no-watch']);
  try {
    const thumb = (name: string) => fetch(`${server.url}/items/${name}/thumbnail`, { signal: AbortSignal.timeout(5000) });
    // Four rounds of the bad ones in parallel (the 4 requests that blocked the thread pool), then good ones.
    const t0 = Date.now();
    const bad = await Promise.all([0, 1, 2, 3].flatMap((i) => [0, 1, 2, 3].map(async () => thumb(`img-${i}.jpg`))));
    const took = Date.now() - t0;
    for (const res of bad) {
      assert.ok(res.status >= 400 && res.status < 500, `status ${res.status}`);
      const body = (await res.json()) as { error: string };
      assert.ok(!body.error.includes(gal), `the answer names no path: ${body.error}`);
    }
    assert.ok(took < 3000, `the bad thumbnails took ${took} ms`);
    const bodies = await Promise.all([0, 1].map(async (i) => ((await (await thumb(`img-${i}.jpg`)).json()) as { error: string }).error));
    assert.match(bodies[0], /named pipe \(FIFO\), not a regular file/);
    assert.match(bodies[1], /a device, not a regular file/);
    const good = await Promise.all([4, 5, 6, 7, 8, 9].map((i) => thumb(`img-${i}.jpg`)));
    for (const res of good) assert.equal(res.status, 200);
    const search = await fetch(`${server.url}/search?id=img-5.jpg&k=3`, { signal: AbortSignal.timeout(5000) });
    assert.equal(search.status, 200);

    // index: each is skipped with its reason, without walking /proc.
    r = await runCli(['index', gal, '--model', model, ...TINY_FLAGS, '--out', path.join(dir, 'again.lkx'), '--json']);
    assert.equal(r.status, 0, r.stderr);
    const skipped = new Map((JSON.parse(r.stdout).skipped as { id: string; reason: string }[]).map((s) => [s.id, s.reason]));
    assert.match(skipped.get('img-0.jpg') ?? '', /^not a regular file \(a named pipe \(FIFO\)\)/);
    assert.match(skipped.get('img-1.jpg') ?? '', device ? /^not a regular file \(a device\)/ : /^symbolic link leading out of the folder/);
    assert.match(skipped.get('img-2.jpg') ?? '', /^symbolic link leading out of the folder \(to \/dev\/zero\)/);
    assert.match(skipped.get('img-3.jpg') ?? '', /^symbolic link leading out of the folder|broken symbolic link/);
    assert.match(skipped.get('proc/') ?? '', /^symbolic link leading out of the folder \(to \/proc\)/);
    assert.equal(JSON.parse(r.stdout).images, 6);

    // SIGTERM while a client holds an upload open (it sent headers and a few bytes, then nothing).
    const u = new URL(server.url);
    const sock = net.connect(Number(u.port), u.hostname);
    await new Promise<void>((res) => sock.once('connect', () => res()));
    sock.write(`POST /search HTTP/1.1\r\nHost: ${u.host}\r\nContent-Type: image/jpeg\r\nContent-Length: 1000000\r\n\r\n\xff\xd8`);
    sock.on('error', () => undefined);
    await new Promise((res) => setTimeout(res, 300));
    const ms = await server.stop('SIGTERM', 10_000);
    sock.destroy();
    assert.ok(ms < 5000, `SIGTERM took ${ms} ms`);
  } finally {
    await server.stop('SIGKILL', 2000);
  }
});
