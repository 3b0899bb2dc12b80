/** Projection tuning from the pretrained projection: read from the ONNX graph, the untrained head reproduces the frozen embeddings; models without one get a clear error. */
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { buildModel } from '../../src/models/onnx-build.ts';
import { tinyCnn } from '../../src/models/tiny.ts';
import { readProjection } from '../../src/models/projection.ts';
import { loadBackbone } from '../../src/models/load.ts';
import { writeClassFolders } from '../../src/data/synthetic.ts';
import { readExperimentConfig } from '../../src/experiments/experiment-config.ts';
import { runExperiment } from '../../src/experiments/runner.ts';
import { readRuns } from '../../src/experiments/run-records.ts';
import { loadDataset } from '../../src/experiments/datasets.ts';
import { EmbeddingCache } from '../../src/experiments/cache.ts';
import { embedDataset } from '../../src/experiments/embed.ts';
import { applyHead } from '../../src/experiments/modes.ts';
import { createHead } from '../../src/tune/heads.ts';
import { Rng } from '../../src/util/random.ts';
import { clipPreprocessor } from '../fixtures/hf.ts';
import { tmpDir } from '../helpers/tmp.ts';

const H = 8, P = 4, S = 32, K = 8;

function randoms(n: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  return Float32Array.from({ length: n }, () => rng.normal());
}

/** A CLIP-like image tower with random weights: pooler_output = mean of patch tokens (8-d), image_embeds = pooler_output x proj (4-d), as MatMul or Gemm(transB). */
function clipLike(o: { gemm?: boolean; bias?: boolean } = {}): Uint8Array {
  const proj = randoms(H * P, 7);
  const projT = new Float32Array(P * H);
  for (let i = 0; i < H; i++) for (let j = 0; j < P; j++) projT[j * H + i] = proj[i * P + j];
  return buildModel({
    nodes: [
      { op: 'Conv', inputs: ['pixel_values', 'patch_w'], outputs: ['map'], attrs: { kernel_shape: [K, K], strides: [K, K] } },
      { op: 'Reshape', inputs: ['map', 'shape'], outputs: ['flat'] },
      { op: 'Transpose', inputs: ['flat'], outputs: ['tokens'], attrs: { perm: [0, 2, 1] } },
      { op: 'ReduceMean', inputs: ['tokens'], outputs: ['pooler_output'], attrs: { axes: [1], keepdims: 0 } },
      o.gemm
        ? { op: 'Gemm', inputs: ['pooler_output', 'projT', ...(o.bias ? ['pb'] : [])], outputs: ['proj_out'], attrs: { transB: 1 } }
        : { op: 'MatMul', inputs: ['pooler_output', 'proj'], outputs: ['proj_out'] },
      { op: 'Identity', inputs: ['proj_out'], outputs: ['image_embeds'] },
    ],
    inputs: [{ name: 'pixel_values', shape: ['batch', 3, S, S] }],
    outputs: [
      { name: 'image_embeds', shape: ['batch', P] },
      { name: 'pooler_output', shape: ['batch', H] },
    ],
    initializers: [
      { name: 'patch_w', dims: [H, 3, K, K], data: randoms(H * 3 * K * K, 3).map((x) => x / 64) },
      { name: 'shape', dims: [3], data: [0, H, -1], type: 'int64' },
      o.gemm ? { name: 'projT', dims: [P, H], data: projT } : { name: 'proj', dims: [H, P], data: proj },
      ...(o.bias ? [{ name: 'pb', dims: [P], data: [0.5, 0, 0, 0] }] : []),
    ],
  });
}

function writeClipLike(dir: string, model: Uint8Array): string {
  fs.mkdirSync(path.join(dir, 'onnx'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ model_type: 'clip', architectures: ['CLIPModel'], projection_dim: P }));
  fs.writeFileSync(path.join(dir, 'preprocessor_config.json'), JSON.stringify(clipPreprocessor()));
  fs.writeFileSync(path.join(dir, 'onnx', 'vision_model.onnx'), model);
  return dir;
}

test('readProjection: MatMul and Gemm(transB) give the same [in, out] matrix; a bias or no projection is a one-line error', () => {
  const dir = tmpDir('lookalike-proj-');
  const files = { mm: clipLike(), gemm: clipLike({ gemm: true }), bias: clipLike({ gemm: true, bias: true }) };
  for (const [k, v] of Object.entries(files)) fs.writeFileSync(path.join(dir, `${k}.onnx`), v);
  const a = readProjection(path.join(dir, 'mm.onnx'), 'image_embeds');
  const b = readProjection(path.join(dir, 'gemm.onnx'), 'image_embeds');
  assert.deepEqual([a.inputDim, a.outputDim, a.input], [H, P, 'pooler_output']);
  assert.deepEqual([b.inputDim, b.outputDim, b.input], [H, P, 'pooler_output']);
  assert.deepEqual(Array.from(b.weight), Array.from(a.weight));
  assert.deepEqual(Array.from(a.weight), Array.from(randoms(H * P, 7)));
  assert.throws(() => readProjection(path.join(dir, 'bias.onnx'), 'image_embeds', 'm'), /^Error: model m: the projection .* has a bias.*use init: identity$/);
  // pooler_output comes from a ReduceMean: no projection produces it.
  assert.throws(() => readProjection(path.join(dir, 'mm.onnx'), 'pooler_output', 'pool'), /^Error: model pool: no projection layer \(no MatMul\/Gemm with a weight initializer produces pooler_output in .*mm\.onnx\); use init: identity$/);
});

test('projection init: pretrained starts at the frozen embeddings (cosine >= 0.9999 per row), trains, and a model without a projection fails clearly', async () => {
  const dir = tmpDir('lookalike-proj-exp-');
  const clip = writeClipLike(path.join(dir, 'clip'), clipLike());
  fs.writeFileSync(path.join(dir, 'tiny.onnx'), tinyCnn());
  await writeClassFolders(path.join(dir, 'ds'), 6, 6, 0, 40);
  const rows = fs.readFileSync(path.join(dir, 'ds/labels.csv'), 'utf8').trim().split('\n').slice(1).map((l) => l.split(',').slice(0, 2).join(','));
  fs.writeFileSync(path.join(dir, 'ds/labels.csv'), ['path,label', ...rows].join('\n') + '\n');
  fs.writeFileSync(
    path.join(dir, 'exp.yaml'),
    `name: proj
store: runs
cache: cache
models:
  - {name: clip, model: clip}
  - {name: tiny, model: tiny.onnx, flags: {resize: 32x32, crop: none}}
datasets:
  - {name: ds, path: ds}
modes:
  - frozen
  - {name: proj-pre, kind: projection, init: pretrained, loss: supcon, epochs: 1}
  - {name: proj-id, kind: projection, init: identity, loss: supcon, epochs: 1}
`,
  );
  const c = readExperimentConfig(path.join(dir, 'exp.yaml'));
  await runExperiment(c, { quiet: true });
  const byId = new Map(readRuns(path.join(dir, 'runs')).map((r) => [r.id, r]));
  const pre = byId.get('clip__ds__proj-pre')!;
  assert.equal(pre.status, 'finished', pre.reason);
  assert.equal(pre.params['tune.init'], 'pretrained');
  const init = pre.extra!.init as { from: string; min_cosine_to_frozen: number };
  assert.equal(init.from, 'pretrained');
  assert.ok(init.min_cosine_to_frozen >= 0.9999, String(init.min_cosine_to_frozen));
  assert.equal(byId.get('clip__ds__proj-id')!.status, 'finished', byId.get('clip__ds__proj-id')!.reason);
  const tiny = byId.get('tiny__ds__proj-pre')!;
  assert.equal(tiny.status, 'failed');
  assert.match(tiny.reason!, /^model tiny: no pre-projection feature to start from .*; use init: identity$/);
  assert.equal(byId.get('tiny__ds__proj-id')!.status, 'finished', byId.get('tiny__ds__proj-id')!.reason);

  // Independently: the head built from the graph's matrix on the pre-projection feature vs the frozen image_embeds, row by row.
  const d = loadDataset(c.datasets[0], 0);
  const projected = await loadBackbone(clip);
  const preBb = await loadBackbone(clip, { feature: 'pre-projection' });
  try {
    assert.equal(preBb.spec.output, 'pooler_output');
    const ref = await embedDataset(d, projected, EmbeddingCache.open(path.join(dir, 'cache'), projected.fingerprint));
    const x = await embedDataset(d, preBb, EmbeddingCache.open(path.join(dir, 'cache'), preBb.fingerprint));
    assert.equal(ref.embeddedNow + x.embeddedNow, 0, 'both features were cached by the experiment');
    assert.deepEqual([x.dim, ref.dim], [H, P]);
    const m = readProjection(projected.file!, 'image_embeds');
    const head = createHead({ kind: 'linear', inputDim: H, outputDim: P, hidden: [], dropout: 0, batchNorm: false, numClasses: 0 }, new Rng(0), { weight: m.weight });
    const out = await applyHead(head, x);
    let worst = 1, spread = 0;
    for (let i = 0; i < d.items.length; i++) {
      let dot = 0;
      for (let k = 0; k < P; k++) dot += out.vectors[x.row[i] * P + k] * ref.vectors[ref.row[i] * P + k];
      worst = Math.min(worst, dot);
      spread = Math.max(spread, 1 - ref.vectors[ref.row[i] * P] * ref.vectors[0]);
    }
    assert.ok(worst >= 0.9999, String(worst));
    assert.ok(spread > 1e-3, 'the frozen embeddings differ between images');
  } finally {
    await projected.dispose();
    await preBb.dispose();
  }
});
