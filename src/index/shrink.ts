/**
 * Guards that keep an index build from losing items by accident (docs/reliability.md, "A build
 * never shrinks an index by accident"): the source folder must be the index's own root, a run
 * may not remove more than half of the index (or anything when nothing decoded) without
 * `allowShrink`, and items added through the API (POST /items, Index.add, Index.addVectors) are
 * kept by a re-index of the folder, since they were never part of it.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { FileRecord, StoreItem, VectorStore } from '../store/types.ts';
import { OptionError } from '../util/options.ts';

/** The share of an index a run may remove without allowShrink (more than this is refused). */
export const MAX_REMOVE_SHARE = 0.5;

/** True for an item added through the API: its content record says so, or it has none (a folder build always records one). */
export function isApiItem(rec: FileRecord | undefined): boolean {
  return !rec || rec.origin === 'api';
}

/** Resolved and real path of a folder (real when it exists), for comparing roots. */
function samePath(a: string, b: string): boolean {
  const real = (p: string) => {
    try {
      return fs.realpathSync(p);
    } catch {
      return path.resolve(p);
    }
  };
  return path.resolve(a) === path.resolve(b) || real(a) === real(b);
}

/**
 * Whether `folder` is another source than the index's root: false when the same (or the index
 * has no root yet), true when rootChange allows it, else a one-line error naming both folders.
 */
export function rootChanged(root: string | undefined, folder: string, out: string, rootChange?: boolean): boolean {
  if (!root || /^[a-z][a-z0-9+.-]*:/i.test(root) || samePath(root, folder)) return false;
  if (rootChange) return true;
  throw new OptionError(
    `${out} indexes ${root}, not ${path.resolve(folder)}; nothing was changed (to index ${folder} in its place, pass {{rootChange}}: the index is rebuilt from it; to keep both, choose another {{out}})`,
  );
}

/** What a run would remove, for the shrink check. */
export interface ShrinkPlan {
  out: string;
  /** Items in the index before the run. */
  indexed: number;
  /** Ids no longer in the folder (or unreadable). */
  missing: number;
  /** Ids whose new content failed to decode. */
  undecodable: number;
  /** Listed images that are in the index after the run (unchanged or embedded now). */
  usable: number;
  allowShrink?: boolean;
}

/**
 * Refuse a run that would empty the index because nothing decoded, or remove more than
 * MAX_REMOVE_SHARE of it, unless allowShrink: a one-line error with the counts and the way on.
 */
export function checkShrink(p: ShrinkPlan): void {
  const remove = p.missing + p.undecodable;
  if (p.allowShrink || !p.indexed || !remove) return;
  const why = p.usable === 0 ? 'no image in the folder could be used' : remove > p.indexed * MAX_REMOVE_SHARE ? `that is more than ${MAX_REMOVE_SHARE * 100}% of the index` : undefined;
  if (!why) return;
  const parts = [p.missing && `${p.missing} no longer in the folder`, p.undecodable && `${p.undecodable} failing to decode`].filter(Boolean).join(', ');
  throw new OptionError(`${p.out}: this run would remove ${remove} of ${p.indexed} items (${parts}) and ${why}; nothing was removed (check the folder, or pass {{allowShrink}} to remove them)`);
}

/** Copy the API-added items of `from` into `to` (a rebuild keeps them); returns how many. */
export async function carryApiItems(from: VectorStore, to: VectorStore): Promise<number> {
  const files = await from.files();
  const have = new Set(await to.ids());
  const ids = (await from.ids()).filter((id) => !have.has(id) && isApiItem(files.get(id)));
  if (!ids.length) return 0;
  const dim = (await from.meta()).dim;
  const block = 1024;
  for (let i = 0; i < ids.length; i += block) {
    const part = ids.slice(i, i + block);
    const vectors = await from.getVectors(part);
    // Everything the store keeps about each item (content record, label, fields) goes with it.
    const records = new Map((await from.items(part)).map((r) => [r.id, r]));
    const upsert: StoreItem[] = part.map((id, j) => ({ ...records.get(id), id, vector: vectors.slice(j * dim, (j + 1) * dim) }));
    await to.write({ upsert });
  }
  return ids.length;
}
