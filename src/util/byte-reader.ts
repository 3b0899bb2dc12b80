/** Bytes of a file read in place with positioned reads, or of a buffer: one interface for binary formats that are read either way. */
import fs from 'node:fs';

/** Random access to a file's or a buffer's bytes. */
export interface ByteReader {
  readonly length: number;
  /** `len` bytes at `at` (a view of a buffer, or a fresh buffer read from the file). */
  read(at: number, len: number): Buffer;
  /** Release the file (nothing for a buffer). */
  close(): void;
}

/** A reader over bytes held in memory. */
export function bufferReader(buf: Buffer): ByteReader {
  return { length: buf.length, read: (at, len) => buf.subarray(at, at + len), close: () => {} };
}

/** A reader over the open file `fd` (named `file` in errors; `hint` says what to do about a short file). */
export function fileReader(file: string, fd: number, hint: string): ByteReader {
  return {
    length: fs.fstatSync(fd).size,
    read: (at, len) => {
      const b = Buffer.alloc(len);
      const got = fs.readSync(fd, b, 0, len, at);
      if (got !== len) throw new Error(`${file}: ends at byte ${at + got}, before the ${len} bytes at ${at}; ${hint}`);
      return b;
    },
    close: () => fs.closeSync(fd),
  };
}
