/**
 * The converter's graph under construction: ONNX nodes and initializers (built with
 * src/models/onnx-build.ts), and values that remember their layout. Convolutions run in NCHW;
 * a 4-D value stays NCHW through element-wise ops and channel constants, and is transposed back
 * to NHWC only where an op needs TensorFlow's layout (reshape, matmul, the graph output).
 */
import type { InitDef, NodeDef, AttrValue } from '../onnx-build.ts';
import type { ConstTensor } from './weights.ts';

/** A tensor in the graph being built: its ONNX name, whether it is NCHW (else TF's own layout), or a constant. */
export interface Value {
  name: string;
  nchw: boolean;
  /** Constants are kept as values until an op needs them as a tensor (then they become initializers). */
  const?: ConstTensor;
  /** A zero-padded value: what was padded and by how much [top, left, bottom, right], so a VALID conv can pad itself instead. */
  padOf?: { value: Value; pads: [number, number, number, number] };
}

/** An op the conversion does not cover: conversion stops and the TF.js path runs instead. */
export class UnsupportedOp extends Error {
  constructor(readonly op: string, detail = '') {
    super(`unsupported op ${op}${detail ? ` (${detail})` : ''}`);
  }
}

/** Nodes and initializers of the ONNX graph being built. */
export class Emitter {
  readonly nodes: NodeDef[] = [];
  readonly inits: InitDef[] = [];
  private count = 0;
  private readonly made = new Map<string, string>();

  /** A new unique tensor name derived from `base`. */
  fresh(base: string): string {
    return `${base}__${this.count++}`;
  }

  /** Add a node; returns its (first) output name. */
  node(op: string, inputs: string[], attrs?: Record<string, AttrValue>, out?: string): string {
    const name = out ?? this.fresh(op.toLowerCase());
    this.nodes.push({ op, inputs, outputs: [name], ...(attrs ? { attrs } : {}) });
    return name;
  }

  /** A float32 initializer. */
  float(data: Float32Array, dims: number[], base = 'const'): string {
    const name = this.fresh(base);
    this.inits.push({ name, dims, data });
    return name;
  }

  /** A 1-D int64 initializer (shapes, axes, pads). */
  ints(values: number[], base = 'ints'): string {
    const name = this.fresh(base);
    this.inits.push({ name, dims: [values.length], data: values, type: 'int64' });
    return name;
  }

  /** The tensor name of a value, turning a float constant into an initializer once. */
  tensor(v: Value): string {
    if (!v.const) return v.name;
    const hit = this.made.get(v.name);
    if (hit) return hit;
    if (v.const.dtype !== 'float32') throw new UnsupportedOp('int32 tensor input', v.name);
    const name = this.float(v.const.data as Float32Array, v.const.shape, v.name);
    this.made.set(v.name, name);
    return name;
  }

  /** The nodes that `outputs` depend on (dead ones dropped, e.g. a Pad folded into its conv), and the initializers they use. */
  live(outputs: string[]): { nodes: NodeDef[]; inits: InitDef[] } {
    const need = new Set(outputs);
    const nodes: NodeDef[] = [];
    for (let i = this.nodes.length - 1; i >= 0; i--) {
      const n = this.nodes[i];
      if (!n.outputs.some((o) => need.has(o))) continue;
      nodes.push(n);
      for (const x of n.inputs) need.add(x);
    }
    return { nodes: nodes.reverse(), inits: this.inits.filter((t) => need.has(t.name)) };
  }

  /** The value in TF's NHWC layout (a transpose when it is NCHW, made once per value). */
  nhwc(v: Value): string {
    if (!v.nchw) return this.tensor(v);
    const key = `${v.name}->nhwc`;
    let t = this.made.get(key);
    if (!t) this.made.set(key, (t = this.node('Transpose', [v.name], { perm: [0, 2, 3, 1] })));
    return t;
  }

  /** The 4-D value in NCHW (a transpose when it is NHWC, made once per value). */
  nchw(v: Value): string {
    if (v.nchw) return v.name;
    const key = `${v.name}->nchw`;
    let t = this.made.get(key);
    if (!t) this.made.set(key, (t = this.node('Transpose', [this.tensor(v)], { perm: [0, 3, 1, 2] })));
    return t;
  }
}

/** NHWC axis -> NCHW axis. */
export const TO_NCHW_AXIS = [0, 2, 3, 1];

/** A constant that only varies along channels (scalar, [C], [1,C], [1,1,C] or [1,1,1,C]): its channel count, else undefined. */
export function channelCount(c: ConstTensor): number | undefined {
  const s = c.shape;
  if (s.length === 0 || s.every((d) => d === 1)) return 1;
  if (s.length > 4 || s.slice(0, -1).some((d) => d !== 1)) return undefined;
  return s[s.length - 1];
}
