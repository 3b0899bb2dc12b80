/** `index --out` hazards: lookalike never replaces or deletes what is not its own index. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { writeClassFolders } from '../../src/data/synthetic.ts';
import { loadIndex } from '../../src/index/whole-index.ts';
import { ROOT, tmpDir, writeTinyCnn, TINY_FLAGS } from '../helpers/tmp.ts';

function run(args: string[], cwd: string) {
  const r = spawnSync(process.execPath, [path.join(ROOT, 'bin/lookalike.js'), ...args], { cwd, encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Every file under dir with its content, to prove nothing changed. */
function tree(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (rel: string) => {
    for (const e of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
      const r = path.join(rel, e.name);
      if (e.isDirectory()) walk(r);
      else out[r] = fs.readFileSync(path.join(dir, r)).toString('base64');
    }
  };
  walk('');
  return out;
}

test('--out ., --out GALLERY, --out a folder containing it, --out notes.txt, --out a non-index folder: refused before any work, nothing touched', async () => {
  const project = tmpDir();
  const gallery = path.join(project, 'gallery');
  await writeClassFolders(gallery, 2, 2, 0);
  const model = writeTinyCnn(project);
  fs.writeFileSync(path.join(project, 'notes.txt'), 'my notes');
  fs.mkdirSync(path.join(project, 'photos'));
  fs.writeFileSync(path.join(project, 'photos', 'keep.md'), 'keep');
  const before = tree(project);
  for (const [out, why] of [
    ['.', /contains the folder being indexed/],
    ['gallery', /the folder being indexed/],
    [project, /contains the folder being indexed/],
    ['notes.txt', /is a file/],
    ['photos', /not a lookalike index/],
  ] as const) {
    // --model points at a missing file: the --out check must come first.
    const r = run(['index', 'gallery', '--model', 'missing.onnx', '--out', out], project);
    assert.equal(r.status, 1, `${out}: ${r.stderr}`);
    assert.match(r.stderr, why, out);
    assert.equal(r.stderr.trim().split('\n').length, 1, `one line for ${out}: ${r.stderr}`);
    assert.deepEqual(tree(project), before, `--out ${out} changed files`);
    void model;
  }
});

test('an empty listing leaves an existing index untouched (--allow-empty empties it); a stale NAME.old is never touched; an index inside the gallery is not gallery content', async () => {
  const dir = tmpDir();
  const gallery = path.join(dir, 'gallery');
  await writeClassFolders(gallery, 2, 3, 0);
  const model = writeTinyCnn(dir);
  const out = path.join(dir, 'g.lkx');
  // Someone's folder that happens to be called g.lkx.old.
  fs.mkdirSync(`${out}.old`);
  fs.writeFileSync(path.join(`${out}.old`, 'precious.txt'), 'x');
  assert.equal(run(['index', gallery, '--model', model, ...TINY_FLAGS, '--out', out, '--json'], dir).status, 0);
  assert.equal(fs.readFileSync(path.join(`${out}.old`, 'precious.txt'), 'utf8'), 'x');
  const before = tree(out);
  const empty = path.join(dir, 'empty');
  fs.mkdirSync(empty);
  const r = run(['index', empty, '--model', model, ...TINY_FLAGS, '--out', out], dir);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /no images found.*left as it is.*--allow-empty/);
  assert.deepEqual(tree(out), before);
  const help = run(['index', '--help'], dir);
  assert.match(help.stdout, /--allow-empty/);
  assert.match(help.stdout, /remove many items on purpose/);
  // The empty folder is another source than the index's: --root-change says so on purpose.
  const refused = run(['index', empty, '--model', model, ...TINY_FLAGS, '--out', out, '--allow-empty', '--json'], dir);
  assert.match(refused.stderr, /--root-change/);
  const e = run(['index', empty, '--model', model, ...TINY_FLAGS, '--out', out, '--allow-empty', '--root-change', '--json'], dir);
  assert.equal(e.status, 0, e.stderr);
  assert.equal(JSON.parse(e.stdout).removed, 6);
  assert.equal((await loadIndex(out)).ids.length, 0);
  // An index inside the gallery folder: its files are not listed as images or skipped files.
  const inner = path.join(gallery, 'inside.lkx');
  const a = run(['index', gallery, '--model', model, ...TINY_FLAGS, '--out', inner, '--json'], dir);
  assert.equal(a.status, 0, a.stderr);
  const b = run(['index', gallery, '--model', model, ...TINY_FLAGS, '--out', inner, '--json'], dir);
  const rep = JSON.parse(b.stdout);
  assert.equal(rep.images, 6);
  assert.equal(rep.added, 0);
  assert.deepEqual(rep.skipped, []);
});

test('--rebuild builds beside and swaps only the index folder; search and eval accept --store', async () => {
  const dir = tmpDir();
  const gallery = path.join(dir, 'gallery');
  await writeClassFolders(gallery, 2, 2, 0);
  const model = writeTinyCnn(dir);
  const out = path.join(dir, 'g.lkx');
  assert.equal(run(['index', gallery, '--model', model, ...TINY_FLAGS, '--out', out], dir).status, 0);
  fs.rmSync(path.join(gallery, 'class00/000.jpg'));
  const r = run(['index', gallery, '--model', model, ...TINY_FLAGS, '--store', out, '--rebuild', '--json'], dir);
  assert.equal(r.status, 0, r.stderr);
  const rep = JSON.parse(r.stdout);
  assert.equal(rep.added, 3);
  assert.equal(rep.removed, 1);
  assert.deepEqual(fs.readdirSync(dir).sort(), ['g.lkx', 'gallery', 'tiny-cnn.onnx']);
  const s = run(['search', '--store', out, '--id', 'class01/000.jpg', '-k', '2', '--json'], dir);
  assert.equal(s.status, 0, s.stderr);
  assert.equal(JSON.parse(s.stdout).results[0].hits[0].id, 'class01/000.jpg');
  const both = run(['search', out, '--store', path.join(dir, 'other.lkx'), '--id', 'x'], dir);
  assert.equal(both.status, 1);
});
