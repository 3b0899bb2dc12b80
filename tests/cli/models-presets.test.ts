/** The preset table, the model search path (LOOKALIKE_MODELS), and graphs fed at their own fixed input shape. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { writeCompetition } from '../../src/data/synthetic.ts';
import { tinyCnn } from '../../src/models/tiny.ts';
import { PRESETS } from '../../src/models/presets.ts';
import { loadBackbone } from '../../src/models/load.ts';
import { embedWithBackbone } from '../../src/embed/pipeline.ts';
import { config } from '../../src/util/config.ts';
import { cli, tmpDir, SHARED } from '../helpers/tmp.ts';

/** A Hugging Face-layout folder holding the tiny CNN at 32 px, like the ../shared/models folders. */
function writeHfCnn(dir: string, seed = 1): string {
  fs.mkdirSync(path.join(dir, 'onnx'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ model_type: 'mobilenet_v2', hidden_size: 16 }));
  fs.writeFileSync(path.join(dir, 'preprocessor_config.json'), JSON.stringify({ do_resize: true, size: { height: 32, width: 32 }, resample: 2, do_center_crop: false, rescale_factor: 1 / 255, image_mean: [0.5, 0.5, 0.5], image_std: [0.5, 0.5, 0.5] }));
  fs.writeFileSync(path.join(dir, 'onnx', 'model.onnx'), tinyCnn({ seed }));
  return dir;
}

test('every preset states family, input, embedding size, licence and weights source', () => {
  for (const p of PRESETS) {
    assert.ok(p.family && p.input && p.licence && p.weights && p.dim > 0, p.name);
  }
  const local = PRESETS.filter((p) => p.source.kind === 'local').map((p) => p.name);
  assert.deepEqual(local, ['mobilenet-v2-imagenet', 'mobilenet-v1-embedder', 'mobilenet-v3-small-embedder']);
});

test('a preset on a temporary LOOKALIKE_MODELS: models list marks it, compete by name equals compete by folder', async () => {
  const dir = tmpDir();
  const first = path.join(dir, 'first');
  const second = path.join(dir, 'second');
  writeHfCnn(path.join(second, 'mobilenet-v2-imagenet'), 1);
  // A folder of the same name earlier on the path wins; an empty search path entry is ignored.
  writeHfCnn(path.join(first, 'mobilenet-v2-imagenet'), 7);
  const comp = path.join(dir, 'comp');
  await writeCompetition(comp, 4, 2, 48);
  const env = { LOOKALIKE_MODELS: ['', first, second].join(path.delimiter), LOOKALIKE_CACHE: path.join(dir, 'cache') };

  const list = cli(['models', 'list', '--json'], env);
  assert.equal(list.status, 0, list.stderr);
  const rows = JSON.parse(list.stdout) as { name: string; available: boolean; location?: string; source: string; licence: string }[];
  const row = rows.find((r) => r.name === 'mobilenet-v2-imagenet')!;
  assert.equal(row.available, true);
  assert.equal(row.location, path.join(first, 'mobilenet-v2-imagenet'));
  assert.equal(row.source, 'path:mobilenet-v2-imagenet');
  assert.equal(rows.find((r) => r.name === 'mobilenet-v1-embedder')!.available, false);

  const byName = path.join(dir, 'by-name.json');
  const byFolder = path.join(dir, 'by-folder.json');
  const a = cli(['compete', comp, '--model', 'mobilenet-v2-imagenet', '-k', '3', '--out', byName, '--json'], env);
  assert.equal(a.status, 0, a.stderr);
  const b = cli(['compete', comp, '--model', path.join(first, 'mobilenet-v2-imagenet'), '-k', '3', '--out', byFolder, '--json'], env);
  assert.equal(b.status, 0, b.stderr);
  assert.equal(fs.readFileSync(byName, 'utf8'), fs.readFileSync(byFolder, 'utf8'));

  // In process: any folder name on the path resolves (not only presets), and the first folder wins.
  const saved = config.modelsPath;
  config.modelsPath = [first, second];
  try {
    fs.renameSync(path.join(second, 'mobilenet-v2-imagenet'), path.join(second, 'my-encoder'));
    const mine = await loadBackbone('my-encoder');
    const direct = await loadBackbone(path.join(second, 'my-encoder'));
    const preset = await loadBackbone('mobilenet-v2-imagenet');
    assert.equal(mine.fingerprint, direct.fingerprint);
    assert.notEqual(mine.fingerprint, preset.fingerprint);
    assert.equal(mine.name, 'my-encoder');
    await Promise.all([mine.dispose(), direct.dispose(), preset.dispose()]);
  } finally {
    config.modelsPath = saved;
  }
});

test('a search-path preset that is nowhere: the error names the folders looked in and how to get the files; info and fetch say no export exists', () => {
  const dir = tmpDir();
  const env = { LOOKALIKE_MODELS: path.join(dir, 'models'), LOOKALIKE_CACHE: path.join(dir, 'cache') };
  const r = cli(['index', dir, '--model', 'mobilenet-v1-embedder', '--out', path.join(dir, 'x.lkx')], env);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /mobilenet-v1-embedder: not found on the model search path/);
  assert.ok(r.stderr.includes(path.join(dir, 'models', 'mobilenet-v1-embedder')), r.stderr);
  assert.ok(r.stderr.includes(path.join(dir, 'cache', 'models', 'mobilenet-v1-embedder')), r.stderr);
  assert.match(r.stderr, /LOOKALIKE_MODELS/);
  assert.match(r.stderr, /no public ONNX export/);
  const info = cli(['models', 'info', 'mobilenet-v1-embedder'], env);
  assert.equal(info.status, 0, info.stderr);
  assert.match(info.stdout, /fetch: +none: no public ONNX export/);
  assert.match(info.stdout, /status: +not found on the model search path/);
  const fetch = cli(['models', 'fetch', 'mobilenet-v1-embedder'], env);
  assert.equal(fetch.status, 1);
  assert.match(fetch.stderr, /nothing to fetch; no public ONNX export/);
});

test('a bare .onnx with a fixed input is fed at its size, layout and channel count with no flags', async () => {
  const dir = tmpDir();
  const comp = path.join(dir, 'comp');
  await writeCompetition(comp, 4, 2, 64);
  const nchw = path.join(dir, 'nchw.onnx');
  const nhwc = path.join(dir, 'nhwc.onnx');
  const grey = path.join(dir, 'grey.onnx');
  fs.writeFileSync(nchw, tinyCnn({ size: 40, seed: 3 }));
  fs.writeFileSync(nhwc, tinyCnn({ size: 40, seed: 3, nhwc: true }));
  fs.writeFileSync(grey, tinyCnn({ size: 40, seed: 3, inChannels: 1 }));
  const b = await loadBackbone(nhwc);
  assert.equal(b.spec.layout, 'nhwc');
  assert.deepEqual(b.spec.crop, { height: 40, width: 40 });
  assert.deepEqual(b.spec.resize, { mode: 'shortest-edge', shortestEdge: 45 });
  await b.dispose();
  const g = await loadBackbone(grey);
  assert.equal(g.spec.channels, 1);
  await g.dispose();

  // compete with no size flags (it failed before with "Got invalid dimensions for input").
  const out = path.join(dir, 'nchw.json');
  const r = cli(['compete', comp, '--model', nchw, '-k', '3', '--out', out, '--json']);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(Object.keys(JSON.parse(fs.readFileSync(out, 'utf8'))).length, 4);

  // In process: the channels-last graph with the same weights gives the same embeddings; the flags
  // that spell out the same preprocessing too; a greyscale graph runs; flags still win.
  const items = fs.readdirSync(path.join(comp, 'gallery')).map((f) => ({ id: f, source: path.join(comp, 'gallery', f) }));
  const embed = async (model: string, overrides = {}) => {
    const bb = await loadBackbone(model, { overrides });
    try {
      return await embedWithBackbone(bb, items);
    } finally {
      await bb.dispose();
    }
  };
  const plain = await embed(nchw);
  const close = (x: Float32Array, y: Float32Array) => assert.ok(x.every((v, i) => Math.abs(v - y[i]) < 1e-5));
  close((await embed(nhwc)).vectors, plain.vectors);
  close((await embed(nchw, { resize: { mode: 'shortest-edge', shortestEdge: 45 }, crop: { height: 40, width: 40 } })).vectors, plain.vectors);
  assert.equal((await embed(grey)).ids.length, items.length);
  await assert.rejects(embed(nchw, { resize: { mode: 'fixed', height: 50, width: 50 }, crop: null }), /dimensions/i);
});

const sharedModels = path.join(SHARED, 'models');
const cufs = path.join(SHARED, 'datasets/cufs-sketch/test');
test(
  'LOOKALIKE_MODELS=../shared/models: compete --model mobilenet-v2-imagenet (no other flags) equals the folder itself',
  { skip: !(fs.existsSync(path.join(sharedModels, 'mobilenet-v2-imagenet')) && fs.existsSync(cufs)) && 'no ../shared/models or cufs-sketch' },
  () => {
    const dir = tmpDir();
    const env = { LOOKALIKE_MODELS: sharedModels };
    const byName = path.join(dir, 'name.json');
    const byFolder = path.join(dir, 'folder.json');
    const a = cli(['compete', cufs, '--model', 'mobilenet-v2-imagenet', '--out', byName, '--json'], env);
    assert.equal(a.status, 0, a.stderr);
    const b = cli(['compete', cufs, '--model', path.join(sharedModels, 'mobilenet-v2-imagenet'), '--out', byFolder, '--json'], env);
    assert.equal(b.status, 0, b.stderr);
    const sub = fs.readFileSync(byName, 'utf8');
    assert.equal(sub, fs.readFileSync(byFolder, 'utf8'));
    assert.equal(Object.keys(JSON.parse(sub)).length, 88);
  },
);
