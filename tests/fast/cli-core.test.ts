import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { writeClassFolders, writeCompetition } from '../../src/data/synthetic.ts';
import { runCli } from '../helpers/cli.ts';
import { cli, tmpDir, writeTinyCnn, SHARED, TINY_FLAGS } from '../helpers/tmp.ts';
import { program } from '../../src/cli/main.ts';

test('every command has --help with an example', () => {
  const top = cli(['--help']);
  assert.equal(top.status, 0);
  const listed = top.stdout.split(/^Commands:$/m)[1]?.split(/^\S/m)[0] ?? '';
  const names = [...listed.matchAll(/^\s{2}(\w[\w-]*)\s/gm)].map((m) => m[1]).filter((n) => n !== 'help');
  assert.ok(names.includes('index') && names.includes('search') && names.includes('compete'), top.stdout);
  // One command through the real binary; every command's full help (with its addHelpText) in-process.
  const search = cli(['search', '--help']);
  assert.equal(search.status, 0);
  assert.match(search.stdout, /Example/);
  const commands = new Map(program().commands.map((c) => [c.name(), c]));
  for (const name of names) {
    const cmd = commands.get(name);
    assert.ok(cmd, `${name} is listed by --help and built by program()`);
    let text = '';
    cmd.configureOutput({ writeOut: (s) => (text += s) });
    cmd.outputHelp();
    assert.match(text, /Example/, `${name} --help shows an example`);
  }
});

test('index, then search by file, folder and id, with --json and --submission', async () => {
  const dir = tmpDir();
  const gallery = path.join(dir, 'gallery');
  await writeClassFolders(gallery, 4, 3, 0);
  fs.writeFileSync(path.join(gallery, 'broken.jpg'), 'nope');
  const model = writeTinyCnn(dir);
  const out = path.join(dir, 'g.lkx');
  const idx = (await runCli(['index', gallery, '--model', model, ...TINY_FLAGS, '--out', out]));
  assert.equal(idx.status, 0, idx.stderr);
  assert.match(idx.stderr, /skipped broken\.jpg: /);
  assert.match(idx.stdout, /12 images, 16-d; 12 added/);
  assert.equal((await runCli(['index', gallery, '--model', model, ...TINY_FLAGS, '--out', out, '--strict'])).status, 1);

  const q = path.join(gallery, 'class01/002.jpg');
  const one = (await runCli(['search', out, q, '-k', '3', '--json']));
  assert.equal(one.status, 0, one.stderr);
  const res = JSON.parse(one.stdout).results;
  assert.equal(res[0].query, '002.jpg');
  assert.equal(res[0].hits[0].id, 'class01/002.jpg');
  assert.ok(Math.abs(res[0].hits[0].score - 1) < 1e-5);
  const noSelf = JSON.parse((await runCli(['search', out, q, '-k', '3', '--json', '--exclude-self'])).stdout).results[0].hits;
  assert.ok(noSelf.every((h: { id: string }) => h.id !== 'class01/002.jpg'));
  assert.equal(noSelf.length, 3);

  const byId = JSON.parse((await runCli(['search', out, '--id', 'class02/000.jpg', '-k', '2', '--exclude-self', '--json'])).stdout).results[0];
  assert.equal(byId.hits.length, 2);
  assert.ok(byId.hits.every((h: { id: string }) => h.id !== 'class02/000.jpg'));
  assert.match((await runCli(['search', out, '--id', 'nope.jpg'])).stderr, /no id "nope\.jpg"/);

  const sub = path.join(dir, 'sub.json');
  const folder = (await runCli(['search', out, path.join(gallery, 'class03'), '-k', '5', '--submission', sub]));
  assert.equal(folder.status, 0, folder.stderr);
  const s = JSON.parse(fs.readFileSync(sub, 'utf8'));
  assert.deepEqual(Object.keys(s).sort(), ['000.jpg', '001.jpg', '002.jpg']);
  assert.ok(Object.values(s).every((v) => (v as string[]).length === 5));

  // a different model (spec) than the index's is refused
  const other = (await runCli(['search', out, q, '--model', model, '--resize', '32x32', '--crop', 'none', '--pooling', 'gem']));
  assert.equal(other.status, 1);
  assert.match(other.stderr, /not the one the index was built with/);
});

test('compete on a generated competition folder writes k gallery names for every query', async () => {
  const dir = tmpDir();
  const comp = path.join(dir, 'comp');
  const truth = await writeCompetition(comp, 6, 2);
  const model = writeTinyCnn(dir);
  const out = path.join(dir, 'sub.json');
  const r = (await runCli(['compete', comp, '--model', model, ...TINY_FLAGS, '-k', '4', '--out', out]));
  assert.equal(r.status, 0, r.stderr);
  const sub = JSON.parse(fs.readFileSync(out, 'utf8')) as Record<string, string[]>;
  assert.deepEqual(Object.keys(sub).sort(), Object.keys(truth).sort());
  const gallery = new Set(fs.readdirSync(path.join(comp, 'gallery')));
  for (const v of Object.values(sub)) {
    assert.equal(v.length, 4);
    assert.equal(new Set(v).size, 4);
    assert.ok(v.every((g) => gallery.has(g)));
  }
});

test('compete on ../shared/datasets/cufs-sketch/test covers every query in truth.json', { skip: !fs.existsSync(path.join(SHARED, 'datasets/cufs-sketch')) && 'no ../shared' }, async () => {
  const dir = tmpDir();
  const model = writeTinyCnn(dir);
  const out = path.join(dir, 'sub.json');
  const r = (await runCli(['compete', path.join(SHARED, 'datasets/cufs-sketch/test'), '--model', model, ...TINY_FLAGS, '--out', out, '--json']));
  assert.equal(r.status, 0, r.stderr);
  const sub = JSON.parse(fs.readFileSync(out, 'utf8')) as Record<string, string[]>;
  const truth = JSON.parse(fs.readFileSync(path.join(SHARED, 'datasets/cufs-sketch/truth.json'), 'utf8'));
  assert.deepEqual(Object.keys(sub).sort(), Object.keys(truth).sort());
  assert.ok(Object.values(sub).every((v) => v.length === 10 && v.every((g) => /^g\d{4}\.jpg$/.test(g))));
});
