/**
 * Fields known about an image without the user (docs/filters.md#automatic-fields): its class
 * folder, folder, file size and time, pixel size and format from the image header, and the
 * EXIF capture date and camera when the file has them. Only the header is read, never the pixels.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Metadata } from 'sharp';
import exifReader from 'exif-reader';
import type { FieldSchema, Fields } from '../field-types.ts';
import { folderLabel } from '../labels.ts';
import { canonicalDate, isoOf } from './dates.ts';
import { sharpLib } from '../../util/lazy-import.ts';

/** The automatic fields and their types; `label` and `taken`/`camera` are absent when unknown. */
export const AUTO_FIELDS: FieldSchema = {
  label: 'string',
  folder: 'string',
  size: 'number',
  mtime: 'date',
  width: 'number',
  height: 'number',
  format: 'string',
  taken: 'date',
  camera: 'string',
};

/** An EXIF text value without the NUL padding cameras leave, or '' when absent. */
function exifText(v: unknown): string {
  return typeof v === 'string' ? v.replace(/\0/g, '').trim() : '';
}

/** `taken` and `camera` from a raw EXIF block; a block that does not parse gives neither. */
function exifFields(exif: Buffer | undefined): Fields {
  if (!exif) return {};
  let tags: ReturnType<typeof exifReader>;
  try {
    tags = exifReader(exif);
  } catch {
    return {};
  }
  const out: Fields = {};
  // exif-reader reads the zone-less EXIF time as UTC; OffsetTimeOriginal (+02:00), when present, says which zone it was.
  const when = tags.Photo?.DateTimeOriginal;
  if (when instanceof Date && !Number.isNaN(when.getTime())) {
    const off = /^([+-])(\d{2}):(\d{2})$/.exec(exifText(tags.Photo?.OffsetTimeOriginal));
    const shift = off ? (off[1] === '-' ? -1 : 1) * (Number(off[2]) * 60 + Number(off[3])) * 60_000 : 0;
    const iso = isoOf(when.getTime() - shift);
    if (canonicalDate(iso) === iso) out.taken = iso;
  }
  const make = exifText(tags.Image?.Make);
  const model = exifText(tags.Image?.Model);
  // "Canon" + "Canon EOS 5D" is "Canon EOS 5D", not "Canon Canon EOS 5D".
  const camera = model.toLowerCase().startsWith(make.toLowerCase()) ? model : `${make} ${model}`.trim();
  if (camera) out.camera = camera;
  return out;
}

/**
 * The automatic fields of one image: `label` (its class folder, data/labels.ts folderLabel),
 * `folder` (relative folder, '' at the root), `size` (bytes), `mtime`, `width`/`height` (as
 * displayed, after EXIF orientation), `format` (sharp's name: jpeg, png, webp, ...), and from
 * EXIF `taken` (DateTimeOriginal) and `camera` ("Make Model"). An unreadable header is an error naming relPath.
 */
export async function autoFields(absPath: string, relPath: string): Promise<Fields> {
  const st = await fs.promises.stat(absPath);
  let meta: Metadata;
  try {
    meta = await sharpLib()(absPath).metadata();
  } catch (e) {
    throw new Error(`${relPath}: cannot read the image header (${(e as Error).message.split('\n')[0]})`);
  }
  const out: Fields = {};
  const label = folderLabel(relPath);
  if (label !== undefined) out.label = label;
  const folder = path.posix.dirname(relPath);
  out.folder = folder === '.' ? '' : folder;
  out.size = st.size;
  out.mtime = isoOf(st.mtime.getTime());
  out.width = meta.autoOrient?.width ?? meta.width;
  out.height = meta.autoOrient?.height ?? meta.height;
  out.format = meta.format;
  return { ...out, ...exifFields(meta.exif) };
}
