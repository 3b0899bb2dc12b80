/**
 * The ANN graph outside search: `index --ann on` builds (and a re-index updates) it with the
 * index, `dedup --ann-dtype` is honoured, and `serve --ann/--ef` loads it at start and searches
 * through it (a real loopback server), with a per-request `ef`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { writeClassFolders } from '../../src/data/synthetic.ts';
import { readAnnManifest } from '../../src/store/ann.ts';
import { clearAnnCache } from '../../src/store/ann-search.ts';
import { FolderStore } from '../../src/store/folder/store.ts';
import { openStore } from '../../src/store/open-store.ts';
import { startServer } from '../../src/serve/app.ts';
import { cli, tmpDir, writeTinyCnn, TINY_FLAGS } from '../helpers/tmp.ts';

const dir = tmpDir('lookalike-ann-index-');
const gallery = path.join(dir, 'gallery');
const model = path.join(dir, 'tiny.onnx');

/** The state stamp a graph must carry to cover the folder index at `loc` as it is now. */
async function covers(loc: string): Promise<string> {
  const s = (await openStore(loc)) as FolderStore;
  try {
    return s.annCovers();
  } finally {
    await s.close();
  }
}

test.before(async () => {
  await writeClassFolders(gallery, 4, 5, 0, 64);
  fs.renameSync(writeTinyCnn(dir), model);
});

test('index --ann on builds the graph with the index and a re-index keeps it current; --ann off builds none; dedup --ann-dtype is honoured', async () => {
  const off = path.join(dir, 'off.lkx');
  const r0 = cli(['index', gallery, '--model', model, ...TINY_FLAGS, '--out', off, '--ann', 'off', '--json']);
  assert.equal(r0.status, 0, r0.stderr);
  assert.equal(readAnnManifest(off), undefined, '--ann off (and auto below the threshold) builds no graph');

  const on = path.join(dir, 'on.lkx');
  const r1 = cli(['index', gallery, '--model', model, ...TINY_FLAGS, '--out', on, '--ann', 'on', '--ann-dtype', 'f16']);
  assert.equal(r1.status, 0, r1.stderr);
  assert.match(r1.stderr, /building the ANN graph/);
  const m1 = readAnnManifest(on)!;
  assert.ok(m1, 'the graph is saved by index, before any search');
  assert.deepEqual([m1.count, m1.dtype, m1.covers], [20, 'f16', await covers(on)]);

  // A re-index that adds one image and removes another applies both to the graph it holds; with no
  // lag allowed (LOOKALIKE_ANN_LAG=0, 5% of 20 items = 1) it saves the graph, which covers the new state.
  fs.copyFileSync(path.join(gallery, 'class01/000.jpg'), path.join(gallery, 'class01/extra.jpg'));
  fs.rmSync(path.join(gallery, 'class02/004.jpg'));
  const r2 = cli(['index', gallery, '--model', model, ...TINY_FLAGS, '--out', on, '--ann', 'on', '--json'], { LOOKALIKE_ANN_LAG: '0' });
  assert.equal(r2.status, 0, r2.stderr);
  const m2 = readAnnManifest(on)!;
  assert.deepEqual([m2.count, m2.dtype, m2.covers], [20, 'f16', await covers(on)]);
  assert.ok(m2.seq > m1.seq);
  // With the default lag (10,000 items) a small re-index leaves the saved graph as it is; a search
  // through it merges the newer rows exactly and builds or updates nothing.
  fs.copyFileSync(path.join(gallery, 'class03/001.jpg'), path.join(gallery, 'class03/extra.jpg'));
  const r3 = cli(['index', gallery, '--model', model, ...TINY_FLAGS, '--out', on, '--ann', 'on', '--json']);
  assert.equal(r3.status, 0, r3.stderr);
  assert.equal(readAnnManifest(on)!.seq, m2.seq, 'a small update does not rewrite the graph');
  const s = cli(['search', on, '--id', 'class03/001.jpg', '-k', '3', '--ann', 'on']);
  assert.equal(s.status, 0, s.stderr);
  assert.doesNotMatch(s.stderr, /building|updating/);
  assert.match(s.stdout, /class03\/extra\.jpg/);
  assert.equal(readAnnManifest(on)!.seq, m2.seq);

  // dedup --ann-dtype i8 rebuilds the graph as i8 (it used to be ignored).
  const d = cli(['dedup', on, '--threshold', '0.999', '--ann', 'on', '--ann-dtype', 'i8', '--json']);
  assert.equal(d.status, 0, d.stderr);
  assert.equal(readAnnManifest(on)!.dtype, 'i8');
  const groups = JSON.parse(d.stdout).groups as { members: { id: string }[] }[];
  assert.ok(groups.some((g) => ['class01/000.jpg', 'class01/extra.jpg'].every((id) => g.members.some((m) => m.id === id))), 'the copy is grouped with its original');
});

test('serve --ann on --ef N: the graph is loaded at start, searches go through it with the exact results, a request may set ef', async () => {
  const lkx = path.join(dir, 'serve.lkx');
  const r = cli(['index', gallery, '--model', model, ...TINY_FLAGS, '--out', lkx, '--ann', 'off', '--json']);
  assert.equal(r.status, 0, r.stderr);
  clearAnnCache();
  const logs: string[] = [];
  const on = await startServer({ index: lkx, port: 0, ann: 'on', ef: 16, annDtype: 'f16', log: (l) => logs.push(l), watch: false });
  const off = await startServer({ index: lkx, port: 0, ann: 'off', log: () => undefined, watch: false });
  try {
    assert.ok(logs.some((l) => /building the ANN graph/.test(l)), logs.join('\n'));
    assert.equal(readAnnManifest(lkx)?.dtype, 'f16', 'built and saved at start, before any query');
    const info = (await (await fetch(`${on.url}/info`)).json()) as { search: { ann: string; ef: number | null; rerank: string | null } };
    assert.deepEqual(info.search, { ann: 'on', ef: 16, rerank: null });
    const ask = async (s: typeof on, query: string) => {
      const res = await fetch(`${s.url}/search?${query}`);
      return { status: res.status, body: (await res.json()) as { results: { id: string; score: number }[] } };
    };
    for (const id of ['class00/000.jpg', 'class03/002.jpg']) {
      const q = `id=${encodeURIComponent(id)}&k=6&exclude_self=1`;
      const a = await ask(on, q);
      const b = await ask(off, q);
      const c = await ask(on, `${q}&ef=200`);
      assert.equal(a.status, 200);
      assert.deepEqual(a.body.results.map((h) => h.id), b.body.results.map((h) => h.id));
      assert.deepEqual(c.body.results.map((h) => h.id), b.body.results.map((h) => h.id));
      a.body.results.forEach((h, j) => assert.ok(Math.abs(h.score - b.body.results[j].score) < 1e-5));
    }
    const bad = await ask(on, 'id=class00/000.jpg&ef=0');
    assert.equal(bad.status, 400);
    assert.match(JSON.stringify(bad.body), /ef/);
  } finally {
    await on.close();
    await off.close();
  }
});
