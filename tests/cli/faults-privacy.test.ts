/**
 * Fault suite, privacy and bounded resources: no telemetry store and no stray temp files after a
 * run; the network only on explicit request; -k clamped to the gallery and absurd values refused.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { writeClassFolders, writeCompetition } from '../../src/data/synthetic.ts';
import { config } from '../../src/util/config.ts';
import { loadBackbone } from '../../src/models/load.ts';
import { loadTextEncoder } from '../../src/models/text-encoder.ts';
import { explicitHubTarget, hubCacheDir, hubTarget } from '../../src/models/hub.ts';
import { writeClipFolder } from '../fixtures/hf.ts';
import { openModelForIndex } from '../../src/models/open-model.ts';
import { loadIndex } from '../../src/index/whole-index.ts';
import { searchByIds } from '../../src/index/search.ts';
import { spawnSync } from 'node:child_process';
import { cli, tmpDir, writeTinyCnn, ROOT, TINY_FLAGS } from '../helpers/tmp.ts';

/** Every path under dir (relative), folders with a trailing slash. */
function tree(dir: string): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const e of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      out.push(e.isDirectory() ? `${r}/` : r);
      if (e.isDirectory()) walk(r);
    }
  };
  walk('');
  return out.sort();
}

const shared = (async () => {
  const dir = tmpDir();
  const gallery = path.join(dir, 'gallery');
  await writeClassFolders(gallery, 3, 3, 0);
  const model = writeTinyCnn(dir);
  const index = path.join(dir, 'g.lkx');
  const r = cli(['index', gallery, '--model', model, ...TINY_FLAGS, '--out', index]);
  assert.equal(r.status, 0, r.stderr);
  return { dir, gallery, model, index };
})();

test('a search leaves nothing behind: no ONNX Runtime telemetry store in HOME, no mat-debug log or stray file in TMPDIR', async () => {
  const { dir, gallery, index } = await shared;
  const home = path.join(dir, 'home');
  const tmp = path.join(dir, 'tmp');
  fs.mkdirSync(home);
  fs.mkdirSync(tmp);
  // The child gets no ORT_DISABLE_TELEMETRY (this test process has it, from importing the library): lookalike must turn telemetry off itself.
  const env: NodeJS.ProcessEnv = { ...process.env, HOME: home, TMPDIR: tmp };
  delete env.ORT_DISABLE_TELEMETRY;
  delete env.LOOKALIKE_CACHE;
  const s = spawnSync(process.execPath, [path.join(ROOT, 'bin/lookalike.js'), 'search', index, path.join(gallery, 'class00/000.jpg'), '-k', '2', '--json'], { encoding: 'utf8', env });
  const r = { status: s.status, stdout: s.stdout, stderr: s.stderr };
  assert.equal(r.status, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout).results[0].hits.length, 2);
  assert.deepEqual(tree(home), [], 'HOME stays empty (no .cache/Microsoft/DeveloperTools/.onnxruntime)');
  // tsx (the TypeScript loader of bin/lookalike.js) keeps its compile cache in TMPDIR/tsx-UID: a reused cache, not a per-run file.
  const stray = tree(tmp).filter((p) => !/^tsx-\d+\//.test(p));
  assert.deepEqual(stray, [], 'no mat-debug-PID.log, .ses or other file in TMPDIR');
});

test('the library turns ORT telemetry off when imported (unless the user set ORT_DISABLE_TELEMETRY)', async () => {
  await import('../../src/models/ort.ts');
  assert.equal(process.env.ORT_DISABLE_TELEMETRY, '1');
});

test('the network only on request: a missing owner/name path is "no such file or folder"; a manifest\'s model is never downloaded', async () => {
  const saved = { cacheDir: config.cacheDir, offline: config.offline };
  config.cacheDir = tmpDir();
  config.offline = false; // online: a download would be attempted if the code chose to
  try {
    const t0 = Date.now();
    await assert.rejects(loadBackbone('someowner/some-model'), /^Error: someowner\/some-model: no such file or folder .*hf:owner\/name/);
    await assert.rejects(loadTextEncoder('someowner/some-model'), /someowner\/some-model: no such file or folder/);
    assert.ok(Date.now() - t0 < 3000, 'no network round trip');
    assert.equal(explicitHubTarget('someowner/some-model'), undefined);
    assert.equal(explicitHubTarget('hf:someowner/some-model')?.repo, 'someowner/some-model');
    assert.equal(explicitHubTarget('clip-vit-b32')?.repo, 'Xenova/clip-vit-base-patch32');
    assert.equal(hubTarget('hf:a/b')?.repo, 'a/b');
    // a bare owner/name that `models fetch` already cached loads from the cache (no network either way)
    writeClipFolder(hubCacheDir('someowner/cached-model'));
    const cached = await loadBackbone('someowner/cached-model');
    assert.equal(cached.spec.output, 'image_embeds');
    await cached.dispose();
    fs.rmSync(path.join(config.cacheDir, 'hub'), { recursive: true });
    // An index whose manifest names a preset that is not cached: an error, not a download.
    const { index } = await shared;
    const m = (await loadIndex(index)).manifest;
    await assert.rejects(openModelForIndex({ ...m, model: { ...m.model, name: 'clip-vit-b32' } }, {}, index), /clip-vit-b32: not in the model cache .*downloads only on request: run "lookalike models fetch clip-vit-b32"/);
    await assert.rejects(loadTextEncoder('clip-vit-b32', { download: false }), /downloads only on request/);
    assert.deepEqual(tree(config.cacheDir), [], 'nothing fetched into the cache');
  } finally {
    Object.assign(config, saved);
  }
});

test('-k is clamped to the gallery size; absurd values are refused naming -k', async () => {
  const { dir, index } = await shared;
  // in the library: the same limit as the CLI and the server (k = 1e9 is refused naming k), and
  // k = MAX_K over 9 items gives 8 hits (self excluded), allocating 9 slots per query
  const ix = await loadIndex(index);
  await assert.rejects(searchByIds(ix, ['class00/000.jpg'], 1e9, true), /^OptionError: k 1000000000: expected an integer from 1 to 1000000/);
  const res = await searchByIds(ix, ['class00/000.jpg'], 1_000_000, true);
  assert.equal(res[0].hits.length, 8);
  const comp = path.join(dir, 'comp');
  await writeCompetition(comp, 2, 2);
  for (const args of [
    ['search', index, '--id', 'class00/000.jpg', '-k', '1000000000'],
    ['compete', comp, '--model', path.join(dir, 'missing.onnx'), '-k', '1e9', '--out', path.join(dir, 's.json')],
  ]) {
    const r = cli(args);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /^error: -k (1000000000|1e9): expected an integer from 1 to 1000000/);
  }
  const big = cli(['search', index, '--id', 'class00/000.jpg', '-k', '1000000', '--exclude-self', '--json']);
  assert.equal(big.status, 0, big.stderr);
  assert.equal(JSON.parse(big.stdout).results[0].hits.length, 8);
  assert.ok(!fs.existsSync(path.join(dir, 's.json')));
});
