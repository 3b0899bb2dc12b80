/** What an op converter sees of one TF graph node: its inputs as values, constants, attributes. */
import type { Emitter, Value } from './emit.ts';
import type { ConstTensor } from './weights.ts';

/** A node of a TF.js graph model (model.json modelTopology.node). */
export interface TfNode {
  name: string;
  op: string;
  input?: string[];
  attr?: Record<string, TfAttr>;
}

/** A TF attribute value as TF.js stores it (strings base64, ints as strings). */
export interface TfAttr {
  s?: string;
  i?: string | number;
  f?: number;
  b?: boolean;
  type?: string;
  list?: { s?: string[]; i?: (string | number)[]; f?: number[] };
  shape?: { dim?: { size?: string | number }[] };
}

/** One node being converted. */
export interface OpCtx {
  e: Emitter;
  node: TfNode;
  /** Data inputs (control inputs `^x` dropped). */
  inputs: string[];
  /** The converted value of data input i. */
  input(i: number): Value;
  /** Data input i as a constant, or an UnsupportedOp error. */
  constant(i: number): ConstTensor;
}

/** Converts one node; returns its (first) output value. */
export type OpConverter = (c: OpCtx) => Value;

/** A string attribute (TF.js base64-encodes them). */
export function attrStr(n: TfNode, name: string, fallback = ''): string {
  const s = n.attr?.[name]?.s;
  return s === undefined ? fallback : Buffer.from(s, 'base64').toString('utf8');
}

/** A list-of-strings attribute. */
export function attrStrs(n: TfNode, name: string): string[] {
  return (n.attr?.[name]?.list?.s ?? []).map((s) => Buffer.from(s, 'base64').toString('utf8'));
}

/** A list-of-ints attribute. */
export function attrInts(n: TfNode, name: string, fallback: number[] = []): number[] {
  const l = n.attr?.[name]?.list?.i;
  return l && l.length ? l.map(Number) : fallback;
}

/** A bool attribute. */
export function attrBool(n: TfNode, name: string, fallback = false): boolean {
  return n.attr?.[name]?.b ?? fallback;
}

/** A float attribute. */
export function attrFloat(n: TfNode, name: string, fallback = 0): number {
  return n.attr?.[name]?.f ?? fallback;
}

