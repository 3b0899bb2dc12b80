/**
 * Reading a file that cannot block the process: only regular files are opened (a FIFO, device
 * or socket is refused from its stat, before any open), the open is non-blocking (so a file
 * swapped for a FIFO between the check and the open cannot hang it), the opened descriptor is
 * checked again (fstat: a regular file, the same one that was checked), and the read has a size
 * bound and a timeout. Used by the server for every gallery and upload file it reads.
 */
import fs from 'node:fs';

/** Why a file was not read: `special` (not a regular file), `large`, `changed` (swapped during the checks), `timeout`, or a filesystem error. */
export class FileReadError extends Error {
  constructor(
    readonly file: string,
    readonly kind: 'special' | 'large' | 'changed' | 'timeout' | 'missing' | 'fs',
    message: string,
  ) {
    super(message);
    this.name = 'FileReadError';
  }
}

/** What a non-regular file is, in words. */
function what(st: fs.Stats): string {
  if (st.isDirectory()) return 'a folder';
  if (st.isFIFO()) return 'a named pipe (FIFO)';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'a device';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

/** The stat of `file` (following links) if it is a regular file; a FileReadError otherwise. Never opens it. */
export async function regularStat(file: string): Promise<fs.Stats> {
  let st: fs.Stats;
  try {
    // lstat first: a link is judged by what it points to, checked with stat below.
    const l = await fs.promises.lstat(file);
    st = l.isSymbolicLink() ? await fs.promises.stat(file) : l;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new FileReadError(file, code === 'ENOENT' || code === 'ENOTDIR' ? 'missing' : 'fs', code === 'ENOENT' ? 'file not found' : `cannot read the file (${code ?? 'error'})`);
  }
  if (!st.isFile()) throw new FileReadError(file, 'special', `${what(st)}, not a regular file; not opened`);
  return st;
}

/**
 * Read a regular file whole: refused when it is not one (before and after the open), larger than
 * `maxBytes`, replaced during the checks, or not read within `timeoutMs` (the descriptor is
 * closed when the stuck read ends).
 */
export async function readRegularFile(file: string, opts: { maxBytes: number; timeoutMs: number }): Promise<{ bytes: Buffer; stat: fs.Stats }> {
  const before = await regularStat(file);
  if (before.size > opts.maxBytes) throw new FileReadError(file, 'large', `file is ${before.size} bytes; the limit is ${opts.maxBytes}`);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new FileReadError(file, 'timeout', `reading the file took longer than ${opts.timeoutMs} ms`)), opts.timeoutMs);
  });
  const work = (async () => {
    // O_NONBLOCK: opening a FIFO that replaced the file returns at once instead of waiting for a writer.
    const fh = await fs.promises.open(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK | fs.constants.O_NOCTTY);
    try {
      const st = await fh.stat();
      if (!st.isFile()) throw new FileReadError(file, 'special', `${what(st)}, not a regular file (replaced after the check)`);
      if (st.ino !== before.ino || st.dev !== before.dev) throw new FileReadError(file, 'changed', 'the file was replaced while it was opened; try again');
      if (st.size > opts.maxBytes) throw new FileReadError(file, 'large', `file is ${st.size} bytes; the limit is ${opts.maxBytes}`);
      const bytes = Buffer.alloc(st.size);
      let at = 0;
      while (at < st.size) {
        const { bytesRead } = await fh.read(bytes, at, st.size - at, at);
        if (!bytesRead) break;
        at += bytesRead;
      }
      return { bytes: at === st.size ? bytes : bytes.subarray(0, at), stat: st };
    } finally {
      await fh.close();
    }
  })();
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
    // A read that lost the race still settles (and closes its descriptor) on its own.
    work.catch(() => undefined);
  }
}
