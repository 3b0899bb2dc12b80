/**
 * What the library does that the CLI and the server build on: batched Index.search over mixed
 * queries (one ranking path, the same k/ef/minScore checks everywhere), Index.add / remove under
 * the writer lock, tuneHead with nothing but its inputs (every option defaulted from the one
 * schema), and OptionErrors that name options (the CLI renders them as flags).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import * as api from '../../src/api.ts';
import { TUNE_DEFAULTS, TUNE_OPTIONS } from '../../src/schema.ts';
import { LOSSES, LOSS_NAMES } from '../../src/tune/losses/index.ts';
import { MINERS } from '../../src/tune/miners.ts';
import { writeClassFolders } from '../../src/data/synthetic.ts';
import { errorLine } from '../../src/cli/main.ts';
import { tmpDir, writeTinyCnn } from '../helpers/tmp.ts';

const dir = tmpDir('lookalike-library-');
const gallery = path.join(dir, 'g');
const out = path.join(dir, 'g.lkx');

const built = (async () => {
  await writeClassFolders(gallery, 3, 4, 0, 48);
  const model = writeTinyCnn(dir);
  await api.indexFolder(gallery, out, { model: { model, resize: '32x32', crop: 'none' } });
  return model;
})();

test('Index.search takes a batch of ids, vectors and images: one result per query, in order, equal to one query at a time', async () => {
  await built;
  const index = await api.openIndex(out);
  try {
    const ids = await index.ids();
    const v = await index.vector(ids[4]);
    const broken = path.join(dir, 'broken.jpg');
    fs.writeFileSync(broken, 'not an image');
    const skipped: api.Skipped[] = [];
    const queries: api.Query[] = [{ id: ids[0] }, { vector: v }, { image: path.join(gallery, ids[7]) }, { image: broken }, { id: ids[9] }];
    const batch = await index.search(queries, { k: 4, excludeSelf: true, onSkip: (s) => skipped.push(s) });
    assert.equal(batch.length, queries.length);
    assert.equal(batch[3].hits.length, 0);
    assert.match(batch[3].skipped ?? '', /./);
    assert.deepEqual(skipped.map((s) => s.id), [broken]);
    // (the same ranking; scores agree to float rounding: a batch is one Gemm over all rows)
    for (const i of [0, 1, 2, 4]) {
      const one = (await index.search(queries[i], { k: 4, excludeSelf: true })).hits;
      assert.deepEqual(batch[i].hits.map((h) => h.id), one.map((h) => h.id), `query ${i}`);
      batch[i].hits.forEach((h, j) => assert.ok(Math.abs(h.score - one[j].score) < 1e-5, `query ${i} hit ${j}`));
    }
    // excludeSelf leaves out an id query's item and an image under the indexed folder, not a bare vector's
    assert.ok(!batch[0].hits.some((h) => h.id === ids[0]));
    assert.ok(!batch[2].hits.some((h) => h.id === ids[7]));
    assert.equal(batch[1].hits[0].id, ids[4]);
    // a single undecodable image is an error naming it
    await assert.rejects(index.search({ image: broken }), /broken\.jpg: /);
    // minScore drops hits below the cosine
    const floor = batch[1].hits[1].score;
    assert.ok((await index.search({ vector: v }, { k: 12, minScore: floor })).hits.every((h) => h.score >= floor));
  } finally {
    await index.close();
  }
});

test('k, ef and minScore have one check: the library, the CLI and the server refuse the same values', async () => {
  await built;
  const index = await api.openIndex(out);
  try {
    const q = { id: (await index.ids())[0] };
    await assert.rejects(index.search(q, { k: 0 }), (e) => api.isOptionError(e) && /^k 0: expected an integer from 1 to 1000000/.test((e as Error).message));
    await assert.rejects(index.search(q, { k: api.MAX_K + 1 }), /k 1000001: expected an integer from 1 to 1000000/);
    await assert.rejects(index.search(q, { ef: 0 }), /OptionError: ef 0: expected an integer from 1 to 1000/);
    await assert.rejects(index.search(q, { minScore: 2 }), /OptionError: minScore 2: expected a cosine from -1 to 1/);
    assert.equal((await index.search(q, { k: api.MAX_K })).hits.length, 12);
    // The same error, spelled as the CLI's flags.
    try {
      await index.search(q, { k: 0 });
    } catch (e) {
      assert.match(errorLine(e), /^-k 0: expected an integer from 1 to 1000000/);
    }
    try {
      await index.search(q, { minScore: 2 });
    } catch (e) {
      assert.match(errorLine(e), /^--min-score 2: /);
    }
  } finally {
    await index.close();
  }
});

test('Index.add embeds with the index model and writes under the writer lock; remove drops items; a second writer is refused', async () => {
  await built;
  const copy = path.join(dir, 'copy.lkx');
  fs.cpSync(out, copy, { recursive: true });
  const w = await api.openIndex(copy, { write: true });
  try {
    await assert.rejects(api.openIndex(copy, { write: true }), /lock|held|writ/i);
    const extra = path.join(dir, 'extra.jpg');
    fs.copyFileSync(path.join(gallery, (await w.ids())[2]), extra);
    const r = await w.add([{ id: 'new/extra.jpg', source: extra }, { id: 'new/bad.jpg', source: Buffer.from('nope') }]);
    assert.deepEqual(r.added, ['new/extra.jpg']);
    assert.equal(r.skipped.length, 1);
    assert.equal(await w.count(), 13);
    const hits = (await w.search({ id: 'new/extra.jpg' }, { k: 2 })).hits;
    assert.ok(Math.abs(hits[1].score - 1) < 1e-5, 'the added copy scores 1 against its original');
    await w.remove(['new/extra.jpg']);
    assert.equal(await w.count(), 12);
    await assert.rejects(w.addVectors([{ id: 'x', vector: new Float32Array(3) }]), /3 values, the index is 16-d/);
  } finally {
    await w.close();
  }
  const r = await api.openIndex(copy);
  assert.equal(await r.count(), 12);
  await r.close();
});

test('tuneHead needs only its inputs and out: every option comes from the one schema', async () => {
  await built;
  const labels = path.join(dir, 'labels.csv');
  const rows = fs.readFileSync(path.join(gallery, 'labels.csv'), 'utf8').trim().split('\n').map((l) => l.split(',').slice(0, 2).join(','));
  fs.writeFileSync(labels, rows.join('\n') + '\n');
  const head = path.join(dir, 'head.onnx');
  const r = await api.tuneHead({ index: out, labels, out: head, options: { epochs: 2 } });
  assert.ok(fs.existsSync(head));
  assert.equal(r.epochs.length, 2);
  assert.equal(r.outputDim, 16);
  // unknown and mistyped options are refused naming the option, with a did-you-mean
  await assert.rejects(api.tuneHead({ index: out, labels, out: head, options: { epoch: 2 } }), /unknown tune option "epoch" \(did you mean "epochs"\?\)/);
  await assert.rejects(api.tuneHead({ index: out, labels, out: head, options: { lr: 'fast' } }), /lr fast: not a number/);
  await assert.rejects(api.tuneHead({ index: out, labels, out: head, options: { loss: 'triplett' } }), /loss triplett: expected one of .*did you mean "triplet"/);
});

test('the tune schema: defaults once, every loss and miner parameter declared by its owner', () => {
  assert.deepEqual(LOSSES.map((l) => l.name), [...LOSS_NAMES]);
  const names = new Set(TUNE_OPTIONS.map((o) => o.name));
  for (const l of LOSSES) for (const p of Object.keys(l.params)) assert.ok(names.has(p), `${l.name}.${p} is a tune option`);
  for (const m of MINERS) for (const p of Object.keys(m.params)) assert.ok(names.has(p), `miner ${m.name}.${p} is a tune option`);
  assert.equal(TUNE_DEFAULTS.loss, 'hybrid');
  assert.equal(TUNE_DEFAULTS.epochs, 30);
  // margin means the loss's margin; the semi-hard miner has its own
  assert.match(TUNE_OPTIONS.find((o) => o.name === 'margin')!.help, /triplet 0\.1.*arcface 0\.5.*cosface 0\.35.*cosine-embedding 0/);
  assert.doesNotMatch(TUNE_OPTIONS.find((o) => o.name === 'margin')!.help, /semi-hard/);
  assert.match(TUNE_OPTIONS.find((o) => o.name === 'minerMargin')!.help, /semi-hard 0\.2/);
});

test('a mistyped model name suggests the preset or search-path folder it was probably meant to be, and downloads nothing', async () => {
  await assert.rejects(api.loadModel('clip-vit-b23'), /clip-vit-b23: no such file or folder \(did you mean "clip-vit-b32"\?\)/);
  await assert.rejects(api.loadModel('no-such-model-anywhere'), (e) => !/did you mean/.test((e as Error).message));
});
