/** Opening a file the manifest lists: one error for a missing file and one for a changed size, naming the file. */
import fs from 'node:fs';

/** Open `file` for reading and check its size against the manifest's `bytes` (when given); returns the descriptor and the size. */
export function openListed(file: string, bytes?: number): { fd: number; size: number } {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch (e) {
    throw new Error(`${file}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'missing (the manifest lists it)' : (e as Error).message}`);
  }
  const size = fs.fstatSync(fd).size;
  if (bytes !== undefined && size !== bytes) {
    fs.closeSync(fd);
    throw new Error(`${file}: ${size} bytes, the manifest says ${bytes} (truncated or changed)`);
  }
  return { fd, size };
}
