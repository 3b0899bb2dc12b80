/**
 * The folder store and the Postgres store give identical top-10 lists (ids and scores) for the same
 * model and images: synthetic images always, ../shared/datasets/ukbench56 when present; through the
 * CLI on pglite: and on a real PostgreSQL server (the heavy shared-model comparison runs once, on
 * the real server).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { writeClassFolders, writeCompetition } from '../../src/data/synthetic.ts';
import { listFolder } from '../../src/data/images.ts';
import { embedWithBackbone } from '../../src/embed/pipeline.ts';
import { loadBackbone } from '../../src/models/load.ts';
import { openStore, withStore } from '../../src/store/open-store.ts';
import { findDuplicates } from '../../src/index/dedup.ts';
import type { StoreItem } from '../../src/store/types.ts';
import { SHARED, TINY_FLAGS, tmpDir, writeTinyCnn } from '../helpers/tmp.ts';
import { wireKind, wireServer } from '../helpers/pg.ts';
import { startServeProc } from '../helpers/serve-proc.ts';
import { runCli } from '../helpers/cli.ts';

const dir = tmpDir('lookalike-pg-folder-');
const db = path.join(dir, 'db');

async function compare(name: string, folder: string): Promise<void> {
  const backbone = await loadBackbone(writeTinyCnn(dir), { overrides: { resize: { mode: 'fixed', height: 32, width: 32 }, crop: null } });
  const ids = listFolder(folder).images;
  const e = await embedWithBackbone(backbone, ids.map((id) => ({ id, source: path.join(folder, id) })));
  await backbone.dispose();
  assert.equal(e.ids.length, ids.length);
  const items: StoreItem[] = e.ids.map((id, i) => ({ id, vector: e.vectors.slice(i * e.dim, (i + 1) * e.dim) }));
  const create = { model: { name: 'tiny', fingerprint: 'tiny', spec: backbone.spec }, dim: e.dim };
  const stores = [await openStore(path.join(dir, `${name}.lkx`), { write: true, create }), await openStore(`pglite:${db}?index=${name}`, { write: true, create })];
  try {
    for (const s of stores) await s.write({ upsert: items });
    const exclude = e.ids;
    const [folderTop, pgTop, pgAnn] = [
      await stores[0].search(e.vectors, { k: 10, ann: 'off', exclude }),
      await stores[1].search(e.vectors, { k: 10, ann: 'off', exclude }),
      await stores[1].search(e.vectors, { k: 10, ann: 'on', ef: 400, exclude }),
    ];
    assert.equal(folderTop.length, e.ids.length);
    // Same ids in the same order; scores agree to float32 rounding (the folder store sums in float32
    // through ORT's GEMM, the pg store re-scores in float64 and rounds once).
    assert.deepEqual(pgTop.map((h) => h.map((x) => x.id)), folderTop.map((h) => h.map((x) => x.id)), `${name}: top-10 ids differ`);
    pgTop.forEach((h, q) => h.forEach((x, j) => assert.ok(Math.abs(x.score - folderTop[q][j].score) < 1e-5, `${name}: score ${x.score} vs ${folderTop[q][j].score}`)));
    // HNSW with a search depth above the gallery size visits everything: the same lists.
    assert.deepEqual(pgAnn.map((h) => h.map((x) => x.id)), folderTop.map((h) => h.map((x) => x.id)));
  } finally {
    for (const s of stores) await s.close();
  }
}

test('folder store and pglite store: identical top-10 lists on synthetic images', async () => {
  const g = path.join(dir, 'synthetic');
  await writeClassFolders(g, 8, 6, 0);
  await compare('synthetic', g);
});

const ukbench = path.join(SHARED, 'datasets/ukbench56');
test('folder store and pglite store: identical top-10 lists on ukbench56', { skip: fs.existsSync(ukbench) ? false : `${ukbench} is absent` }, async () => {
  await compare('ukbench', ukbench);
});

type Run = { status: number | null; stdout: string; stderr: string };
const ok = (r: Run, what: string): Run => {
  assert.equal(r.status, 0, `${what}: ${r.stderr}`);
  return r;
};
const topIds = (r: Run) => JSON.parse(r.stdout).results.map((q: { query: string; hits: { id: string }[] }) => [q.query, q.hits.map((h) => h.id)]);

/**
 * The done-when of the Postgres store, through the CLI: `index DIR/gallery --store S`, then
 * `search` (image files and --id), `compete DIR --store S` and `eval --store S` give the folder
 * store's top-10 lists and figures; `compete --store` equals plain `compete --model` too. eval
 * runs on the gallery index, or (evalOn 'all') on an index of all of DIR; a searchOnly store
 * runs index and search only; folderCompete adds `compete --store` of the folder store. Runs
 * the pglite commands one after another (one process per PGlite folder) beside the folder ones.
 */
async function cliSameAsFolder(comp: string, modelArgs: string[], labels: string, pgStores: { loc: string; searchOnly?: boolean }[], o: { evalOn: 'gallery' | 'all'; folderCompete: boolean }): Promise<{ lkx: string; search: [string, string[]][] }> {
  const { evalOn } = o;
  const work = fs.mkdtempSync(path.join(dir, 'cli-'));
  const gallery = path.join(comp, 'gallery');
  const lkx = path.join(work, 'gallery.lkx');
  const all = path.join(work, 'all.lkx');
  const qid = fs.readdirSync(gallery).sort().slice(0, 2);
  const sub = (name: string) => path.join(work, `${name}.json`);
  const search = (s: string) => ['search', '--store', s, path.join(comp, 'query'), '--id', ...qid, '-k', '10', '--json'];
  // The folder store, and plain compete with the model (gallery embedded in memory).
  const folder = (async () => {
    ok(await runCli(['index', gallery, ...modelArgs, '--store', lkx, '--json']), 'index folder');
    const [s, p] = await Promise.all([runCli(search(lkx)), runCli(['compete', comp, ...modelArgs, '-k', '10', '--out', sub('plain'), '--json'])]);
    ok(p, 'compete --model');
    if (o.folderCompete) ok(await runCli(['compete', comp, '--store', lkx, '-k', '10', '--out', sub('folder'), '--json']), 'compete --store folder');
    if (evalOn === 'all') ok(await runCli(['index', comp, ...modelArgs, '--store', all, '--json']), 'index folder (all)');
    const e = ok(await runCli(['eval', '--store', evalOn === 'all' ? all : lkx, '--labels', labels, '--json']), 'eval folder');
    return { search: ok(s, 'search folder'), eval: e };
  })();
  const pg = (async () => {
    const out = [];
    for (const [i, { loc: s, searchOnly }] of pgStores.entries()) {
      const g = `${s}${s.includes('?') ? '&' : '?'}index=gallery`;
      const a = evalOn === 'all' ? `${s}${s.includes('?') ? '&' : '?'}index=everything` : g;
      ok(await runCli(['index', gallery, ...modelArgs, '--store', g, '--json']), `index ${g}`);
      const sr = ok(await runCli(search(g)), `search ${g}`);
      if (searchOnly) {
        out.push({ search: sr, eval: undefined });
        continue;
      }
      ok(await runCli(['compete', comp, '--store', g, '-k', '10', '--out', sub(`pg${i}`), '--json']), `compete ${g}`);
      if (evalOn === 'all') ok(await runCli(['index', comp, ...modelArgs, '--store', a, '--json']), `index ${a}`);
      out.push({ search: sr, eval: ok(await runCli(['eval', '--store', a, '--labels', labels, '--json']), `eval ${a}`) });
    }
    return out;
  })();
  const [f, pgs] = await Promise.all([folder, pg]);
  const read = (name: string) => JSON.parse(fs.readFileSync(sub(name), 'utf8')) as Record<string, string[]>;
  const queries = fs.readdirSync(path.join(comp, 'query')).length;
  assert.equal(topIds(f.search).length, queries + qid.length);
  assert.ok(topIds(f.search).every(([, hits]: [string, string[]]) => hits.length === Math.min(10, fs.readdirSync(gallery).length)));
  // compete from the folder store = plain compete with the same model.
  if (o.folderCompete) assert.deepEqual(read('folder'), read('plain'));
  assert.equal(Object.keys(read('plain')).length, queries);
  const fe = JSON.parse(f.eval.stdout);
  assert.ok(fe.queries_scored > 0);
  pgStores.forEach(({ loc: s, searchOnly }, i) => {
    assert.deepEqual(topIds(pgs[i].search), topIds(f.search), `${s}: search top-10 differs from the folder store`);
    if (searchOnly) return;
    assert.deepEqual(read(`pg${i}`), read('plain'), `${s}: compete submission differs`);
    const pe = JSON.parse(pgs[i].eval!.stdout);
    assert.equal(pe.queries_scored, fe.queries_scored);
    for (const [m, v] of Object.entries(fe.mean as Record<string, number>)) assert.ok(Math.abs(pe.mean[m] - v) < 1e-6, `${s}: eval ${m} ${pe.mean[m]} vs ${v}`);
  });
  return { lkx, search: topIds(f.search) };
}

test(`CLI, tiny model: index, search, compete, eval, dedup and serve on pglite: (and index, search, compete, eval on postgres:// on ${wireKind()}) equal the folder store`, async () => {
  const comp = path.join(dir, 'comp-tiny');
  const truth = await writeCompetition(comp, 6, 2);
  const labels = path.join(dir, 'comp-tiny-labels.csv');
  // eval runs on the gallery index (two images per class).
  const rows = Object.values(truth).flatMap((gs, c) => gs.map((g) => `${g},c${c}`));
  fs.writeFileSync(labels, 'path,label\n' + rows.join('\n') + '\n');
  const model = ['--model', writeTinyCnn(dir), ...TINY_FLAGS];
  const pg = `pglite:${path.join(dir, 'comp-db')}`;
  const server = await wireServer('pg_folder_tiny');
  let ref: Awaited<ReturnType<typeof cliSameAsFolder>>;
  try {
    ref = await cliSameAsFolder(comp, model, labels, [{ loc: pg }, { loc: server.url }], { evalOn: 'gallery', folderCompete: true });
  } finally {
    await server.stop();
  }
  const g = `${pg}?index=gallery`;
  // dedup --store: the folder store's groups.
  const df = await withStore(ref.lkx, {}, (s) => findDuplicates(s, { threshold: 'auto', neighbours: 10 }));
  assert.equal(df.items, 12);
  assert.deepEqual(JSON.parse(ok(await runCli(['dedup', '--store', g, '--threshold', 'auto', '--json']), 'dedup pglite').stdout), JSON.parse(JSON.stringify(df)));
  // serve --store: a real loopback server answers a search by id and by uploaded image as the folder store's search did.
  const srv = await startServeProc(['--store', g]);
  try {
    const url = srv.url;
    const want = new Map(ref.search);
    const qid = [...want.keys()].find((q) => q.startsWith('g'))!;
    const byId = await (await fetch(`${url}/search?id=${encodeURIComponent(qid)}&k=10`)).json();
    assert.deepEqual(byId.results.map((h: { id: string }) => h.id), want.get(qid));
    const q = fs.readdirSync(path.join(comp, 'query')).sort()[0];
    const byImage = await (await fetch(`${url}/search?k=10`, { method: 'POST', headers: { 'content-type': 'image/jpeg' }, body: new Uint8Array(fs.readFileSync(path.join(comp, 'query', q))) })).json();
    assert.deepEqual(byImage.results.map((h: { id: string }) => h.id), want.get(q));
  } finally {
    await srv.stop();
  }
  // compete --store with a store of another folder: one line naming both and the fix.
  const elsewhere = path.join(dir, 'elsewhere');
  const wrong = await runCli(['compete', elsewhere, '--store', g, '--out', path.join(dir, 'wrong.json')]);
  assert.equal(wrong.status, 1);
  assert.equal(wrong.stderr.trim().split('\n').length, 1, wrong.stderr);
  assert.ok(wrong.stderr.includes(`indexes ${path.join(comp, 'gallery')}, not ${path.join(elsewhere, 'gallery')}; index the gallery first: lookalike index ${path.join(elsewhere, 'gallery')} --store ${g}`), wrong.stderr);
  assert.ok(!fs.existsSync(path.join(dir, 'wrong.json')));
  // tune takes the same --store locations.
  const head = path.join(dir, 'pg-head.onnx');
  ok(await runCli(['tune', '--store', g, '--labels', labels, '--epochs', '2', '--out', head, '--json']), 'tune');
  assert.ok(fs.statSync(head).size > 0);
  // Re-running the index on a changed folder upserts by content and deletes what disappeared.
  const gone = Object.values(truth)[0][0];
  fs.rmSync(path.join(comp, 'gallery', gone));
  const again = JSON.parse(ok(await runCli(['index', path.join(comp, 'gallery'), ...model, '--store', g, '--json']), 'index again').stdout);
  assert.deepEqual([again.images, again.added, again.removed, again.unchanged], [11, 0, 1, 11]);
  assert.deepEqual(again.removed_ids, [gone]);
});

const cufs = path.join(SHARED, 'datasets/cufs-sketch');
const mobilenet = path.join(SHARED, 'models/mobilenet-v3-small-embedder');
test(`CLI, shared model on a shared dataset (cufs-sketch test/, mobilenet-v3-small): postgres:// on ${wireKind()} equals the folder store`, { skip: fs.existsSync(cufs) && fs.existsSync(mobilenet) ? false : `${cufs} or ${mobilenet} is absent` }, async () => {
  const labels = path.join(dir, 'cufs-labels.csv');
  const rows = fs.readFileSync(path.join(cufs, 'labels.csv'), 'utf8').trim().split('\n').slice(1).map((l) => l.split(',')).filter(([p]) => p.startsWith('test/'));
  assert.equal(rows.length, 176);
  fs.writeFileSync(labels, 'path,label\n' + rows.map(([p, l]) => `${p.slice('test/'.length)},${l}`).join('\n') + '\n');
  const server = await wireServer('pg_folder_cufs');
  try {
    await cliSameAsFolder(path.join(cufs, 'test'), ['--model', mobilenet], labels, [{ loc: server.url }], { evalOn: 'all', folderCompete: false });
  } finally {
    await server.stop();
  }
});
