/**
 * bench:tune — training steps/s (and seconds per epoch) of a head on frozen embeddings:
 * rows x 512 synthetic embeddings, MLP 512-512-100 + a 100-class classifier, batch 256, Adam,
 * cross-entropy.
 *
 * What it compares, and why:
 *  - `tfjs-1t` (baseline): the plain TensorFlow.js loop anyone would write for this model
 *    (tf.sequential + optimizer.minimize), wasm backend, 1 thread, in a worker process.
 *  - `tfjs-Nt`: the same loop with the wasm backend asked for every core. Each thread count runs
 *    in its own worker (the wasm backend fixes it at start-up), alternated with the others; the
 *    row says how many threads really did work ("busy threads"), so the comparison is against a
 *    baseline that truly runs, not one that claims threads it does not use.
 *  - `lookalike`: lookalike's trainer (src/tune/train.ts: ORT forward/backward graphs +
 *    hand-written loss gradients), one full epoch per call including its setup.
 *  - `lookalike-hybrid`: the trainer with the hybrid loss (CE + 0.5 supcon) and m-per-class
 *    batches, for scale (the tfjs loops do cross-entropy only; not with --quick).
 * Work = optimiser steps, so throughput is steps/s for all rows and the ratios are per step.
 *
 *   npm run bench:tune -- [--rows 100000] [--tfjs-steps 20] [--threads 1,2] [--rounds 5] [--json]
 *                         [--quick: 12800 rows, 6 tfjs steps per sample, no hybrid row]
 */
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { syntheticSet } from '../src/tune/synthetic-embeddings.ts';
import { train, type TrainOptions } from '../src/tune/train.ts';
import { Bench, benchArgs, serveRemote, spawnRemote, type BenchPath, type PathResult, type Remote } from './harness.ts';

const SELF = fileURLToPath(import.meta.url);
const { values } = benchArgs({
  rows: { type: 'string' },
  'tfjs-steps': { type: 'string' },
  threads: { type: 'string' },
  worker: { type: 'boolean', default: false },
});
const D = 512, H = 512, E = 100, C = 100, B = 256;

if (values.worker) {
  // A worker: one plain tfjs training loop; the thread count comes from LOOKALIKE_TFJS_THREADS.
  const { setupTfjs } = await import('../src/models/tfjs-backend.ts');
  const rt = await setupTfjs();
  const { tf } = rt;
  type Tensor = import('@tensorflow/tfjs').Tensor;
  type Scalar = import('@tensorflow/tfjs').Scalar;
  const model = tf.sequential({ layers: [tf.layers.dense({ inputShape: [D], units: H, activation: 'relu' }), tf.layers.dense({ units: E }), tf.layers.dense({ units: C })] });
  const opt = tf.train.adam(1e-3);
  const rows = 20 * B;
  const x = tf.randomNormal([rows, D]);
  const labels = tf.oneHot(tf.randomUniform([rows], 0, C, 'int32'), C);
  let i = 0;
  const step = () =>
    tf.tidy(() => {
      const o = (i++ % 20) * B;
      const xb = x.slice([o, 0], [B, D]);
      const yb = labels.slice([o, 0], [B, C]);
      opt.minimize(() => tf.losses.softmaxCrossEntropy(yb, model.predict(xb) as Tensor) as Scalar);
    });
  serveRemote({
    runtime: () => ({ backend: rt.backend, threads: rt.threads }),
    steps: (n) => {
      for (let k = 0; k < (n as number); k++) step();
      return true;
    },
  });
} else {
  const quick = Boolean(values.quick);
  const ROWS = Number(values.rows ?? (quick ? 12_800 : 100_000));
  const TFJS_STEPS = Number(values['tfjs-steps'] ?? (quick ? 6 : 20));
  const cores = os.availableParallelism?.() ?? os.cpus().length;
  const threads = values.threads ? values.threads.split(',').map(Number) : [...new Set([1, Math.min(8, cores)])];
  const STEPS = Math.ceil(ROWS / B);
  const b = new Bench(
    'tune',
    `Head training on frozen embeddings (${ROWS} x ${D}, MLP ${D}-${H}-${E} + ${C}-class classifier, batch ${B}, Adam, cross-entropy): lookalike's trainer against a plain tfjs-wasm loop of the same model, 1 thread and threaded, each in its own worker. Throughput in optimiser steps/s; the trainer's rows include its per-epoch setup.`,
    { rows: ROWS, 'steps/epoch': STEPS, 'tfjs steps/sample': TFJS_STEPS, threads: threads.join(' ') },
  );
  const data = syntheticSet({ n: ROWS, dim: D, classes: C, seed: 1 });
  const base: TrainOptions = {
    head: { kind: 'mlp', hidden: [H], outputDim: E, dropout: 0, batchNorm: false },
    loss: 'cross-entropy',
    sampler: 'random',
    m: 4,
    batchSize: B,
    epochs: 1,
    lr: 1e-3,
    optimizer: 'adam',
    weightDecay: 0,
    accumulate: 1,
    monitor: 'precision@1',
    patience: 0,
    seed: 1,
  };
  const hybrid: TrainOptions = { ...base, loss: 'hybrid', sampler: 'm-per-class' };
  const hybridSteps = Math.max(1, Math.floor(ROWS / B));
  const remotes = new Map<string, Remote>();
  const rt = new Map<string, { backend: string; threads: number }>();
  const tfjsPaths: BenchPath[] = threads.map((t) => ({
    name: `tfjs-${t}t`,
    label: `plain tfjs loop, wasm, ${t} thread${t > 1 ? 's' : ''}`,
    work: TFJS_STEPS,
    setup: async () => {
      const r = await spawnRemote(SELF, ['--worker'], { LOOKALIKE_TFJS_THREADS: String(t), LOOKALIKE_TFJS_BACKEND: 'wasm' });
      remotes.set(`tfjs-${t}t`, r);
      rt.set(`tfjs-${t}t`, await r.call('runtime'));
    },
    run: () => remotes.get(`tfjs-${t}t`)!.call('steps', TFJS_STEPS),
    counters: () => remotes.get(`tfjs-${t}t`)!.counters(),
    peakRss: () => remotes.get(`tfjs-${t}t`)!.peakRssMiB(),
    teardown: () => remotes.get(`tfjs-${t}t`)!.close(),
  }));
  const review = (rows: PathResult[]) => {
    for (const p of rows) {
      const got = rt.get(p.name);
      if (!got) continue;
      p.label = `plain tfjs loop, ${got.backend}, ${got.threads} thread${got.threads > 1 ? 's' : ''}`;
      if (got.threads > 1 && p.busyThreads === undefined) p.label += ' (busy threads not measured: too little CPU time)';
      if (got.threads > 1 && p.busyThreads !== undefined && p.busyThreads < got.threads) p.label = `plain tfjs loop, ${got.backend}, ${got.threads} threads requested, ${p.busyThreads} busy: effectively ${p.busyThreads} thread${p.busyThreads > 1 ? 's' : ''}`;
    }
  };
  const r = await b.compare({
    group: 'tune',
    title: `head training, ${ROWS} rows (${STEPS} steps/epoch)`,
    unit: 'steps/s',
    baseline: tfjsPaths[0].name,
    review,
    paths: [
      ...tfjsPaths,
      { name: 'lookalike', label: 'lookalike trainer, cross-entropy (1 epoch per call)', work: STEPS, run: () => train(data, undefined, base) },
      // The hybrid row is for scale only; --quick leaves it out to keep bench:all short.
      ...(quick ? [] : [{ name: 'lookalike-hybrid', label: 'lookalike trainer, hybrid CE + 0.5 supcon, m-per-class', work: hybridSteps, run: () => train(data, undefined, hybrid) }]),
    ],
  });
  if (!r.skipped) {
    const epoch = (name: string) => STEPS / r.throughput(name);
    const lines = [`seconds per epoch (${STEPS} steps): ${r.paths.map((p) => `${p.name} ${epoch(p.name).toFixed(2)}`).join(', ')}`];
    for (const t of tfjsPaths.slice(1)) lines.push(`lookalike / ${t.name}: ${(r.throughput('lookalike') / r.throughput(t.name)).toFixed(1)}x`);
    lines.push(`lookalike / tfjs 1 thread: ${r.ratio('lookalike').toFixed(1)}x (cross-entropy, per step)`);
    for (const l of lines) b.groupNote(r, l);
    const t = r.paths.find((p) => p.name === tfjsPaths[tfjsPaths.length - 1].name)!;
    b.headline(
      `Head training (cross-entropy) runs ${r.ratio('lookalike').toFixed(1)}x faster per step than a plain tfjs-wasm loop on 1 thread` +
        (tfjsPaths.length > 1 ? ` (asking tfjs for ${threads[threads.length - 1]} threads gave ${t.busyThreads ?? '?'} busy, ${(t.ratio ?? NaN).toFixed(2)}x the 1-thread loop).` : '.'),
    );
  }
  await b.done();
}
