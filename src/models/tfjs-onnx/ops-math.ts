/**
 * Element-wise ops. A 4-D NCHW operand stays NCHW when the other operand is NCHW too or a
 * constant that varies only along channels (reshaped to [C,1,1]); otherwise both go to NHWC.
 */
import { UnsupportedOp, channelCount, type Emitter, type Value } from './emit.ts';
import { attrFloat, type OpConverter } from './context.ts';
import { activate } from './ops-conv.ts';

/** A constant as a tensor that broadcasts over an NCHW value: [C,1,1] (or a scalar). */
function channelOperand(e: Emitter, v: Value): string {
  if (v.nchw) return v.name;
  const c = v.const!;
  const n = channelCount(c)!;
  if (n === 1) return e.float(Float32Array.of(Number(c.data[0])), [], `${v.name}_scalar`);
  return e.float(c.data as Float32Array, [n, 1, 1], `${v.name}_nchw`);
}

/** The operands of a binary op and the layout the op runs in. */
export function operands(e: Emitter, a: Value, b: Value): { names: [string, string]; nchw: boolean } {
  if (a.nchw || b.nchw) {
    const fits = (v: Value) => v.nchw || (v.const !== undefined && v.const.dtype === 'float32' && channelCount(v.const) !== undefined);
    if (fits(a) && fits(b)) return { names: [channelOperand(e, a), channelOperand(e, b)], nchw: true };
    return { names: [e.nhwc(a), e.nhwc(b)], nchw: false };
  }
  return { names: [e.tensor(a), e.tensor(b)], nchw: false };
}

function binary(op: string): OpConverter {
  return (c) => {
    const { names, nchw } = operands(c.e, c.input(0), c.input(1));
    return { name: c.e.node(op, names), nchw };
  };
}

function unary(op: string): OpConverter {
  return (c) => {
    const x = c.input(0);
    return { name: c.e.node(op, [c.e.tensor(x)]), nchw: x.nchw };
  };
}

function act(kind: Parameters<typeof activate>[2] & object): OpConverter {
  return (c) => {
    const x = c.input(0);
    const a = kind.kind === 'leakyrelu' ? { ...kind, alpha: attrFloat(c.node, 'alpha', 0.2) } : kind;
    return { name: activate(c.e, c.e.tensor(x), a, x.nchw), nchw: x.nchw };
  };
}

/** TF ops of this group. */
export const MATH_OPS: Record<string, OpConverter> = {
  Add: binary('Add'),
  AddV2: binary('Add'),
  BiasAdd: binary('Add'),
  Sub: binary('Sub'),
  Mul: binary('Mul'),
  RealDiv: binary('Div'),
  Div: binary('Div'),
  Maximum: binary('Max'),
  Minimum: binary('Min'),
  Pow: binary('Pow'),
  Abs: unary('Abs'),
  Sigmoid: unary('Sigmoid'),
  Tanh: unary('Tanh'),
  Sqrt: unary('Sqrt'),
  Exp: unary('Exp'),
  Log: unary('Log'),
  Neg: unary('Neg'),
  Reciprocal: unary('Reciprocal'),
  Relu: unary('Relu'),
  Elu: unary('Elu'),
  Relu6: act({ kind: 'relu6' }),
  LeakyRelu: act({ kind: 'leakyrelu' }),
  Square: (c) => {
    const x = c.input(0);
    const t = c.e.tensor(x);
    return { name: c.e.node('Mul', [t, t]), nchw: x.nchw };
  },
  Rsqrt: (c) => {
    const x = c.input(0);
    return { name: c.e.node('Reciprocal', [c.e.node('Sqrt', [c.e.tensor(x)])]), nchw: x.nchw };
  },
  Identity: (c) => c.input(0),
  Softmax: (c) => ({ name: c.e.node('Softmax', [c.e.nhwc(c.input(0))], { axis: -1 }), nchw: false }),
  Prelu: (c) => {
    const x = c.input(0);
    const alpha = c.input(1);
    if (!alpha.const) throw new UnsupportedOp('Prelu', 'non-constant alpha');
    const { names, nchw } = operands(c.e, x, alpha);
    return { name: c.e.node('PRelu', names), nchw };
  },
};
