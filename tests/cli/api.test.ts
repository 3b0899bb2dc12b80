/** The library: the package imported by its name through `exports` (compiled dist/), running the README example; Index.search modes. */
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { writeClassFolders } from '../../src/data/synthetic.ts';
import { indexFolder, loadModel, openIndex, embedImages, evaluate } from '../../src/api.ts';
import { ROOT, tmpDir, writeTinyCnn } from '../helpers/tmp.ts';

const dir = tmpDir('lookalike-api-');

/** Build dist/ unless bin/lookalike.js would already consider it current. */
function ensureDist(): void {
  const stamp = path.join(ROOT, 'dist/.built');
  const built = fs.existsSync(stamp) ? fs.statSync(stamp).mtimeMs : 0;
  const src = path.join(ROOT, 'src');
  const stale = !built || fs.readdirSync(src, { recursive: true }).some((f) => fs.statSync(path.join(src, String(f))).mtimeMs > built);
  if (!stale) return;
  const r = spawnSync(process.execPath, [path.join(ROOT, 'scripts/build.mjs')], { encoding: 'utf8' });
  assert.equal(r.status, 0, `npm run build failed:\n${r.stdout}${r.stderr}`);
}

test('README "Use as a library" example runs against the built package, imported as "lookalike-retrieval"', async () => {
  ensureDist();
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const m = /## Use as a library\n[\s\S]*?```js\n([\s\S]*?)```/.exec(readme);
  assert.ok(m, 'README has a "Use as a library" js block');
  assert.match(m[1], /from 'lookalike-retrieval'/);
  const work = path.join(dir, 'readme');
  await writeClassFolders(path.join(work, 'gallery'), 4, 3, 0, 48);
  writeTinyCnn(work);
  fs.renameSync(path.join(work, 'tiny-cnn.onnx'), path.join(work, 'model.onnx'));
  // The script must sit inside the package for the self-reference to resolve through "exports".
  const script = path.join(ROOT, 'out', `readme-example-${process.pid}.mjs`);
  fs.mkdirSync(path.dirname(script), { recursive: true });
  fs.writeFileSync(script, m[1]);
  try {
    // Plain node, no tsx: the import resolves to dist/api.js.
    const r = spawnSync(process.execPath, [script], { cwd: work, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^12 images indexed$/m);
    const lines = r.stdout.split('\n').filter((l) => /^\d+ [-0-9.]+ \S+$/.test(l));
    assert.equal(lines.length, 3);
    assert.match(r.stdout, /finds itself: true/);
    assert.ok(fs.existsSync(path.join(work, 'gallery.lkx', 'manifest.json')));
  } finally {
    fs.rmSync(script, { force: true });
  }
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
  assert.ok(fs.existsSync(path.join(ROOT, pkg.exports['.'].import)) && fs.existsSync(path.join(ROOT, pkg.exports['.'].types)));
});

test('Index.search by id, image bytes, vector; min score; indexFolder is incremental and abortable', async () => {
  const gallery = path.join(dir, 'g');
  await writeClassFolders(gallery, 3, 4, 0, 48);
  const modelFile = writeTinyCnn(dir);
  const model = await loadModel(modelFile, { runtime: { threads: 1 } });
  const out = path.join(dir, 'g.lkx');
  const seen: number[] = [];
  const r1 = await indexFolder(gallery, out, { model, onProgress: (d) => seen.push(d) });
  assert.equal(r1.total, 12);
  assert.equal(seen.at(-1), 12);
  const r2 = await indexFolder(gallery, out, { model });
  assert.equal(r2.unchanged, 12);
  assert.equal(r2.added.length, 0);
  // An aborted run writes nothing: the index keeps its 12 items.
  fs.copyFileSync(path.join(gallery, (await fs.promises.readdir(gallery, { recursive: true })).find((f) => String(f).endsWith('.jpg'))!.toString()), path.join(gallery, 'extra.jpg'));
  const ac = new AbortController();
  ac.abort(new Error('stop'));
  await assert.rejects(indexFolder(gallery, out, { model, signal: ac.signal }), /stop/);
  const index = await openIndex(out, { model });
  assert.equal(await index.count(), 12);
  const ids = await index.ids();
  const byId = await index.search({ id: ids[0] }, { k: 3 });
  assert.equal(byId.hits[0].id, ids[0]);
  assert.ok(Math.abs(byId.hits[0].score - 1) < 1e-5);
  const self = await index.search({ id: ids[0] }, { k: 3, excludeSelf: true });
  assert.ok(!self.hits.some((h) => h.id === ids[0]));
  const bytes = fs.readFileSync(path.join(gallery, ids[5]));
  assert.equal((await index.search({ image: bytes }, { k: 1 })).hits[0].id, ids[5]);
  const vec = await index.vector(ids[7]);
  assert.equal((await index.search({ vector: vec }, { k: 1 })).hits[0].id, ids[7]);
  assert.equal((await index.search({ id: ids[0] }, { k: 50 })).hits.length, 12);
  const floor = (await index.search({ id: ids[0] }, { k: 12 })).hits[4].score;
  assert.ok((await index.search({ id: ids[0] }, { k: 12, minScore: floor })).hits.every((h) => h.score >= floor));
  await assert.rejects(index.search({ image: Buffer.from('not an image') }), /image:/);
  await assert.rejects(index.search({ id: 'nope.jpg' }), /nope\.jpg/);
  const emb = await embedImages(model, [path.join(gallery, ids[1]), Buffer.from('junk')]);
  assert.equal(emb.ids.length, 1);
  assert.equal(emb.skipped.length, 1);
  await index.close();
  await model.close();
  await assert.rejects(evaluate({ rankings: 'a.json', submission: 'b.json' }), /give exactly one input/);
});
