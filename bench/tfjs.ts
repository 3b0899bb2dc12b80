/**
 * TensorFlow.js preset throughput: images/s of the model alone (preprocessed pixels in memory)
 * per preset, batch size and wasm thread count (each thread count runs in its own process,
 * since the wasm backend fixes it at start-up), plus the cpu backend for reference; and a
 * long embedding run through the full pipeline (decode + model) with RSS and live tensors
 * sampled along the way, to show nothing leaks.
 *
 *   npm run bench:tfjs -- [--presets a,b] [--threads 1,2] [--batches 1,8,32] [--seconds 3]
 *                         [--cpu] [--long 10000] [--long-model face-mobileface] [--out file.json]
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PRESETS } from '../src/models/presets.ts';
import { loadBackbone } from '../src/models/load.ts';
import { inputSize } from '../src/models/spec.ts';
import { setupTfjs } from '../src/models/tfjs-backend.ts';
import type { TfjsBackbone } from '../src/models/tfjs.ts';
import { embedImages } from '../src/embed/pipeline.ts';
import { listFolder } from '../src/data/images.ts';

const SELF = fileURLToPath(import.meta.url);
const SHARED = path.resolve(path.dirname(SELF), '../../shared');

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1] : fallback;
}
const flag = (name: string) => process.argv.includes(`--${name}`);
const list = (s: string) => s.split(',').filter(Boolean);

interface Row {
  preset: string;
  backend: string;
  threads: number;
  batch: number;
  imagesPerSec: number;
  msPerBatch: number;
}

async function child(): Promise<void> {
  const rt = await setupTfjs();
  const seconds = Number(arg('seconds', '3'));
  const rows: Row[] = [];
  for (const name of list(arg('presets', ''))) {
    const bb = (await loadBackbone(name)) as TfjsBackbone;
    const { height, width } = inputSize(bb.spec);
    for (const batch of list(arg('batches', '1,8,32')).map(Number)) {
      const px = Float32Array.from({ length: batch * height * width * 3 }, (_, i) => ((i * 2654435761) % 256) * bb.spec.rescale);
      await bb.run(px, batch); // warm-up: kernel setup, XNNPACK packing
      let n = 0;
      const t0 = performance.now();
      while (n < 2 || performance.now() - t0 < seconds * 1000) {
        await bb.run(px, batch);
        n++;
      }
      const ms = (performance.now() - t0) / n;
      rows.push({ preset: name, backend: rt.backend, threads: rt.threads, batch, imagesPerSec: (1000 * batch) / ms, msPerBatch: ms });
    }
    await bb.dispose();
  }
  process.stdout.write(`${JSON.stringify(rows)}\n`);
}

async function longRun(): Promise<void> {
  const model = arg('long-model', 'face-mobileface');
  const total = Number(arg('long', '10000'));
  const root = path.join(SHARED, 'datasets/clothing10');
  const files = listFolder(root).images.map((id) => path.join(root, id));
  if (!files.length) throw new Error(`${root}: no images for the long run`);
  const rt = await setupTfjs();
  const bb = (await loadBackbone(model)) as TfjsBackbone;
  await embedImages(bb, files.slice(0, 32).map((f, i) => ({ id: String(i), source: f }))); // warm-up
  const mb = () => Math.round(process.memoryUsage().rss / 2 ** 20);
  const samples: { images: number; rssMB: number; tensors: number }[] = [{ images: 0, rssMB: mb(), tensors: rt.tf.memory().numTensors }];
  const chunk = 1000;
  const t0 = performance.now();
  for (let done = 0; done < total; done += chunk) {
    const items = Array.from({ length: Math.min(chunk, total - done) }, (_, i) => ({ id: String(done + i), source: files[(done + i) % files.length] }));
    await embedImages(bb, items);
    samples.push({ images: done + items.length, rssMB: mb(), tensors: rt.tf.memory().numTensors });
  }
  const secs = (performance.now() - t0) / 1000;
  await bb.dispose();
  process.stdout.write(`${JSON.stringify({ model, backend: rt.backend, threads: rt.threads, images: total, seconds: secs, imagesPerSec: total / secs, samples })}\n`);
}

function spawnChild(extra: string[], env: Record<string, string>): string {
  const r = spawnSync(process.execPath, ['--import', 'tsx', SELF, ...extra], { env: { ...process.env, ...env }, encoding: 'utf8', maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`bench child failed (${extra.join(' ')}): ${r.stderr}`);
  return r.stdout.trim().split('\n').pop()!;
}

async function main(): Promise<void> {
  if (flag('child')) return child();
  if (flag('long-child')) return longRun();
  const presets = arg('presets', PRESETS.filter((p) => p.source.kind === 'npm').map((p) => p.name).join(','));
  const cores = os.availableParallelism?.() ?? os.cpus().length;
  const threads = list(arg('threads', [...new Set([1, 2, 4, 8].filter((t) => t <= cores).concat(cores))].join(','))).map(Number);
  const batches = arg('batches', '1,8,32');
  const seconds = arg('seconds', '3');
  const rows: Row[] = [];
  for (const t of threads) {
    process.stderr.write(`wasm, ${t} thread(s)...\n`);
    rows.push(...JSON.parse(spawnChild(['--child', '--presets', presets, '--batches', batches, '--seconds', seconds], { LOOKALIKE_TFJS_THREADS: String(t), LOOKALIKE_TFJS_BACKEND: 'wasm' })));
  }
  if (flag('cpu')) {
    process.stderr.write('cpu backend...\n');
    rows.push(...JSON.parse(spawnChild(['--child', '--presets', presets, '--batches', '8', '--seconds', seconds], { LOOKALIKE_TFJS_BACKEND: 'cpu' })));
  }
  console.log(`\n${os.cpus()[0]?.model ?? 'cpu'} x${cores}, node ${process.version}\n`);
  console.log('preset               backend threads batch   images/s   ms/batch');
  for (const r of rows) {
    console.log(`${r.preset.padEnd(20)} ${r.backend.padEnd(7)} ${String(r.threads).padStart(7)} ${String(r.batch).padStart(5)} ${r.imagesPerSec.toFixed(1).padStart(10)} ${r.msPerBatch.toFixed(1).padStart(10)}`);
  }
  let long: unknown;
  const n = Number(arg('long', '0'));
  if (n > 0) {
    process.stderr.write(`long run: ${n} images...\n`);
    long = JSON.parse(spawnChild(['--long-child', '--long', String(n), '--long-model', arg('long-model', 'face-mobileface')], {}));
    const l = long as { model: string; threads: number; images: number; imagesPerSec: number; samples: { images: number; rssMB: number; tensors: number }[] };
    console.log(`\nlong run: ${l.model}, ${l.images} images through decode+model at ${l.imagesPerSec.toFixed(1)} images/s (${l.threads} threads)`);
    console.log(l.samples.map((s) => `  after ${String(s.images).padStart(6)} images: RSS ${s.rssMB} MB, ${s.tensors} live tensors`).join('\n'));
  }
  const out = arg('out', '');
  if (out) fs.writeFileSync(out, JSON.stringify({ cores, node: process.version, rows, long }, null, 2));
}

await main();
