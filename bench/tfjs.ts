/**
 * bench:tfjs — images/s of the npm TensorFlow.js presets (src/models/presets.ts), model alone
 * (preprocessed pixels in memory), wasm backend with 1 thread against wasm with every core.
 *
 * What it compares, and why: the wasm backend fixes its thread count at start-up, so each thread
 * count runs in a worker process of its own (spawnRemote), alternated round by round with the
 * others; beside them, lookalike's default engine for TF.js models (the graph converted to ONNX and
 * run by ORT, LOOKALIKE_TFJS_ENGINE=onnx; --no-onnx leaves it out). Whether the extra threads really run is measured, not assumed: CPU time and per-thread
 * CPU of the worker are read around every sample; a row asking for N threads where fewer than N
 * threads did work is labelled "N requested, K busy" (the baseline for tune and for TF.js
 * embedding claims must be the one that really runs). `--cpu` adds the pure-JS cpu backend.
 * `--long N` then embeds N images through the full pipeline in one worker, sampling RSS and live
 * tensors, to show nothing leaks.
 *
 *   npm run bench:tfjs -- [--presets a,b] [--threads 1,2] [--batch 8] [--cpu] [--no-onnx] [--long 10000]
 *                         [--long-model face-mobileface] [--rounds 5] [--json] [--quick]
 */
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PRESETS } from '../src/models/presets.ts';
import { Bench, benchArgs, serveRemote, spawnRemote, type BenchPath, type PathResult, type Remote } from './harness.ts';

const SELF = fileURLToPath(import.meta.url);
const SHARED = path.resolve(path.dirname(SELF), '../../shared');

const { values } = benchArgs({
  presets: { type: 'string' },
  threads: { type: 'string' },
  batch: { type: 'string', default: '8' },
  cpu: { type: 'boolean', default: false },
  long: { type: 'string', default: '0' },
  'long-model': { type: 'string', default: 'face-mobileface' },
  worker: { type: 'boolean', default: false },
  'no-onnx': { type: 'boolean', default: false },
});

if (values.worker) {
  // A worker: one TF.js runtime (backend and threads from the environment), one model at a time.
  const { setupTfjs } = await import('../src/models/tfjs-backend.ts');
  const { loadBackbone } = await import('../src/models/load.ts');
  const { inputSize } = await import('../src/models/spec.ts');
  const { embedWithBackbone } = await import('../src/embed/pipeline.ts');
  const { listFolder } = await import('../src/data/images.ts');
  type Bb = Awaited<ReturnType<typeof loadBackbone>>;
  const rt = await setupTfjs();
  let bb: Bb | undefined;
  let px: Float32Array | undefined;
  let batch = 1;
  serveRemote({
    runtime: () => ({ backend: rt.backend, threads: rt.threads }),
    load: async (arg) => {
      const a = arg as { preset: string; batch: number };
      await bb?.dispose();
      bb = await loadBackbone(a.preset);
      batch = a.batch;
      const { height, width } = inputSize(bb.spec);
      px = Float32Array.from({ length: batch * height * width * 3 }, (_, i) => ((i * 2654435761) % 256) * bb!.spec.rescale);
      return true;
    },
    run: async () => void (await bb!.run(px!, batch)),
    dispose: async () => {
      await bb?.dispose();
      bb = undefined;
    },
    long: async (arg) => {
      const { model, total } = arg as { model: string; total: number };
      const root = path.join(SHARED, 'datasets/clothing10');
      const files = listFolder(root).images.map((id) => path.join(root, id));
      if (!files.length) throw new Error(`${root}: no images for the long run`);
      const m = await loadBackbone(model);
      await embedWithBackbone(m, files.slice(0, 32).map((f, i) => ({ id: String(i), source: f })));
      const mb = () => Math.round(process.memoryUsage().rss / 2 ** 20);
      const samples = [{ images: 0, rssMB: mb(), tensors: rt.tf.memory().numTensors }];
      const chunk = Math.min(1000, total);
      const t0 = performance.now();
      for (let done = 0; done < total; done += chunk) {
        const items = Array.from({ length: Math.min(chunk, total - done) }, (_, i) => ({ id: String(done + i), source: files[(done + i) % files.length] }));
        await embedWithBackbone(m, items);
        samples.push({ images: done + items.length, rssMB: mb(), tensors: rt.tf.memory().numTensors });
      }
      const secs = (performance.now() - t0) / 1000;
      await m.dispose();
      return { imagesPerSec: total / secs, samples };
    },
  });
} else {
  const quick = Boolean(values.quick);
  const npmPresets = PRESETS.filter((p) => p.source.kind === 'npm').map((p) => p.name);
  const presets = values.presets ? values.presets.split(',').filter(Boolean) : quick ? ['mobilenet-v2', 'face-mobileface'] : npmPresets.filter((p) => p !== 'inception-v3');
  const cores = os.availableParallelism?.() ?? os.cpus().length;
  const threads = values.threads ? values.threads.split(',').map(Number) : [...new Set([1, Math.min(8, cores)])];
  const batch = Number(values.batch);
  const b = new Bench(
    'tfjs',
    'TensorFlow.js presets, model alone on preprocessed pixels: wasm with 1 thread against wasm with more threads, each thread count in its own worker process, alternated. "busy threads" counts the worker threads that really did work; a row whose extra threads stayed idle says so.',
    { presets: presets.join(' '), threads: threads.join(' '), batch, cpu: values.cpu },
  );
  type Variant = { name: string; label: string; env: Record<string, string>; threads: number };
  const variants: Variant[] = threads.map((t) => ({ name: `wasm-${t}t`, label: `TF.js wasm, ${t} thread${t > 1 ? 's' : ''}`, env: { LOOKALIKE_TFJS_ENGINE: 'tfjs', LOOKALIKE_TFJS_THREADS: String(t), LOOKALIKE_TFJS_BACKEND: 'wasm' }, threads: t }));
  if (values.cpu) variants.push({ name: 'cpu', label: 'TF.js cpu backend (pure JS)', env: { LOOKALIKE_TFJS_ENGINE: 'tfjs', LOOKALIKE_TFJS_BACKEND: 'cpu' }, threads: 1 });
  // lookalike's default engine for TF.js models: the graph converted to ONNX, run by ORT.
  if (!values['no-onnx']) variants.push({ name: 'onnx', label: 'converted to ONNX, ORT (the default engine)', env: { LOOKALIKE_TFJS_ENGINE: 'onnx' }, threads: 0 });
  const threadSummary: string[] = [];
  const rt0 = (name: string) => variants.find((v) => v.name === name)?.threads ?? '?';
  for (const preset of presets) {
    const remotes = new Map<string, Remote>();
    const rt = new Map<string, { backend: string; threads: number }>();
    const paths: BenchPath[] = variants.map((v) => ({
      name: v.name,
      label: v.label,
      work: batch,
      setup: async () => {
        const r = await spawnRemote(SELF, ['--worker'], v.env);
        remotes.set(v.name, r);
        rt.set(v.name, await r.call('runtime'));
        await r.call('load', { preset, batch });
      },
      run: () => remotes.get(v.name)!.call('run'),
      counters: () => remotes.get(v.name)!.counters(),
      peakRss: () => remotes.get(v.name)!.peakRssMiB(),
      teardown: () => remotes.get(v.name)!.close(),
    }));
    if (b.child) continue; // every path runs in its own worker; no memory children needed
    // Label what really ran: the backend and thread count the worker got, and how many threads did work.
    const review = (rows: PathResult[]) => {
      const base = rows[0];
      for (const v of variants) {
        const p = rows.find((x) => x.name === v.name)!;
        if (v.name === 'onnx') {
          p.label = `converted to ONNX, ORT (default engine), ${p.busyThreads ?? '?'} busy thread(s)`;
          continue;
        }
        const got = rt.get(v.name)!;
        const busy = p.busyThreads;
        let label = `TF.js ${got.backend}, ${got.threads} thread${got.threads > 1 ? 's' : ''}`;
        if (got.backend !== v.env.LOOKALIKE_TFJS_BACKEND) label += ` (asked ${v.env.LOOKALIKE_TFJS_BACKEND})`;
        if (got.threads > 1 && busy === undefined) label += ' (busy threads not measured: too little CPU time)';
        if (got.threads > 1 && busy !== undefined && busy < got.threads) label = `TF.js ${got.backend}, ${got.threads} threads requested, ${busy} busy: effectively ${busy} thread${busy > 1 ? 's' : ''}`;
        p.label = label;
        if (got.threads > 1) threadSummary.push(`${preset}: ${got.threads} wasm threads requested, ${busy ?? '?'} busy, cpu/wall ${p.cpuPerWall.toFixed(2)} (1 thread: ${base.cpuPerWall.toFixed(2)}), ${(p.ratio ?? NaN).toFixed(2)}x the 1-thread rate`);
      }
    };
    await b.compare({ group: preset, title: `${preset}: batch ${batch}`, unit: 'images/s', baseline: variants[0].name, paths, review });
  }
  for (const s of threadSummary) b.note(s);
  const first = b.doc().groups[0];
  if (first && variants.length > 1) {
    const one = first.paths[0];
    const many = first.paths[1];
    const onnx = first.paths.find((p) => p.name === 'onnx');
    b.headline(
      `The TF.js preset ${first.group} runs at ${(one.throughput ?? NaN).toFixed(1)} images/s on TF.js wasm, 1 thread (batch ${batch}); asking for ${rt0(many.name)} threads gives ${many.busyThreads ?? '?'} busy thread(s) and ${(many.ratio ?? NaN).toFixed(2)}x` +
        (onnx ? `; converted to ONNX (the default engine) it runs ${(onnx.ratio ?? NaN).toFixed(2)}x the 1-thread TF.js rate.` : '.'),
    );
  }
  const n = Number(values.long);
  if (n > 0 && !b.child) {
    b.log(`long run: ${n} images through decode + ${values['long-model']}...`);
    const w = await spawnRemote(SELF, ['--worker']);
    const l = await w.call<{ imagesPerSec: number; samples: { images: number; rssMB: number; tensors: number }[] }>('long', { model: values['long-model'], total: n });
    await w.close();
    b.note(`long run: ${values['long-model']}, ${n} images through decode + model at ${l.imagesPerSec.toFixed(1)} images/s; RSS MB / live tensors after ${l.samples.map((s) => `${s.images}: ${s.rssMB}/${s.tensors}`).join(', ')}`);
  }
  await b.done();
}
