/**
 * Every command in the README's "Commands" block, run as written (placeholders filled with a
 * generated gallery, a tiny CLIP-layout model and a competition folder) through the CLI, and
 * the same job through the library: the results must be identical. A README command this file
 * does not run must be listed in ELSEWHERE with the test that runs it, so a new README line
 * cannot go untested.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import * as api from '../../src/api.ts';
import { writeClassFolders, writeCompetition } from '../../src/data/synthetic.ts';
import { writeClipFolder } from '../fixtures/hf.ts';
import { runCli } from '../helpers/cli.ts';
import { ROOT, SHARED, tmpDir } from '../helpers/tmp.ts';

const README = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');

/** The `npx lookalike ...` lines of the README's Commands block, split into argument lists (shell quotes honoured). */
function readmeCommands(): string[][] {
  const block = README.split('## Commands')[1].split('```bash')[1].split('```')[0];
  const out: string[][] = [];
  for (const line of block.split('\n')) {
    const cmd = line.replace(/\s+#.*$/, '').trim();
    for (const part of cmd.split('&&').map((s) => s.trim())) {
      if (!part.startsWith('npx lookalike ')) continue;
      out.push([...part.slice('npx lookalike '.length).matchAll(/"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2]));
    }
  }
  return out;
}

/** README commands run by another test file (too slow or needing a server here), with where. */
const ELSEWHERE: Record<string, string> = {
  serve: 'tests/fast/serve.test.ts and tests/slow/explorer-page.test.ts (a real server on loopback, a real browser)',
  experiment: 'tests/cli/experiments.test.ts (models x datasets x modes, resumed runs)',
  map: 'tests/fast/map.test.ts (html, svg and png pictures, the cache beside the index)',
  report: 'tests/slow/report.test.ts (HTML report, charts, in a real browser)',
  advise: 'tests/cli/advise.test.ts (ranks backbones, never recommends worse than frozen)',
};

const dir = tmpDir('lookalike-readme-');
const cwd = path.join(dir, 'work');

/** The README's placeholders and relative paths, made real. */
async function fixtures() {
  fs.mkdirSync(cwd, { recursive: true });
  const gallery = path.join(cwd, 'gallery');
  await writeClassFolders(gallery, 4, 3, 0, 48);
  // path,label (no split column: every image is a query and a gallery item, and tunes).
  const rows = fs.readFileSync(path.join(gallery, 'labels.csv'), 'utf8').trim().split('\n').map((l) => l.split(',').slice(0, 2).join(','));
  fs.writeFileSync(path.join(cwd, 'labels.csv'), rows.join('\n') + '\n');
  fs.rmSync(path.join(gallery, 'labels.csv'));
  fs.copyFileSync(path.join(gallery, 'class01/002.jpg'), path.join(cwd, 'query.jpg'));
  fs.cpSync(path.join(gallery, 'class02'), path.join(cwd, 'queries'), { recursive: true });
  const truth = await writeCompetition(path.join(cwd, 'comp'), 4, 2, 48);
  fs.writeFileSync(path.join(cwd, 'truth.json'), JSON.stringify(truth));
  const model = writeClipFolder(path.join(dir, 'clip')).dir;
  fs.mkdirSync(path.join(cwd, 'my-labelled-sample'));
  return { gallery, model };
}

/** The README's argument list with its placeholders replaced (README id shoes/001.jpg -> an indexed id). */
function fill(args: string[], model: string): string[] {
  return args.map((a) => (a === 'MODEL' ? model : a === 'shoes/001.jpg' ? 'class00/001.jpg' : a));
}

/** Run a README command through the in-process CLI from the README's folder (relative paths as written). */
async function cliRun(args: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  const before = process.cwd();
  process.chdir(cwd);
  try {
    return await runCli(args);
  } finally {
    process.chdir(before);
  }
}

const at = (f: string) => path.join(cwd, f);

/** Run a library call from the README's folder, with the paths as the README writes them. */
async function inCwd<T>(fn: () => Promise<T>): Promise<T> {
  const before = process.cwd();
  process.chdir(cwd);
  try {
    return await fn();
  } finally {
    process.chdir(before);
  }
}

async function sameIndex(a: string, b: string): Promise<void> {
  const [x, y] = [await api.openIndex(a), await api.openIndex(b)];
  try {
    const ids = await x.ids();
    assert.deepEqual(await y.ids(), ids);
    assert.deepEqual(await y.vectors(ids), await x.vectors(ids));
    assert.equal(y.meta.model.fingerprint, x.meta.model.fingerprint);
  } finally {
    await x.close();
    await y.close();
  }
}

test('README commands: the CLI as written and the library give identical results', async () => {
  const { gallery, model } = await fixtures();
  const commands = readmeCommands();
  assert.ok(commands.length >= 15, `found ${commands.length} README commands`);
  const ran = new Set<string>();
  const ok = async (args: string[]) => {
    const r = await cliRun(args);
    assert.equal(r.status, 0, `lookalike ${args.join(' ')}: ${r.stderr}`);
    ran.add(args.join(' '));
    return r;
  };
  const find = (pred: (a: string[]) => boolean) => {
    const c = commands.find(pred);
    assert.ok(c, 'README command missing');
    return fill(c, model);
  };
  const has = (a: string[], ...words: string[]) => words.every((w) => a.includes(w));

  // index (folder store), then the library into a second index: same ids, vectors and model.
  const index = find((a) => a[0] === 'index' && has(a, '--out'));
  await ok(index);
  await api.indexFolder(gallery, at('lib.lkx'), { model });
  await sameIndex(at('gallery.lkx'), at('lib.lkx'));
  // The README names the same index big.lkx and photos.lkx in its ANN and dedup examples.
  for (const alias of ['big.lkx', 'photos.lkx']) fs.cpSync(at('gallery.lkx'), at(alias), { recursive: true });

  // search by a file
  const byFile = find((a) => a[0] === 'search' && a.includes('./query.jpg'));
  const fileJson = JSON.parse((await ok([...byFile, '--json'])).stdout).results;
  const lib = await api.search(at('gallery.lkx'), { files: [at('query.jpg')] }, { k: 10 });
  assert.deepEqual(fileJson, lib.results);
  assert.equal(lib.results[0].hits[0].id, 'class01/002.jpg');

  // search a folder, writing a submission
  const byFolder = find((a) => a[0] === 'search' && has(a, './queries/', '--submission'));
  await ok(byFolder);
  await api.search(at('gallery.lkx'), { files: [at('queries/')] }, { k: 10, submission: at('lib-sub.json') });
  assert.deepEqual(JSON.parse(fs.readFileSync(at('sub.json'), 'utf8')), JSON.parse(fs.readFileSync(at('lib-sub.json'), 'utf8')));

  // search by an indexed id, leaving itself out
  const byId = find((a) => a[0] === 'search' && has(a, '--id'));
  const idJson = JSON.parse((await ok(byId)).stdout).results[0];
  const ix = await api.openIndex(at('gallery.lkx'));
  try {
    const r = await ix.search({ id: 'class00/001.jpg' }, { k: 10, excludeSelf: true });
    assert.deepEqual(idJson.hits, r.hits);
    assert.ok(r.hits.every((h) => h.id !== 'class00/001.jpg'));
  } finally {
    await ix.close();
  }

  // filtered, grouped search; then a field set without re-embedding (same as the library's)
  const where = find((a) => a[0] === 'search' && has(a, '--where'));
  const whereJson = JSON.parse((await ok([...where, '--json'])).stdout).results[0].hits;
  const wx = await api.openIndex(at('gallery.lkx'));
  try {
    const r = await wx.search({ id: 'class00/001.jpg' }, { k: 10, filter: 'size < 50000', groupBy: 'label' });
    assert.deepEqual(whereJson, r.hits);
    assert.equal(new Set(r.hits.map((h) => h.id.split('/')[0])).size, r.hits.length);
  } finally {
    await wx.close();
  }
  const setFields = find((a) => a[0] === 'fields' && a[1] === 'set');
  fs.cpSync(at('gallery.lkx'), at('lib-fields.lkx'), { recursive: true });
  await ok(setFields);
  await api.updateFields(at('lib-fields.lkx'), { ids: ['class00/001.jpg'], set: ['price=49.5'] });
  const [fa, fb] = [await api.openIndex(at('gallery.lkx')), await api.openIndex(at('lib-fields.lkx'))];
  try {
    assert.deepEqual(await fa.items(['class00/001.jpg']), await fb.items(['class00/001.jpg']));
    assert.equal((await fa.items(['class00/001.jpg']))[0].fields.price, 49.5);
  } finally {
    await fa.close();
    await fb.close();
  }

  // approximate search with the graph forced on: same as the library with ann on
  const ann = find((a) => a[0] === 'search' && has(a, '--ann'));
  const annJson = JSON.parse((await ok([...ann, '--json'])).stdout).results;
  assert.deepEqual(annJson, (await api.search(at('big.lkx'), { files: [at('queries/')] }, { k: 10, ann: 'on', ef: 128 })).results);

  // text query through the model's text tower
  const text = find((a) => a[0] === 'search' && has(a, '--text'));
  const textJson = JSON.parse((await ok([...text, '--json'])).stdout).results[0];
  const tx = await api.openIndex(at('gallery.lkx'));
  try {
    assert.deepEqual(textJson.hits, (await tx.search({ text: 'a red dress' }, { k: 10 })).hits);
  } finally {
    await tx.close();
  }

  // compete, then its evaluation
  const compete = find((a) => a[0] === 'compete' && !a.includes('--head'));
  await ok(compete);
  await api.compete(at('comp'), { model, k: 10, out: at('lib-comp.json') });
  assert.deepEqual(JSON.parse(fs.readFileSync(at('sub.json'), 'utf8')), JSON.parse(fs.readFileSync(at('lib-comp.json'), 'utf8')));
  const evalSub = find((a) => a[0] === 'eval' && has(a, '--submission'));
  const subEval = JSON.parse((await ok([...evalSub, '--json'])).stdout);
  assert.deepEqual(subEval, (await inCwd(() => api.evaluate({ submission: 'sub.json', truth: 'truth.json' }))).json);

  // leave-one-out evaluation of the index
  const evalIndex = find((a) => a[0] === 'eval' && has(a, '--labels'));
  const looJson = JSON.parse((await ok([...evalIndex, '--json'])).stdout);
  const looLib = await inCwd(() => api.evaluate({ index: 'gallery.lkx', labels: 'labels.csv', ks: [1, 5, 10] }));
  assert.deepEqual(looJson, looLib.json);

  // dedup to a CSV
  const dedup = find((a) => a[0] === 'dedup');
  await ok(dedup);
  await api.dedup(at('photos.lkx'), { threshold: 'auto', out: at('lib-groups.csv') });
  assert.equal(fs.readFileSync(at('groups.csv'), 'utf8'), fs.readFileSync(at('lib-groups.csv'), 'utf8'));

  // tune a head, then compete with it: the same head file and the same submission
  const tune = find((a) => a[0] === 'tune');
  await ok(tune);
  await inCwd(() => api.tuneHead({ index: 'gallery.lkx', labels: 'labels.csv', out: 'lib-head.onnx', options: { loss: 'hybrid' } }));
  assert.deepEqual(fs.readFileSync(at('head.onnx')), fs.readFileSync(at('lib-head.onnx')));
  const competeHead = find((a) => a[0] === 'compete' && a.includes('--head'));
  await ok(competeHead);
  await api.compete(at('comp'), { model, load: { head: at('head.onnx') }, k: 10, out: at('lib-comp-head.json') });
  assert.deepEqual(JSON.parse(fs.readFileSync(at('sub.json'), 'utf8')), JSON.parse(fs.readFileSync(at('lib-comp-head.json'), 'utf8')));

  // models list
  const models = find((a) => a[0] === 'models');
  assert.deepEqual(JSON.parse((await ok([...models, '--json'])).stdout), JSON.parse(JSON.stringify(api.listModels())));

  // verify
  const verify = find((a) => a[0] === 'verify');
  const v = JSON.parse((await ok([...verify, '--json'])).stdout);
  assert.deepEqual(v, JSON.parse(JSON.stringify({ ok: true, ...(await inCwd(() => api.verifyIndex('gallery.lkx'))) })));

  // the same index in PGlite: same ids and vectors as the library's
  const pg = find((a) => a[0] === 'index' && has(a, '--store'));
  await ok(pg);
  await api.indexFolder(gallery, `pglite:${at('lib-db')}`, { model });
  await sameIndex('pglite:./db'.replace('./', `${cwd}/`), `pglite:${at('lib-db')}`);

  // demo, as written (the data and models at hand), against the library's runDemo
  const demo = find((a) => a[0] === 'demo');
  const d = JSON.parse((await ok([...demo, '--json', '--work', at('demo-cli')])).stdout);
  if (fs.existsSync(path.join(SHARED, 'datasets/ukbench56'))) {
    // The README's main job does real retrieval with the pretrained defaults on ../shared: it adds
    // ../shared/models to the model search path and prefers the ImageNet MobileNetV2.
    const imagenet = fs.existsSync(path.join(SHARED, 'models/mobilenet-v2-imagenet'));
    assert.equal(d.model, imagenet ? 'mobilenet-v2-imagenet' : 'mobilenet-v2');
    if (imagenet) assert.match(d.model_note, /shared\/models\/mobilenet-v2-imagenet/);
    assert.equal(d.images, 56);
    assert.ok(d.metrics['precision@1'] > 0.8, `ukbench56 precision@1 ${d.metrics['precision@1']}`);
    assert.equal(d.competition.model, 'face-mobileface');
    assert.equal(d.competition.queries, 88);
    assert.ok(d.competition.weighted_topk > 600, `cufs weighted top-k ${d.competition.weighted_topk}`);
    assert.ok(fs.existsSync(at('demo-cli/cufs-submission.json')));
  }
  const l = await api.runDemo({ work: at('demo-lib') });
  // Paths under each run's own work folder differ; what was measured may not.
  const measured = (r: typeof l) => ({ images: r.images, dim: r.dim, skipped: r.skipped, protocol: r.protocol, queries_scored: r.queries_scored, metrics: r.metrics, competition: r.competition && { queries: r.competition.queries, weighted_topk: r.competition.weighted_topk, hit1: r.competition.hit1 } });
  assert.deepEqual(measured(d), JSON.parse(JSON.stringify(measured(l))));

  // Every README command was run above or is named in ELSEWHERE.
  // (run as written, or as written plus --json / --work to read its results)
  const missed = commands.filter((c) => !(c[0] in ELSEWHERE) && ![...ran].some((r) => r === fill(c, model).join(' ') || r.startsWith(`${fill(c, model).join(' ')} --`)));
  assert.deepEqual(missed, []);
});
