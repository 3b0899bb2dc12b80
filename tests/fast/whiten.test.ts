import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { learnWhitening } from '../../src/tune/whiten.ts';
import { symmetricEigen } from '../../src/tune/eigen.ts';
import { loadHead } from '../../src/models/head.ts';
import { writeClassFolders } from '../../src/data/synthetic.ts';
import { Rng } from '../../src/util/random.ts';
import { runCli } from '../helpers/cli.ts';
import { readLinearHead } from '../../src/tune/head-read.ts';
import { tuneHead } from '../../src/tune/run.ts';
import { writeHead } from '../../src/tune/export.ts';
import { createHead } from '../../src/tune/heads.ts';
import { encodeNpy } from '../../src/util/npy.ts';
import { tmpDir, writeTinyCnn, TINY_FLAGS } from '../helpers/tmp.ts';

/** n rows of dim with very different variances per (rotated) direction, L2-normalised like index rows. */
function rows(n: number, dim: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  const x = new Float32Array(n * dim);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let k = 0; k < dim; k++) s += (x[i * dim + k] = (1 + 3 * (k % 3)) * rng.normal() + (k === 0 ? 4 : 0) + 0.5 * x[i * dim + Math.max(0, k - 1)]) ** 2;
    for (let k = 0; k < dim; k++) x[i * dim + k] /= Math.sqrt(s);
  }
  return x;
}

/** y = x W + b for each row, with plain loops. */
function apply(x: Float32Array, dim: number, w: Float32Array, b: Float32Array, out: number): number[][] {
  const n = x.length / dim;
  return Array.from({ length: n }, (_, i) => Array.from({ length: out }, (__, c) => {
    let s = b[c];
    for (let k = 0; k < dim; k++) s += x[i * dim + k] * w[k * out + c];
    return s;
  }));
}

/** Covariance (1/n) of rows around their mean, or around 0 when centred is false. */
function cov(y: number[][], centred = true): number[][] {
  const n = y.length;
  const d = y[0].length;
  const m = Array.from({ length: d }, (_, c) => (centred ? y.reduce((s, r) => s + r[c], 0) / n : 0));
  return Array.from({ length: d }, (_, a) => Array.from({ length: d }, (__, b) => y.reduce((s, r) => s + (r[a] - m[a]) * (r[b] - m[b]), 0) / n));
}

function near(m: number[][], want: (a: number, b: number) => number, tol: number, what: string): void {
  m.forEach((row, a) => row.forEach((v, b) => assert.ok(Math.abs(v - want(a, b)) < tol, `${what}: [${a}][${b}] = ${v}, expected ${want(a, b)}`)));
}

test('symmetricEigen: V diag(λ) Vᵀ rebuilds the matrix, V is orthonormal, values descend', () => {
  const rng = new Rng(2);
  const n = 7;
  const b = Array.from({ length: n * n }, () => rng.normal());
  const a = Array.from({ length: n * n }, (_, i) => {
    const [r, c] = [Math.floor(i / n), i % n];
    let s = 0;
    for (let k = 0; k < n; k++) s += b[r * n + k] * b[c * n + k];
    return s;
  });
  const { values, vectors } = symmetricEigen(a, n);
  for (let r = 0; r < n; r++) {
    for (let c = 0; c < n; c++) {
      let s = 0;
      let o = 0;
      for (let k = 0; k < n; k++) {
        s += vectors[r * n + k] * values[k] * vectors[c * n + k];
        o += vectors[k * n + r] * vectors[k * n + c];
      }
      assert.ok(Math.abs(s - a[r * n + c]) < 1e-9);
      assert.ok(Math.abs(o - (r === c ? 1 : 0)) < 1e-9);
    }
  }
  for (let k = 1; k < n; k++) assert.ok(values[k - 1] >= values[k]);
});

test('PCA-whitening: the learning rows come out with identity covariance (more rows than dims, and fewer through the Gram matrix); shrinkage keeps them decorrelated with variances below 1', () => {
  for (const [n, dim] of [[60, 6], [5, 9]]) {
    const x = rows(n, dim, n);
    const w = learnWhitening(x, dim, { shrinkage: 0 });
    assert.equal(w.outputDim, Math.min(dim, n - 1));
    near(cov(apply(x, dim, w.weight, w.bias, w.outputDim)), (a, b) => (a === b ? 1 : 0), 1e-4, `${n}x${dim}`);
    // The bias centres the learning rows.
    const y = apply(x, dim, w.weight, w.bias, w.outputDim);
    for (let c = 0; c < w.outputDim; c++) assert.ok(Math.abs(y.reduce((s, r) => s + r[c], 0) / n) < 1e-5);
  }
  const x = rows(60, 6, 3);
  const w = learnWhitening(x, 6, { shrinkage: 0.5, dims: 3 });
  assert.equal(w.outputDim, 3);
  const c = cov(apply(x, 6, w.weight, w.bias, 3));
  near(c, (a, b) => (a === b ? c[a][a] : 0), 1e-4, 'shrunk: off-diagonal');
  // Each kept direction's variance is λ / ((1 - s) λ + s · mean λ), with λ the input covariance's eigenvalues.
  const cx = cov(Array.from({ length: 60 }, (_, i) => Array.from(x.subarray(i * 6, i * 6 + 6))));
  const lam = symmetricEigen(cx.flat(), 6).values;
  const mean = lam.reduce((t, v) => t + v, 0) / 6;
  for (let k = 0; k < 3; k++) assert.ok(Math.abs(c[k][k] - lam[k] / (0.5 * lam[k] + 0.5 * mean)) < 1e-4, `variance ${c[k][k]}`);
  assert.throws(() => learnWhitening(rows(5, 9, 1), 9, { dims: 6 }), /span only 4 directions/);
});

test('supervised whitening: the differences of matching pairs come out with identity covariance', () => {
  const dim = 5;
  const rng = new Rng(4);
  const labels: string[] = [];
  const x = new Float32Array(80 * dim);
  const centres = Array.from({ length: 8 }, () => Array.from({ length: dim }, () => 3 * rng.normal()));
  for (let i = 0; i < 80; i++) {
    labels.push(`c${i % 8}`);
    let s = 0;
    for (let k = 0; k < dim; k++) s += (x[i * dim + k] = centres[i % 8][k] + (k + 1) * 0.3 * rng.normal()) ** 2;
    for (let k = 0; k < dim; k++) x[i * dim + k] /= Math.sqrt(s);
  }
  const w = learnWhitening(x, dim, { shrinkage: 0, labels });
  assert.equal(w.supervised, true);
  const y = apply(x, dim, w.weight, w.bias, w.outputDim);
  const diffs: number[][] = [];
  for (let i = 0; i < 80; i++) for (let j = 0; j < 80; j++) if (i !== j && labels[i] === labels[j]) diffs.push(y[i].map((v, c) => v - y[j][c]));
  near(cov(diffs, false), (a, b) => (a === b ? 1 : 0), 1e-3, 'pair differences');
  assert.throws(() => learnWhitening(x.subarray(0, 3 * dim), dim, { labels: ['a', 'b', 'c'] }), /no matching pairs/);
});

test('lookalike whiten INDEX writes a head that --head applies: (unit x - mean) W, then the index and search use it; tune --init starts from it exactly', async () => {
  const dir = tmpDir();
  const gallery = path.join(dir, 'g');
  await writeClassFolders(gallery, 3, 8, 0);
  const model = writeTinyCnn(dir);
  const lkx = path.join(dir, 'g.lkx');
  assert.equal((await runCli(['index', gallery, '--model', model, ...TINY_FLAGS, '--out', lkx])).status, 0);
  const out = path.join(dir, 'w.onnx');
  const r = await runCli(['whiten', lkx, '--dims', '8', '--out', out, '--json']);
  assert.equal(r.status, 0, r.stderr);
  const rep = JSON.parse(r.stdout);
  assert.deepEqual([rep.inputDim, rep.outputDim, rep.rows, rep.shrinkage, rep.supervised], [16, 8, 24, 0.1, false]);
  // The head's own graph applied to a raw (unnormalised) row equals the whitening of its unit vector.
  const head = await loadHead(out);
  try {
    const raw = Float32Array.from({ length: 16 }, (_, k) => (k % 5) - 1.5);
    const unit = Float32Array.from(raw, (v) => v / Math.hypot(...raw));
    const { learnWhitening: learn } = await import('../../src/tune/whiten.ts');
    const { openIndex } = await import('../../src/api.ts');
    const idx = await openIndex(lkx);
    const ids = await idx.ids();
    const vecs = await idx.store.getVectors(ids);
    await idx.close();
    const w = learn(vecs, 16, { dims: 8, shrinkage: 0.1 });
    const got = await head.apply(raw, 1, 16);
    const want = apply(unit, 16, w.weight, w.bias, 8)[0];
    assert.equal(got.dim, 8);
    want.forEach((v, c) => assert.ok(Math.abs(got.data[c] - v) < 1e-4, `${c}: ${got.data[c]} vs ${v}`));
  } finally {
    await head.dispose();
  }
  const lw = path.join(dir, 'gw.lkx');
  assert.equal((await runCli(['index', gallery, '--model', model, ...TINY_FLAGS, '--head', out, '--out', lw])).status, 0);
  const s = await runCli(['search', lw, '--id', 'class01/000.jpg', '-k', '3', '--json']);
  assert.equal(s.status, 0, s.stderr);
  assert.equal(JSON.parse(s.stdout).results[0].hits.length, 3);
  // Supervised from class folders; a bad shrinkage names its flag; an existing unrelated file is not replaced.
  assert.equal((await runCli(['whiten', '--data', gallery, '--supervised', '--model', model, ...TINY_FLAGS, '--out', path.join(dir, 'lw.onnx')])).status, 0);
  assert.match((await runCli(['whiten', lkx, '--shrinkage', '2', '--out', path.join(dir, 'x.onnx')])).stderr, /--shrinkage 2: expected a number from 0 to 1/);
  fs.writeFileSync(path.join(dir, 'notes.txt'), 'mine');
  assert.equal((await runCli(['whiten', lkx, '--out', path.join(dir, 'notes.txt')])).status, 1);
  assert.equal(fs.readFileSync(path.join(dir, 'notes.txt'), 'utf8'), 'mine');

  // tune --init from the whitening head: the reader gives back exactly what was written, and a head
  // tuned for 0 epochs from it (or from its weight as .npy, no bias) reproduces its outputs.
  const idx = await (await import('../../src/api.ts')).openIndex(lkx);
  const ids = await idx.ids();
  const vecs = await idx.store.getVectors(ids);
  await idx.close();
  const w = learnWhitening(vecs, 16, { dims: 8, shrinkage: 0.1 });
  const read = readLinearHead(out);
  assert.deepEqual([read.inputDim, read.outputDim, read.mode], [16, 8, 'whiten']);
  assert.deepEqual(read.weight, w.weight);
  assert.deepEqual(read.bias, w.bias);
  const raw = Float32Array.from({ length: 3 * 16 }, (_, k) => Math.sin(k * 1.7) + 0.3);
  const outputs = async (file: string) => {
    const h = await loadHead(file);
    try {
      return (await h.apply(raw, 3, 16)).data;
    } finally {
      await h.dispose();
    }
  };
  const whitened = await outputs(out);
  const labels = path.join(dir, 'labels.csv');
  fs.writeFileSync(labels, ['path,label', ...ids.map((id) => `${id},${id.split('/')[0]}`)].join('\n') + '\n');
  const tuned = await tuneHead({ index: lkx, labels, init: out, out: path.join(dir, 't.onnx'), keepWorse: true, training: { epochs: 0 } });
  assert.deepEqual([tuned.written, tuned.outputDim, tuned.epochs.length], [true, 8, 0]);
  assert.deepEqual(await outputs(path.join(dir, 't.onnx')), whitened, 'before any training step the tuned head is the whitening head');
  fs.writeFileSync(path.join(dir, 'w.npy'), encodeNpy(w.weight, 16, 8));
  await tuneHead({ index: lkx, labels, options: { init: path.join(dir, 'w.npy') }, out: path.join(dir, 'n.onnx'), keepWorse: true, training: { epochs: 0 } });
  const fromNpy = await outputs(path.join(dir, 'n.onnx'));
  fromNpy.forEach((v, i) => assert.ok(Math.abs(v + w.bias[i % 8] - whitened[i]) < 1e-5, `npy init row ${Math.floor(i / 8)}`));
  // Training from it moves on from there.
  const r1 = await runCli(['tune', '--index', lkx, '--labels', labels, '--init', out, '--epochs', '1', '--batch-size', '8', '--m', '2', '--keep-worse', '--out', path.join(dir, 't1.onnx'), '--json']);
  assert.equal(r1.status, 0, r1.stderr);
  assert.notDeepEqual(await outputs(path.join(dir, 't1.onnx')), whitened);
  // An MLP head, or any other graph, is refused naming the file and what it holds.
  const mlp = path.join(dir, 'mlp.onnx');
  writeHead(mlp, createHead({ kind: 'mlp', inputDim: 16, outputDim: 8, hidden: [12], dropout: 0, batchNorm: false, numClasses: 0 }, new Rng(1)));
  const bad = await runCli(['tune', '--index', lkx, '--labels', labels, '--init', mlp, '--out', path.join(dir, 'm2.onnx')]);
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, new RegExp(`${mlp.replace(/[.\\]/g, '\\$&')}: an MLP head \\(hidden 12\\), not a linear one`));
  assert.throws(() => readLinearHead(model), /tiny-cnn\.onnx: not a head written by lookalike/);
  const other = path.join(dir, 'other.onnx');
  writeHead(other, createHead({ kind: 'linear', inputDim: 16, outputDim: 8, hidden: [], dropout: 0, batchNorm: false, numClasses: 0 }, new Rng(1)), { 'lookalike.model': 'other-model' });
  await assert.rejects(tuneHead({ index: lkx, labels, init: other, out: path.join(dir, 'o2.onnx'), training: { epochs: 0 } }), /other\.onnx: a head for model other-model, but these embeddings are from /);
  assert.ok(!fs.existsSync(path.join(dir, 'm2.onnx')));
});
