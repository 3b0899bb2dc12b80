/** File walking never leaves the gallery through links unless asked, skips special files with a reason, and stops at an entry limit (docs/reliability.md). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { listFolder, MAX_LISTING_ENTRIES } from '../../src/data/images.ts';
import { tmpDir } from '../helpers/tmp.ts';

test('listing: links leading out of the folder (/proc, /dev/zero, a sibling folder) are skipped with a reason unless followLinks; a FIFO is skipped as such', { skip: process.platform !== 'linux' }, () => {
  const dir = tmpDir();
  const gal = path.join(dir, 'gallery');
  const outside = path.join(dir, 'outside');
  fs.mkdirSync(path.join(gal, 'inner'), { recursive: true });
  fs.mkdirSync(outside);
  fs.writeFileSync(path.join(gal, 'inner', 'a.jpg'), 'x');
  fs.writeFileSync(path.join(outside, 'b.jpg'), 'x');
  fs.symlinkSync('/proc', path.join(gal, 'proc'));
  fs.symlinkSync('/dev/zero', path.join(gal, 'zero.jpg'));
  fs.symlinkSync(outside, path.join(gal, 'out'));
  fs.symlinkSync('inner/a.jpg', path.join(gal, 'inside-link.jpg'));
  assert.equal(spawnSync('mkfifo', [path.join(gal, 'pipe.jpg')]).status, 0);
  const t0 = Date.now();
  const l = listFolder(gal);
  assert.ok(Date.now() - t0 < 2000, 'nothing was walked beyond the folder');
  assert.deepEqual(l.images, ['inner/a.jpg', 'inside-link.jpg']);
  const why = Object.fromEntries(l.skipped.map((s) => [s.id, s.reason]));
  assert.match(why['proc/'], /^symbolic link leading out of the folder \(to \/proc\); not followed \(--follow-links follows it\)$/);
  assert.match(why['zero.jpg'], /^symbolic link leading out of the folder \(to \/dev\/zero\)/);
  assert.match(why['out/'], /^symbolic link leading out of the folder/);
  assert.match(why['pipe.jpg'], /^not a regular file \(a named pipe \(FIFO\)\); skipped without opening it$/);
  fs.rmSync(path.join(gal, 'proc'));
  const followed = listFolder(gal, { followLinks: true });
  assert.deepEqual(followed.images, ['inner/a.jpg', 'inside-link.jpg', 'out/b.jpg']);
  assert.match(Object.fromEntries(followed.skipped.map((s) => [s.id, s.reason]))['zero.jpg'], /^not a regular file \(a device\)/);
});

test('listing: more entries than the limit is an error naming the limit, not a walk of the whole filesystem', () => {
  const dir = tmpDir();
  for (let i = 0; i < 30; i++) fs.writeFileSync(path.join(dir, `f${i}.jpg`), 'x');
  assert.throws(() => listFolder(dir, { maxEntries: 20 }), /: more than 20 files and folders; stopped listing/);
  assert.equal(listFolder(dir, { maxEntries: 30 }).images.length, 30);
  assert.equal(MAX_LISTING_ENTRIES, 2_000_000);
});
