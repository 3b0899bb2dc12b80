import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { AnnGraph, readAnnManifest, refreshAnn, type AnnSource } from '../../src/store/ann.ts';
import { annSearch, candidateCount } from '../../src/store/ann-search.ts';
import { GraphFile } from '../../src/store/ann-file.ts';
import { readInPlace } from '../../src/store/ann-mode.ts';
import { searchBrute } from '../../src/store/exact.ts';
import { writeClassFolders, writeCompetition } from '../../src/data/synthetic.ts';
import { Rng } from '../../src/util/random.ts';
import { runCli } from '../helpers/cli.ts';
import { tmpDir, writeTinyCnn, ROOT, TINY_FLAGS } from '../helpers/tmp.ts';
import { openStore } from '../../src/store/open-store.ts';
import { contractMeta } from '../helpers/store-contract.ts';
import { clearAnnCache } from '../../src/store/ann-search.ts';
import { config } from '../../src/util/config.ts';

/** n unit vectors in `clusters` Gaussian clusters (dim-d), seeded. */
function clustered(n: number, dim: number, clusters: number, seed: number, spread = 0.3): Float32Array {
  const rng = new Rng(seed);
  const centres = Float32Array.from({ length: clusters * dim }, () => rng.normal());
  const v = new Float32Array(n * dim);
  for (let i = 0; i < n; i++) {
    const c = i % clusters;
    let s = 0;
    for (let d = 0; d < dim; d++) {
      const x = centres[c * dim + d] + spread * rng.normal();
      v[i * dim + d] = x;
      s += x * x;
    }
    s = Math.sqrt(s);
    for (let d = 0; d < dim; d++) v[i * dim + d] /= s;
  }
  return v;
}

const idOf = (i: number) => `item${String(i).padStart(5, '0')}`;

function reader(v: Float32Array, dim: number) {
  return (ids: string[]) => {
    const out = new Float32Array(ids.length * dim);
    ids.forEach((id, i) => {
      const r = Number(id.slice(4));
      out.set(v.subarray(r * dim, (r + 1) * dim), i * dim);
    });
    return out;
  };
}

function source(ids: string[], v: Float32Array, dim: number): AnnSource {
  return {
    dim,
    async *scan() {
      yield { ids, vectors: v, dim };
    },
  };
}

test('ANN search: recall@10 against brute force, exact scores, exclude-self, min score, every dtype', async () => {
  const dim = 32;
  const n = 3000;
  const v = clustered(n, dim, 30, 1);
  const ids = Array.from({ length: n }, (_, i) => idOf(i));
  const nq = 100;
  const q = v.slice(0, nq * dim);
  const truth = searchBrute(v, q, dim, 10, Int32Array.from({ length: nq }, (_, i) => i));
  for (const dtype of ['f32', 'f16', 'i8'] as const) {
    const g = AnnGraph.create(dim, { dtype, connectivity: 16, expansionAdd: 128 });
    g.add(ids, v);
    assert.equal(g.size, n);
    const res = await annSearch(g, q, reader(v, dim), { k: 10, ef: 64, exclude: ids.slice(0, nq) });
    let found = 0;
    for (let qi = 0; qi < nq; qi++) {
      const want = new Set(Array.from(truth.indices.subarray(qi * 10, qi * 10 + 10), idOf));
      assert.equal(res[qi].length, 10);
      assert.ok(res[qi].every((h) => h.id !== ids[qi]), `${dtype}: the query itself is excluded`);
      for (const h of res[qi]) {
        if (want.has(h.id)) found++;
        // exact cosine of the float vectors, whatever the graph's dtype
        const r = Number(h.id.slice(4));
        let s = 0;
        for (let d = 0; d < dim; d++) s += q[qi * dim + d] * v[r * dim + d];
        assert.ok(Math.abs(h.score - s) < 1e-6, `${dtype}: score ${h.score} vs ${s}`);
      }
      for (let j = 1; j < res[qi].length; j++) assert.ok(res[qi][j - 1].score >= res[qi][j].score);
    }
    assert.ok(found / (nq * 10) >= 0.95, `${dtype}: recall@10 ${found / (nq * 10)}`);
  }
  const g = AnnGraph.create(dim);
  g.add(ids, v);
  const top = searchBrute(v, q.subarray(0, dim), dim, 50);
  const min = top.scores[25];
  const cut = await annSearch(g, q.subarray(0, dim), reader(v, dim), { k: 50, ef: 400, minScore: min });
  assert.ok(cut[0].every((h) => h.score >= min));
  assert.deepEqual(cut[0].map((h) => h.id), Array.from(top.indices.subarray(0, 50)).filter((_, j) => top.scores[j] >= min).map(idOf));
  assert.equal(candidateCount(10, 16), 40);
  assert.equal(candidateCount(10, 200), 200);
});

test('ANN graph: save, open (load and memory map), checksum and size checks, stale refresh', async () => {
  const dim = 16;
  const n = 500;
  const v = clustered(n, dim, 10, 2);
  const ids = Array.from({ length: n }, (_, i) => idOf(i));
  const dir = tmpDir();
  const first = await refreshAnn(undefined, source(ids, v, dim), 'gen-1');
  assert.equal(first.added, n);
  assert.ok(first.rebuilt);
  const m1 = first.graph.save(dir, 'gen-1');
  assert.equal(m1.count, n);
  assert.equal(m1.covers, 'gen-1');
  assert.ok(fs.existsSync(path.join(dir, m1.graph)) && fs.existsSync(path.join(dir, m1.keys)));

  const viewed = AnnGraph.open(dir, { view: true })!;
  assert.ok(viewed.readOnly);
  assert.equal(viewed.covers, 'gen-1');
  assert.deepEqual(viewed.candidates(v.subarray(7 * dim, 8 * dim), 1), [[idOf(7)]]);
  assert.throws(() => viewed.add([idOf(1)], v.subarray(0, dim)), /read-only/);

  // The store changes: 20 removed, 30 added, 5 changed. The stale graph is updated, not trusted.
  const ids2 = ids.slice(20);
  const v2 = v.slice(20 * dim);
  for (let i = 0; i < 5; i++) v2.set(v.subarray((400 + i) * dim, (401 + i) * dim), i * dim);
  const extra = clustered(30, dim, 3, 9);
  const all = [...ids2, ...Array.from({ length: 30 }, (_, i) => `new${i}`)];
  const allV = new Float32Array(all.length * dim);
  allV.set(v2);
  allV.set(extra, v2.length);
  const loaded = AnnGraph.open(dir)!;
  const r = await refreshAnn(loaded, source(all, allV, dim), 'gen-2');
  assert.deepEqual([r.added, r.removed, r.rebuilt], [35, 20, false]);
  assert.equal(r.graph.size, all.length);
  assert.equal((await refreshAnn(r.graph, source(all, allV, dim), 'gen-2')).changed, false);
  // changed item 20 now has the vector of item 400: its nearest neighbour is item 400 or itself
  const near = r.graph.candidates(v.subarray(400 * dim, 401 * dim), 2)[0].sort();
  assert.deepEqual(near, [idOf(20), idOf(400)].sort());
  const m2 = r.graph.save(dir, 'gen-2');
  assert.equal(m2.seq, 2);
  assert.deepEqual(fs.readdirSync(dir).sort(), [`ann-000002-${process.pid}.keys`, `ann-000002-${process.pid}.usearch`, 'ann.json'], 'the previous save is removed');

  // damage is detected and named
  const gfile = path.join(dir, m2.graph);
  const bytes = fs.readFileSync(gfile);
  bytes[bytes.length - 10] ^= 0xff;
  fs.writeFileSync(gfile, bytes);
  assert.throws(() => AnnGraph.open(dir), /ann-000002-\d+\.usearch: checksum differs/);
  fs.writeFileSync(gfile, bytes.subarray(0, 100));
  assert.throws(() => AnnGraph.open(dir), /ann-000002-\d+\.usearch: 100 bytes, ann\.json says/);
});

test('CLI: search, eval and compete give the same results with --ann on and off; the graph is saved and kept fresh', async () => {
  const dir = tmpDir();
  const gallery = path.join(dir, 'gallery');
  await writeClassFolders(gallery, 5, 8, 0);
  const model = writeTinyCnn(dir);
  const out = path.join(dir, 'g.lkx');
  assert.equal((await runCli(['index', gallery, '--model', model, ...TINY_FLAGS, '--out', out])).status, 0);
  const ids = ['class00/000.jpg', 'class02/003.jpg', 'class04/007.jpg'];
  const run = async (...extra: string[]) => {
    const r = (await runCli(['search', out, '--id', ...ids, '-k', '7', '--exclude-self', '--json', ...extra]));
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(r.stdout).results as { query: string; hits: { id: string; score: number }[] }[];
  };
  const exact = await run('--ann', 'off');
  assert.equal(readAnnManifest(out), undefined, 'exact search writes no graph');
  // ef 40 over 40 items: every item is a candidate, so the graph (built on several threads, not
  // deterministic) cannot miss one and the comparison is exact.
  const approx = await run('--ann', 'on', '--ef', '40');
  const m = readAnnManifest(out)!;
  assert.equal(m.count, 40);
  for (let i = 0; i < exact.length; i++) {
    assert.deepEqual(approx[i].hits.map((h) => h.id), exact[i].hits.map((h) => h.id));
    approx[i].hits.forEach((h, j) => assert.ok(Math.abs(h.score - exact[i].hits[j].score) < 1e-5));
  }
  // folder queries and submissions
  const subOff = path.join(dir, 'off.json');
  const subOn = path.join(dir, 'on.json');
  assert.equal((await runCli(['search', out, path.join(gallery, 'class01'), '-k', '5', '--submission', subOff, '--ann', 'off'])).status, 0);
  assert.equal((await runCli(['search', out, path.join(gallery, 'class01'), '-k', '5', '--submission', subOn, '--ann', 'on'])).status, 0);
  assert.equal(fs.readFileSync(subOn, 'utf8'), fs.readFileSync(subOff, 'utf8'));
  // eval (leave-one-out over the whole index)
  const labels = path.join(dir, 'labels.csv');
  fs.writeFileSync(labels, 'path,label\n' + fs.readdirSync(gallery).filter((c) => c.startsWith('class')).flatMap((c) => fs.readdirSync(path.join(gallery, c)).map((f) => `${c}/${f},${c}`)).join('\n') + '\n');
  const ev = async (mode: string) => {
    const r = (await runCli(['eval', out, '--labels', labels, '--json', '--ann', mode]));
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(r.stdout).mean;
  };
  assert.deepEqual(await ev('on'), await ev('off'));
  // compete
  const comp = path.join(dir, 'comp');
  await writeCompetition(comp, 4, 3);
  const c = async (mode: string) => {
    const f = path.join(dir, `c-${mode}.json`);
    const r = (await runCli(['compete', comp, '--model', model, ...TINY_FLAGS, '-k', '5', '--out', f, '--ann', mode]));
    assert.equal(r.status, 0, r.stderr);
    return fs.readFileSync(f, 'utf8');
  };
  assert.equal(await c('on'), await c('off'));

  // re-indexing changes the index: the saved graph no longer covers it; search (through store.search) uses it
  // with the one-item lag filtered out and merged exactly (within the allowed lag, docs/index-format.md)
  fs.rmSync(path.join(gallery, 'class03/004.jpg'));
  assert.equal((await runCli(['index', gallery, '--model', model, ...TINY_FLAGS, '--out', out])).status, 0);
  const again = (await runCli(['search', out, '--id', 'class03/001.jpg', '-k', '40', '--json', '--ann', 'on']));
  assert.equal(again.status, 0, again.stderr);
  const hits = JSON.parse(again.stdout).results[0].hits as { id: string }[];
  assert.equal(hits.length, 39);
  assert.ok(!hits.some((h) => h.id === 'class03/004.jpg'));
  assert.equal(readAnnManifest(out)!.count, 40, 'a small lag does not rewrite the saved graph');
  assert.match((await runCli(['search', out, '--id', 'class03/001.jpg', '--ef', '0'])).stderr, /--ef 0: expected an integer from 1 to 1000/);
});

test('a crash while saving the graph leaves the previous graph or the new one, never a mix', async () => {
  const dim = 16;
  const dir = tmpDir();
  const v = clustered(200, dim, 5, 3);
  const ids = Array.from({ length: 200 }, (_, i) => idOf(i));
  const g = AnnGraph.create(dim);
  g.add(ids, v);
  g.save(dir, 'gen-1');
  const vecFile = path.join(dir, 'v.bin');
  fs.writeFileSync(vecFile, v.subarray(0, 100 * dim));
  const script = `
    import fs from 'node:fs';
    import { AnnGraph } from ${JSON.stringify(path.join(ROOT, 'src/store/ann.ts'))};
    const g = AnnGraph.open(${JSON.stringify(dir)});
    g.remove(Array.from({ length: 100 }, (_, i) => 'item' + String(100 + i).padStart(5, '0')));
    g.save(${JSON.stringify(dir)}, 'gen-2');`;
  for (const step of ['ann:graph', 'ann:manifest']) {
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, LOOKALIKE_CRASH_AT: step } });
    assert.ok(r.signal === 'SIGKILL' || r.status === 137, `${step}: ${r.status} ${r.signal} ${r.stderr}`);
    const back = AnnGraph.open(dir)!;
    assert.equal(back.covers, 'gen-1', `crash at ${step}: the previous graph is still the one named`);
    assert.equal(back.size, 200);
  }
  const ok = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: ROOT, encoding: 'utf8' });
  assert.equal(ok.status, 0, ok.stderr);
  const after = AnnGraph.open(dir)!;
  assert.deepEqual([after.covers, after.size], ['gen-2', 100]);
});

test('folder store: search with ann on equals ann off; writes update the held graph incrementally; a small lag is searched exactly, a large one saved', async () => {
  const dim = 24;
  const n = 1500;
  const v = clustered(n, dim, 15, 4);
  const items = (from: number, to: number, vec = v) => Array.from({ length: to - from }, (_, i) => ({ id: idOf(from + i), vector: vec.slice((from + i) * dim, (from + i + 1) * dim) }));
  const loc = path.join(tmpDir(), 'ann.lkx');
  clearAnnCache();
  const w = await openStore(loc, { write: true, create: contractMeta(dim) });
  await w.write({ upsert: items(0, 1200) });
  const q = v.slice(1200 * dim, 1230 * dim);
  const off = await w.search(q, { k: 10, ann: 'off' });
  const on = await w.search(q, { k: 10, ann: 'on', ef: 80 });
  let same = 0;
  for (let i = 0; i < off.length; i++) {
    for (const h of on[i]) {
      const e = off[i].find((x) => x.id === h.id);
      if (e) {
        same++;
        assert.ok(Math.abs(e.score - h.score) < 1e-5, 'exact cosines');
      }
    }
  }
  assert.ok(same / (off.length * 10) >= 0.95, `recall@10 ${same / 300}`);
  const saved = readAnnManifest(loc)!;
  assert.ok(saved, 'the writer saved the graph it built');
  // incremental: remove 100 items, add 300 (the graph held in memory follows the store)
  await w.write({ remove: Array.from({ length: 100 }, (_, i) => idOf(i)), upsert: items(1200, 1500) });
  const self = await w.search(v.slice(1400 * dim, 1401 * dim), { k: 1, ann: 'on' });
  assert.equal(self[0][0].id, idOf(1400), 'a new item is found through the graph');
  const gone = await w.search(v.slice(0, 5 * dim), { k: 5, ann: 'on' });
  assert.ok(gone.flat().every((h) => Number(h.id.slice(4)) >= 100), 'removed items never come back');
  await w.close();
  assert.equal(readAnnManifest(loc)!.seq, saved.seq, 'a change of 400 items (under the lag limit) writes no graph on close');
  assert.equal(readAnnManifest(loc)!.covers, saved.covers);
  // a reader in a new process state: the saved graph lags by 400 items; its current items come
  // through the graph, the newer rows from an exact pass, merged
  clearAnnCache();
  const r = await openStore(loc);
  const probe = v.slice(100 * dim, 140 * dim);
  const ex = Array.from({ length: 40 }, (_, i) => idOf(100 + i));
  const a = await r.search(probe, { k: 5, ann: 'off', exclude: ex });
  const b = await r.search(probe, { k: 5, ann: 'on', ef: 100, exclude: ex });
  assert.ok(b.every((hits, i) => hits.every((h) => h.id !== ex[i])), 'exclude honoured');
  const agree = a.reduce((acc, hits, i) => acc + hits.filter((h) => b[i].some((x) => x.id === h.id)).length, 0);
  assert.ok(agree / 200 >= 0.95, `recall ${agree / 200}`);
  const newest = await r.search(v.slice(1200 * dim, 1500 * dim), { k: 1, ann: 'on' });
  assert.deepEqual(newest.map((h) => h[0].id), Array.from({ length: 300 }, (_, i) => idOf(1200 + i)), 'every item newer than the graph is found (exact pass)');
  const removed = await r.search(v.slice(0, 100 * dim), { k: 3, ann: 'on' });
  assert.ok(removed.flat().every((h) => Number(h.id.slice(4)) >= 100), 'items removed after the graph was saved never come back');
  const both = await r.search(v.slice(1290 * dim, 1310 * dim), { k: 10, ann: 'on', ef: 100 });
  const exact = await r.search(v.slice(1290 * dim, 1310 * dim), { k: 10, ann: 'off' });
  both.forEach((hits, i) => {
    hits.forEach((h, j) => assert.equal(h.rank, j + 1));
    for (let j = 1; j < hits.length; j++) assert.ok(hits[j - 1].score >= hits[j].score, 'merged lists are ranked by score');
    const top = exact[i][0];
    assert.deepEqual([hits[0].id, hits[0].score], [top.id, top.score], 'graph and exact pass merge to the exact best');
  });
  assert.equal(readAnnManifest(loc)!.seq, saved.seq, 'searching a lagging graph writes nothing');
  await r.close();
  // a lag above the limit: the next search brings the graph up to date and saves it
  const lag = config.annLag;
  config.annLag = 50;
  try {
    clearAnnCache();
    const r2 = await openStore(loc);
    const hit = await r2.search(v.slice(1450 * dim, 1451 * dim), { k: 1, ann: 'on' });
    assert.equal(hit[0][0].id, idOf(1450));
    await r2.close();
    const m = readAnnManifest(loc)!;
    assert.ok(m.seq > saved.seq, 'a lag of 400 > 50 items made the reader update and save the graph');
    assert.equal(m.count, 1400);
    assert.match(m.covers, /^gen\d+#1400$/);
  } finally {
    config.annLag = lag;
  }
});

test('a saved graph read in place proposes the candidates usearch finds (every dtype, removed items); one-shot searches walk it, many queries map it; damage is named', async () => {
  const dim = 16;
  const n = 16000;
  const v = clustered(n, dim, 40, 5);
  const ids = Array.from({ length: n }, (_, i) => idOf(i));
  const nq = 12;
  const q = clustered(nq, dim, 40, 6, 0.5);
  const usearch = createRequire(import.meta.url)('usearch') as typeof import('usearch');
  for (const dtype of ['f32', 'f16', 'i8'] as const) {
    const dir = tmpDir();
    const g = AnnGraph.create(dim, { dtype, connectivity: 8, expansionAdd: 32 });
    g.add(ids.slice(0, dtype === 'f32' ? n : 3000), v.subarray(0, (dtype === 'f32' ? n : 3000) * dim));
    g.remove(ids.slice(0, 200)); // removed members stay in the graph, marked with usearch's free key
    const m = g.save(dir, 'gen-1');
    const file = GraphFile.open(path.join(dir, m.graph), { dim, dtype, count: m.count });
    const native = new usearch.Index({ dimensions: dim, metric: 'cos' as never, quantization: dtype as never, connectivity: 8, expansion_add: 32, expansion_search: 1, multi: false });
    native.load(path.join(dir, m.graph));
    let same = 0;
    for (let i = 0; i < nq; i++) {
      const query = q.subarray(i * dim, (i + 1) * dim);
      const mine = file.search(query, 30);
      const theirs = Array.from((native.search(query, 30, 1) as unknown as { keys: BigUint64Array }).keys, Number);
      assert.equal(mine.length, 30);
      assert.ok(mine.every((k) => k > 200), `${dtype}: no removed member is proposed`);
      if (dtype === 'f32') assert.deepEqual(mine, theirs, 'the same walk over the same graph');
      same += mine.filter((k) => theirs.includes(k)).length;
    }
    assert.ok(same / (nq * 30) >= 0.9, `${dtype}: ${same} of ${nq * 30} candidates shared with usearch`);
    file.close();
    if (dtype !== 'f32') continue;
    // Through AnnGraph: one query walks the file in place (no usearch index until a call has many).
    assert.ok(readInPlace(1, m.count, dim) && !readInPlace(nq, m.count, dim) && readInPlace(50, 1e6, 512) && !readInPlace(100, 1e6, 512) && !readInPlace(1, 2000, dim));
    const viewed = AnnGraph.open(dir, { view: true, verify: 'size' })!;
    const one = viewed.candidates(q.subarray(0, dim), 20)[0];
    const many = viewed.candidates(q, 20);
    assert.deepEqual(many[0], one, 'a call with many queries (usearch view) proposes the same for the first');
    viewed.close();
    // Damage: a truncated graph, a node level out of range.
    const gfile = path.join(dir, m.graph);
    const good = fs.readFileSync(gfile);
    fs.writeFileSync(gfile, good.subarray(0, good.length - 7));
    assert.throws(() => GraphFile.open(gfile, { dim, dtype, count: m.count }), /\.usearch: \d+ bytes, its \d+ nodes need \d+; the graph is damaged \(delete ann\.json to rebuild it\)/);
    const bad = Buffer.from(good);
    bad.writeInt16LE(99, 8 + n * dim * 4 + 64 + 40 + 2 * 5);
    fs.writeFileSync(gfile, bad);
    assert.throws(() => GraphFile.open(gfile, { dim, dtype, count: m.count }), /a node level is outside 0-\d+; the graph is damaged/);
  }
});
