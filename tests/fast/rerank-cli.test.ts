/** --rerank through the shells: search, compete and eval --oxford call the one search path with it; bad values name the flag. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { writeClassFolders, writeCompetition } from '../../src/data/synthetic.ts';
import { openIndex } from '../../src/api.ts';
import { runCli } from '../helpers/cli.ts';
import { tmpDir, writeTinyCnn, TINY_FLAGS } from '../helpers/tmp.ts';

test('search --rerank gives the library\'s re-ranked hits; eval --oxford and compete take it; a bad value names --rerank', async () => {
  const dir = tmpDir();
  const gallery = path.join(dir, 'gallery');
  await writeClassFolders(gallery, 3, 4, 0);
  const model = writeTinyCnn(dir);
  const out = path.join(dir, 'g.lkx');
  const idx = await runCli(['index', gallery, '--model', model, ...TINY_FLAGS, '--out', out]);
  assert.equal(idx.status, 0, idx.stderr);
  const id = 'class01/000.jpg';
  const index = await openIndex(out);
  let want: { hits: { id: string; score: number }[] }[];
  let plain: { hits: { id: string; score: number }[] };
  try {
    want = [await index.search({ id }, { k: 6, excludeSelf: true, rerank: 'dba:n=2+aqe:n=2' }), await index.search({ id }, { k: 6, excludeSelf: true, rerank: 'kr:k1=3,k2=2' })];
    plain = await index.search({ id }, { k: 6, excludeSelf: true });
  } finally {
    await index.close();
  }
  for (const [i, r] of ['aqe:n=2+dba:n=2', 'kr:k1=3,k2=2'].entries()) {
    const s = await runCli(['search', out, '--id', id, '-k', '6', '--exclude-self', '--rerank', r, '--json']);
    assert.equal(s.status, 0, s.stderr);
    assert.deepEqual(JSON.parse(s.stdout).results[0].hits, want[i].hits, r);
  }
  // kr scores are 1 - its distance, not cosines: a dropped option would show.
  assert.notDeepEqual(want[1].hits.map((h) => h.score), plain.hits.map((h) => h.score));

  const bad = await runCli(['search', out, '--id', id, '--rerank', 'aqe:n=0']);
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /--rerank aqe:n=0: expected an integer from 1 to 100/);

  // eval --oxford: a truth folder over the generated gallery, one query per class.
  const gt = path.join(dir, 'gt');
  fs.mkdirSync(gt);
  for (const c of ['00', '01', '02']) {
    fs.writeFileSync(path.join(gt, `c${c}_1_query.txt`), `oxc1_000 0 0 8 8\n`.replace('000', `q${c}`));
  }
  // Oxford names are base names: give each class's images unique names first.
  const renamed = path.join(dir, 'renamed');
  fs.mkdirSync(renamed);
  for (const c of ['00', '01', '02']) {
    for (const f of fs.readdirSync(path.join(gallery, `class${c}`))) fs.copyFileSync(path.join(gallery, `class${c}`, f), path.join(renamed, `${c === '00' ? 'a' : c === '01' ? 'b' : 'c'}${f}`));
    fs.copyFileSync(path.join(gallery, `class${c}`, '000.jpg'), path.join(renamed, `q${c}.jpg`));
    const letter = c === '00' ? 'a' : c === '01' ? 'b' : 'c';
    fs.writeFileSync(path.join(gt, `c${c}_1_good.txt`), fs.readdirSync(path.join(gallery, `class${c}`)).map((f) => `${letter}${f.replace(/\.jpg$/, '')}`).join('\n') + '\n');
  }
  const ox = path.join(dir, 'ox.lkx');
  assert.equal((await runCli(['index', renamed, '--model', model, ...TINY_FLAGS, '--out', ox])).status, 0);
  const maps: number[] = [];
  // A degenerate k-reciprocal setting (k1 = 1, Jaccard only) leaves most items tied: it must show in the score.
  for (const r of [[], ['--rerank', 'kr:k1=1,k2=1,lambda=0']]) {
    const e = await runCli(['eval', ox, '--oxford', gt, '--json', ...r]);
    assert.equal(e.status, 0, e.stderr);
    maps.push(JSON.parse(e.stdout).mean.oxford_map);
  }
  assert.ok(maps.every((m) => m > 0 && m <= 1), String(maps));
  assert.notEqual(maps[0], maps[1], 'eval --oxford applies --rerank');

  // compete --rerank writes k names per query.
  const comp = path.join(dir, 'comp');
  await writeCompetition(comp, 6, 2);
  const sub = path.join(dir, 'sub.json');
  const c = await runCli(['compete', comp, '--model', model, ...TINY_FLAGS, '-k', '3', '--rerank', 'dba+aqe', '--out', sub]);
  assert.equal(c.status, 0, c.stderr);
  assert.ok(Object.values(JSON.parse(fs.readFileSync(sub, 'utf8'))).every((v) => (v as string[]).length === 3));
});

test('serve --rerank: every search is re-ranked (the library\'s hits), /info says so, a bad value fails at start', async () => {
  const { startServer } = await import('../../src/serve/app.ts');
  const dir = tmpDir();
  const gallery = path.join(dir, 'gallery');
  await writeClassFolders(gallery, 3, 4, 0);
  const out = path.join(dir, 'g.lkx');
  assert.equal((await runCli(['index', gallery, '--model', writeTinyCnn(dir), ...TINY_FLAGS, '--out', out])).status, 0);
  const rerank = 'dba:n=2+kr:k1=3,k2=2';
  const index = await openIndex(out);
  const want = await index.search({ id: 'class02/001.jpg' }, { k: 5, excludeSelf: true, rerank }).finally(() => index.close());
  await assert.rejects(startServer({ index: out, port: 0, rerank: 'qe', log: () => undefined, watch: false }), /rerank qe: unknown method/);
  const server = await startServer({ index: out, port: 0, rerank, log: () => undefined, watch: false });
  try {
    const info = (await (await fetch(`${server.url}/info`)).json()) as { search: { rerank: string } };
    assert.equal(info.search.rerank, rerank);
    const r = (await (await fetch(`${server.url}/search?id=${encodeURIComponent('class02/001.jpg')}&k=5&exclude_self=1`)).json()) as { results: { id: string; score: number }[] };
    assert.deepEqual(r.results.map((h) => h.id), want.hits.map((h) => h.id));
    r.results.forEach((h, i) => assert.ok(Math.abs(h.score - want.hits[i].score) < 1e-6));
  } finally {
    await server.close();
  }
});
