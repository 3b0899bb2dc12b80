/**
 * TF.js layers models (Keras model.json, e.g. the nsfwjs networks) to ONNX: the layers the
 * requested layer depends on, in topological order, each mapped onto the same conv / pool /
 * batch-norm / activation builders as the graph path. Layers outside the table are reported.
 */
import { buildModel } from '../onnx-build.ts';
import { Emitter, UnsupportedOp, type Value } from './emit.ts';
import { activate, batchNorm, conv2d, pool2d, type Activation, type Padding } from './ops-conv.ts';
import { operands } from './ops-math.ts';
import type { Conversion } from './graph.ts';
import type { ConstTensor } from './weights.ts';

/** A Keras layer as model.json stores it. */
export interface KerasLayer {
  class_name: string;
  name?: string;
  config: Record<string, unknown> & { name: string };
  inbound_nodes?: [string, number, number, unknown][][];
}

type LayerFn = (e: Emitter, l: KerasLayer, xs: Value[], w: (suffix: string) => ConstTensor | undefined) => Value;

const pair = (v: unknown): [number, number] => (Array.isArray(v) ? [Number(v[0]), Number(v[1] ?? v[0])] : [Number(v), Number(v)]);

function kerasActivation(name: unknown): Activation | undefined {
  const a = String(name ?? 'linear');
  const kinds: Record<string, Activation['kind']> = { linear: 'linear', relu: 'relu', relu6: 'relu6', sigmoid: 'sigmoid', tanh: 'tanh', elu: 'elu', softmax: 'softmax', swish: 'swish', hard_sigmoid: 'hardsigmoid' };
  if (!kinds[a]) throw new UnsupportedOp(`activation ${a}`);
  return { kind: kinds[a] };
}

function channelsLast(l: KerasLayer): void {
  const f = l.config.data_format;
  if (f !== undefined && f !== 'channels_last') throw new UnsupportedOp(l.class_name, `data_format ${String(f)}`);
}

function padding(l: KerasLayer): Padding {
  const p = String(l.config.padding ?? 'valid');
  if (p === 'same') return 'SAME';
  if (p === 'valid') return 'VALID';
  throw new UnsupportedOp(l.class_name, `padding ${p}`);
}

const required = (l: KerasLayer, w: (s: string) => ConstTensor | undefined, s: string): ConstTensor => {
  const t = w(s);
  if (!t) throw new UnsupportedOp(l.class_name, `weight ${l.config.name}/${s} missing`);
  return t;
};

const conv = (depthwise: boolean): LayerFn => (e, l, [x], w) => {
  channelsLast(l);
  const bias = l.config.use_bias === false ? undefined : (w('bias')?.data as Float32Array | undefined);
  return conv2d(e, x, required(l, w, depthwise ? 'depthwise_kernel' : 'kernel'), {
    strides: pair(l.config.strides ?? 1),
    dilations: pair(l.config.dilation_rate ?? 1),
    padding: padding(l),
    depthwise,
    bias,
    activation: kerasActivation(l.config.activation),
  });
};

const pool = (kind: 'avg' | 'max'): LayerFn => (e, l, [x]) => {
  channelsLast(l);
  const size = pair(l.config.pool_size ?? 2);
  return pool2d(e, x, kind, size, pair(l.config.strides ?? size), padding(l));
};

const LAYERS: Record<string, LayerFn> = {
  Conv2D: conv(false),
  DepthwiseConv2D: conv(true),
  AveragePooling2D: pool('avg'),
  MaxPooling2D: pool('max'),
  BatchNormalization: (e, l, [x], w) => {
    const axis = Number(l.config.axis ?? -1);
    if (axis !== -1 && axis !== 3) throw new UnsupportedOp('BatchNormalization', `axis ${axis}`);
    const mean = required(l, w, 'moving_mean').data as Float32Array;
    const c = mean.length;
    return batchNorm(e, x, {
      scale: (w('gamma')?.data as Float32Array | undefined) ?? new Float32Array(c).fill(1),
      offset: (w('beta')?.data as Float32Array | undefined) ?? new Float32Array(c),
      mean,
      variance: required(l, w, 'moving_variance').data as Float32Array,
      epsilon: Number(l.config.epsilon ?? 1e-3),
    });
  },
  ReLU: (e, l, [x]) => {
    const max = l.config.max_value;
    if (Number(l.config.negative_slope ?? 0) !== 0 || Number(l.config.threshold ?? 0) !== 0) throw new UnsupportedOp('ReLU', 'negative_slope/threshold');
    if (max === null || max === undefined) return { name: activate(e, e.tensor(x), { kind: 'relu' }, x.nchw), nchw: x.nchw };
    const clip = e.node('Clip', [e.tensor(x), e.float(new Float32Array([0]), [], 'zero'), e.float(new Float32Array([Number(max)]), [], 'max')]);
    return { name: clip, nchw: x.nchw };
  },
  Activation: (e, l, [x]) => ({ name: activate(e, x.nchw ? x.name : e.tensor(x), kerasActivation(l.config.activation), x.nchw), nchw: x.nchw }),
  ZeroPadding2D: (e, l, [x]) => {
    channelsLast(l);
    const p = l.config.padding as number | number[] | number[][];
    const [[t, b], [left, r]] = Array.isArray(p) ? (Array.isArray(p[0]) ? (p as number[][]) : [pair(p[0]), pair(p[1])]) : [pair(p), pair(p)];
    return { name: e.node('Pad', [e.nchw(x), e.ints([0, 0, t, left, 0, 0, b, r], 'pads')]), nchw: true, padOf: { value: x, pads: [t, left, b, r] } };
  },
  Add: (e, _l, xs) => xs.slice(1).reduce((acc, v) => {
    const { names, nchw } = operands(e, acc, v);
    return { name: e.node('Add', names), nchw };
  }, xs[0]),
  Concatenate: (e, l, xs) => {
    const axis = Number(l.config.axis ?? -1);
    if (xs.every((v) => v.nchw) && (axis === -1 || axis === 3)) return { name: e.node('Concat', xs.map((v) => v.name), { axis: 1 }), nchw: true };
    return { name: e.node('Concat', xs.map((v) => e.nhwc(v)), { axis }), nchw: false };
  },
  GlobalAveragePooling2D: (e, l, [x]) => {
    channelsLast(l);
    return { name: e.node('ReduceMean', [e.nchw(x)], { axes: [2, 3], keepdims: 0 }), nchw: false };
  },
  Flatten: (e, _l, [x]) => ({ name: e.node('Flatten', [e.nhwc(x)], { axis: 1 }), nchw: false }),
  Dense: (e, l, [x], w) => {
    let y = e.node('MatMul', [e.nhwc(x), e.tensor({ name: `${l.config.name}/kernel`, nchw: false, const: required(l, w, 'kernel') })]);
    const bias = l.config.use_bias === false ? undefined : w('bias');
    if (bias) y = e.node('Add', [y, e.tensor({ name: `${l.config.name}/bias`, nchw: false, const: bias })]);
    return { name: activate(e, y, kerasActivation(l.config.activation), false), nchw: false };
  },
  Dropout: (_e, _l, [x]) => x,
};

/** Convert the layers that `output` (a layer name) depends on. */
export function convertLayers(layers: KerasLayer[], weights: Map<string, ConstTensor>, output: string): Conversion {
  const byName = new Map(layers.map((l) => [l.config.name, l]));
  const inputsOf = (l: KerasLayer) => (l.inbound_nodes?.[0] ?? []).map((ref) => ref[0]);
  if (!byName.has(output)) throw new Error(`no layer "${output}"`);
  const order: KerasLayer[] = [];
  const seen = new Set<string>();
  const visit = (name: string) => {
    if (seen.has(name)) return;
    seen.add(name);
    const l = byName.get(name);
    if (!l) throw new Error(`no layer "${name}"`);
    for (const i of inputsOf(l)) visit(i);
    order.push(l);
  };
  visit(output);
  const missing = [...new Set(order.filter((l) => l.class_name !== 'InputLayer' && !LAYERS[l.class_name]).map((l) => l.class_name))];
  if (missing.length) return { ok: false, unsupported: missing.sort() };
  const inputs = order.filter((l) => l.class_name === 'InputLayer');
  if (inputs.length !== 1) return { ok: false, unsupported: [`${inputs.length} input layers (one image input expected)`] };
  const e = new Emitter();
  const values = new Map<string, Value>();
  for (const l of order) {
    const name = l.config.name;
    if (l.class_name === 'InputLayer') {
      values.set(name, { name, nchw: false });
      continue;
    }
    if ((l.inbound_nodes?.length ?? 0) > 1) return { ok: false, unsupported: [`shared layer ${name}`] };
    try {
      values.set(name, LAYERS[l.class_name](e, l, inputsOf(l).map((i) => values.get(i)!), (s) => weights.get(`${name}/${s}`)));
    } catch (err) {
      if (err instanceof UnsupportedOp) return { ok: false, unsupported: [err.message.replace(/^unsupported op /, '')] };
      throw err;
    }
  }
  e.node('Identity', [e.nhwc(values.get(output)!)], undefined, output);
  const { nodes, inits } = e.live([output]);
  const shape = (inputs[0].config.batch_input_shape as (number | null)[] | undefined) ?? [null, null, null, 3];
  const model = buildModel({
    name: 'tfjs-layers',
    inputs: [{ name: inputs[0].config.name, shape: shape.map((d, i) => (d === null ? (i === 0 ? 'batch' : `d${i}`) : d)) }],
    outputs: [{ name: output, shape: null }],
    nodes,
    initializers: inits,
    opset: 17,
  });
  return { ok: true, model, input: inputs[0].config.name, output };
}
