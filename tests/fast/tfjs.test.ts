import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { TfjsBackbone, loadTfjsBackbone, readTfjsArtifacts, isTfjsPath } from '../../src/models/tfjs.ts';
import { setupTfjs } from '../../src/models/tfjs-backend.ts';
import { loadBackbone } from '../../src/models/load.ts';
import { OrtBackbone, createSession } from '../../src/models/ort.ts';
import { buildModel } from '../../src/models/onnx-build.ts';
import { defaultSpec, type ModelSpec } from '../../src/models/spec.ts';
import { embedWithBackbone } from '../../src/embed/pipeline.ts';
import { config } from '../../src/util/config.ts';
import { tmpDir, SHARED } from '../helpers/tmp.ts';

// A tiny graph model: x [N,H,W,3] -> 1x1 Conv2D (3->C) -> Relu -> Mean over H,W ("pool/Mean") -> MatMul (C->2) ("logits").
const C = 4;
const H = 8;
const convW = Float32Array.from({ length: 3 * C }, (_, i) => Math.sin(i * 1.7) * 0.8); // [1,1,3,C], index k*C+c
const fcW = Float32Array.from({ length: C * 2 }, (_, i) => Math.cos(i * 0.9)); // [C,2]
const b64 = (s: string) => Buffer.from(s).toString('base64');

function constNode(name: string, dtype: 'DT_FLOAT' | 'DT_INT32', dims: number[]) {
  return { name, op: 'Const', attr: { dtype: { type: dtype }, value: { tensor: { dtype, tensorShape: { dim: dims.map((d) => ({ size: String(d) })) } } } } };
}

/** Write model.json + one shard for the tiny graph and return the model.json path. */
function writeTinyGraph(dir: string, shardName = 'group1-shard1of1.bin'): string {
  const nodes = [
    { name: 'x', op: 'Placeholder', attr: { dtype: { type: 'DT_FLOAT' }, shape: { shape: { dim: [{ size: '-1' }, { size: String(H) }, { size: String(H) }, { size: '3' }] } } } },
    constNode('features/w', 'DT_FLOAT', [1, 1, 3, C]),
    constNode('pool/axes', 'DT_INT32', [2]),
    constNode('head/w', 'DT_FLOAT', [C, 2]),
    {
      name: 'features/conv',
      op: 'Conv2D',
      input: ['x', 'features/w'],
      attr: { T: { type: 'DT_FLOAT' }, strides: { list: { i: ['1', '1', '1', '1'] } }, padding: { s: b64('VALID') }, data_format: { s: b64('NHWC') }, dilations: { list: { i: ['1', '1', '1', '1'] } } },
    },
    { name: 'features/relu', op: 'Relu', input: ['features/conv'], attr: { T: { type: 'DT_FLOAT' } } },
    { name: 'pool/Mean', op: 'Mean', input: ['features/relu', 'pool/axes'], attr: { T: { type: 'DT_FLOAT' }, Tidx: { type: 'DT_INT32' }, keep_dims: { b: false } } },
    { name: 'logits', op: 'MatMul', input: ['pool/Mean', 'head/w'], attr: { T: { type: 'DT_FLOAT' }, transpose_a: { b: false }, transpose_b: { b: false } } },
  ];
  const weights = [
    { name: 'features/w', shape: [1, 1, 3, C], dtype: 'float32' },
    { name: 'pool/axes', shape: [2], dtype: 'int32' },
    { name: 'head/w', shape: [C, 2], dtype: 'float32' },
  ];
  const json = {
    format: 'graph-model',
    generatedBy: 'lookalike-test',
    convertedBy: 'hand',
    modelTopology: { node: nodes, library: {}, versions: {} },
    weightsManifest: [{ paths: [shardName], weights }],
  };
  const shard = Buffer.concat([Buffer.from(convW.buffer), Buffer.from(Int32Array.from([1, 2]).buffer), Buffer.from(fcW.buffer)]);
  fs.writeFileSync(path.join(dir, 'model.json'), JSON.stringify(json));
  fs.writeFileSync(path.join(dir, shardName), shard);
  return path.join(dir, 'model.json');
}

/** The same network in ONNX, NCHW: Conv 1x1 -> Relu -> GlobalAveragePool -> Flatten. */
function writeTinyOnnx(dir: string): string {
  const w = new Float32Array(C * 3);
  for (let c = 0; c < C; c++) for (let k = 0; k < 3; k++) w[c * 3 + k] = convW[k * C + c];
  const bytes = buildModel({
    nodes: [
      { op: 'Conv', inputs: ['x', 'w'], outputs: ['conv'], attrs: { kernel_shape: [1, 1] } },
      { op: 'Relu', inputs: ['conv'], outputs: ['relu'] },
      { op: 'GlobalAveragePool', inputs: ['relu'], outputs: ['gap'] },
      { op: 'Flatten', inputs: ['gap'], outputs: ['pooled'] },
    ],
    inputs: [{ name: 'x', shape: ['n', 3, H, H] }],
    outputs: [{ name: 'pooled', shape: ['n', C] }],
    initializers: [{ name: 'w', dims: [C, 3, 1, 1], data: w }],
  });
  const f = path.join(dir, 'tiny.onnx');
  fs.writeFileSync(f, bytes);
  return f;
}

/** Expected pool/Mean of one NHWC image. */
function expectedPool(px: Float32Array, offset: number): number[] {
  const out = new Array(C).fill(0);
  for (let p = 0; p < H * H; p++) {
    for (let c = 0; c < C; c++) {
      let s = 0;
      for (let k = 0; k < 3; k++) s += px[offset + p * 3 + k] * convW[k * C + c];
      out[c] += Math.max(0, s) / (H * H);
    }
  }
  return out;
}

const dir = tmpDir('lookalike-tfjs-');
const modelJson = writeTinyGraph(dir);
const tinySpec: Partial<ModelSpec> = { resize: { mode: 'shortest-edge', shortestEdge: 10 }, crop: { height: H, width: H } };

test('tfjs graph model: reads a named internal node and the final output, NHWC', async () => {
  const rt = await setupTfjs();
  assert.ok(rt.backend === 'wasm' || rt.backend === 'cpu');
  const px = Float32Array.from({ length: 2 * H * H * 3 }, (_, i) => Math.sin(i * 0.37) * 2);
  const pooled = await loadTfjsBackbone(dir, { overrides: { ...tinySpec, output: 'pool/Mean' } });
  assert.equal(pooled.spec.format, 'tfjs');
  assert.equal(pooled.spec.layout, 'nhwc');
  assert.deepEqual(pooled.inputs.map((i) => i.name), ['x']);
  const out = await pooled.run(px, 2);
  assert.deepEqual(out.dims, [2, C]);
  for (let n = 0; n < 2; n++) {
    const want = expectedPool(px, n * H * H * 3);
    for (let c = 0; c < C; c++) assert.ok(Math.abs(out.data[n * C + c] - want[c]) < 1e-5, `image ${n} channel ${c}: ${out.data[n * C + c]} vs ${want[c]}`);
  }
  // Default output = the graph's final node (logits), = pool x fc.
  const full = await loadTfjsBackbone(modelJson, { overrides: tinySpec });
  const logits = await full.run(px, 2);
  assert.deepEqual(logits.dims, [2, 2]);
  const want0 = expectedPool(px, 0);
  const l0 = want0.reduce((s, v, c) => s + v * fcW[c * 2], 0);
  assert.ok(Math.abs(logits.data[0] - l0) < 1e-4);
  assert.deepEqual((await full.probeCandidates()).map((c) => [c.name, c.shape]), [['pool/Mean', ['batch', C]]]);
  assert.notEqual(full.fingerprint, pooled.fingerprint, 'a different output node changes the fingerprint');
  await pooled.dispose();
  await full.dispose();
});

test('tfjs: unknown node, missing shard and bad json fail with the file named', async () => {
  await assert.rejects(loadTfjsBackbone(modelJson, { overrides: { ...tinySpec, output: 'nope/Mean' } }), /no node "nope\/Mean".*pool\/Mean/);
  const d2 = tmpDir('lookalike-tfjs-bad-');
  const j2 = writeTinyGraph(d2);
  fs.rmSync(path.join(d2, 'group1-shard1of1.bin'));
  assert.throws(() => readTfjsArtifacts(j2), (e: Error) => e.message.includes(j2) && /weight shard group1-shard1of1\.bin missing/.test(e.message));
  fs.writeFileSync(path.join(d2, 'group1-shard1of1.bin'), Buffer.alloc(8));
  assert.throws(() => readTfjsArtifacts(j2), /truncated/);
  const bad = path.join(d2, 'bad.json');
  fs.writeFileSync(bad, '{"hello": 1}');
  assert.throws(() => readTfjsArtifacts(bad), /bad\.json: not a TensorFlow\.js model\.json/);
  assert.ok(isTfjsPath(dir) && isTfjsPath(modelJson) && !isTfjsPath(path.join(dir, 'x.onnx')));
});

test('tfjs: fingerprint = weights + spec; a changed shard changes it', async () => {
  const d3 = tmpDir('lookalike-tfjs-fp-');
  const j3 = writeTinyGraph(d3);
  const a = readTfjsArtifacts(j3).hash;
  assert.equal(readTfjsArtifacts(modelJson).hash, a, 'same bytes, same hash');
  const shard = path.join(d3, 'group1-shard1of1.bin');
  const bytes = fs.readFileSync(shard);
  bytes[0] ^= 1;
  fs.writeFileSync(shard, bytes);
  assert.notEqual(readTfjsArtifacts(j3).hash, a);
});

test('NHWC preprocessing parity: tfjs graph and the same ONNX network give the same embedding of a real image', async () => {
  const img = path.join(SHARED, 'datasets/ukbench56/images', fs.readdirSync(path.join(SHARED, 'datasets/ukbench56/images'))[0]);
  const file = fs.statSync(img).isDirectory() ? path.join(img, fs.readdirSync(img)[0]) : img;
  const base: ModelSpec = { ...defaultSpec(), ...tinySpec, pooling: 'none' } as ModelSpec;
  const tf = await loadTfjsBackbone(modelJson, { overrides: { ...tinySpec, output: 'pool/Mean', pooling: 'none' } });
  const onnxFile = writeTinyOnnx(dir);
  const ort = new OrtBackbone(onnxFile, { ...base, format: 'onnx', layout: 'nchw' }, 'x', await createSession(onnxFile, onnxFile));
  const items = [{ id: 'a', source: file }];
  const a = await embedWithBackbone(tf, items);
  const b = await embedWithBackbone(ort, items);
  assert.equal(a.dim, C);
  assert.equal(b.dim, C);
  for (let i = 0; i < C; i++) assert.ok(Math.abs(a.vectors[i] - b.vectors[i]) < 1e-4, `dim ${i}: tfjs ${a.vectors[i]} vs onnx ${b.vectors[i]}`);
  assert.ok(a.vectors.some((v) => v > 0.05), 'a non-trivial embedding');
  await tf.dispose();
  await ort.dispose();
});

test('tfjs: no tensor leaks over many batches; dispose frees the weights', async () => {
  const rt = await setupTfjs();
  const start = rt.tf.memory().numTensors;
  const bb = await loadTfjsBackbone(modelJson, { overrides: { ...tinySpec, output: 'pool/Mean' } });
  const loaded = rt.tf.memory().numTensors;
  assert.ok(loaded > start, 'weights are tensors');
  const px = new Float32Array(8 * H * H * 3).fill(0.5);
  for (let i = 0; i < 200; i++) await bb.run(px, 8);
  assert.equal(rt.tf.memory().numTensors, loaded, 'run() leaves no tensors behind');
  await bb.dispose();
  assert.equal(rt.tf.memory().numTensors, start);
});

test('tfjs layers model: reads an inner layer (sub-model) and the nsfwjs-style .js bundle format', async () => {
  const { tf } = await setupTfjs();
  const input = tf.input({ shape: [H, H, 3], name: 'img' });
  const conv = tf.layers.conv2d({ filters: C, kernelSize: 1, useBias: false, activation: 'relu', name: 'conv', weights: [tf.tensor4d(convW, [1, 1, 3, C])] }).apply(input) as import('@tensorflow/tfjs').SymbolicTensor;
  const gap = tf.layers.globalAveragePooling2d({ name: 'gap' }).apply(conv) as import('@tensorflow/tfjs').SymbolicTensor;
  const dense = tf.layers.dense({ units: 2, name: 'dense', useBias: false, weights: [tf.tensor2d(fcW, [C, 2])] }).apply(gap) as import('@tensorflow/tfjs').SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: dense });
  const d4 = tmpDir('lookalike-tfjs-layers-');
  await model.save({
    save: async (art) => {
      const weightsManifest = [{ paths: ['group1-shard1of1'], weights: art.weightSpecs! }];
      // nsfwjs bundle layout: CommonJS modules exporting the model.json object and the base64 shard.
      fs.writeFileSync(path.join(d4, 'model.min.js'), `module.exports = ${JSON.stringify({ modelTopology: art.modelTopology, weightsManifest })};`);
      fs.writeFileSync(path.join(d4, 'group1-shard1of1.min.js'), `module.exports = ${JSON.stringify(Buffer.from(art.weightData as ArrayBuffer).toString('base64'))};`);
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    },
  });
  model.dispose();
  const before = tf.memory().numTensors;
  const bb = await TfjsBackbone.load(path.join(d4, 'model.min.js'), { overrides: { ...tinySpec, output: 'gap' } });
  assert.deepEqual(bb.candidates.map((c) => c.name), ['gap']);
  const px = Float32Array.from({ length: H * H * 3 }, (_, i) => Math.cos(i * 0.21));
  const out = await bb.run(px, 1);
  assert.deepEqual(out.dims, [1, C]);
  const want = expectedPool(px, 0);
  for (let c = 0; c < C; c++) assert.ok(Math.abs(out.data[c] - want[c]) < 1e-5);
  await bb.dispose();
  assert.equal(tf.memory().numTensors, before, 'full model and sub-model both freed');
});

test('loadBackbone routes model.json paths to TF.js models: converted to ONNX by default, TF.js itself on request', async () => {
  const bb = await loadBackbone(modelJson, { overrides: { ...tinySpec, output: 'pool/Mean' } });
  assert.ok(bb instanceof OrtBackbone);
  assert.match(bb.engine ?? '', /converted from TF\.js/);
  await bb.dispose();
  config.tfjsEngine = 'tfjs';
  try {
    const tf = await loadBackbone(modelJson, { overrides: { ...tinySpec, output: 'pool/Mean' } });
    assert.ok(tf instanceof TfjsBackbone);
    assert.equal(tf.fingerprint, bb.fingerprint);
    await tf.dispose();
  } finally {
    config.tfjsEngine = 'onnx';
  }
});
