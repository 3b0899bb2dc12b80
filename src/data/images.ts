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

/** A folder listing split into image files and other files, as sorted paths relative to the folder (POSIX separators). */
export interface Listing {
  images: string[];
  others: string[];
}

/** List a folder recursively; hidden files and folders (dot names) and metadata files (.csv .json .md .txt) are ignored. */
export function listFolder(dir: string): Listing {
  if (!fs.existsSync(dir)) throw new Error(`${dir}: no such folder`);
  if (!fs.statSync(dir).isDirectory()) throw new Error(`${dir}: not a folder`);
  const images: string[] = [];
  const others: string[] = [];
  const walk = (rel: string) => {
    const entries = fs.readdirSync(path.join(dir, rel), { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      if (e.name.startsWith('.')) continue;
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) walk(r);
      else if (METADATA_EXTENSIONS.has(path.extname(e.name).toLowerCase())) continue;
      else if (e.isFile() || e.isSymbolicLink()) (isImageName(e.name) ? images : others).push(r);
    }
  };
  walk('');
  return { images, others };
}
