/**
 * TF.js weight shards to typed arrays: float32 and int32 as stored, and the quantized forms the
 * converter writes (uint8/uint16 with scale and min, float16), dequantized to float32 as TF.js does.
 */
import type { TfjsArtifacts } from '../tfjs.ts';

/** A constant tensor: TF shape (row-major) and values. */
export interface ConstTensor {
  dtype: 'float32' | 'int32';
  shape: number[];
  data: Float32Array | Int32Array;
}

/** float16 bits to a number (IEEE 754 half precision). */
export function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * 2 ** -14 * (f / 1024);
  if (e === 31) return f ? NaN : s * Infinity;
  return s * 2 ** (e - 15) * (1 + f / 1024);
}

/** Every weight of a TF.js model by name, decoded (quantized weights dequantized to float32). */
export function decodeWeights(a: Pick<TfjsArtifacts, 'weightSpecs' | 'weightData' | 'file'>): Map<string, ConstTensor> {
  const out = new Map<string, ConstTensor>();
  const bytes = new Uint8Array(a.weightData);
  let offset = 0;
  for (const w of a.weightSpecs) {
    const n = w.shape.reduce((x, y) => x * y, 1);
    const q = w.quantization;
    const dtype = w.dtype === 'int32' ? 'int32' : 'float32';
    if (w.dtype !== 'float32' && w.dtype !== 'int32') throw new Error(`${a.file}: weight ${w.name} has dtype ${w.dtype}, which the ONNX conversion does not handle`);
    let data: Float32Array | Int32Array;
    if (!q) {
      const copy = bytes.slice(offset, offset + n * 4);
      data = dtype === 'int32' ? new Int32Array(copy.buffer) : new Float32Array(copy.buffer);
      offset += n * 4;
    } else if (q.dtype === 'float16') {
      const view = new DataView(bytes.buffer, bytes.byteOffset + offset, n * 2);
      const f = new Float32Array(n);
      for (let i = 0; i < n; i++) f[i] = halfToFloat(view.getUint16(i * 2, true));
      data = dtype === 'int32' ? Int32Array.from(f, Math.round) : f;
      offset += n * 2;
    } else if (q.dtype === 'uint8' || q.dtype === 'uint16') {
      const size = q.dtype === 'uint8' ? 1 : 2;
      const view = new DataView(bytes.buffer, bytes.byteOffset + offset, n * size);
      const scale = q.scale ?? 1;
      const min = q.min ?? 0;
      const f = new Float32Array(n);
      for (let i = 0; i < n; i++) f[i] = (size === 1 ? view.getUint8(i) : view.getUint16(i * 2, true)) * scale + min;
      data = dtype === 'int32' ? Int32Array.from(f, Math.round) : f;
      offset += n * size;
    } else throw new Error(`${a.file}: weight ${w.name} uses quantization ${q.dtype}, which the ONNX conversion does not handle`);
    out.set(w.name, { dtype, shape: [...w.shape], data });
  }
  return out;
}
