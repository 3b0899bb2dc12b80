/**
 * Guards for an index output (`index --out`), checked before any work: lookalike only ever
 * writes into a folder that is already one of its indexes, an empty folder, or a new path;
 * never a file, an unrelated folder, the indexed folder or a folder that contains it.
 */
import fs from 'node:fs';
import path from 'node:path';
import { FORMAT, MANIFEST, onlyStoreNames } from '../store/folder/names.ts';
import { assertUnlocked } from '../store/folder/lock.ts';
import { OptionError } from '../util/options.ts';

/** True if `inner` is `outer` or lies inside it (by resolved path). */
export function isInside(inner: string, outer: string): boolean {
  const rel = path.relative(path.resolve(outer), path.resolve(inner));
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

/** The manifest's format name, if `dir` has a readable manifest. */
function manifestFormat(dir: string): string | undefined {
  try {
    return (JSON.parse(fs.readFileSync(path.join(dir, MANIFEST), 'utf8')) as { format?: string }).format;
  } catch {
    return undefined;
  }
}

/** Throw a one-line error unless `out` may receive an index of `folder`. URL locations pass. */
export function checkIndexOut(out: string, folder: string): void {
  if (/^[a-z][a-z0-9+.-]*:/i.test(out) && !/^[a-z]:[\\/]/i.test(out)) return;
  const abs = path.resolve(out);
  if (isInside(folder, abs)) {
    throw new OptionError(`{{out}} ${out}: is ${path.resolve(folder) === abs ? 'the folder being indexed' : `a folder that contains the folder being indexed (${folder})`}; choose a new path such as ${path.basename(path.resolve(folder))}.lkx`);
  }
  const st = fs.statSync(abs, { throwIfNoEntry: false });
  checkWritable(out, abs, Boolean(st));
  if (!st) return;
  if (!st.isDirectory()) throw new OptionError(`{{out}} ${out}: is a file, not a lookalike index; refusing to replace it (choose a new path such as gallery.lkx)`);
  if (fs.existsSync(path.join(abs, MANIFEST))) {
    const f = manifestFormat(abs);
    if (f !== FORMAT) throw new OptionError(`{{out}} ${out}: its manifest.json is not a lookalike index manifest; refusing to write into it`);
    assertUnlocked(abs);
    return;
  }
  if (!onlyStoreNames(abs)) throw new OptionError(`{{out}} ${out}: exists and is not a lookalike index (no manifest.json); refusing to write into it (choose a new path such as gallery.lkx)`);
}

/** Refuse an output on a read-only filesystem or in a folder this process cannot write, naming the folder (mkdir would only say ENOENT). */
function checkWritable(out: string, abs: string, exists: boolean): void {
  let dir = exists ? abs : path.dirname(abs);
  while (!fs.existsSync(dir) && path.dirname(dir) !== dir) dir = path.dirname(dir);
  try {
    fs.accessSync(dir, fs.constants.W_OK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'EROFS' ? 'is on a read-only filesystem' : code === 'EACCES' || code === 'EPERM' ? 'is not writable by this user' : `cannot be written (${code})`;
    throw new OptionError(`{{out}} ${out}: ${dir} ${why}; choose a path on a writable disk`);
  }
}

/** True if a folder is a lookalike index (has a manifest with the lookalike format name). */
export function isOwnIndex(dir: string): boolean {
  return manifestFormat(dir) === FORMAT;
}
