/** Experiments: seeds: N replicates (mean ± sample sd, replicate 0 = the single run), the whiten mode (learned on the train pool), projection from a whitening, rerank per mode, holdOut: classes. */
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { writeClassFolders } from '../../src/data/synthetic.ts';
import { tinyCnn } from '../../src/models/tiny.ts';
import { checkConfig } from '../../src/experiments/experiment-config.ts';
import { embedCacheKey, planExperiment, runExperiment } from '../../src/experiments/runner.ts';
import { readRuns } from '../../src/experiments/run-records.ts';
import { loadDataset } from '../../src/experiments/datasets.ts';
import { tmpDir } from '../helpers/tmp.ts';
import { fitHead } from '../../src/tune/fit.ts';
import { learnModeWhitening } from '../../src/experiments/modes.ts';
import { Rng } from '../../src/util/random.ts';

test('seeds: 3 records the mean and sample sd of 3 replicates (replicate 0 is the seeds: 1 run); whiten learns on the train pool; projection starts from a whitening; rerank and holdOut apply', async () => {
  const dir = tmpDir('lookalike-exp-seeds-');
  // A split column the runner would use (test rows of seen classes), overridden by holdOut: classes.
  await writeClassFolders(path.join(dir, 'ds'), 8, 6, 0, 40);
  const rows = fs.readFileSync(path.join(dir, 'ds/labels.csv'), 'utf8').trim().split('\n').slice(1).map((l, i) => `${l.split(',').slice(0, 2).join(',')},${i % 3 ? 'train' : 'test'}`);
  fs.writeFileSync(path.join(dir, 'ds/labels.csv'), ['path,label,split', ...rows].join('\n') + '\n');
  fs.writeFileSync(path.join(dir, 'tiny.onnx'), tinyCnn({ seed: 5 }));
  const config = (name: string, seeds?: number) =>
    checkConfig({
      name,
      store: 'runs',
      cache: 'cache',
      ...(seeds ? { seeds } : {}),
      metrics: ['mmp@5', 'mr@1'],
      models: [{ name: 'tiny', model: 'tiny.onnx' }],
      datasets: [{ name: 'ds', path: 'ds', holdOut: 'classes' }],
      modes: ['frozen', { name: 'lin', kind: 'tune', headType: 'linear', epochs: 3, batchSize: 16 }, 'whiten', { name: 'qe', kind: 'frozen', rerank: 'aqe:n=2' }, ...(seeds ? [] : [{ name: 'flip', kind: 'frozen', embed: { views: 'flip' } }, { name: 'pw', kind: 'projection', init: 'whiten', whiten: { shrinkage: 0.2, dims: 12 }, epochs: 2, batchSize: 16 }])],
    }, path.join(dir, 'exp.yaml'));
  const one = config('one');
  // seeds: 1 (the default) adds nothing to a run's parameters, so existing run stores stay finished.
  assert.ok(planExperiment(one).every((p) => !('seeds' in p.params)));
  const d = loadDataset(one.datasets[0], 0);
  assert.match(d.description, /4 of 8 classes held out \(class-disjoint/);
  await runExperiment(one, { quiet: true });
  const three = config('three', 3);
  await runExperiment(three, { quiet: true });
  const get = (exp: string, mode: string) => readRuns(path.join(dir, 'runs', exp)).find((r) => r.mode.name === mode)!;
  const lin = get('three', 'lin');
  assert.equal(lin.status, 'finished', lin.reason);
  assert.equal(lin.params.seeds, 3);
  assert.deepEqual(lin.replicates!.map((r) => r.seed), [0, 1, 2]);
  assert.deepEqual(lin.replicates![0].metrics, get('one', 'lin').metrics, 'replicate 0 is the seeds: 1 run');
  for (const m of ['mmp@5', 'mr@1']) {
    const xs = lin.replicates!.map((r) => r.metrics[m]);
    const mean = (xs[0] + xs[1] + xs[2]) / 3;
    const sd = Math.sqrt(xs.reduce((a, x) => a + (x - mean) ** 2, 0) / 2);
    assert.ok(Math.abs(lin.metrics[m] - mean) < 1e-12 && Math.abs(lin.metrics_sd![m] - sd) < 1e-12, `${m}: mean ${mean} ± ${sd}`);
  }
  // The seed and the order move the tuned replicates; frozen and whiten are deterministic: one run, no sd.
  assert.ok(new Set(lin.replicates!.map((r) => r.metrics['mmp@5'])).size > 1 || lin.replicates![1].order !== lin.replicates![0].order);
  for (const m of ['frozen', 'whiten', 'qe']) assert.equal(get('three', m).replicates, undefined,);
  const csv = fs.readFileSync(path.join(dir, 'runs/three/runs.csv'), 'utf8').split('\n');
  assert.ok(csv[0].startsWith('id,status,model,dataset,mode,kind,mmp@5,mmp@5_sd,mr@1,mr@1_sd,seeds,'), csv[0]);
  assert.match(csv.find((l) => l.includes('__lin,'))!, new RegExp(`,${lin.metrics['mmp@5']},${lin.metrics_sd!['mmp@5']},`));
  // whiten: learned on the tuning rows only (the held-out classes never), written as a linear head.
  const w = get('one', 'whiten');
  assert.equal(w.status, 'finished', w.reason);
  assert.equal((w.extra!.whiten as { rows: number }).rows, d.trainPool.length);
  assert.ok(fs.statSync(path.join(dir, 'runs/one/tiny__ds__whiten/head.onnx')).size > 0);
  // projection from a whitening learned on the head's training rows (validation rows left out): recorded.
  const pw = get('one', 'pw');
  assert.equal(pw.status, 'finished', pw.reason);
  assert.deepEqual([pw.params['tune.init'], pw.params['whiten.shrinkage'], pw.params['whiten.dims']], ['whiten', 0.2, 12]);
  assert.deepEqual(pw.extra!.init, { from: 'whiten', shrinkage: 0.2, dims: 12, rows: pw.counts.train, supervised: false });
  assert.equal(pw.counts.train, d.trainPool.length, 'this pool is too small for validation rows (the split is checked below)');
  assert.throws(() => checkConfig({ models: ['m.onnx'], datasets: [{ path: 'd' }], modes: [{ name: 'p', kind: 'projection', init: 'whiten', whiten: { shrink: 1 } }] }, 'x.yaml'), /modes\[0\]\.whiten\.shrink: not a whiten option/);
  assert.throws(() => checkConfig({ models: ['m.onnx'], datasets: [{ path: 'd' }], modes: [{ name: 'p', kind: 'projection', whiten: { dims: 4 } }] }, 'x.yaml'), /modes\[0\]\.whiten: whitening options need init: whiten/);
  assert.throws(() => checkConfig({ models: ['m.onnx'], datasets: [{ path: 'd' }], modes: [{ name: 't', kind: 'tune', init: 'whiten' }] }, 'x.yaml'), /modes\[0\]\.init: "whiten" starts a projection mode's head/);
  // rerank: recorded canonically and changing the scoring of the same frozen rows.
  const qe = get('one', 'qe');
  assert.equal(qe.params.rerank, 'aqe:n=2,alpha=3');
  assert.notDeepEqual(qe.metrics, get('one', 'frozen').metrics);
  assert.throws(() => checkConfig({ models: ['m.onnx'], datasets: [{ path: 'd' }], modes: [{ name: 'x', kind: 'frozen', rerank: 'zz' }] }, 'x.yaml'), /modes\[0\]\.rerank: zz: unknown method/);
  assert.throws(() => checkConfig({ models: ['m.onnx'], datasets: [{ path: 'd' }], modes: [{ name: 'w', kind: 'whiten', lr: 1 }] }, 'x.yaml'), /modes\[0\]\.lr: not a whiten option/);
  assert.throws(() => checkConfig({ models: ['m.onnx'], datasets: [{ path: 'd' }], modes: ['frozen'], seeds: 0 }, 'x.yaml'), /seeds: expected a whole number >= 1/);
  // views per mode: embedded again with the flipped view (its own cache), recorded in the params; a bad value is named.
  const flip = get('one', 'flip');
  assert.equal(flip.status, 'finished', flip.reason);
  assert.equal(flip.params['embed.views'], 'flip');
  assert.ok((flip.timings.embedded_now ?? 0) > 0, 'the flipped rows are embedded, not taken from the plain cache');
  assert.notDeepEqual(flip.metrics, get('one', 'frozen').metrics);
  assert.throws(() => checkConfig({ models: ['m.onnx'], datasets: [{ path: 'd' }], modes: [{ name: 'v', kind: 'frozen', embed: { views: 'flop' } }] }, 'x.yaml'), /modes\[0\]\.embed\.views: .*flop/);
  assert.throws(() => checkConfig({ models: ['m.onnx'], datasets: [{ path: 'd' }], modes: [{ name: 'v', kind: 'frozen', embed: { crop: 'face' } }] }, 'x.yaml'), /modes\[0\]\.embed\.crop: not an embedding option/);
  // Rows embedded with a mode's embedding options get their own cache key; without any, the backbone's fingerprint.
  assert.equal(embedCacheKey('abc'), 'abc');
  assert.equal(embedCacheKey('abc', {}), 'abc');
  assert.notEqual(embedCacheKey('abc', { views: 'flip' }), 'abc');
  assert.equal(embedCacheKey('abc', { a: '1', b: '2' }), embedCacheKey('abc', { b: '2', a: '1' }));
});

test('init from the training rows: fitHead hands the init function its training split only (validation rows left out)', async () => {
  const rng = new Rng(3);
  const n = 40, dim = 8;
  const pool = { ids: Array.from({ length: n }, (_, i) => `r${i}`), vectors: Float32Array.from({ length: n * dim }, () => rng.normal()), dim, labels: Array.from({ length: n }, (_, i) => `c${i % 4}`), domains: Array(n).fill(undefined), splits: Array(n).fill(undefined) };
  let seen: string[] = [];
  const fit = await fitHead(pool, { kind: 'stratified', frac: 0.3 }, { epochs: 1, batchSize: 8, m: 2 }, {
    seed: 1,
    init: (rows) => {
      seen = rows.ids;
      const w = learnModeWhitening({ dims: 6 }, rows).whitening;
      return { weight: w.weight, bias: w.bias };
    },
  });
  assert.equal(seen.length, fit.trainRows);
  assert.ok(fit.valRows > 0 && seen.length + fit.valRows === n);
  assert.equal(fit.result.head.spec.outputDim, 6);
});
