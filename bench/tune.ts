/**
 * npm run bench:tune — seconds per epoch for 100k x 512 embeddings, MLP 512-512-100 + a
 * 100-class classifier, batch 256, Adam, cross-entropy:
 *   1. a plain tfjs-wasm loop of the same model (tf.sequential + optimizer.minimize), 1 thread and threaded;
 *   2. lookalike's trainer (ORT forward/backward graphs + hand-written loss gradients), full epochs.
 * The tfjs loop is timed over a slice of an epoch and extrapolated. Options: --rows N, --tfjs-steps N, --epochs N.
 */
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import { setupTfjs } from '../src/models/tfjs-backend.ts';
import { syntheticSet } from '../src/tune/synthetic.ts';
import { train, type TrainOptions } from '../src/tune/train.ts';

const arg = (name: string, def: number) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const ROWS = arg('--rows', 100_000), D = 512, H = 512, E = 100, C = 100, B = 256;
const STEPS_PER_EPOCH = Math.ceil(ROWS / B);

async function tfjsLoop(steps: number): Promise<{ msPerStep: number; backend: string; threads: number }> {
  const { tf, backend, threads } = await setupTfjs();
  const model = tf.sequential({
    layers: [tf.layers.dense({ inputShape: [D], units: H, activation: 'relu' }), tf.layers.dense({ units: E }), tf.layers.dense({ units: C })],
  });
  const opt = tf.train.adam(1e-3);
  const x = tf.randomNormal([ROWS > 20 * B ? 20 * B : ROWS, D]);
  const labels = tf.oneHot(tf.randomUniform([x.shape[0]], 0, C, 'int32'), C);
  const nb = Math.floor(x.shape[0] / B);
  const step = (i: number) =>
    tf.tidy(() => {
      const xb = x.slice([(i % nb) * B, 0], [B, D]);
      const yb = labels.slice([(i % nb) * B, 0], [B, C]);
      opt.minimize(() => tf.losses.softmaxCrossEntropy(yb, model.predict(xb) as import('@tensorflow/tfjs').Tensor) as import('@tensorflow/tfjs').Scalar);
    });
  for (let i = 0; i < 3; i++) step(i);
  const t0 = performance.now();
  for (let i = 0; i < steps; i++) step(i);
  return { msPerStep: (performance.now() - t0) / steps, backend, threads };
}

if (process.argv.includes('--tfjs-only')) {
  process.stdout.write(JSON.stringify(await tfjsLoop(arg('--tfjs-steps', 30))) + '\n');
  process.exit(0);
}

const line = (s: string) => process.stdout.write(`${s}\n`);
line(`bench:tune  ${ROWS} x ${D}, MLP ${D}-${H}-${E} + ${C}-class classifier, batch ${B} (${STEPS_PER_EPOCH} steps/epoch), Adam, cross-entropy`);
line(`machine: ${os.cpus()[0]?.model ?? '?'}, ${os.availableParallelism?.() ?? os.cpus().length} cores, node ${process.version}`);

const tfjs: Record<string, number> = {};
for (const threads of [1, os.availableParallelism?.() ?? os.cpus().length]) {
  if (tfjs[`t${threads}`]) continue;
  try {
    const out = execFileSync(process.execPath, ['--import', 'tsx', new URL(import.meta.url).pathname, '--tfjs-only', '--rows', String(ROWS), '--tfjs-steps', String(arg('--tfjs-steps', 30))], {
      env: { ...process.env, LOOKALIKE_TFJS_THREADS: String(threads) },
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const r = JSON.parse(out.trim().split('\n').pop()!);
    const sec = (r.msPerStep * STEPS_PER_EPOCH) / 1000;
    tfjs[`t${threads}`] = sec;
    line(`plain tfjs loop (${r.backend}, ${r.threads} thread${r.threads > 1 ? 's' : ''}): ${r.msPerStep.toFixed(1)} ms/step -> ${sec.toFixed(1)} s/epoch (extrapolated)`);
  } catch (e) {
    line(`plain tfjs loop with ${threads} threads failed: ${(e as Error).message.split('\n')[0]}`);
  }
}

const data = syntheticSet({ n: ROWS, dim: D, classes: C, seed: 1 });
const base: TrainOptions = {
  head: { kind: 'mlp', hidden: [H], outputDim: E, dropout: 0, batchNorm: false },
  loss: 'cross-entropy',
  sampler: 'random',
  m: 4,
  batchSize: B,
  epochs: arg('--epochs', 2),
  lr: 1e-3,
  optimizer: 'adam',
  weightDecay: 0,
  accumulate: 1,
  monitor: 'precision@1',
  patience: 0,
  seed: 1,
};
const runs: [string, TrainOptions][] = [
  ['lookalike trainer, cross-entropy', base],
  ['lookalike trainer, hybrid (CE + 0.5 supcon), m-per-class', { ...base, loss: 'hybrid', sampler: 'm-per-class', epochs: 1 }],
];
const baseline = tfjs.t1;
for (const [name, o] of runs) {
  const r = await train(data, undefined, o);
  const per = r.epochs.map((e) => e.seconds);
  const best = Math.min(...per);
  line(`${name}: ${per.map((s) => s.toFixed(2)).join(', ')} s/epoch` + (baseline ? `  -> ${(baseline / best).toFixed(1)}x the 1-thread tfjs loop` : '') + (tfjs[`t${os.availableParallelism?.() ?? os.cpus().length}`] && o.loss === 'cross-entropy' ? `, ${(tfjs[`t${os.availableParallelism?.() ?? os.cpus().length}`] / best).toFixed(1)}x the threaded one` : ''));
}
