/** Reading text files strictly: UTF-8 only, errors naming the file (and the line of a bad byte). */
import fs from 'node:fs';

/** Decode UTF-8 bytes (a leading BOM is dropped); invalid UTF-8 is an error naming the file and line. */
export function decodeUtf8(bytes: Uint8Array, file: string): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes).replace(/^\uFEFF/, '');
  } catch {
    // Find the first bad sequence to say where it is.
    const dec = new TextDecoder('utf-8', { fatal: true });
    let line = 1;
    let start = 0;
    for (let i = 0; i < bytes.length; i++) {
      if (bytes[i] !== 0x0a) continue;
      try {
        dec.decode(bytes.subarray(start, i));
      } catch {
        break;
      }
      line++;
      start = i + 1;
    }
    throw new Error(`${file}:${line}: not valid UTF-8 text (save it as UTF-8)`);
  }
}

/** Read a UTF-8 text file; a missing, unreadable or non-UTF-8 file is a one-line error naming it. */
export function readText(file: string): string {
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new Error(`${file}: ${err.code === 'ENOENT' ? 'no such file' : err.code === 'EISDIR' ? 'is a folder, expected a file' : err.code === 'EACCES' ? 'permission denied' : err.message}`);
  }
  return decodeUtf8(bytes, file);
}

/** Levenshtein distance between two short strings. */
function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length];
}

/** ` (did you mean "x"?)` for the closest known name within a few edits of `word`, else ''. */
export function didYouMean(word: string, known: readonly string[]): string {
  let best: string | undefined;
  let bestD = Infinity;
  for (const k of known) {
    const d = editDistance(word.toLowerCase(), k.toLowerCase());
    if (d < bestD) (best = k), (bestD = d);
  }
  return best !== undefined && bestD <= Math.max(2, Math.floor(word.length / 3)) && bestD > 0 ? ` (did you mean "${best}"?)` : '';
}
