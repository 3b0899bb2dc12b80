/**
 * Convolutions, pooling, batch norm and activations: TF's NHWC ops as ONNX NCHW ops, weights
 * transposed at conversion time ([kh,kw,cin,cout] -> [cout,cin,kh,kw]; depthwise [kh,kw,c,m] ->
 * [c*m,1,kh,kw] with group c). TF "SAME" padding is ONNX SAME_UPPER (extra padding at the end).
 */
import { Emitter, UnsupportedOp, type Value } from './emit.ts';
import { attrFloat, attrInts, attrStr, attrStrs, type OpConverter, type OpCtx } from './context.ts';
import type { ConstTensor } from './weights.ts';

/** An activation fused into a conv or dense layer. */
export interface Activation {
  kind: 'linear' | 'relu' | 'relu6' | 'sigmoid' | 'tanh' | 'elu' | 'softmax' | 'leakyrelu' | 'prelu' | 'swish' | 'hardsigmoid';
  alpha?: number;
  /** Per-channel PReLU slopes. */
  slopes?: Float32Array;
}

/** Padding: TF's SAME/VALID or explicit [top, left, bottom, right]. */
export type Padding = 'SAME' | 'VALID' | [number, number, number, number];

/** Apply an activation to a tensor; `nchw` says how per-channel slopes must be shaped. */
export function activate(e: Emitter, x: string, act: Activation | undefined, nchw: boolean): string {
  if (!act || act.kind === 'linear') return x;
  switch (act.kind) {
    case 'relu':
      return e.node('Relu', [x]);
    case 'relu6':
      return e.node('Clip', [x, e.float(new Float32Array([0]), [], 'zero'), e.float(new Float32Array([6]), [], 'six')]);
    case 'sigmoid':
      return e.node('Sigmoid', [x]);
    case 'tanh':
      return e.node('Tanh', [x]);
    case 'elu':
      return e.node('Elu', [x], { alpha: { float: act.alpha ?? 1 } });
    case 'leakyrelu':
      return e.node('LeakyRelu', [x], { alpha: { float: act.alpha ?? 0.2 } });
    case 'softmax':
      if (nchw) throw new UnsupportedOp('Softmax', 'on a 4-D map');
      return e.node('Softmax', [x], { axis: -1 });
    case 'swish':
      return e.node('Mul', [x, e.node('Sigmoid', [x])]);
    case 'hardsigmoid':
      return e.node('HardSigmoid', [x], { alpha: { float: 0.2 }, beta: { float: 0.5 } });
    case 'prelu': {
      const s = act.slopes!;
      return e.node('PRelu', [x, e.float(s, nchw ? [s.length, 1, 1] : [s.length], 'prelu_slope')]);
    }
  }
}

/** Conv2D or depthwise conv on a value (made NCHW); the output is NCHW. */
export function conv2d(e: Emitter, x: Value, filter: ConstTensor, o: { strides: number[]; dilations: number[]; padding: Padding; depthwise?: boolean; bias?: Float32Array; activation?: Activation }): Value {
  if (filter.shape.length !== 4 || filter.dtype !== 'float32') throw new UnsupportedOp('Conv2D', `filter shape [${filter.shape}]`);
  const [kh, kw, cin, cm] = filter.shape;
  const f = filter.data as Float32Array;
  const cout = o.depthwise ? cin * cm : cm;
  const w = new Float32Array(f.length);
  if (o.depthwise) {
    // W[c*m + k, 0, y, x] = F[y, x, c, k]
    for (let y = 0; y < kh; y++) for (let xx = 0; xx < kw; xx++) for (let c = 0; c < cin; c++) for (let k = 0; k < cm; k++) w[((c * cm + k) * kh + y) * kw + xx] = f[((y * kw + xx) * cin + c) * cm + k];
  } else {
    // W[o, i, y, x] = F[y, x, i, o]
    for (let y = 0; y < kh; y++) for (let xx = 0; xx < kw; xx++) for (let i = 0; i < cin; i++) for (let oc = 0; oc < cm; oc++) w[((oc * cin + i) * kh + y) * kw + xx] = f[((y * kw + xx) * cin + i) * cm + oc];
  }
  // A zero pad right before a VALID conv becomes the conv's own padding.
  let padding = o.padding;
  if (padding === 'VALID' && x.padOf) {
    padding = x.padOf.pads;
    x = x.padOf.value;
  }
  const inputs = [e.nchw(x), e.float(w, [cout, o.depthwise ? 1 : cin, kh, kw], 'conv_w')];
  if (o.bias) inputs.push(e.float(o.bias, [cout], 'conv_b'));
  const attrs: Record<string, number[] | number | string> = { kernel_shape: [kh, kw], strides: o.strides, dilations: o.dilations };
  if (o.depthwise) attrs.group = cin;
  if (padding === 'SAME') attrs.auto_pad = 'SAME_UPPER';
  else if (padding === 'VALID') attrs.pads = [0, 0, 0, 0];
  else attrs.pads = [padding[0], padding[1], padding[2], padding[3]];
  return { name: activate(e, e.node('Conv', inputs, attrs), o.activation, true), nchw: true };
}

/** Average or max pooling of a value (made NCHW); TF's average excludes padding, as ONNX's default does. */
export function pool2d(e: Emitter, x: Value, kind: 'avg' | 'max', ksize: number[], strides: number[], padding: Padding): Value {
  const attrs: Record<string, number[] | string> = { kernel_shape: ksize, strides };
  if (padding === 'SAME') attrs.auto_pad = 'SAME_UPPER';
  else if (padding !== 'VALID') attrs.pads = padding;
  return { name: e.node(kind === 'avg' ? 'AveragePool' : 'MaxPool', [e.nchw(x)], attrs), nchw: true };
}

/** Inference batch norm over the last (channel) axis: ONNX BatchNormalization on NCHW values (ORT folds it into a conv), Mul+Add otherwise. */
export function batchNorm(e: Emitter, x: Value, p: { scale: Float32Array; offset: Float32Array; mean: Float32Array; variance: Float32Array; epsilon: number }): Value {
  const c = p.scale.length;
  if (x.nchw) {
    const ins = [x.name, e.float(p.scale, [c], 'bn_scale'), e.float(p.offset, [c], 'bn_offset'), e.float(p.mean, [c], 'bn_mean'), e.float(p.variance, [c], 'bn_var')];
    return { name: e.node('BatchNormalization', ins, { epsilon: { float: p.epsilon } }), nchw: true };
  }
  const a = new Float32Array(c);
  const b = new Float32Array(c);
  for (let i = 0; i < c; i++) {
    a[i] = p.scale[i] / Math.sqrt(p.variance[i] + p.epsilon);
    b[i] = p.offset[i] - p.mean[i] * a[i];
  }
  const m = e.node('Mul', [e.tensor(x), e.float(a, [c], 'bn_a')]);
  return { name: e.node('Add', [m, e.float(b, [c], 'bn_b')]), nchw: false };
}

function tfPadding(c: OpCtx): Padding {
  const p = attrStr(c.node, 'padding', 'VALID');
  if (p === 'SAME' || p === 'VALID') return p;
  if (p === 'EXPLICIT') {
    const e = attrInts(c.node, 'explicit_paddings');
    return [e[2], e[4], e[3], e[5]];
  }
  throw new UnsupportedOp(c.node.op, `padding ${p}`);
}

function checkNhwc(c: OpCtx): void {
  const f = attrStr(c.node, 'data_format', 'NHWC');
  if (f !== 'NHWC') throw new UnsupportedOp(c.node.op, `data_format ${f}`);
}

const FUSED_ACT: Record<string, Activation['kind']> = { Relu: 'relu', Relu6: 'relu6', Elu: 'elu', LeakyRelu: 'leakyrelu', Sigmoid: 'sigmoid', Tanh: 'tanh', Prelu: 'prelu' };

/** Conv2D / DepthwiseConv2dNative and their fused forms (BiasAdd + activation). */
function convOp(depthwise: boolean, fused: boolean): OpConverter {
  return (c) => {
    checkNhwc(c);
    const s = attrInts(c.node, 'strides', [1, 1, 1, 1]);
    const d = attrInts(c.node, 'dilations', [1, 1, 1, 1]);
    let bias: Float32Array | undefined;
    let activation: Activation | undefined;
    if (fused) {
      const ops = attrStrs(c.node, 'fused_ops');
      let next = 2;
      for (const op of ops) {
        if (op === 'BiasAdd') bias = c.constant(next++).data as Float32Array;
        else if (FUSED_ACT[op]) {
          activation = { kind: FUSED_ACT[op], alpha: attrFloat(c.node, 'leakyrelu_alpha', 0.2) };
          if (op === 'Prelu') activation.slopes = c.constant(next++).data as Float32Array;
        } else throw new UnsupportedOp(c.node.op, `fused ${op}`);
      }
    }
    return conv2d(c.e, c.input(0), c.constant(1), { strides: [s[1], s[2]], dilations: [d[1], d[2]], padding: tfPadding(c), depthwise, bias, activation });
  };
}

function poolOp(kind: 'avg' | 'max'): OpConverter {
  return (c) => {
    checkNhwc(c);
    const k = attrInts(c.node, 'ksize');
    const s = attrInts(c.node, 'strides');
    return pool2d(c.e, c.input(0), kind, [k[1], k[2]], [s[1], s[2]], tfPadding(c));
  };
}

const fusedBatchNorm: OpConverter = (c) => {
  checkNhwc(c);
  const [scale, offset, mean, variance] = [1, 2, 3, 4].map((i) => c.constant(i).data as Float32Array);
  return batchNorm(c.e, c.input(0), { scale, offset, mean, variance, epsilon: attrFloat(c.node, 'epsilon', 1e-3) });
};

/** TF ops of this group. */
export const CONV_OPS: Record<string, OpConverter> = {
  Conv2D: convOp(false, false),
  DepthwiseConv2dNative: convOp(true, false),
  _FusedConv2D: convOp(false, true),
  FusedDepthwiseConv2dNative: convOp(true, true),
  AvgPool: poolOp('avg'),
  MaxPool: poolOp('max'),
  FusedBatchNorm: fusedBatchNorm,
  FusedBatchNormV2: fusedBatchNorm,
  FusedBatchNormV3: fusedBatchNorm,
};
