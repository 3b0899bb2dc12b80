/** Finding image files in folders. */
import fs from 'node:fs';
import path from 'node:path';

/** File extensions lookalike decodes (through sharp). */
export const IMAGE_EXTENSIONS = new Set(['.jpg', '.jpeg', '.png', '.webp', '.gif', '.tif', '.tiff', '.avif', '.heic', '.heif', '.jp2']);

/** Metadata files that live beside images (labels, notes) and are ignored without a warning. */
export const METADATA_EXTENSIONS = new Set(['.csv', '.json', '.md', '.txt']);

/** True if the file name has an image extension. */
export function isImageName(name: string): boolean {
  return IMAGE_EXTENSIONS.has(path.extname(name).toLowerCase());
}

/** A path that the listing could not use, and why (same shape as the pipeline's Skipped). */
export interface ListingSkip {
  id: string;
  reason: string;
}

/**
 * A folder listing, as sorted paths relative to the folder (POSIX separators): image files,
 * other files (no image extension), and entries that could not be listed (unreadable folders,
 * broken links, symlink loops) with the reason.
 */
export interface Listing {
  images: string[];
  others: string[];
  skipped: ListingSkip[];
}

/** A plain reason for a filesystem error code (permission denied, symlink loop, ...). */
export function fsReason(e: unknown): string {
  const code = (e as NodeJS.ErrnoException)?.code;
  switch (code) {
    case 'EACCES':
    case 'EPERM':
    case 'ERR_ACCESS_DENIED':
      return 'permission denied';
    case 'ELOOP':
      return 'symlink loop';
    case 'ENOENT':
      return 'file not found';
    case 'ENOTDIR':
      return 'not a folder';
    case 'EISDIR':
      return 'is a folder';
    case 'EIO':
      return 'read error (EIO)';
    default:
      return ((e as Error)?.message ?? String(e)).split('\n')[0];
  }
}

/** Entries (files and folders) a listing visits before it stops with an error: far more than any gallery, far fewer than a whole filesystem. */
export const MAX_LISTING_ENTRIES = 2_000_000;

/** Options of listFolder. */
export interface ListOptions {
  /** Follow symbolic links that lead outside the folder (default: skipped with a reason). */
  followLinks?: boolean;
  /** Stop with an error after this many entries (default MAX_LISTING_ENTRIES). */
  maxEntries?: number;
}

/** What a non-regular, non-folder entry is, as a skip reason. */
export function specialFileReason(st: fs.Stats | fs.Dirent): string {
  const what = st.isFIFO() ? 'a named pipe (FIFO)' : st.isCharacterDevice() || st.isBlockDevice() ? 'a device' : st.isSocket() ? 'a socket' : 'a special file';
  return `not a regular file (${what}); skipped without opening it`;
}

/** True if `inner` is `outer` or lies inside it (both real paths). */
function within(inner: string, outer: string): boolean {
  return inner === outer || inner.startsWith(outer.endsWith(path.sep) ? outer : outer + path.sep);
}

/** Every listing problem as a skip: non-image files ("not an image") and unlistable entries. */
export function listingSkips(l: Listing, prefix = ''): ListingSkip[] {
  return [
    ...l.others.map((o) => ({ id: prefix + o, reason: `not an image (unsupported file type ${path.extname(o) || 'without extension'})` })),
    ...l.skipped.map((s) => ({ id: prefix + s.id, reason: s.reason })),
  ];
}

/**
 * List a folder recursively; hidden files and folders (dot names) and metadata files
 * (.csv .json .md .txt) are ignored. Symbolic links are followed while they stay inside the
 * folder (links leading out of it are skipped with a reason unless `followLinks`): a linked
 * folder is listed once (by its real path), a link back into a folder being listed is reported
 * as a symlink loop, FIFOs, devices and sockets are skipped without being opened, and an
 * unreadable subfolder is reported and skipped instead of ending the run. The folder itself must
 * exist and be readable. More than `maxEntries` entries is an error (a link to / or /proc).
 */
export function listFolder(dir: string, opts: ListOptions = {}): Listing {
  const maxEntries = opts.maxEntries ?? MAX_LISTING_ENTRIES;
  let entriesSeen = 0;
  let st: fs.Stats;
  try {
    st = fs.statSync(dir);
  } catch (e) {
    throw new Error(`${dir}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such folder' : fsReason(e)}`);
  }
  if (!st.isDirectory()) throw new Error(`${dir}: not a folder`);
  const images: string[] = [];
  const others: string[] = [];
  const skipped: ListingSkip[] = [];
  // Real paths of the folders listed so far: each is listed once.
  const listed = new Map<string, string>();
  let rootReal: string;
  try {
    rootReal = fs.realpathSync(dir);
  } catch (e) {
    throw new Error(`${dir}: ${fsReason(e)}`);
  }
  const walk = (rel: string, real: string, ancestors: Set<string>) => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(path.join(dir, rel), { withFileTypes: true });
    } catch (e) {
      if (!rel) throw new Error(`${dir}: cannot list the folder (${fsReason(e)})`);
      skipped.push({ id: `${rel}/`, reason: `folder not readable (${fsReason(e)})` });
      return;
    }
    listed.set(real, rel);
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      if (e.name.startsWith('.')) continue;
      if (++entriesSeen > maxEntries) {
        throw new Error(`${dir}: more than ${maxEntries} files and folders; stopped listing at ${rel || '.'} (is a link to a system folder inside it? index a smaller folder)`);
      }
      const r = rel ? `${rel}/${e.name}` : e.name;
      const full = path.join(dir, r);
      // Node decodes names as UTF-8, replacing invalid bytes: such a name no longer reaches the file.
      if (e.name.includes('\uFFFD') && !fs.existsSync(full)) {
        skipped.push({ id: r, reason: 'file name is not valid UTF-8 (lookalike cannot open it by name; rename it, e.g. with convmv)' });
        continue;
      }
      let isDir = e.isDirectory();
      let isFile = e.isFile();
      let kind: fs.Stats | fs.Dirent = e;
      if (e.isSymbolicLink()) {
        let target: fs.Stats;
        let targetReal: string;
        try {
          target = fs.statSync(full);
          targetReal = fs.realpathSync(full);
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code;
          skipped.push({ id: r, reason: code === 'ENOENT' ? 'broken symbolic link (its target does not exist)' : code === 'ELOOP' ? 'symlink loop (the link resolves to itself)' : fsReason(err) });
          continue;
        }
        if (!opts.followLinks && !within(targetReal, rootReal)) {
          skipped.push({ id: target.isDirectory() ? `${r}/` : r, reason: `symbolic link leading out of the folder (to ${targetReal}); not followed (--follow-links follows it)` });
          continue;
        }
        isDir = target.isDirectory();
        isFile = target.isFile();
        kind = target;
      }
      if (isDir) {
        let childReal: string;
        try {
          childReal = fs.realpathSync(full);
        } catch (err) {
          skipped.push({ id: `${r}/`, reason: `folder not readable (${fsReason(err)})` });
          continue;
        }
        if (ancestors.has(childReal) || childReal === real) {
          skipped.push({ id: `${r}/`, reason: `symlink loop (links back to ${listed.get(childReal) || '.'}, a folder being listed)` });
          continue;
        }
        if (listed.has(childReal)) {
          skipped.push({ id: `${r}/`, reason: `symlinked folder already listed as ${listed.get(childReal) || '.'}` });
          continue;
        }
        walk(r, childReal, new Set([...ancestors, real]));
      } else if (METADATA_EXTENSIONS.has(path.extname(e.name).toLowerCase())) continue;
      else if (isFile) (isImageName(e.name) ? images : others).push(r);
      else skipped.push({ id: r, reason: specialFileReason(kind) });
    }
  };
  walk('', rootReal, new Set());
  return { images, others, skipped };
}
