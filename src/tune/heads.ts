/**
 * Heads trained on frozen embeddings: linear (optionally initialised from a given matrix, for
 * projection tuning) or an MLP with 1-3 hidden layers (ReLU, dropout, optional batch norm), plus an
 * optional linear classifier for losses that need one. The tuned embedding is the output before the
 * classifier. This file holds the parameters and writes the ONNX graphs the trainer runs: a training
 * forward pass, its hand-written backward pass, and an inference chain (batch norm folded).
 */
import type { NodeDef, ValueDef, InitDef, GraphDef } from '../models/onnx-build.ts';
import { makeParam, type Param } from './params.ts';
import type { Rng } from '../util/random.ts';
import { OptionError } from '../util/options.ts';

/** TrainableHead shape and regularisation. */
export interface HeadSpec {
  kind: 'linear' | 'mlp';
  inputDim: number;
  outputDim: number;
  /** Hidden widths for an MLP (1 to 3 layers); empty for linear. */
  hidden: number[];
  /** Dropout probability after each hidden ReLU (0 = none). */
  dropout: number;
  /** Batch norm before each hidden ReLU. */
  batchNorm: boolean;
  /** Classes of the linear classifier on top of the embedding (0 = no classifier). */
  numClasses: number;
}

/** Batch-norm running statistics of one hidden layer. */
export interface BnStats {
  mean: Float32Array;
  variance: Float32Array;
}

/** A head: spec, trainable parameters (classifier last), and batch-norm running statistics. */
export interface TrainableHead {
  spec: HeadSpec;
  params: Param[];
  bn: BnStats[];
}

/** Batch-norm epsilon and running-statistics momentum (PyTorch's defaults). */
export const BN_EPS = 1e-5;
export const BN_MOMENTUM = 0.1;

/** Check a spec and fill the hidden list for linear heads; errors say what is wrong. */
export function checkSpec(spec: HeadSpec): HeadSpec {
  if (spec.kind === 'linear' && spec.hidden.length) throw new OptionError('head: a linear head has no hidden layers (use {{headType}} mlp)');
  if (spec.kind === 'mlp' && (spec.hidden.length < 1 || spec.hidden.length > 3)) throw new Error(`head: an MLP needs 1 to 3 hidden layers (got ${spec.hidden.length})`);
  for (const d of [spec.inputDim, spec.outputDim, ...spec.hidden]) if (!Number.isInteger(d) || d < 1) throw new Error(`head: bad layer width ${d}`);
  if (spec.dropout < 0 || spec.dropout >= 1) throw new Error(`head: dropout must be in [0, 1) (got ${spec.dropout})`);
  return spec;
}

/** Layer widths from input to embedding. */
export function widths(spec: HeadSpec): number[] {
  return [spec.inputDim, ...spec.hidden, spec.outputDim];
}

/**
 * Create a head with fresh weights: He-normal for hidden layers, Glorot-normal for the output and
 * classifier, zero biases. A linear head starts from `init` (inputDim x outputDim) when given, else from
 * the identity when inputDim = outputDim (tuning starts at the frozen embeddings).
 */
export function createHead(spec: HeadSpec, rng: Rng, init?: { weight: Float32Array; bias?: Float32Array }): TrainableHead {
  checkSpec(spec);
  const w = widths(spec);
  const params: Param[] = [];
  const bn: BnStats[] = [];
  const L = w.length - 1;
  for (let i = 0; i < L; i++) {
    const fin = w[i], fout = w[i + 1];
    const last = i === L - 1;
    let weight: Float32Array;
    if (last && spec.kind === 'linear' && init) {
      if (init.weight.length !== fin * fout) throw new Error(`head: initial matrix has ${init.weight.length} values, expected ${fin} x ${fout}`);
      weight = Float32Array.from(init.weight);
    } else if (last && spec.kind === 'linear' && fin === fout) {
      weight = new Float32Array(fin * fout);
      for (let k = 0; k < fin; k++) weight[k * fout + k] = 1;
    } else {
      const std = last ? Math.sqrt(2 / (fin + fout)) : Math.sqrt(2 / fin);
      weight = Float32Array.from({ length: fin * fout }, () => rng.normal() * std);
    }
    params.push(makeParam(`w${i}`, [fin, fout], weight, true));
    const bias = last && init?.bias ? Float32Array.from(init.bias) : new Float32Array(fout);
    params.push(makeParam(`b${i}`, [fout], bias, false));
    if (!last && spec.batchNorm) {
      params.push(makeParam(`g${i}`, [fout], new Float32Array(fout).fill(1), false));
      params.push(makeParam(`be${i}`, [fout], new Float32Array(fout), false));
      bn.push({ mean: new Float32Array(fout), variance: new Float32Array(fout).fill(1) });
    }
  }
  if (spec.numClasses > 0) {
    const d = spec.outputDim, c = spec.numClasses;
    params.push(makeParam('wc', [d, c], Float32Array.from({ length: d * c }, () => rng.normal() * Math.sqrt(2 / (d + c))), true));
    params.push(makeParam('bc', [c], new Float32Array(c), false));
  }
  return { spec, params, bn };
}

/** The parameter named `name`. */
export function param(head: TrainableHead, name: string): Param {
  const p = head.params.find((q) => q.name === name);
  if (!p) throw new Error(`head has no parameter ${name}`);
  return p;
}

/** Trainable parameters of the embedding part (classifier excluded) plus the classifier. */
export function trainableCount(head: TrainableHead): { embedding: number; classifier: number } {
  let embedding = 0, classifier = 0;
  for (const p of head.params) (p.name === 'wc' || p.name === 'bc' ? (classifier += p.data.length) : (embedding += p.data.length));
  return { embedding, classifier };
}

const fv = (name: string, shape: (number | string)[]): ValueDef => ({ name, shape });

/** Names of the cached activations the training forward pass outputs for the backward pass. */
export function cacheNames(spec: HeadSpec): string[] {
  const out: string[] = [];
  spec.hidden.forEach((_, i) => {
    out.push(`a${i}`);
    if (spec.dropout > 0) out.push(`h${i}`);
    if (spec.batchNorm) out.push(`xhat${i}`, `inv${i}`, `mu${i}`, `var${i}`);
  });
  return out;
}

/** Name of the input to layer i (x for the first). */
const layerIn = (spec: HeadSpec, i: number) => (i === 0 ? 'x' : spec.dropout > 0 ? `h${i - 1}` : `a${i - 1}`);

/** Training forward graph: inputs x, parameters, dropout masks; outputs emb, logits (with a classifier), caches. */
export function trainForwardGraph(head: TrainableHead): GraphDef {
  const { spec } = head;
  const w = widths(spec);
  const L = w.length - 1;
  const nodes: NodeDef[] = [];
  const inputs: ValueDef[] = [fv('x', ['n', spec.inputDim]), ...head.params.map((p) => fv(p.name, p.shape))];
  const outputs: ValueDef[] = [fv('emb', ['n', spec.outputDim])];
  if (spec.numClasses > 0) outputs.push(fv('logits', ['n', spec.numClasses]));
  const initializers: InitDef[] = [];
  if (spec.batchNorm) initializers.push({ name: 'bn_eps', dims: [], data: [BN_EPS] });
  for (let i = 0; i < L - 1; i++) {
    const H = w[i + 1];
    nodes.push({ op: 'Gemm', inputs: [layerIn(spec, i), `w${i}`, `b${i}`], outputs: [`z${i}`] });
    let pre = `z${i}`;
    if (spec.batchNorm) {
      nodes.push(
        { op: 'ReduceMean', inputs: [`z${i}`], outputs: [`mu${i}`], attrs: { axes: [0], keepdims: 1 } },
        { op: 'Sub', inputs: [`z${i}`, `mu${i}`], outputs: [`zc${i}`] },
        { op: 'Mul', inputs: [`zc${i}`, `zc${i}`], outputs: [`zc2${i}`] },
        { op: 'ReduceMean', inputs: [`zc2${i}`], outputs: [`var${i}`], attrs: { axes: [0], keepdims: 1 } },
        { op: 'Add', inputs: [`var${i}`, 'bn_eps'], outputs: [`vare${i}`] },
        { op: 'Sqrt', inputs: [`vare${i}`], outputs: [`std${i}`] },
        { op: 'Reciprocal', inputs: [`std${i}`], outputs: [`inv${i}`] },
        { op: 'Mul', inputs: [`zc${i}`, `inv${i}`], outputs: [`xhat${i}`] },
        { op: 'Mul', inputs: [`xhat${i}`, `g${i}`], outputs: [`bs${i}`] },
        { op: 'Add', inputs: [`bs${i}`, `be${i}`], outputs: [`y${i}`] },
      );
      pre = `y${i}`;
      outputs.push(fv(`xhat${i}`, ['n', H]), fv(`inv${i}`, [1, H]), fv(`mu${i}`, [1, H]), fv(`var${i}`, [1, H]));
    }
    nodes.push({ op: 'Relu', inputs: [pre], outputs: [`a${i}`] });
    outputs.push(fv(`a${i}`, ['n', H]));
    if (spec.dropout > 0) {
      inputs.push(fv(`mask${i}`, ['n', H]));
      nodes.push({ op: 'Mul', inputs: [`a${i}`, `mask${i}`], outputs: [`h${i}`] });
      outputs.push(fv(`h${i}`, ['n', H]));
    }
  }
  nodes.push({ op: 'Gemm', inputs: [layerIn(spec, L - 1), `w${L - 1}`, `b${L - 1}`], outputs: ['emb'] });
  if (spec.numClasses > 0) nodes.push({ op: 'Gemm', inputs: ['emb', 'wc', 'bc'], outputs: ['logits'] });
  // Order outputs as: emb, logits, then caches in cacheNames order.
  const order = ['emb', 'logits', ...cacheNames(spec)];
  outputs.sort((a, b) => order.indexOf(a.name) - order.indexOf(b.name));
  return { name: 'lookalike-head-train-forward', nodes, inputs, outputs, initializers };
}

/** Backward graph: inputs x, emb, caches, masks, weights, dEmb (and dLogits); outputs d_<param> for every parameter. */
export function backwardGraph(head: TrainableHead): GraphDef {
  const { spec } = head;
  const w = widths(spec);
  const L = w.length - 1;
  const nodes: NodeDef[] = [];
  const inputs: ValueDef[] = [fv('x', ['n', spec.inputDim]), fv('dEmb', ['n', spec.outputDim])];
  const initializers: InitDef[] = [{ name: 'axis0', dims: [1], data: [0], type: 'int64' }];
  if (spec.hidden.length) initializers.push({ name: 'zero', dims: [], data: [0] });
  const sum0 = (inp: string, out: string): NodeDef => ({ op: 'ReduceSum', inputs: [inp, 'axis0'], outputs: [out], attrs: { keepdims: 0 } });
  let dTop = 'dEmb';
  if (spec.numClasses > 0) {
    inputs.push(fv('emb', ['n', spec.outputDim]), fv('dLogits', ['n', spec.numClasses]), fv('wc', [spec.outputDim, spec.numClasses]));
    nodes.push(
      { op: 'Gemm', inputs: ['emb', 'dLogits'], outputs: ['d_wc'], attrs: { transA: 1 } },
      sum0('dLogits', 'd_bc'),
      { op: 'Gemm', inputs: ['dLogits', 'wc', 'dEmb'], outputs: ['dEmbT'], attrs: { transB: 1 } },
    );
    dTop = 'dEmbT';
  }
  const H = (i: number) => w[i + 1];
  for (let i = 0; i < L - 1; i++) {
    inputs.push(fv(`a${i}`, ['n', H(i)]));
    if (spec.dropout > 0) inputs.push(fv(`h${i}`, ['n', H(i)]), fv(`mask${i}`, ['n', H(i)]));
    if (spec.batchNorm) inputs.push(fv(`xhat${i}`, ['n', H(i)]), fv(`inv${i}`, [1, H(i)]), fv(`g${i}`, [H(i)]));
  }
  for (let i = 1; i < L; i++) inputs.push(fv(`w${i}`, [w[i], w[i + 1]]));
  // Output layer.
  nodes.push({ op: 'Gemm', inputs: [layerIn(spec, L - 1), dTop], outputs: [`d_w${L - 1}`], attrs: { transA: 1 } }, sum0(dTop, `d_b${L - 1}`));
  let dh = dTop;
  for (let i = L - 2; i >= 0; i--) {
    nodes.push({ op: 'Gemm', inputs: [dh, `w${i + 1}`], outputs: [`dh${i}`], attrs: { transB: 1 } });
    let da = `dh${i}`;
    if (spec.dropout > 0) {
      nodes.push({ op: 'Mul', inputs: [`dh${i}`, `mask${i}`], outputs: [`da${i}`] });
      da = `da${i}`;
    }
    nodes.push({ op: 'Greater', inputs: [`a${i}`, 'zero'], outputs: [`pos${i}`] }, { op: 'Where', inputs: [`pos${i}`, da, 'zero'], outputs: [`dy${i}`] });
    let dz = `dy${i}`;
    if (spec.batchNorm) {
      nodes.push(
        { op: 'Mul', inputs: [`dy${i}`, `xhat${i}`], outputs: [`dyx${i}`] },
        sum0(`dyx${i}`, `d_g${i}`),
        sum0(`dy${i}`, `d_be${i}`),
        { op: 'Mul', inputs: [`dy${i}`, `g${i}`], outputs: [`dxh${i}`] },
        { op: 'ReduceMean', inputs: [`dxh${i}`], outputs: [`m1_${i}`], attrs: { axes: [0], keepdims: 1 } },
        { op: 'Mul', inputs: [`dxh${i}`, `xhat${i}`], outputs: [`dxhx${i}`] },
        { op: 'ReduceMean', inputs: [`dxhx${i}`], outputs: [`m2_${i}`], attrs: { axes: [0], keepdims: 1 } },
        { op: 'Sub', inputs: [`dxh${i}`, `m1_${i}`], outputs: [`t1_${i}`] },
        { op: 'Mul', inputs: [`xhat${i}`, `m2_${i}`], outputs: [`t2_${i}`] },
        { op: 'Sub', inputs: [`t1_${i}`, `t2_${i}`], outputs: [`t3_${i}`] },
        { op: 'Mul', inputs: [`t3_${i}`, `inv${i}`], outputs: [`dz${i}`] },
      );
      dz = `dz${i}`;
    }
    nodes.push({ op: 'Gemm', inputs: [layerIn(spec, i), dz], outputs: [`d_w${i}`], attrs: { transA: 1 } }, sum0(dz, `d_b${i}`));
    dh = dz;
  }
  const outputs = head.params.map((p) => fv(`d_${p.name}`, p.shape));
  return { name: 'lookalike-head-backward', nodes, inputs, outputs, initializers };
}

/**
 * The inference chain as weights per layer: batch norm folded into the preceding Gemm
 * (W' = W * s, b' = (b - mean) * s + beta with s = gamma / sqrt(var + eps)); no dropout, no classifier.
 */
export function foldedLayers(head: TrainableHead): { weight: Float32Array; bias: Float32Array; fin: number; fout: number }[] {
  const { spec } = head;
  const w = widths(spec);
  const L = w.length - 1;
  const out = [];
  for (let i = 0; i < L; i++) {
    const fin = w[i], fout = w[i + 1];
    const weight = Float32Array.from(param(head, `w${i}`).data);
    const bias = Float32Array.from(param(head, `b${i}`).data);
    if (i < L - 1 && spec.batchNorm) {
      const g = param(head, `g${i}`).data, be = param(head, `be${i}`).data, st = head.bn[i];
      for (let j = 0; j < fout; j++) {
        const s = g[j] / Math.sqrt(st.variance[j] + BN_EPS);
        for (let k = 0; k < fin; k++) weight[k * fout + j] *= s;
        bias[j] = (bias[j] - st.mean[j]) * s + be[j];
      }
    }
    out.push({ weight, bias, fin, fout });
  }
  return out;
}

/** Inference graph `input` [N, inputDim] -> L2-normalise -> layers -> `embedding` [N, outputDim] (not normalised); weights as inputs (evaluation) or initializers (export). */
export function inferenceGraph(head: TrainableHead, asInitializers: boolean, metadata?: Record<string, string>): GraphDef {
  const layers = foldedLayers(head);
  const nodes: NodeDef[] = [];
  const inputs: ValueDef[] = [fv('input', ['N', head.spec.inputDim])];
  // The head L2-normalises its input first: training sees unit vectors (index rows), while the
  // embedding pipeline hands the head raw pooled features.
  const initializers: InitDef[] = [{ name: 'norm_eps', dims: [], data: [1e-12] }];
  nodes.push(
    { op: 'ReduceL2', inputs: ['input'], outputs: ['in_norm'], attrs: { axes: [1], keepdims: 1 } },
    { op: 'Max', inputs: ['in_norm', 'norm_eps'], outputs: ['in_norm_safe'] },
    { op: 'Div', inputs: ['input', 'in_norm_safe'], outputs: ['input_unit'] },
  );
  let cur = 'input_unit';
  layers.forEach((l, i) => {
    const last = i === layers.length - 1;
    const out = last ? 'embedding' : `z${i}`;
    nodes.push({ op: 'Gemm', inputs: [cur, `W${i}`, `B${i}`], outputs: [out] });
    if (asInitializers) initializers.push({ name: `W${i}`, dims: [l.fin, l.fout], data: l.weight }, { name: `B${i}`, dims: [l.fout], data: l.bias });
    else inputs.push(fv(`W${i}`, [l.fin, l.fout]), fv(`B${i}`, [l.fout]));
    if (!last) {
      nodes.push({ op: 'Relu', inputs: [out], outputs: [`r${i}`] });
      cur = `r${i}`;
    }
  });
  return { name: 'lookalike-head', nodes, inputs, outputs: [fv('embedding', ['N', head.spec.outputDim])], initializers, metadata };
}
