import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { loadBackbone } from '../../src/models/load.ts';
import { OrtBackbone } from '../../src/models/ort.ts';
import { embedBatches, embedWithBackbone, type EmbedItem } from '../../src/embed/pipeline.ts';
import { classImage } from '../../src/data/synthetic.ts';
import type { Backbone, RawOutput } from '../../src/models/backbone.ts';
import { writeResnetFolder } from '../fixtures/hf.ts';
import { tmpDir, writeTinyCnn } from '../helpers/tmp.ts';

const tiny = { resize: { mode: 'fixed' as const, height: 32, width: 32 }, crop: null };

/** n JPEG files of 4 classes on disk, as pipeline items. */
async function files(dir: string, n: number): Promise<EmbedItem[]> {
  const items: EmbedItem[] = [];
  for (let i = 0; i < n; i++) {
    const file = path.join(dir, `img${i}.jpg`);
    fs.writeFileSync(file, await classImage(i % 4, i));
    items.push({ id: `img${i}.jpg`, source: file });
  }
  return items;
}

/** Count fs.promises.readFile calls on `dir` while `fn` runs (the pipeline reads each file once, as it decodes it). */
async function countingReads<T>(dir: string, fn: (reads: () => number) => Promise<T>): Promise<T> {
  const real = fs.promises.readFile;
  let n = 0;
  fs.promises.readFile = ((p: fs.PathLike, ...rest: unknown[]) => {
    if (String(p).startsWith(dir)) n++;
    return (real as (...a: unknown[]) => Promise<Buffer>)(p, ...rest);
  }) as typeof fs.promises.readFile;
  try {
    return await fn(() => n);
  } finally {
    fs.promises.readFile = real;
  }
}

test('decoding runs ahead of inference by at most `prefetch` batches, into a fixed set of reused tensors, with the same vectors as one big batch', async () => {
  const dir = tmpDir();
  const items = await files(dir, 14);
  const bb = await loadBackbone(writeTinyCnn(dir), { overrides: tiny });
  const bs = 2;
  const buffers = new Set<ArrayBufferLike>();
  const readsAtRun: number[] = [];
  await countingReads(dir, async (reads) => {
    const spy: Backbone = Object.create(bb);
    spy.run = async (pixels: Float32Array, n: number): Promise<RawOutput> => {
      buffers.add(pixels.buffer);
      readsAtRun.push(reads());
      // A slow model: decoding has every chance to run further ahead than it may.
      await new Promise((r) => setTimeout(r, 15));
      return bb.run(pixels, n);
    };
    // Decoding on this thread, where the reads can be counted (workers run the same batches).
    const streamed = await embedWithBackbone(spy, items, { batchSize: bs, prefetch: 2, decodeWorkers: 0 });
    const whole = await embedWithBackbone(bb, items, { batchSize: items.length, decodeWorkers: 0 });
    assert.deepEqual(streamed.ids, whole.ids);
    for (let i = 0; i < whole.vectors.length; i++) assert.ok(Math.abs(streamed.vectors[i] - whole.vectors[i]) < 1e-6, `value ${i}`);
  });
  const batches = Math.ceil(items.length / bs);
  assert.equal(readsAtRun.length, batches);
  readsAtRun.forEach((r, k) => {
    // Batch k runs once it is decoded; no more than 2 further batches have been started.
    assert.ok(r >= (k + 1) * bs, `batch ${k}: ${r} files read, its own not all read`);
    assert.ok(r <= Math.min(items.length, (k + 1 + 2) * bs), `batch ${k}: ${r} files read, more than 2 batches ahead`);
  });
  assert.ok(readsAtRun.some((r, k) => r > (k + 1) * bs), 'decoding never ran ahead of inference');
  assert.ok(buffers.size <= 3, `${buffers.size} batch tensors for ${batches} batches (prefetch 2 allows 3)`);
  await bb.dispose();
});

test('decode workers give the same vectors, order and skip reasons as decoding on the calling thread', async () => {
  const dir = tmpDir();
  const items = await files(dir, 9);
  const good = fs.readFileSync(items[0].source as string);
  fs.writeFileSync(path.join(dir, 'truncated.jpg'), good.subarray(0, Math.floor(good.length / 3)));
  fs.writeFileSync(path.join(dir, 'empty.jpg'), Buffer.alloc(0));
  const all: EmbedItem[] = [
    ...items.slice(0, 3),
    { id: 'truncated.jpg', source: path.join(dir, 'truncated.jpg') },
    { id: 'missing.jpg', source: path.join(dir, 'missing.jpg') },
    ...items.slice(3, 6),
    { id: 'empty.jpg', source: path.join(dir, 'empty.jpg') },
    { id: 'bytes', source: good },
    ...items.slice(6),
  ];
  const bb = await loadBackbone(writeTinyCnn(dir), { overrides: tiny });
  const here = await embedWithBackbone(bb, all, { batchSize: 4, decodeWorkers: 0 });
  const workers = await embedWithBackbone(bb, all, { batchSize: 4, decodeWorkers: 2 });
  assert.deepEqual(workers.ids, here.ids);
  assert.equal(workers.ids.length, 10);
  assert.deepEqual(workers.skipped, here.skipped);
  assert.deepEqual(workers.skipped.map((s) => s.id), ['truncated.jpg', 'missing.jpg', 'empty.jpg']);
  assert.equal(Buffer.compare(Buffer.from(workers.vectors.buffer), Buffer.from(here.vectors.buffer)), 0, 'bit-identical vectors');
  await bb.dispose();
});

test('stopping the stream early reads only the batches already started and leaves nothing unhandled', async () => {
  const dir = tmpDir();
  const items = await files(dir, 20);
  const bb = await loadBackbone(writeTinyCnn(dir), { overrides: tiny });
  const unhandled: unknown[] = [];
  const onUnhandled = (e: unknown) => unhandled.push(e);
  process.on('unhandledRejection', onUnhandled);
  try {
    const n = await countingReads(dir, async (reads) => {
      for await (const b of embedBatches(bb, items, { batchSize: 2, prefetch: 1, decodeWorkers: 0 })) {
        assert.equal(b.ids.length, 2);
        assert.equal(b.processed, 2);
        break;
      }
      await new Promise((r) => setTimeout(r, 50));
      return reads();
    });
    assert.ok(n <= 6, `${n} of 20 files read after stopping at the first batch`);
    assert.deepEqual(unhandled, []);
  } finally {
    process.off('unhandledRejection', onUnhandled);
    await bb.dispose();
  }
});

test('an aborted signal stops the stream between batches with its reason', async () => {
  const dir = tmpDir();
  const items = await files(dir, 6);
  const bb = await loadBackbone(writeTinyCnn(dir), { overrides: tiny });
  const ac = new AbortController();
  let seen = 0;
  await assert.rejects(
    (async () => {
      for await (const b of embedBatches(bb, items, { batchSize: 2, signal: ac.signal })) {
        seen += b.processed;
        ac.abort(new Error('stopped by the test'));
      }
    })(),
    /stopped by the test/,
  );
  assert.equal(seen, 2, 'one batch, then the abort');
  await bb.dispose();
});

/** A TF.js graph model: x [N,8,8,3] -> mean over H and W ("pool/Mean"), converted to ONNX on load. */
function writeTfjsMean(dir: string): string {
  const nodes = [
    { name: 'x', op: 'Placeholder', attr: { dtype: { type: 'DT_FLOAT' }, shape: { shape: { dim: [{ size: '-1' }, { size: '8' }, { size: '8' }, { size: '3' }] } } } },
    { name: 'pool/axes', op: 'Const', attr: { dtype: { type: 'DT_INT32' }, value: { tensor: { dtype: 'DT_INT32', tensorShape: { dim: [{ size: '2' }] } } } } },
    { name: 'pool/Mean', op: 'Mean', input: ['x', 'pool/axes'], attr: { T: { type: 'DT_FLOAT' }, Tidx: { type: 'DT_INT32' }, keep_dims: { b: false } } },
  ];
  const json = { format: 'graph-model', generatedBy: 'test', convertedBy: 'hand', modelTopology: { node: nodes, library: {}, versions: {} }, weightsManifest: [{ paths: ['w.bin'], weights: [{ name: 'pool/axes', shape: [2], dtype: 'int32' }] }] };
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'model.json'), JSON.stringify(json));
  fs.writeFileSync(path.join(dir, 'w.bin'), Buffer.from(Int32Array.from([1, 2]).buffer));
  return path.join(dir, 'model.json');
}

test('every model format takes the runtime threads: ONNX file, Hugging Face folder and converted TF.js model sessions get the same intra-op threads', async () => {
  const dir = tmpDir();
  const models = {
    'ONNX file': writeTinyCnn(dir),
    'Hugging Face folder': writeResnetFolder(path.join(dir, 'resnet')),
    'TF.js model (converted to ONNX)': writeTfjsMean(path.join(dir, 'tfjs')),
  };
  for (const [what, file] of Object.entries(models)) {
    for (const threads of [1, 2]) {
      const bb = await loadBackbone(file, { runtime: { threads, tfjsEngine: 'onnx' } });
      assert.ok(bb instanceof OrtBackbone, `${what} runs on onnxruntime`);
      assert.equal(bb.sessionOptions?.intraOpNumThreads, threads, `${what}: intra-op threads reaching ORT`);
      await bb.dispose();
    }
    // Unset: ORT chooses (every physical core), for every format alike.
    const bb = (await loadBackbone(file, { runtime: { threads: 0, tfjsEngine: 'onnx' } })) as OrtBackbone;
    assert.equal(bb.sessionOptions?.intraOpNumThreads, undefined, what);
    await bb.dispose();
  }
});
