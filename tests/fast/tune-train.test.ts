import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { HeadEngine } from '../../src/tune/engine.ts';
import { createHead, type HeadSpec } from '../../src/tune/heads.ts';
import { Rng } from '../../src/util/random.ts';
import { syntheticSet } from '../../src/tune/synthetic-embeddings.ts';
import { train, type TrainOptions } from '../../src/tune/train.ts';
import { writeHead } from '../../src/tune/export.ts';
import { loadHead } from '../../src/models/head.ts';

test('head backward graph matches finite differences (MLP, 2 hidden layers, batch norm, dropout mask, classifier)', async () => {
  const spec: HeadSpec = { kind: 'mlp', inputDim: 6, outputDim: 4, hidden: [7, 5], dropout: 0.2, batchNorm: true, numClasses: 3 };
  const rng = new Rng(2);
  const head = createHead(spec, rng);
  for (const p of head.params) for (let i = 0; i < p.data.length; i++) p.data[i] += 0.3 * rng.normal(); // move off the identity-ish init
  const engine = await HeadEngine.create(head);
  const n = 9;
  const x = Float32Array.from({ length: n * 6 }, () => rng.normal());
  const masks = spec.hidden.map((h) => Float32Array.from({ length: n * h }, () => (rng.next() < 0.2 ? 0 : 1.25)));
  const rE = Float32Array.from({ length: n * 4 }, () => rng.normal());
  const rL = Float32Array.from({ length: n * 3 }, () => rng.normal());
  // Objective: sum(emb * rE) + sum(logits * rL) -> dEmb = rE, dLogits = rL.
  const objective = async () => {
    const f = await engine.forward(x, n, masks);
    let s = 0;
    for (let i = 0; i < f.emb.length; i++) s += f.emb[i] * rE[i];
    for (let i = 0; i < f.logits!.length; i++) s += f.logits![i] * rL[i];
    return s;
  };
  const f = await engine.forward(x, n, masks);
  await engine.backward(f, rE, rL);
  const h = 1e-2;
  for (const p of head.params) {
    for (let i = 0; i < Math.min(4, p.data.length); i++) {
      const v = p.data[i];
      p.data[i] = v + h;
      const up = await objective();
      p.data[i] = v - h;
      const down = await objective();
      p.data[i] = v;
      const num = (up - down) / (2 * h);
      assert.ok(Math.abs(num - p.grad[i]) < 2e-2 + 2e-2 * Math.abs(num), `${p.name}[${i}]: numeric ${num} vs backward ${p.grad[i]}`);
    }
  }
  await engine.dispose();
});

const base: TrainOptions = {
  head: { kind: 'mlp', hidden: [64], outputDim: 32, dropout: 0.1, batchNorm: true },
  loss: 'hybrid',
  sampler: 'm-per-class',
  m: 4,
  batchSize: 48,
  epochs: 12,
  lr: 3e-3,
  optimizer: 'adamw',
  weightDecay: 1e-4,
  accumulate: 1,
  monitor: 'precision@1',
  patience: 4,
  seed: 1,
};

test('tuning beats frozen precision@1 on clustered embeddings with a confusing rotation; runs repeat with a seed', async () => {
  const tr = syntheticSet({ n: 1200, dim: 32, classes: 12, seed: 3 });
  const va = syntheticSet({ n: 360, dim: 32, classes: 12, seed: 3 }, 777);
  const val = { vectors: va.vectors, dim: 32, labels: va.labels };
  let starts = 0;
  const r = await train(tr, val, { ...base, onStart: (i) => (starts = i.trainable) });
  assert.equal(starts, 32 * 64 + 64 + 64 * 2 + 64 * 32 + 32 + 32 * 12 + 12); // weights, biases, batch norm, classifier
  assert.ok(r.frozen!['precision@1'] < 0.85, `frozen p@1 ${r.frozen!['precision@1']}`);
  assert.ok(r.tuned!['precision@1'] > r.frozen!['precision@1'] + 0.08, `tuned ${r.tuned!['precision@1']} vs frozen ${r.frozen!['precision@1']}`);
  assert.ok(r.tuned!['mmp@5'] > r.frozen!['mmp@5'] + 0.15);
  const again = await train(tr, val, { ...base, epochs: 2, patience: 0 });
  const again2 = await train(tr, val, { ...base, epochs: 2, patience: 0 });
  assert.deepEqual(again.head.params[0].data, again2.head.params[0].data);
  assert.equal(again.tuned!['precision@1'], again2.tuned!['precision@1']);
});

test('linear projection tuning with SGD and gradient accumulation also improves', async () => {
  const tr = syntheticSet({ n: 1200, dim: 32, classes: 12, seed: 3 });
  const va = syntheticSet({ n: 360, dim: 32, classes: 12, seed: 3 }, 777);
  const r = await train(tr, { vectors: va.vectors, dim: 32, labels: va.labels }, {
    ...base,
    head: { kind: 'linear', hidden: [], outputDim: 32, dropout: 0, batchNorm: false },
    loss: 'triplet',
    miner: 'batch-hard',
    optimizer: 'sgd',
    lr: 0.05,
    accumulate: 2,
    batchSize: 24,
  });
  assert.ok(r.tuned!['precision@1'] > r.frozen!['precision@1'] + 0.05, `tuned ${r.tuned!['precision@1']} vs frozen ${r.frozen!['precision@1']}`);
});

test('a run whose weights do not move fails loudly', async () => {
  const tr = syntheticSet({ n: 200, dim: 8, classes: 4, seed: 1 });
  await assert.rejects(train(tr, undefined, { ...base, head: { kind: 'mlp', hidden: [8], outputDim: 8, dropout: 0, batchNorm: false }, batchSize: 16, lr: 0, epochs: 1 }), /did not change after the first optimiser step/);
});

test('head round trip: train, export ONNX, loadHead gives the same outputs', async () => {
  const tr = syntheticSet({ n: 400, dim: 16, classes: 8, seed: 4 });
  const r = await train(tr, undefined, { ...base, head: { kind: 'mlp', hidden: [24, 20], outputDim: 12, dropout: 0.1, batchNorm: true }, batchSize: 32, epochs: 2 });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lookalike-tune-'));
  const file = path.join(dir, 'head.onnx');
  try {
    writeHead(file, r.head, { 'lookalike.loss': 'hybrid' });
    const loaded = await loadHead(file);
    assert.equal(loaded.inputDim, 16);
    const x = tr.vectors.subarray(0, 50 * 16);
    const want = await (await HeadEngine.create(r.head)).embed(x, 50);
    const got = await loaded.apply(Float32Array.from(x), 50, 16);
    assert.equal(got.dim, 12);
    let maxDiff = 0;
    for (let i = 0; i < want.length; i++) maxDiff = Math.max(maxDiff, Math.abs(want[i] - got.data[i]));
    assert.ok(maxDiff < 1e-5, `max difference ${maxDiff}`);
    // The head normalises its input: scaled rows give the same output.
    const scaled = await loaded.apply(x.map((v) => v * 7), 50, 16);
    for (let i = 0; i < want.length; i++) assert.ok(Math.abs(scaled.data[i] - got.data[i]) < 1e-5);
    await assert.rejects(loaded.apply(new Float32Array(10), 1, 10), /expects 16-d/);
    await loaded.dispose();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
