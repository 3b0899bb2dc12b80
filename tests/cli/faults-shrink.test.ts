/**
 * A build never shrinks an index by accident (docs/reliability.md): a gallery whose files all
 * fail to decode, a removal of more than half, another source folder, and items added through
 * the API, on the folder store; each refused run leaves the index as it was.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { openIndex } from '../../src/api.ts';
import { classImage } from '../../src/data/synthetic.ts';
import { runCli } from '../helpers/cli.ts';
import { tmpDir, TINY_FLAGS, writeTinyCnn } from '../helpers/tmp.ts';

async function gallery(dir: string, n: number, offset = 0): Promise<string[]> {
  fs.mkdirSync(dir, { recursive: true });
  const names: string[] = [];
  for (let i = 0; i < n; i++) {
    const name = `img-${offset + i}.jpg`;
    fs.writeFileSync(path.join(dir, name), await classImage((offset + i) % 4, offset + i));
    names.push(name);
  }
  return names;
}

async function ids(loc: string): Promise<string[]> {
  const ix = await openIndex(loc);
  try {
    return await ix.ids();
  } finally {
    await ix.close();
  }
}

/** A folder with 6 images indexed into an index; returns the paths and the index command. */
async function setup(): Promise<{ dir: string; gal: string; out: string; names: string[]; index: (...extra: string[]) => Promise<{ status: number; stdout: string; stderr: string }> }> {
  const dir = tmpDir();
  const model = writeTinyCnn(dir);
  const gal = path.join(dir, 'gallery');
  const names = await gallery(gal, 6);
  const out = path.join(dir, 'g.lkx');
  const index = (...extra: string[]) => runCli(['index', gal, '--model', model, ...TINY_FLAGS, '--out', out, ...extra]);
  const r = await index();
  assert.equal(r.status, 0, r.stderr);
  assert.equal((await ids(out)).length, 6);
  return { dir, gal, out, names, index };
}

function oneLine(stderr: string): string {
  const lines = stderr.trim().split('\n').filter((l) => l.startsWith('error:'));
  assert.equal(lines.length, 1, stderr);
  return lines[0];
}

test('index: a gallery whose files all fail to decode (junk bytes, 0-byte files) stops before removing anything; --allow-shrink proceeds', async () => {
  const { gal, out, names, index } = await setup();
  const manifest = fs.readFileSync(path.join(out, 'manifest.json'));
  for (const [what, content] of [['junk', Buffer.from('not an image at all')], ['empty', Buffer.alloc(0)]] as const) {
    for (const n of names) fs.writeFileSync(path.join(gal, n), content);
    const r = await index();
    assert.equal(r.status, 1, `${what}: ${r.stdout}`);
    const line = oneLine(r.stderr);
    assert.match(line, /would remove 6 of 6 items \(6 failing to decode\).*no image in the folder could be used.*--allow-shrink/, what);
    assert.deepEqual(fs.readFileSync(path.join(out, 'manifest.json')), manifest, `${what}: the index is untouched`);
    assert.equal((await ids(out)).length, 6);
  }
  const r = await index('--allow-shrink', '--json');
  assert.equal(r.status, 0, r.stderr);
  const summary = JSON.parse(r.stdout);
  assert.equal(summary.images, 0);
  assert.equal(summary.removed, 6, 'the report counts what it removed');
});

test('index: removing more than half of the index stops before committing; half or less proceeds; --allow-shrink removes the rest', async () => {
  const { gal, out, names, index } = await setup();
  for (const n of names.slice(0, 4)) fs.renameSync(path.join(gal, n), path.join(gal, `.${n}`));
  let r = await index();
  assert.equal(r.status, 1);
  assert.match(oneLine(r.stderr), /would remove 4 of 6 items \(4 no longer in the folder\) and that is more than 50% of the index.*--allow-shrink/);
  assert.equal((await ids(out)).length, 6);
  fs.renameSync(path.join(gal, `.${names[0]}`), path.join(gal, names[0]));
  r = await index();
  assert.equal(r.status, 0, r.stderr);
  assert.equal((await ids(out)).length, 3);
  fs.rmSync(path.join(gal, names[0]));
  fs.rmSync(path.join(gal, names[4]));
  r = await index();
  assert.equal(r.status, 1, 'two of three is more than half');
  r = await index('--allow-shrink');
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(await ids(out), [names[5]]);
});

test('index: another folder than the index root is an error naming both; --root-change rebuilds from it and records the new root', async () => {
  const { dir, out, index } = await setup();
  const other = path.join(dir, 'other');
  await gallery(other, 5, 100);
  const model = path.join(dir, 'tiny-cnn.onnx');
  const manifest = fs.readFileSync(path.join(out, 'manifest.json'));
  let r = await runCli(['index', other, '--model', model, ...TINY_FLAGS, '--out', out]);
  assert.equal(r.status, 1);
  const line = oneLine(r.stderr);
  assert.ok(line.includes(path.join(dir, 'gallery')) && line.includes(other), line);
  assert.match(line, /--root-change/);
  assert.deepEqual(fs.readFileSync(path.join(out, 'manifest.json')), manifest);
  // The same folder through a symbolic link is the same root.
  fs.symlinkSync(path.join(dir, 'gallery'), path.join(dir, 'via-link'));
  r = await runCli(['index', path.join(dir, 'via-link'), '--model', model, ...TINY_FLAGS, '--out', out]);
  assert.equal(r.status, 0, r.stderr);
  // 5 new items replacing 6 is not more than half removed... it is all 6: --allow-shrink as well.
  r = await runCli(['index', other, '--model', model, ...TINY_FLAGS, '--out', out, '--root-change']);
  assert.equal(r.status, 1);
  assert.match(oneLine(r.stderr), /would remove 6 of 6 items.*--allow-shrink/);
  assert.equal((await ids(out)).length, 6);
  r = await runCli(['index', other, '--model', model, ...TINY_FLAGS, '--out', out, '--root-change', '--allow-shrink']);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(JSON.parse(fs.readFileSync(path.join(out, 'manifest.json'), 'utf8')).root, other);
  assert.deepEqual(await ids(out), ['img-100.jpg', 'img-101.jpg', 'img-102.jpg', 'img-103.jpg', 'img-104.jpg']);
  void index;
});

test('index: items added through the API (Index.add, addVectors) are kept by a re-index of the folder, also with --rebuild', async () => {
  const { dir, out, index } = await setup();
  const extra = path.join(dir, 'extra.jpg');
  fs.writeFileSync(extra, await classImage(2, 77));
  const ix = await openIndex(out, { write: true });
  try {
    const r = await ix.add([{ id: 'uploads/extra.jpg', source: extra }, { id: 'upload-2.jpg', source: await classImage(1, 78) }]);
    assert.equal(r.added.length, 2);
    await ix.addVectors([{ id: 'by-vector', vector: await ix.vector('img-0.jpg') }]);
  } finally {
    await ix.close();
  }
  assert.equal((await ids(out)).length, 9);
  let r = await index('--json');
  assert.equal(r.status, 0, r.stderr);
  let s = JSON.parse(r.stdout);
  assert.equal(s.removed, 0, r.stdout);
  assert.equal(s.images, 9);
  assert.ok((await ids(out)).includes('uploads/extra.jpg'));
  r = await index('--rebuild', '--json');
  assert.equal(r.status, 0, r.stderr);
  s = JSON.parse(r.stdout);
  assert.equal(s.images, 9, r.stdout);
  assert.equal(s.removed, 0);
  assert.deepEqual((await ids(out)).filter((id) => !id.startsWith('img-')), ['by-vector', 'upload-2.jpg', 'uploads/extra.jpg']);
});
