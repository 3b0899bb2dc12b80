/**
 * pgvector's text format for float32 rows, and exact cosine re-scoring. Nine significant
 * digits round-trip every float32, so what is read back equals what was written.
 */

/** One float32 row as pgvector text: `[x1,x2,...]`. */
export function toVectorText(v: Float32Array, start = 0, dim = v.length): string {
  const parts = new Array<string>(dim);
  for (let d = 0; d < dim; d++) {
    const x = v[start + d];
    parts[d] = Number.isInteger(x) ? String(x) : x.toPrecision(9);
  }
  return `[${parts.join(',')}]`;
}

/** Parse pgvector text into `out` at `offset` (dim floats). */
export function parseVectorText(text: string, out: Float32Array, offset: number, dim: number): void {
  const body = text.charCodeAt(0) === 91 ? text.slice(1, -1) : text;
  let start = 0;
  for (let d = 0; d < dim; d++) {
    let end = body.indexOf(',', start);
    if (end < 0) end = body.length;
    out[offset + d] = Number(body.slice(start, end));
    start = end + 1;
  }
}

/** Exact cosine of two L2-normalised rows: float64 accumulation rounded to float32 (as searchBrute). */
export function dotRows(a: Float32Array, ao: number, b: Float32Array, bo: number, dim: number): number {
  let s = 0;
  for (let d = 0; d < dim; d++) s += a[ao + d] * b[bo + d];
  return Math.fround(s);
}

/**
 * One float32 row in pgvector's binary format (int16 dim, int16 0, dim big-endian float32s).
 * The `pg` driver sends a Buffer parameter in binary, so a `$n::vector` parameter skips the
 * server's text parsing (vector_in) and arrives bit for bit. PGlite sends every parameter as
 * text, so it gets toVectorText instead.
 */
export function toVectorBinary(v: Float32Array, start = 0, dim = v.length): Buffer {
  const b = Buffer.allocUnsafe(4 + 4 * dim);
  b.writeInt16BE(dim, 0);
  b.writeInt16BE(0, 2);
  for (let d = 0; d < dim; d++) b.writeFloatBE(v[start + d], 4 + 4 * d);
  return b;
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * Read pgvector's binary format (`vector_send(embedding)`, a bytea: int16 dim, int16 0, dim
 * big-endian float32s) into `out` at `offset`; bit for bit, and no text to parse. Returns the
 * row's width, which the caller checks against the one it expects.
 */
export function parseVectorBinary(b: Uint8Array, out: Float32Array, offset: number, dim: number): number {
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const n = view.getInt16(0);
  if (n !== dim || b.byteLength !== 4 + 4 * n) return n;
  if (LITTLE_ENDIAN) {
    // Copy the big-endian floats into place and swap their bytes there (native, not per float).
    const dst = Buffer.from(out.buffer, out.byteOffset + offset * 4, dim * 4);
    dst.set(b.subarray(4, 4 + 4 * dim));
    dst.swap32();
  } else for (let d = 0; d < dim; d++) out[offset + d] = view.getFloat32(4 + 4 * d);
  return n;
}
