/** Tokens for `lookalike serve` (docs/reliability.md): read from --token-file or LOOKALIKE_TOKEN, never blank, 16+ characters beyond loopback. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { classImage } from '../../src/data/synthetic.ts';
import { runCli } from '../helpers/cli.ts';
import { startServeProc } from '../helpers/serve-proc.ts';
import { cli, tmpDir, TINY_FLAGS, writeTinyCnn } from '../helpers/tmp.ts';

test('serve: --token-file is read (trailing newline dropped) and used; short or blank tokens are refused beyond loopback before listening', async () => {
  const dir = tmpDir();
  const gal = path.join(dir, 'gallery');
  fs.mkdirSync(gal);
  for (let i = 0; i < 3; i++) fs.writeFileSync(path.join(gal, `${i}.jpg`), await classImage(i, i, 32));
  const out = path.join(dir, 'g.lkx');
  assert.equal((await runCli(['index', gal, '--model', writeTinyCnn(dir), ...TINY_FLAGS, '--out', out])).status, 0);
  const short = path.join(dir, 'short.txt');
  fs.writeFileSync(short, 'abc\n');
  let r = cli(['serve', out, '--host', '0.0.0.0', '--port', '0', '--token-file', short]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /^error: --host 0\.0\.0\.0: the token has 3 characters; beyond loopback it needs at least 16/);
  r = cli(['serve', out, '--port', '0'], { LOOKALIKE_TOKEN: '   ' });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /^error: the token is empty or contains white space/);
  const good = path.join(dir, 'token.txt');
  fs.writeFileSync(good, '0123456789abcdef0123\n');
  const server = await startServeProc([out, '--no-watch', '--token-file', good]);
  try {
    const del = (token: string) => fetch(`${server.url}/items/0.jpg`, { method: 'DELETE', headers: { authorization: `Bearer ${token}` } });
    assert.equal((await del('0123456789abcdef0123\n'.trim() + 'x')).status, 403);
    assert.equal((await del('0123456789abcdef0123')).status, 200);
  } finally {
    await server.stop('SIGTERM', 5000);
  }
});
