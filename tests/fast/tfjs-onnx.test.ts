/** TF.js -> ONNX conversion: every covered op against TF.js itself, layers models, the cache, the fallback, and every npm preset on real images. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { config } from '../../src/util/config.ts';
import { setupTfjs } from '../../src/models/tfjs-backend.ts';
import { TfjsBackbone } from '../../src/models/tfjs.ts';
import { OrtBackbone } from '../../src/models/ort.ts';
import { loadTfjsModel } from '../../src/models/tfjs-onnx/tfjs-load.ts';
import { halfToFloat } from '../../src/models/tfjs-onnx/weights.ts';
import { loadBackbone } from '../../src/models/load.ts';
import { PRESETS } from '../../src/models/presets.ts';
import { presetLocation } from '../../src/models/catalog.ts';
import { embedWithBackbone } from '../../src/embed/pipeline.ts';
import { writeClassFolders } from '../../src/data/synthetic.ts';
import type { Backbone } from '../../src/models/backbone.ts';
import type { ModelSpec } from '../../src/models/spec.ts';
import { tmpDir, SHARED } from '../helpers/tmp.ts';

config.cacheDir = tmpDir('lookalike-tfjs-onnx-cache-');

const b64 = (s: string) => Buffer.from(s).toString('base64');
const rand = (n: number, seed: number, scale = 1) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 12.9898 + seed * 78.233) * scale);

/** Writes a TF.js graph model by hand: nodes, and weights (optionally quantized like the converter does). */
class GraphWriter {
  nodes: Record<string, unknown>[] = [];
  weights: Record<string, unknown>[] = [];
  parts: Buffer[] = [];
  input(name: string, dims: number[]) {
    this.nodes.push({ name, op: 'Placeholder', attr: { dtype: { type: 'DT_FLOAT' }, shape: { shape: { dim: dims.map((d) => ({ size: String(d) })) } } } });
  }
  const(name: string, shape: number[], data: Float32Array | Int32Array, quant?: 'uint8' | 'float16') {
    const dtype = data instanceof Int32Array ? 'DT_INT32' : 'DT_FLOAT';
    this.nodes.push({ name, op: 'Const', attr: { dtype: { type: dtype }, value: { tensor: { dtype, tensorShape: { dim: shape.map((d) => ({ size: String(d) })) } } } } });
    const entry: Record<string, unknown> = { name, shape, dtype: data instanceof Int32Array ? 'int32' : 'float32' };
    if (quant === 'uint8') {
      const min = Math.min(...data);
      const scale = (Math.max(...data) - min) / 255 || 1;
      entry.quantization = { dtype: 'uint8', min, scale };
      this.parts.push(Buffer.from(Uint8Array.from(data, (v) => Math.round((v - min) / scale))));
    } else if (quant === 'float16') {
      entry.quantization = { dtype: 'float16' };
      const u = new Uint16Array(data.length);
      const f = new Float32Array(1);
      const i = new Uint32Array(f.buffer);
      data.forEach((v, k) => {
        f[0] = v;
        const x = i[0];
        // float32 -> float16, truncating (small normal values only in this test)
        u[k] = ((x >>> 16) & 0x8000) | ((((x >>> 23) & 0xff) - 112) << 10) | ((x >>> 13) & 0x3ff);
      });
      this.parts.push(Buffer.from(u.buffer));
    } else this.parts.push(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
    this.weights.push(entry);
  }
  op(name: string, op: string, input: string[], attr: Record<string, unknown> = {}) {
    this.nodes.push({ name, op, input, attr: { T: { type: 'DT_FLOAT' }, ...attr } });
  }
  write(dir: string): string {
    fs.mkdirSync(dir, { recursive: true });
    const json = { format: 'graph-model', generatedBy: 'test', convertedBy: 'hand', modelTopology: { node: this.nodes, library: {}, versions: {} }, weightsManifest: [{ paths: ['w.bin'], weights: this.weights }] };
    fs.writeFileSync(path.join(dir, 'model.json'), JSON.stringify(json));
    fs.writeFileSync(path.join(dir, 'w.bin'), Buffer.concat(this.parts));
    return path.join(dir, 'model.json');
  }
}

const conv = (strides: number, padding: string) => ({ strides: { list: { i: ['1', String(strides), String(strides), '1'] } }, padding: { s: b64(padding) }, data_format: { s: b64('NHWC') }, dilations: { list: { i: ['1', '1', '1', '1'] } } });
const fused = (...ops: string[]) => ({ fused_ops: { list: { s: ops.map(b64) } }, num_args: { i: String(ops.length - (ops.includes('Relu') || ops.includes('Relu6') ? 1 : 0)) } });
const pool = (k: number, s: number, padding: string) => ({ ksize: { list: { i: ['1', String(k), String(k), '1'] } }, strides: { list: { i: ['1', String(s), String(s), '1'] } }, padding: { s: b64(padding) }, data_format: { s: b64('NHWC') } });

/** A graph using every op group: pad, convs (plain, fused, depthwise, quantized weights), batch norm, pools, concat, reductions, matmuls, L2 norm. */
function writeOpsGraph(dir: string, extraOp?: string): string {
  const g = new GraphWriter();
  g.input('x', [-1, 12, 12, 3]);
  g.const('pads', [4, 2], Int32Array.from([0, 0, 1, 1, 1, 1, 0, 0]));
  g.op('pad', 'Pad', ['x', 'pads']);
  g.const('w1', [3, 3, 3, 8], rand(216, 1, 0.5), 'uint8');
  g.op('c1', 'Conv2D', ['pad', 'w1'], conv(1, 'VALID'));
  g.const('b1', [8], rand(8, 2, 0.1));
  g.op('c1b', 'BiasAdd', ['c1', 'b1']);
  g.op('r1', 'Relu', ['c1b']);
  g.const('six', [], Float32Array.of(6));
  g.op('r1m', 'Minimum', ['r1', 'six']);
  g.const('dw', [3, 3, 8, 2], rand(144, 3, 0.5), 'float16');
  g.op('d1', 'DepthwiseConv2dNative', ['r1m', 'dw'], conv(2, 'SAME'));
  for (const [i, n] of ['scale', 'offset', 'mean', 'var'].entries()) g.const(`bn/${n}`, [16], n === 'var' ? Float32Array.from(rand(16, 10 + i), (v) => 1 + Math.abs(v)) : rand(16, 10 + i));
  g.op('bn', 'FusedBatchNormV3', ['d1', 'bn/scale', 'bn/offset', 'bn/mean', 'bn/var'], { epsilon: { f: 0.001 }, data_format: { s: b64('NHWC') } });
  g.const('w2', [1, 1, 16, 8], rand(128, 4, 0.4));
  g.const('b2', [8], rand(8, 5, 0.1));
  g.op('c2', '_FusedConv2D', ['bn', 'w2', 'b2'], { ...conv(1, 'SAME'), ...fused('BiasAdd', 'Relu6') });
  g.op('mp', 'MaxPool', ['c2'], pool(2, 1, 'SAME'));
  g.op('ap', 'AvgPool', ['mp'], pool(3, 1, 'SAME'));
  g.const('dw2', [3, 3, 8, 1], rand(72, 6, 0.5));
  g.const('db2', [8], rand(8, 7, 0.1));
  g.op('d2', 'FusedDepthwiseConv2dNative', ['ap', 'dw2', 'db2'], { ...conv(1, 'SAME'), ...fused('BiasAdd', 'Relu') });
  g.const('axis', [], Int32Array.of(3));
  g.op('cat', 'ConcatV2', ['d2', 'c2', 'axis'], { N: { i: '2' } });
  g.const('chscale', [1, 1, 1, 16], rand(16, 8));
  g.op('scaled', 'Mul', ['cat', 'chscale']);
  g.op('abs', 'Abs', ['scaled']);
  g.op('mix', 'AddV2', ['scaled', 'abs']);
  g.const('red', [2], Int32Array.of(1, 2));
  g.op('gap', 'Mean', ['mix', 'red'], { keep_dims: { b: false } });
  g.const('fc', [16, 10], rand(160, 9, 0.3));
  g.const('fcb', [10], rand(10, 11, 0.1));
  g.op('emb', '_FusedMatMul', ['gap', 'fc', 'fcb'], { transpose_a: { b: false }, transpose_b: { b: false }, ...fused('BiasAdd') });
  g.op('sq', 'Square', ['emb']);
  g.const('one', [1], Int32Array.of(1));
  g.op('ss', 'Sum', ['sq', 'one'], { keep_dims: { b: true } });
  g.const('eps', [], Float32Array.of(1e-10));
  g.op('mx', 'Maximum', ['ss', 'eps']);
  g.op('rs', 'Rsqrt', ['mx']);
  g.op('normed', 'Mul', ['emb', 'rs']);
  // A flattening branch: Reshape of a spatial map, MatMul with transpose_b, Squeeze of a keep_dims mean.
  g.const('shape', [2], Int32Array.of(-1, 6 * 6 * 8));
  g.op('flat', 'Reshape', ['c2', 'shape']);
  g.const('fc2', [4, 288], rand(1152, 12, 0.05));
  g.op('proj', 'MatMul', ['flat', 'fc2'], { transpose_a: { b: false }, transpose_b: { b: true } });
  g.op('kgap', 'Mean', ['c2', 'red'], { keep_dims: { b: true } });
  g.op('sqz', 'Squeeze', ['kgap'], { squeeze_dims: { list: { i: ['1', '2'] } } });
  g.const('axis1', [], Int32Array.of(1));
  g.op('out', 'ConcatV2', ['normed', 'proj', 'sqz', 'axis1'], { N: { i: '3' } });
  if (extraOp) g.op('weird', extraOp, ['out']);
  return g.write(dir);
}

const SPEC: Partial<ModelSpec> = { resize: { mode: 'fixed', height: 12, width: 12 }, crop: null, pooling: 'none' };

async function compare(a: Backbone, b: Backbone, n: number, size: number, seed: number): Promise<{ cos: number[]; maxDiff: number }> {
  const px = rand(n * size * size * 3, seed, 2);
  const ra = await a.run(px, n);
  const rb = await b.run(px, n);
  assert.deepEqual(ra.dims, rb.dims);
  const d = ra.data.length / n;
  const cos: number[] = [];
  let maxDiff = 0;
  for (let i = 0; i < n; i++) {
    let ab = 0;
    let aa = 0;
    let bb = 0;
    for (let k = 0; k < d; k++) {
      const x = ra.data[i * d + k];
      const y = rb.data[i * d + k];
      ab += x * y;
      aa += x * x;
      bb += y * y;
      maxDiff = Math.max(maxDiff, Math.abs(x - y));
    }
    cos.push(ab / Math.sqrt(aa * bb));
  }
  return { cos, maxDiff };
}

async function bothEngines(model: string, opts: Parameters<typeof loadTfjsModel>[1] = {}): Promise<[Backbone, Backbone]> {
  config.tfjsEngine = 'onnx';
  const onnx = await loadTfjsModel(model, opts);
  config.tfjsEngine = 'tfjs';
  try {
    return [onnx, await loadTfjsModel(model, opts)];
  } finally {
    config.tfjsEngine = 'onnx';
  }
}

test('float16 bits decode like IEEE half precision', () => {
  assert.equal(halfToFloat(0x3c00), 1);
  assert.equal(halfToFloat(0xc000), -2);
  assert.equal(halfToFloat(0x3555), 0.333251953125);
  assert.equal(halfToFloat(0x0001), 2 ** -24);
});

test('a graph using every covered op group converts and matches TF.js; the converted graph is cached by content hash', async () => {
  await setupTfjs();
  const dir = tmpDir();
  const file = writeOpsGraph(path.join(dir, 'ops'));
  const [onnx, tf] = await bothEngines(file, { overrides: { ...SPEC, output: 'out' } });
  assert.ok(onnx instanceof OrtBackbone, onnx.engine);
  assert.ok(tf instanceof TfjsBackbone);
  assert.match(onnx.engine ?? '', /converted from TF\.js, cached at /);
  assert.equal(onnx.fingerprint, tf.fingerprint, 'same weights and spec: same fingerprint on either engine');
  const { cos, maxDiff } = await compare(onnx, tf, 3, 12, 1);
  assert.ok(cos.every((c) => c >= 0.99999), `cosines ${cos}`);
  assert.ok(maxDiff < 1e-3, `max abs difference ${maxDiff}`);
  await onnx.dispose();
  await tf.dispose();
  const cached = fs.readdirSync(path.join(config.cacheDir, 'tfjs-onnx'));
  assert.equal(cached.filter((f) => f.endsWith('.onnx')).length, 1);
  assert.ok(cached.every((f) => !f.includes('.tmp')), 'no temp file left');
  // Loading again reads the cache (a changed weight shard gives another hash, so another file).
  const again = await loadTfjsModel(file, { overrides: { ...SPEC, output: 'out' } });
  assert.ok(again instanceof OrtBackbone);
  await again.dispose();
  assert.equal(fs.readdirSync(path.join(config.cacheDir, 'tfjs-onnx')).length, 1);
});

test('an op the conversion does not cover: TF.js runs it, and the note names the op', async () => {
  const dir = tmpDir();
  const file = writeOpsGraph(path.join(dir, 'odd'), 'Cumprod');
  const notes: string[] = [];
  const b = await loadTfjsModel(file, { overrides: { ...SPEC, output: 'out' }, warn: (m) => notes.push(m) });
  // The unsupported op is not on the path to 'out': converted.
  assert.ok(b instanceof OrtBackbone);
  await b.dispose();
  const c = await loadTfjsModel(file, { overrides: { ...SPEC, output: 'weird' }, warn: (m) => notes.push(m) }).catch((e: Error) => e);
  // TF.js itself may not run Cumprod either; either way the conversion named it.
  if (!(c instanceof Error)) {
    assert.ok(c instanceof TfjsBackbone);
    assert.match(c.engine ?? '', /not converted to ONNX: Cumprod/);
    await c.dispose();
  }
  assert.ok(notes.some((n) => /running on TF\.js \(slower\): not converted to ONNX: Cumprod/.test(n)), notes.join('\n'));
});

test('a Keras layers model (conv, depthwise, batch norm, ReLU6, padding, add, concat, pools, dense) converts and matches TF.js', async () => {
  const { tf } = await setupTfjs();
  const input = tf.input({ shape: [16, 16, 3], name: 'img' });
  const pad = tf.layers.zeroPadding2d({ padding: [[0, 1], [0, 1]], name: 'pad' }).apply(input) as import('@tensorflow/tfjs').SymbolicTensor;
  const c1 = tf.layers.conv2d({ filters: 8, kernelSize: 3, strides: 2, padding: 'valid', useBias: false, name: 'c1' }).apply(pad) as import('@tensorflow/tfjs').SymbolicTensor;
  const bn = tf.layers.batchNormalization({ name: 'bn', epsilon: 0.001 }).apply(c1) as import('@tensorflow/tfjs').SymbolicTensor;
  const r6 = tf.layers.reLU({ maxValue: 6, name: 'r6' }).apply(bn) as import('@tensorflow/tfjs').SymbolicTensor;
  const dw = tf.layers.depthwiseConv2d({ kernelSize: 3, padding: 'same', name: 'dw' }).apply(r6) as import('@tensorflow/tfjs').SymbolicTensor;
  const add = tf.layers.add({ name: 'add' }).apply([r6, dw]) as import('@tensorflow/tfjs').SymbolicTensor;
  const c2 = tf.layers.conv2d({ filters: 4, kernelSize: 1, activation: 'relu', name: 'c2' }).apply(add) as import('@tensorflow/tfjs').SymbolicTensor;
  const cat = tf.layers.concatenate({ name: 'cat' }).apply([add, c2]) as import('@tensorflow/tfjs').SymbolicTensor;
  const mp = tf.layers.maxPooling2d({ poolSize: 2, strides: 1, padding: 'same', name: 'mp' }).apply(cat) as import('@tensorflow/tfjs').SymbolicTensor;
  const ap = tf.layers.averagePooling2d({ poolSize: 2, strides: 2, padding: 'valid', name: 'ap' }).apply(mp) as import('@tensorflow/tfjs').SymbolicTensor;
  const gap = tf.layers.globalAveragePooling2d({ name: 'gap' }).apply(ap) as import('@tensorflow/tfjs').SymbolicTensor;
  const flat = tf.layers.flatten({ name: 'flat' }).apply(ap) as import('@tensorflow/tfjs').SymbolicTensor;
  const d1 = tf.layers.dense({ units: 6, activation: 'tanh', name: 'd1' }).apply(flat) as import('@tensorflow/tfjs').SymbolicTensor;
  const drop = tf.layers.dropout({ rate: 0.5, name: 'drop' }).apply(d1) as import('@tensorflow/tfjs').SymbolicTensor;
  const both = tf.layers.concatenate({ name: 'both' }).apply([gap, drop]) as import('@tensorflow/tfjs').SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: both, name: 'keras_test' });
  // Non-trivial batch-norm statistics.
  const bnLayer = model.getLayer('bn');
  bnLayer.setWeights(bnLayer.getWeights().map((w, i) => tf.tensor(Float32Array.from(rand(8, 20 + i), (v) => (i === 3 ? 1 + Math.abs(v) : v)), w.shape)));
  const dir = tmpDir();
  await model.save(
    tf.io.withSaveHandler(async (art) => {
      fs.writeFileSync(path.join(dir, 'model.json'), JSON.stringify({ format: 'layers-model', modelTopology: art.modelTopology, weightsManifest: [{ paths: ['w.bin'], weights: art.weightSpecs }] }));
      fs.writeFileSync(path.join(dir, 'w.bin'), Buffer.from(art.weightData as ArrayBuffer));
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  model.dispose();
  const spec = { ...SPEC, resize: { mode: 'fixed' as const, height: 16, width: 16 } };
  for (const output of ['both', 'gap']) {
    const [onnx, tfb] = await bothEngines(path.join(dir, 'model.json'), { overrides: { ...spec, output } });
    assert.ok(onnx instanceof OrtBackbone, onnx.engine);
    const { cos, maxDiff } = await compare(onnx, tfb, 2, 16, 3);
    assert.ok(cos.every((c) => c >= 0.99999), `${output}: cosines ${cos}`);
    assert.ok(maxDiff < 1e-3, `${output}: max abs difference ${maxDiff}`);
    await onnx.dispose();
    await tfb.dispose();
  }
});

// Every npm preset installed: embeddings through ONNX Runtime match TF.js per image (cosine >= 0.9999).
const npmPresets = PRESETS.filter((p) => p.source.kind === 'npm');
for (const preset of npmPresets) {
  const here = presetLocation(preset) !== undefined;
  test(`preset ${preset.name}: converted to ONNX, embeddings match TF.js on real images`, { skip: !here && `npm package ${preset.source.kind === 'npm' ? preset.source.package : ''} not installed` }, async () => {
    const faces = preset.family === 'face';
    const shared = path.join(SHARED, 'datasets', faces ? 'att-faces/images' : 'clothing10/images');
    let files: string[];
    if (fs.existsSync(shared)) {
      files = (fs.readdirSync(shared, { recursive: true }) as string[]).filter((f) => /\.(jpe?g|png|pgm)$/i.test(f)).sort().filter((_, i) => i % 37 === 0).slice(0, 3).map((f) => path.join(shared, f));
    } else {
      const d = tmpDir();
      await writeClassFolders(d, 3, 1, 0, 96);
      files = (fs.readdirSync(d, { recursive: true }) as string[]).filter((f) => f.endsWith('.jpg')).map((f) => path.join(d, f));
    }
    const items = files.map((f) => ({ id: f, source: f }));
    config.tfjsEngine = 'onnx';
    const onnx = await loadBackbone(preset.name);
    assert.ok(onnx instanceof OrtBackbone, `${preset.name} ran on ${onnx.engine}`);
    const a = await embedWithBackbone(onnx, items);
    await onnx.dispose();
    config.tfjsEngine = 'tfjs';
    const tfb = await loadBackbone(preset.name);
    config.tfjsEngine = 'onnx';
    assert.ok(tfb instanceof TfjsBackbone);
    const b = await embedWithBackbone(tfb, items);
    await tfb.dispose();
    assert.equal(a.dim, preset.dim);
    assert.equal(a.ids.length, files.length);
    for (let i = 0; i < a.ids.length; i++) {
      let s = 0;
      for (let k = 0; k < a.dim; k++) s += a.vectors[i * a.dim + k] * b.vectors[i * b.dim + k];
      assert.ok(s >= 0.9999, `${preset.name} ${a.ids[i]}: cosine ${s}`);
    }
  });
}
