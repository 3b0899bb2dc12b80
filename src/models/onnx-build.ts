/**
 * A tiny ONNX graph builder on protobufjs: enough to write the exact-search kernel
 * (Gemm + TopK), tuned heads, and the test fixtures' encoders without Python.
 */
import { modelProto, DataType, AttrType } from '../util/onnx-proto.ts';

export type AttrValue = number | string | number[] | { float: number } | { floats: number[] };

/** A node description: op type, inputs, outputs and attributes. */
export interface NodeDef {
  op: string;
  inputs: string[];
  outputs: string[];
  attrs?: Record<string, AttrValue>;
  name?: string;
}

/** A graph input or output: name, element type and shape (string = symbolic dimension; null = unknown shape). */
export interface ValueDef {
  name: string;
  type?: 'float32' | 'int64' | 'int32' | 'int8' | 'uint8';
  shape: (number | string)[] | null;
}

/** A constant weight: name, shape and values (float32 unless int64 is given; int8/uint8 from their typed arrays). */
export interface InitDef {
  name: string;
  dims: number[];
  data: Float32Array | number[] | BigInt64Array | Int8Array | Uint8Array;
  type?: 'float32' | 'int64';
}

/** Everything that defines a model. */
export interface GraphDef {
  name?: string;
  nodes: NodeDef[];
  inputs: ValueDef[];
  outputs: ValueDef[];
  initializers?: InitDef[];
  opset?: number;
  metadata?: Record<string, string>;
}

const ELEM = { float32: DataType.FLOAT, int64: DataType.INT64, int32: DataType.INT32, int8: DataType.INT8, uint8: DataType.UINT8 } as const;
const elem = (t: ValueDef['type']) => ELEM[t ?? 'float32'];

function attribute(name: string, v: AttrValue): Record<string, unknown> {
  if (typeof v === 'string') return { name, type: AttrType.STRING, s: Buffer.from(v) };
  if (typeof v === 'number') {
    // Integers are INT attributes; use { float: x } to force a float attribute with an integral value.
    return Number.isInteger(v) ? { name, type: AttrType.INT, i: v } : { name, type: AttrType.FLOAT, f: v };
  }
  if (Array.isArray(v)) return { name, type: AttrType.INTS, ints: v };
  if ('float' in v) return { name, type: AttrType.FLOAT, f: v.float };
  return { name, type: AttrType.FLOATS, floats: v.floats };
}

function tensor(init: InitDef): Record<string, unknown> {
  if (init.data instanceof Int8Array || init.data instanceof Uint8Array) {
    const a = init.data;
    const type = a instanceof Int8Array ? DataType.INT8 : DataType.UINT8;
    return { name: init.name, dims: init.dims, data_type: type, raw_data: Buffer.from(a.buffer, a.byteOffset, a.byteLength) };
  }
  if (init.type === 'int64' || init.data instanceof BigInt64Array) {
    const arr = init.data instanceof BigInt64Array ? init.data : BigInt64Array.from((init.data as number[]).map((x) => BigInt(x)));
    return { name: init.name, dims: init.dims, data_type: DataType.INT64, raw_data: Buffer.from(arr.buffer, arr.byteOffset, arr.byteLength) };
  }
  const f = init.data instanceof Float32Array ? init.data : Float32Array.from(init.data as number[]);
  const expected = init.dims.reduce((a, b) => a * b, 1);
  if (f.length !== expected) throw new Error(`initializer ${init.name}: ${f.length} values for dims [${init.dims}]`);
  return { name: init.name, dims: init.dims, data_type: DataType.FLOAT, raw_data: Buffer.from(f.buffer, f.byteOffset, f.byteLength) };
}

function valueInfo(v: ValueDef): Record<string, unknown> {
  return {
    name: v.name,
    type: {
      tensor_type: {
        elem_type: elem(v.type),
        ...(v.shape ? { shape: { dim: v.shape.map((d) => (typeof d === 'number' ? { dim_value: d } : { dim_param: d })) } } : {}),
      },
    },
  };
}

/** Serialise a graph definition to ONNX model bytes (IR version 8, default opset 17). */
export function buildModel(g: GraphDef): Uint8Array {
  const msg = {
    ir_version: 8,
    producer_name: 'lookalike',
    opset_import: [{ domain: '', version: g.opset ?? 17 }],
    graph: {
      name: g.name ?? 'lookalike',
      node: g.nodes.map((n, i) => ({
        name: n.name ?? `${n.op}_${i}`,
        op_type: n.op,
        input: n.inputs,
        output: n.outputs,
        attribute: Object.entries(n.attrs ?? {}).map(([k, v]) => attribute(k, v)),
      })),
      initializer: (g.initializers ?? []).map(tensor),
      input: g.inputs.map(valueInfo),
      output: g.outputs.map(valueInfo),
    },
    metadata_props: Object.entries(g.metadata ?? {}).map(([key, value]) => ({ key, value })),
  };
  const type = modelProto();
  const err = type.verify(msg);
  if (err) throw new Error(`invalid ONNX graph: ${err}`);
  return type.encode(type.fromObject(msg)).finish();
}
