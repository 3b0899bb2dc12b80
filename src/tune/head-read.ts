/**
 * Read back a linear head that lookalike wrote (tune/export.ts: `tune --head-type linear`, `whiten`)
 * as its weight and bias, so projection tuning can start from it; and the one loader of a linear
 * head's starting point (`init`): a .npy matrix or such a head file. Anything else is refused.
 */
import fs from 'node:fs';
import { decodeNpy } from '../util/npy.ts';
import { modelProto, DataType } from '../util/onnx-proto.ts';
import { HEAD_META } from '../util/head-metadata.ts';

/** A linear head as written: y = unit(x) · weight + bias, weight inputDim x outputDim (row-major). */
export interface LinearHeadFile {
  weight: Float32Array;
  bias: Float32Array;
  inputDim: number;
  outputDim: number;
  /** Its `lookalike.mode` metadata (whiten, whiten-supervised, an experiment mode) when present. */
  mode?: string;
  /** The backbone it was written for (`lookalike.model`) when recorded. */
  model?: string;
}

interface Tensor { name?: string; dims?: (number | { toNumber(): number })[]; data_type?: number; float_data?: number[]; raw_data?: Uint8Array }
interface Node { op_type?: string; input?: string[]; output?: string[]; attribute?: { name?: string; f?: number; i?: number | { toNumber(): number } }[] }
interface Model { graph?: { node?: Node[]; initializer?: Tensor[] }; metadata_props?: { key?: string; value?: string }[] }

/** The node ops of a linear head's inference graph (heads.ts inferenceGraph: L2-normalise, then one Gemm). */
const LINEAR_OPS = ['ReduceL2', 'Max', 'Div', 'Gemm'];

function floats(t: Tensor): Float32Array {
  if (t.raw_data?.length) return new Float32Array(t.raw_data.buffer.slice(t.raw_data.byteOffset, t.raw_data.byteOffset + t.raw_data.byteLength));
  return Float32Array.from(t.float_data ?? []);
}

/** Read the weight and bias of a linear head lookalike wrote; an MLP head or any other graph is an error naming the file and what it holds. */
export function readLinearHead(file: string, bytes?: Buffer): LinearHeadFile {
  let model: Model;
  try {
    model = modelProto().decode(bytes ?? fs.readFileSync(file)) as unknown as Model;
  } catch (e) {
    throw new Error(`${file}: not an ONNX file (${(e as Error).message}); expected a linear head written by lookalike tune or whiten`);
  }
  const meta = new Map((model.metadata_props ?? []).map((p) => [p.key ?? '', p.value ?? '']));
  const other = `expected a linear head written by lookalike tune or whiten`;
  if (meta.get(HEAD_META.kind) !== 'head') throw new Error(`${file}: not a head written by lookalike (no ${HEAD_META.kind}=head metadata; ${model.graph?.node?.length ?? 0} nodes); ${other}`);
  let spec: { kind?: string; hidden?: number[] } = {};
  try {
    spec = JSON.parse(meta.get(HEAD_META.spec) ?? '{}');
  } catch {
    // Checked through the graph below.
  }
  if (spec.kind === 'mlp') throw new Error(`${file}: an MLP head (hidden ${(spec.hidden ?? []).join(',')}), not a linear one; only a linear head (tune --head-type linear, whiten) can start projection tuning`);
  const nodes = model.graph?.node ?? [];
  const ops = nodes.map((n) => n.op_type ?? '');
  const gemm = nodes[3];
  const plain = (gemm?.attribute ?? []).every((a) => (a.name === 'alpha' || a.name === 'beta' ? (a.f ?? 1) === 1 : Number(a.i ?? 0) === 0));
  if (ops.join() !== LINEAR_OPS.join() || !plain) throw new Error(`${file}: its graph (${ops.join(', ') || 'no nodes'}) is not a linear head's (${LINEAR_OPS.join(', ')}); ${other}`);
  const init = new Map((model.graph?.initializer ?? []).map((t) => [t.name ?? '', t]));
  const [w, b] = [init.get(gemm.input?.[1] ?? ''), init.get(gemm.input?.[2] ?? '')];
  const dims = (t?: Tensor) => (t?.dims ?? []).map(Number);
  const [inputDim, outputDim] = dims(w);
  if (!w || !b || w.data_type !== DataType.FLOAT || b.data_type !== DataType.FLOAT || dims(w).length !== 2 || dims(b).join() !== String(outputDim)) {
    throw new Error(`${file}: the linear head's weight/bias are not float32 [D, D'] and [D'] (found [${dims(w)}] and [${dims(b)}]); ${other}`);
  }
  const weight = floats(w), bias = floats(b);
  if (weight.length !== inputDim * outputDim || bias.length !== outputDim) throw new Error(`${file}: weight has ${weight.length} values for [${inputDim}, ${outputDim}], bias ${bias.length}; the file is damaged`);
  return { weight, bias, inputDim, outputDim, ...(meta.get(HEAD_META.mode) ? { mode: meta.get(HEAD_META.mode) } : {}), ...(meta.get(HEAD_META.model) ? { model: meta.get(HEAD_META.model) } : {}) };
}

/** The starting point of a linear head on dim-d embeddings: a .npy matrix [dim, D'] (no bias; told by its magic bytes) or a linear head .onnx (weight and bias). */
export function readInit(file: string, dim: number): { weight: Float32Array; bias?: Float32Array; cols: number; model?: string } {
  if (!fs.existsSync(file)) throw new Error(`${file}: no such file (init takes a .npy matrix or a linear head .onnx)`);
  const bytes = fs.readFileSync(file);
  if (bytes.toString('latin1', 0, 6) !== '\x93NUMPY' && !/\.npy$/i.test(file)) {
    const h = readLinearHead(file, bytes);
    if (h.inputDim !== dim) throw new Error(`${file}: the head takes ${h.inputDim}-d embeddings, these are ${dim}-d (was it written for another model?)`);
    return { weight: h.weight, bias: h.bias, cols: h.outputDim, ...(h.model ? { model: h.model } : {}) };
  }
  const m = decodeNpy(bytes, file);
  if (m.rows !== dim) throw new Error(`${file}: matrix is [${m.rows}, ${m.cols}], the embeddings are ${dim}-d`);
  return { weight: m.data, cols: m.cols };
}
