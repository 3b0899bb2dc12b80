/** Bytes of a file read in place with positioned reads, or of a buffer: one interface for binary formats that are read either way. */
import fs from 'node:fs';

/** Random access to a file's or a buffer's bytes. */
export interface ByteReader {
  readonly length: number;
  /** `len` bytes at `at` (a view of a buffer, or a fresh buffer read from the file). */
  read(at: number, len: number): Buffer;
  /** Fill `into` with the bytes at `at` (no allocation: a hot loop's reads). */
  readInto(into: Uint8Array, at: number): void;
  /** Release the file (nothing for a buffer). */
  close(): void;
}

/** A reader over bytes held in memory. */
export function bufferReader(buf: Buffer): ByteReader {
  return {
    length: buf.length,
    read: (at, len) => buf.subarray(at, at + len),
    readInto: (into, at) => {
      if (buf.copy(into, 0, at, at + into.length) !== into.length) throw new RangeError(`${into.length} bytes at ${at} are past the end (${buf.length})`);
    },
    close: () => {},
  };
}

/** A reader over the open file `fd` (named `file` in errors; `hint` says what to do about a short file). */
export function fileReader(file: string, fd: number, hint: string): ByteReader {
  const readInto = (into: Uint8Array, at: number) => {
    const got = fs.readSync(fd, into, 0, into.length, at);
    if (got !== into.length) throw new Error(`${file}: ends at byte ${at + got}, before the ${into.length} bytes at ${at}; ${hint}`);
  };
  return {
    length: fs.fstatSync(fd).size,
    read: (at, len) => {
      const b = Buffer.alloc(len);
      readInto(b, at);
      return b;
    },
    readInto,
    close: () => fs.closeSync(fd),
  };
}
