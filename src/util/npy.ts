/** NumPy .npy (format 1.0) read/write for float32 C-order matrices. */

/** The .npy header (magic, version, length, padded dict) for a rows x cols float32 C-order matrix. */
export function npyHeader(rows: number, cols: number): Buffer {
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${rows}, ${cols}), }`;
  // Magic (6) + version (2) + header length (2) + header, padded with spaces to a multiple of 64, ending in \n.
  const pad = 64 - ((10 + header.length + 1) % 64);
  header = header + ' '.repeat(pad % 64) + '\n';
  const out = Buffer.alloc(10 + header.length);
  out.write('\x93NUMPY', 0, 'latin1');
  out[6] = 1;
  out[7] = 0;
  out.writeUInt16LE(header.length, 8);
  out.write(header, 10, 'latin1');
  return out;
}

/** Encode a rows x cols float32 matrix as .npy bytes. */
export function encodeNpy(data: Float32Array, rows: number, cols: number): Buffer {
  if (data.length !== rows * cols) throw new Error(`npy: ${data.length} values for shape (${rows}, ${cols})`);
  const head = npyHeader(rows, cols);
  const out = Buffer.alloc(head.length + data.byteLength);
  head.copy(out, 0);
  Buffer.from(data.buffer, data.byteOffset, data.byteLength).copy(out, head.length);
  return out;
}

/** Shape and data offset of a .npy file from its first bytes (at least the whole header). */
export function parseNpyHeader(buf: Buffer, file = '<npy>'): { rows: number; cols: number; offset: number } {
  if (buf.length < 10 || buf.toString('latin1', 0, 6) !== '\x93NUMPY') throw new Error(`${file}: not a .npy file (bad magic bytes)`);
  const major = buf[6];
  if (major !== 1 && major !== 2 && major !== 3) throw new Error(`${file}: unknown .npy version ${major}`);
  const hlen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const start = major === 1 ? 10 : 12;
  if (buf.length < start + hlen) throw new Error(`${file}: .npy header cut short (truncated?)`);
  const header = buf.toString('latin1', start, start + hlen);
  if (!/'descr':\s*'<f4'/.test(header)) throw new Error(`${file}: expected float32 ('<f4'), header ${header.trim()}`);
  if (/'fortran_order':\s*True/.test(header)) throw new Error(`${file}: Fortran order is not supported`);
  const m = /'shape':\s*\((\d+),\s*(\d+)?\s*,?\s*\)/.exec(header);
  if (!m) throw new Error(`${file}: expected a 2-D shape, header ${header.trim()}`);
  return { rows: Number(m[1]), cols: Number(m[2] ?? 1), offset: start + hlen };
}

/** Decode .npy bytes holding a 2-D little-endian float32 C-order matrix. */
export function decodeNpy(buf: Buffer, file = '<npy>'): { data: Float32Array; rows: number; cols: number } {
  const { rows, cols, offset } = parseNpyHeader(buf, file);
  const bytes = rows * cols * 4;
  if (buf.length - offset !== bytes) throw new Error(`${file}: ${buf.length - offset} data bytes, shape (${rows}, ${cols}) needs ${bytes} (truncated?)`);
  const data = new Float32Array(rows * cols);
  Buffer.from(data.buffer).set(buf.subarray(offset, offset + bytes));
  return { data, rows, cols };
}
