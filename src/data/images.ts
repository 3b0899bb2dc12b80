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

/** Every listing problem as a skip: non-image files ("not an image") and unlistable entries. */
export function listingSkips(l: Listing, prefix = ''): ListingSkip[] {
  return [
    ...l.others.map((o) => ({ id: prefix + o, reason: `not an image (unsupported file type ${path.extname(o) || 'without extension'})` })),
    ...l.skipped.map((s) => ({ id: prefix + s.id, reason: s.reason })),
  ];
}

/**
 * List a folder recursively; hidden files and folders (dot names) and metadata files
 * (.csv .json .md .txt) are ignored. Symbolic links are followed: a linked folder is listed once
 * (by its real path), a link back into a folder being listed is reported as a symlink loop, and
 * an unreadable subfolder is reported and skipped instead of ending the run. The folder itself
 * must exist and be readable.
 */
export function listFolder(dir: string): Listing {
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
      const r = rel ? `${rel}/${e.name}` : e.name;
      const full = path.join(dir, r);
      let isDir = e.isDirectory();
      let isFile = e.isFile();
      if (e.isSymbolicLink()) {
        let target: fs.Stats;
        try {
          target = fs.statSync(full);
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code;
          skipped.push({ id: r, reason: code === 'ENOENT' ? 'broken symbolic link (its target does not exist)' : code === 'ELOOP' ? 'symlink loop (the link resolves to itself)' : fsReason(err) });
          continue;
        }
        isDir = target.isDirectory();
        isFile = target.isFile();
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
      else skipped.push({ id: r, reason: 'not a regular file (device, socket or pipe)' });
    }
  };
  let rootReal: string;
  try {
    rootReal = fs.realpathSync(dir);
  } catch (e) {
    throw new Error(`${dir}: ${fsReason(e)}`);
  }
  walk('', rootReal, new Set());
  return { images, others, skipped };
}
