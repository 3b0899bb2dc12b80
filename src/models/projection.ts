/**
 * The pretrained projection of a text-image image tower (CLIP: image_embeds = visual_projection(
 * pooler_output)), read from its ONNX graph: the MatMul (or Gemm) with a weight initializer that
 * produces the projected output. Projection tuning starts its linear head from this matrix, so
 * before training the head on the pre-projection feature gives the model's own embeddings.
 */
import fs from 'node:fs';
import { DataType, modelProto } from '../util/onnx-proto.ts';
import { halfToFloat } from './tfjs-onnx/weights.ts';

/** A projection matrix: `weight` is inputDim x outputDim, row-major (the head's layout). */
export interface Projection {
  weight: Float32Array;
  inputDim: number;
  outputDim: number;
  /** The tensor the projection reads (the pre-projection feature), after Identity nodes. */
  input: string;
  /** The node that applies it. */
  node: string;
}

interface TensorP {
  name: string;
  dims: (number | { toNumber(): number })[];
  data_type: number;
  float_data?: number[];
  raw_data?: Uint8Array;
}
interface NodeP {
  name?: string;
  op_type: string;
  domain?: string;
  input: string[];
  output: string[];
  attribute?: { name: string; i?: number | { toNumber(): number }; f?: number }[];
}

/** Float values of an initializer (float32 or float16); other types are an error naming it. */
function floats(t: TensorP, where: string): Float32Array {
  const n = t.dims.reduce<number>((a, d) => a * Number(d), 1);
  if (t.data_type === DataType.FLOAT) {
    if (t.raw_data && t.raw_data.length) {
      const b = t.raw_data;
      return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + n * 4));
    }
    return Float32Array.from(t.float_data ?? []);
  }
  if (t.data_type === DataType.FLOAT16 && t.raw_data) {
    const view = new DataView(t.raw_data.buffer, t.raw_data.byteOffset, t.raw_data.byteLength);
    return Float32Array.from({ length: n }, (_, i) => halfToFloat(view.getUint16(i * 2, true)));
  }
  throw new Error(`${where}: the projection weight ${t.name} is not float32/float16 (data type ${t.data_type}; a quantized model? use the fp32 weights)`);
}

function attr(n: NodeP, name: string, dflt: number): number {
  const a = n.attribute?.find((x) => x.name === name);
  if (!a) return dflt;
  return name === 'alpha' || name === 'beta' ? (a.f ?? dflt) : Number(a.i ?? dflt);
}

/**
 * Read the projection that produces `output` in an ONNX file. Errors (one line, naming the file and
 * `model`) when no bias-free MatMul/Gemm with a float weight initializer produces it.
 */
export function readProjection(file: string, output: string, model = file): Projection {
  const m = modelProto().decode(fs.readFileSync(file)) as unknown as { graph: { node: NodeP[]; initializer: TensorP[] } };
  const inits = new Map(m.graph.initializer.map((t) => [t.name, t]));
  const producer = new Map<string, NodeP>();
  for (const n of m.graph.node) for (const o of n.output) producer.set(o, n);
  const back = (name: string): string => {
    let cur = name;
    for (let p = producer.get(cur); p && p.op_type === 'Identity'; p = producer.get(cur)) cur = p.input[0];
    return cur;
  };
  const none = `model ${model}: no projection layer (no MatMul/Gemm with a weight initializer produces ${output} in ${file}); use init: identity`;
  const node = producer.get(back(output));
  if (!node || (node.op_type !== 'MatMul' && node.op_type !== 'Gemm') || (node.domain ?? '') !== '') throw new Error(none);
  const w = inits.get(node.input[1]);
  if (!w || w.dims.length !== 2 || inits.has(node.input[0])) throw new Error(none);
  const [r, c] = w.dims.map(Number);
  let weight = floats(w, file);
  let inputDim = r, outputDim = c;
  if (node.op_type === 'Gemm') {
    if (attr(node, 'transA', 0)) throw new Error(none);
    if (attr(node, 'transB', 0)) {
      // B is [out, in]: transpose to the head's [in, out].
      const t = new Float32Array(r * c);
      for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) t[j * r + i] = weight[i * c + j];
      (weight = t), (inputDim = c), (outputDim = r);
    }
    const alpha = attr(node, 'alpha', 1);
    if (alpha !== 1) weight = weight.map((x) => x * alpha);
    const bias = node.input[2] ? inits.get(node.input[2]) : undefined;
    if (node.input[2] && (!bias || floats(bias, file).some((x) => x !== 0))) {
      throw new Error(`model ${model}: the projection ${node.name || node.op_type} in ${file} has a bias, which a linear head on L2-normalised features cannot reproduce; use init: identity`);
    }
  }
  return { weight, inputDim, outputDim, input: back(node.input[0]), node: node.name || node.op_type };
}
