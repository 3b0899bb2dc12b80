/**
 * Full and read-only disks (docs/reliability.md): `index --out` on a read-only filesystem names
 * the folder and the cause (not ENOENT), ENOSPC names the index, and a served index on a
 * read-only filesystem answers DELETE with that cause (not "being written by another process").
 * Needs root (mount); skipped otherwise.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { classImage } from '../../src/data/synthetic.ts';
import { runCli } from '../helpers/cli.ts';
import { startServeProc } from '../helpers/serve-proc.ts';
import { tmpDir, TINY_FLAGS, writeTinyCnn } from '../helpers/tmp.ts';

/** Mount a tmpfs of `kb` KB at a new folder; undefined when this process may not mount. */
function tmpfs(kb: number, ro = false): { dir: string; remount: (opts: string) => void; done: () => void } | undefined {
  const dir = path.join(tmpDir(), 'mnt');
  fs.mkdirSync(dir);
  if (spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${kb}k${ro ? ',ro' : ''}`, 'tmpfs', dir]).status !== 0) return undefined;
  return {
    dir,
    remount: (opts) => assert.equal(spawnSync('mount', ['-o', `remount,${opts}`, dir]).status, 0),
    done: () => void spawnSync('umount', ['-l', dir]),
  };
}

const canMount = process.platform === 'linux' && process.getuid?.() === 0 && (() => {
  const m = tmpfs(16);
  m?.done();
  return Boolean(m);
})();

async function setup(n: number): Promise<{ dir: string; gal: string; model: string }> {
  const dir = tmpDir();
  const gal = path.join(dir, 'gallery');
  fs.mkdirSync(gal);
  for (let i = 0; i < n; i++) fs.writeFileSync(path.join(gal, `${i}.jpg`), await classImage(i % 4, i, 32));
  return { dir, gal, model: writeTinyCnn(dir) };
}

test('index --out on a read-only filesystem names the folder and the cause before any work; a full disk (ENOSPC) names the index', { skip: !canMount && 'needs root to mount a tmpfs' }, async () => {
  const { gal, model } = await setup(400);
  const ro = tmpfs(64, true)!;
  try {
    for (const out of [path.join(ro.dir, 'g.lkx'), path.join(ro.dir, 'sub', 'g.lkx')]) {
      const r = await runCli(['index', gal, '--model', model, ...TINY_FLAGS, '--out', out]);
      assert.equal(r.status, 1);
      assert.equal(r.stderr, `error: --out ${out}: ${ro.dir} is on a read-only filesystem; choose a path on a writable disk\n`);
    }
  } finally {
    ro.done();
  }
  const full = tmpfs(200)!;
  try {
    fs.writeFileSync(path.join(full.dir, 'filler'), Buffer.alloc(150_000, 1));
    const out = path.join(full.dir, 'g.lkx');
    const r = await runCli(['index', gal, '--model', model, ...TINY_FLAGS, '--out', out]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, new RegExp(`^error: ${out.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: no space left on the device \\(ENOSPC\\); what was committed before stays`, 'm'));
  } finally {
    full.done();
  }
});

test('a served index on a read-only filesystem answers DELETE with that cause, not "being written by another process"', { skip: !canMount && 'needs root to mount a tmpfs' }, async () => {
  const { gal, model } = await setup(4);
  const m = tmpfs(4096)!;
  try {
    const out = path.join(m.dir, 'g.lkx');
    const r = await runCli(['index', gal, '--model', model, ...TINY_FLAGS, '--out', out]);
    assert.equal(r.status, 0, r.stderr);
    m.remount('ro');
    const server = await startServeProc([out, '--no-watch'], { LOOKALIKE_TOKEN: 'a-token-of-20-chars!' });
    try {
      const res = await fetch(`${server.url}/items/0.jpg`, { method: 'DELETE', headers: { authorization: 'Bearer a-token-of-20-chars!' } });
      const body = (await res.json()) as { error: string };
      assert.equal(res.status, 503);
      assert.equal(body.error, 'the index cannot be written here (read-only filesystem or folder): adding and removing items are off');
      assert.ok(!body.error.includes(m.dir));
      assert.equal((await fetch(`${server.url}/search?id=0.jpg`)).status, 200, 'searching still works');
    } finally {
      await server.stop('SIGTERM', 5000);
    }
  } finally {
    m.done();
  }
});
