/**
 * Reductions, reshapes, padding, concatenation and matrix products. Axes given in TF's NHWC
 * order are mapped onto NCHW values where the result keeps the same meaning; otherwise the value
 * is transposed back to NHWC first.
 */
import { TO_NCHW_AXIS, UnsupportedOp, type Value } from './emit.ts';
import { attrBool, attrInts, attrStrs, type OpConverter, type OpCtx } from './context.ts';
import { activate, type Activation } from './ops-conv.ts';

const ints = (c: OpCtx, i: number): number[] => Array.from(c.constant(i).data, Number);
const norm = (axis: number, rank: number) => (axis < 0 ? axis + rank : axis);

/** Reduce over TF axes; on an NCHW value when the kept axes read the same in both layouts. */
function reduce(op: 'ReduceMean' | 'ReduceSum' | 'ReduceMax'): OpConverter {
  return (c) => {
    const x = c.input(0);
    const keep = attrBool(c.node, 'keep_dims');
    const axes = ints(c, 1);
    let nchw = false;
    let input: string;
    let mapped = axes;
    if (x.nchw) {
      const a = axes.map((v) => norm(v, 4));
      const kept = [0, 1, 2, 3].filter((d) => !a.includes(d));
      // Kept axes in the same order in both layouts: batch and channels only, or keep_dims.
      if (keep || kept.every((d) => d === 0 || d === 3)) {
        nchw = keep;
        mapped = a.map((d) => TO_NCHW_AXIS[d]);
        input = x.name;
      } else input = c.e.nhwc(x);
    } else input = c.e.tensor(x);
    // opset 17: ReduceSum takes axes as an input, ReduceMean/ReduceMax as an attribute.
    const name =
      op === 'ReduceSum'
        ? c.e.node(op, [input, c.e.ints(mapped, 'axes')], { keepdims: keep ? 1 : 0 })
        : c.e.node(op, [input], { axes: mapped, keepdims: keep ? 1 : 0 });
    return { name, nchw };
  };
}

const squeeze: OpConverter = (c) => {
  const x = c.input(0);
  const dims = attrInts(c.node, 'squeeze_dims').length ? attrInts(c.node, 'squeeze_dims') : attrInts(c.node, 'axis');
  if (!dims.length) throw new UnsupportedOp('Squeeze', 'without squeeze_dims');
  if (x.nchw) {
    const a = dims.map((v) => norm(v, 4));
    const kept = [0, 1, 2, 3].filter((d) => !a.includes(d));
    if (kept.every((d) => d === 0 || d === 3)) return { name: c.e.node('Squeeze', [x.name, c.e.ints(a.map((d) => TO_NCHW_AXIS[d]), 'axes')]), nchw: false };
  }
  return { name: c.e.node('Squeeze', [c.e.nhwc(x), c.e.ints(dims, 'axes')]), nchw: false };
};

const pad: OpConverter = (c) => {
  const x = c.input(0);
  const p = ints(c, 1);
  const rank = p.length / 2;
  if (c.node.op === 'PadV2' && c.inputs.length > 2 && Number(c.constant(2).data[0]) !== 0) throw new UnsupportedOp('PadV2', 'non-zero constant');
  const begin = Array.from({ length: rank }, (_, i) => p[i * 2]);
  const end = Array.from({ length: rank }, (_, i) => p[i * 2 + 1]);
  // Spatial-only zero padding of an image map: remembered so a following VALID conv can pad itself.
  const spatial = rank === 4 && begin[0] === 0 && end[0] === 0 && begin[3] === 0 && end[3] === 0;
  const padOf = spatial ? { value: x, pads: [begin[1], begin[2], end[1], end[2]] as [number, number, number, number] } : undefined;
  if (x.nchw && rank === 4) {
    const perm = [0, 3, 1, 2];
    return { name: c.e.node('Pad', [x.name, c.e.ints([...perm.map((d) => begin[d]), ...perm.map((d) => end[d])], 'pads')]), nchw: true, ...(padOf ? { padOf } : {}) };
  }
  return { name: c.e.node('Pad', [c.e.tensor(x), c.e.ints([...begin, ...end], 'pads')]), nchw: false, ...(padOf ? { padOf } : {}) };
};

const concat: OpConverter = (c) => {
  const n = c.inputs.length - 1;
  const axis = Number(c.constant(n).data[0]);
  const xs: Value[] = Array.from({ length: n }, (_, i) => c.input(i));
  if (xs.every((v) => v.nchw) && (axis === 3 || axis === -1)) return { name: c.e.node('Concat', xs.map((v) => v.name), { axis: 1 }), nchw: true };
  return { name: c.e.node('Concat', xs.map((v) => c.e.nhwc(v)), { axis }), nchw: false };
};

const reshape: OpConverter = (c) => ({ name: c.e.node('Reshape', [c.e.nhwc(c.input(0)), c.e.ints(ints(c, 1), 'shape')]), nchw: false });

const FUSED_ACT: Record<string, Activation['kind']> = { Relu: 'relu', Relu6: 'relu6', Elu: 'elu', LeakyRelu: 'leakyrelu', Sigmoid: 'sigmoid', Tanh: 'tanh' };

/** MatMul / _FusedMatMul (BiasAdd + activation) of a 2-D value by a constant matrix. */
function matmul(fused: boolean): OpConverter {
  return (c) => {
    const a = c.input(0);
    const b = c.input(1);
    if (attrBool(c.node, 'transpose_a')) throw new UnsupportedOp(c.node.op, 'transpose_a');
    let rhs: string;
    if (b.const) {
      const [k, m] = b.const.shape;
      if (attrBool(c.node, 'transpose_b')) {
        const src = b.const.data as Float32Array;
        const t = new Float32Array(src.length);
        for (let i = 0; i < k; i++) for (let j = 0; j < m; j++) t[j * k + i] = src[i * m + j];
        rhs = c.e.float(t, [m, k], 'matmul_b');
      } else rhs = c.e.tensor(b);
    } else {
      rhs = c.e.nhwc(b);
      if (attrBool(c.node, 'transpose_b')) rhs = c.e.node('Transpose', [rhs], { perm: [1, 0] });
    }
    let y = c.e.node('MatMul', [c.e.nhwc(a), rhs]);
    if (fused) {
      let next = 2;
      for (const op of attrStrs(c.node, 'fused_ops')) {
        if (op === 'BiasAdd') y = c.e.node('Add', [y, c.e.tensor(c.input(next++))]);
        else if (FUSED_ACT[op]) y = activate(c.e, y, { kind: FUSED_ACT[op] }, false);
        else throw new UnsupportedOp(c.node.op, `fused ${op}`);
      }
    }
    return { name: y, nchw: false };
  };
}

/** TF ops of this group. */
export const SHAPE_OPS: Record<string, OpConverter> = {
  Mean: reduce('ReduceMean'),
  Sum: reduce('ReduceSum'),
  Max: reduce('ReduceMax'),
  Squeeze: squeeze,
  Pad: pad,
  PadV2: pad,
  ConcatV2: concat,
  Reshape: reshape,
  MatMul: matmul(false),
  _FusedMatMul: matmul(true),
};
