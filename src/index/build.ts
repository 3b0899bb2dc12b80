/**
 * Build or update an index from a folder through the store: hash every image, embed only new
 * or changed files (by content), drop deleted ones. Progress is committed as it goes (at least
 * every config.indexCommitItems (1,000) images or COMMIT_SECONDS), so a killed run resumes where it stopped: the
 * re-run finds the committed items unchanged and embeds only the rest.
 */
import fs from 'node:fs';
import path from 'node:path';
import { listFolder, listingSkips, type Listing } from '../data/images.ts';
import type { Backbone } from '../models/backbone.ts';
import { decodeError, embedBatches, type EmbedItem, type Skipped } from '../embed/pipeline.ts';
import type { Head } from '../models/head.ts';
import { hashFile } from '../util/hash.ts';
import { crashPoint, diskError } from '../util/atomic.ts';
import { config } from '../util/config.ts';
import { assertSameEmbedding } from '../models/compat.ts';
import { checkIndexOut, isInside, isOwnIndex } from './guard.ts';
import { openStore } from '../store/open-store.ts';
import { FolderStore } from '../store/folder/store.ts';
import { backupSibling, rebuildSibling } from '../store/folder/names.ts';
import type { EmbeddingSource } from '../models/compat.ts';
import type { FileRecord, StoreItem, VectorStore } from '../store/types.ts';
import { isPgLocation } from '../store/pg/location.ts';
import { ANN_AUTO_MIN, type AnnDtype, type AnnMode } from '../store/ann-mode.ts';
import { OptionError } from '../util/options.ts';
import type { Fields } from '../data/field-types.ts';
import { autoFields } from '../data/fields/auto.ts';
import { readFieldsFile } from '../data/fields/sidecar.ts';
import { setItemFields } from './fields.ts';
import { carryApiItems, checkShrink, isApiItem, rootChanged } from './shrink.ts';

/** ...or this many seconds, whichever comes first. */
export const COMMIT_SECONDS = 30;

/** Options for buildIndex. */
export interface BuildOptions {
  folder: string;
  out: string;
  backbone: Backbone;
  head?: Head;
  /** Build a fresh index beside the old one and swap it in (the old one stays until the swap). */
  rebuild?: boolean;
  /** Allow a listing with no images to empty an existing index. */
  allowEmpty?: boolean;
  /** Allow a run to remove more than half of the index, or anything when no image decoded (src/index/shrink.ts). */
  allowShrink?: boolean;
  /** Allow indexing another folder than the index's root: the index is rebuilt from it. */
  rootChange?: boolean;
  /** Follow symbolic links that leave the folder (default: such links are skipped with a reason). */
  followLinks?: boolean;
  batchSize?: number;
  /** Images per commit (default config.indexCommitItems, at most 1000). */
  commitItems?: number;
  onProgress?: (done: number, total: number) => void;
  onSkip?: (s: Skipped) => void;
  /** Stop early (the service's shutdown); committed work stays. */
  signal?: AbortSignal;
  /** --strict: any skipped file is an error raised before the index is written (the old one stays as it was); such a run commits only at the end. */
  strict?: boolean;
  /**
   * The ANN graph at index time (`--ann`, `--ann-dtype`): 'on', or 'auto' (the default) from
   * ANN_AUTO_MIN images, builds it (or loads the saved one, so every commit updates it in
   * O(changed)) and saves it with the index; 'off' leaves any saved graph to be refreshed by the
   * next search that uses it.
   */
  ann?: { mode?: AnnMode; dtype?: AnnDtype; onNote?: (msg: string) => void };
  /**
   * A sidecar of item fields (`--fields items.csv|items.jsonl`, joined on the relative path),
   * merged over the fields found automatically (class folder, size, dates, dimensions, EXIF).
   */
  fields?: string;
  /** Told once what the run will do, before embedding (a resumed build shows here). */
  onPlan?: (p: { indexed: number; unchanged: number; toEmbed: number; toRemove: number }) => void;
}

/** What an index run changed. */
export interface BuildReport {
  out: string;
  total: number;
  added: string[];
  changed: string[];
  removed: string[];
  unchanged: number;
  skipped: Skipped[];
  /** `--crop face`: images of this run with no face found, embedded from the whole image (absent without a face crop). */
  noFace?: string[];
  dim: number;
  /** Images embedded by this run. */
  embedded: number;
  /** Items whose fields changed without re-embedding (a new sidecar, or an index from before fields). */
  fieldsUpdated: number;
  /** Sidecar rows whose path is not an image of the gallery (ignored). */
  fieldsUnmatched: number;
  /** Items added through the API (not from the folder) that the run kept. */
  fromApi: number;
}

/** The fields of each item: found automatically, overlaid with the sidecar's row for its path. */
type FieldsOf = (id: string) => Promise<Fields>;

function fieldSource(folder: string, sidecar?: string): { fieldsOf: FieldsOf; unmatched: (ids: string[]) => number } {
  const rows = sidecar ? readFieldsFile(sidecar).byPath : undefined;
  return {
    fieldsOf: async (id) => ({ ...(await autoFields(path.join(folder, id), id)), ...(rows?.get(id) ?? {}) }),
    unmatched: (ids) => {
      if (!rows) return 0;
      const have = new Set(ids);
      return [...rows.keys()].filter((p) => !have.has(p)).length;
    },
  };
}

async function hashAll(folder: string, ids: string[], onError: (s: Skipped) => void): Promise<Map<string, FileRecord>> {
  const out = new Map<string, FileRecord>();
  const width = 16;
  for (let i = 0; i < ids.length; i += width) {
    const part = ids.slice(i, i + width);
    const res = await Promise.allSettled(part.map(async (id) => {
      const file = path.join(folder, id);
      const size = fs.statSync(file).size;
      return { sha256: await hashFile(file), size };
    }));
    res.forEach((r, j) => (r.status === 'fulfilled' ? out.set(part[j], r.value) : onError({ id: part[j], reason: decodeError(r.reason) })));
  }
  return out;
}

/** Listing ids that lie inside a lookalike index folder under the gallery (or inside `out`). */
function insideIndexes(folder: string, ids: string[], out: string): (id: string) => boolean {
  const verdict = new Map<string, boolean>();
  const outAbs = path.resolve(out);
  const dirIsIndex = (rel: string): boolean => {
    let v = verdict.get(rel);
    if (v === undefined) {
      const abs = path.join(folder, rel);
      const parent = path.posix.dirname(rel);
      v = (parent !== '.' && dirIsIndex(parent)) || abs === outAbs || isOwnIndex(abs);
      verdict.set(rel, v);
    }
    return v;
  };
  return (id) => {
    const dir = path.posix.dirname(id);
    return dir !== '.' && dirIsIndex(dir);
  };
}

/** Index a folder into `out`, incrementally when `out` already holds an index of the same model. */
export async function buildIndex(opts: BuildOptions): Promise<BuildReport> {
  try {
    return await buildIndexIn(opts);
  } catch (e) {
    // Node's ENOSPC / EROFS / EIO messages name no file: say which index, and that its last commit stands.
    throw diskError(e, opts.out, 'what was committed before stays; free space and run the same command again to go on');
  }
}

async function buildIndexIn(opts: BuildOptions): Promise<BuildReport> {
  const { folder, out, backbone, head } = opts;
  checkIndexOut(out, folder);
  const source: EmbeddingSource = {
    model: { name: backbone.name, fingerprint: backbone.fingerprint, spec: backbone.spec },
    ...(head ? { head: { file: path.resolve(head.file), fingerprint: head.fingerprint } } : {}),
  };
  // A bad sidecar is reported before any listing or embedding.
  const fields = fieldSource(folder, opts.fields);
  const listing = listFolder(folder, { followLinks: opts.followLinks });
  const inIndex = isInside(out, folder) || listing.images.some((id) => id.includes('/')) ? insideIndexes(folder, [...listing.images, ...listing.others], out) : () => false;
  const images = listing.images.filter((id) => !inIndex(id));
  const kept: Listing = { images, others: listing.others.filter((id) => !inIndex(id)), skipped: listing.skipped.filter((s) => !inIndex(s.id)) };
  const others = kept.others;
  if (images.length === 0 && !opts.allowEmpty) {
    throw new OptionError(`${folder}: no images found${others.length ? ` (${others.length} other files)` : ''}; ${out} is left as it is (to empty an existing index on purpose, pass {{allowEmpty}})`);
  }
  if (opts.rebuild && isPgLocation(out)) return rebuildPg(opts, source, images, kept, fields);
  // An index to rebuild: the folder, or the previous index a killed --rebuild swap left aside.
  if (opts.rebuild && (fs.existsSync(out) || isOwnIndex(backupSibling(out)))) return rebuildBeside(opts, source, images, kept, fields);
  const store = await openStore(out, { write: true, create: { ...source, dim: 0, root: path.resolve(folder) } });
  let changed: boolean;
  try {
    changed = await rootChangeOf(store, opts);
  } catch (e) {
    await store.close();
    throw e;
  }
  if (changed) {
    // Another folder in place of the old one: a rebuild beside it, so the manifest records the new root.
    await store.close();
    return isPgLocation(out) ? rebuildPg(opts, source, images, kept, fields) : rebuildBeside(opts, source, images, kept, fields);
  }
  try {
    return await update(store, opts, source, images, kept, fields);
  } finally {
    await store.close();
  }
}

/** True when `folder` is another source than the root of the index in `store` and rootChange allows it (then the run rebuilds); an error when it does not. */
async function rootChangeOf(store: VectorStore, opts: BuildOptions): Promise<boolean> {
  return rootChanged((await store.meta()).root, opts.folder, opts.out, opts.rootChange);
}

/** The rebuilt index against the old one, before the swap: the shrink check, and the API items carried over. */
async function finishRebuild(old: VectorStore, fresh: VectorStore, opts: BuildOptions, report: BuildReport): Promise<BuildReport> {
  const oldIds = await old.ids();
  const newIds = new Set(await fresh.ids());
  const oldFiles = await old.files();
  const folderIds = oldIds.filter((id) => !isApiItem(oldFiles.get(id)));
  checkShrink({ out: opts.out, indexed: folderIds.length, missing: folderIds.filter((id) => !newIds.has(id)).length, undecodable: 0, usable: newIds.size, allowShrink: opts.allowShrink || (opts.allowEmpty && !newIds.size) });
  const fromApi = await carryApiItems(old, fresh);
  return { ...report, total: await fresh.count(), fromApi, removed: oldIds.filter((id) => !newIds.has(id) && !isApiItem(oldFiles.get(id))) };
}

/** --rebuild over an existing index: build a new store in a hidden sibling, then swap folders. */
async function rebuildBeside(opts: BuildOptions, source: EmbeddingSource, images: string[], listing: Listing, fields: ReturnType<typeof fieldSource>): Promise<BuildReport> {
  const { out, folder } = opts;
  // Hold the old index's lock for the whole rebuild: no other writer may change it meanwhile.
  const old = await openStore(out, { write: true, create: { ...source, dim: 0, root: path.resolve(folder) } });
  try {
    await rootChangeOf(old, opts);
  } catch (e) {
    await old.close();
    throw e;
  }
  const sibling = rebuildSibling(out);
  try {
    if (fs.existsSync(sibling)) {
      // A previous --rebuild was interrupted: resume it when it used the same model, else start over.
      let same = false;
      if (isOwnIndex(sibling)) {
        const s = await openStore(sibling);
        try {
          assertSameEmbedding(await s.meta(), source, sibling);
          same = true;
        } catch {
          same = false;
        } finally {
          await s.close();
        }
      }
      if (!same) removeOwnFolder(sibling);
    }
    const store = await openStore(sibling, { write: true, create: { ...source, dim: 0, root: path.resolve(folder) } });
    let report: BuildReport;
    try {
      report = await finishRebuild(old, store, opts, await update(store, opts, source, images, listing, fields));
    } finally {
      await store.close();
    }
    await old.close();
    // Swap: old -> hidden backup, new -> out, drop the backup. A crash in between leaves the
    // backup, which openStore restores (writers) or reads (readers).
    const backup = backupSibling(out);
    if (fs.existsSync(backup)) removeOwnFolder(backup);
    fs.renameSync(out, backup);
    crashPoint('rebuild:swap');
    fs.renameSync(sibling, out);
    removeOwnFolder(backup);
    // Everything in the new index was embedded by this run: it counts as added.
    return { ...report, out };
  } finally {
    await old.close();
  }
}

/** --rebuild on Postgres: fill a staging index (src/store/pg/rebuild.ts), then swap it in within one transaction. */
async function rebuildPg(opts: BuildOptions, source: EmbeddingSource, images: string[], listing: Listing, fields: ReturnType<typeof fieldSource>): Promise<BuildReport> {
  const { openPgStore } = await import('../store/pg/store.ts');
  const { openRebuildStaging, swapRebuild } = await import('../store/pg/rebuild.ts');
  const root = path.resolve(opts.folder);
  // Hold the index's writer lock for the whole rebuild: it covers the staging index too.
  const old = await openPgStore(opts.out, { write: true, create: { ...source, dim: 0, root } });
  try {
    await rootChangeOf(old, opts);
  } catch (e) {
    await old.close();
    throw e;
  }
  try {
    const { staging } = await openRebuildStaging(old, source, root);
    try {
      const report = await finishRebuild(old, staging, opts, await update(staging, opts, source, images, listing, fields));
      await swapRebuild(old, staging);
      return report;
    } finally {
      await staging.close();
    }
  } finally {
    await old.close();
  }
}

/** Remove a folder only if it is a lookalike index (or holds only store-made files). */
function removeOwnFolder(dir: string): void {
  if (!isOwnIndex(dir) && fs.readdirSync(dir).some((n) => !/^(seg-\d{6}\.(npy|json)|tomb-\d{6}\.json|lock\.json.*|manifest\.json.*)$/.test(n))) {
    throw new Error(`${dir}: not a lookalike index; leaving it alone (remove it yourself if it is not needed)`);
  }
  fs.rmSync(dir, { recursive: true, force: true });
}

/** Bring `store` up to date with the listing, committing as it goes. */
async function update(store: VectorStore, opts: BuildOptions, source: EmbeddingSource, images: string[], listing: Listing, fields: ReturnType<typeof fieldSource>): Promise<BuildReport> {
  const { folder, backbone, head } = opts;
  const skipped: Skipped[] = [];
  const skip = (s: Skipped) => {
    skipped.push(s);
    opts.onSkip?.(s);
  };
  const meta = await store.meta();
  const prevFiles = await store.files();
  const prevIds = new Set(await store.ids());
  if (prevIds.size) assertSameEmbedding(meta, source, opts.out);
  for (const s of listingSkips(listing)) skip(s);
  const records = await hashAll(folder, images, skip);
  const ids = images.filter((id) => records.has(id));
  const added: string[] = [];
  const changed: string[] = [];
  const todo: EmbedItem[] = [];
  for (const id of ids) {
    const old = prevFiles.get(id);
    if (!prevIds.has(id)) added.push(id);
    else if (!old || old.sha256 !== records.get(id)!.sha256) changed.push(id);
    else continue;
    todo.push({ id, source: path.join(folder, id) });
  }
  const keep = new Set(ids);
  // Items added through the API were never in the folder: a re-index keeps them.
  const fromApi = [...prevIds].filter((id) => !keep.has(id) && isApiItem(prevFiles.get(id))).length;
  const removed = [...prevIds].filter((id) => !keep.has(id) && !isApiItem(prevFiles.get(id)));
  // --allow-empty on an empty folder is a request to empty the index.
  const shrink = { out: opts.out, indexed: prevIds.size - fromApi, missing: removed.length, allowShrink: opts.allowShrink || (opts.allowEmpty && !images.length) };
  // Removals alone already too many: refused before anything is embedded.
  checkShrink({ ...shrink, undecodable: 0, usable: ids.length });
  const folderStore = store instanceof FolderStore ? store : undefined;
  if (folderStore && todo.length) folderStore.building = { folder: path.resolve(folder), started: new Date().toISOString() };
  // The graph, when wanted, is held from the start so each commit updates it (annApply), not rebuilt at the end.
  const annMode = opts.ann?.mode ?? 'auto';
  const wantAnn = annMode === 'on' || (annMode === 'auto' && ids.length >= ANN_AUTO_MIN);
  const prepareAnn = () => store.prepareAnn?.({ ann: 'on', dtype: opts.ann?.dtype, onNote: opts.ann?.onNote });
  if (wantAnn && prevIds.size) await prepareAnn();
  const commitItems = Math.max(1, opts.commitItems ?? config.indexCommitItems);
  opts.onPlan?.({ indexed: prevIds.size, unchanged: ids.length - todo.length, toEmbed: todo.length, toRemove: removed.length });
  let pending: StoreItem[] = [];
  let lastCommit = Date.now();
  let dim = meta.dim;
  let done = 0;
  let embedded = 0;
  const noFace: string[] = [];
  const failed = new Set<string>();
  const flush = async (final: boolean) => {
    if (final && folderStore) folderStore.building = undefined;
    // Items that were indexed but now fail to decode are dropped with the removals, at the end.
    const remove = final ? [...removed, ...changed.filter((id) => failed.has(id))] : [];
    if (!pending.length && !remove.length && !final) return;
    await store.write({ upsert: pending, remove });
    embedded += pending.length;
    pending = [];
    lastCommit = Date.now();
  };
  // One stream over every file (decoding stays ahead of inference across commits); the commit clock is checked after each batch.
  for await (const res of embedBatches(backbone, todo, {
    batchSize: opts.batchSize,
    head,
    onSkip: (s) => {
      failed.add(s.id);
      skip(s);
    },
    onProgress: (n) => opts.onProgress?.((done += n), todo.length),
    signal: opts.signal,
  })) {
    opts.signal?.throwIfAborted();
    if (res.noFace) noFace.push(...res.noFace);
    if (res.ids.length) {
      if (dim && res.dim !== dim) throw new Error(`${opts.out}: index has ${dim}-d embeddings, model gives ${res.dim}-d`);
      dim = res.dim;
    }
    const found = await Promise.all(res.ids.map((id) => fields.fieldsOf(id)));
    res.ids.forEach((id, r) => pending.push({ id, vector: res.vectors.slice(r * dim, (r + 1) * dim), file: records.get(id)!, fields: found[r] }));
    // --strict decides at the end, so it commits nothing before then. Commits hold commitItems
    // items each whatever the batch size (a kill loses at most one commit's worth); the rest waits.
    if (opts.strict) continue;
    while (pending.length >= commitItems) {
      const rest = pending.splice(commitItems);
      await flush(false);
      pending = rest;
    }
    if (pending.length && Date.now() - lastCommit >= COMMIT_SECONDS * 1000) await flush(false);
  }
  if (opts.strict && skipped.length) throw new OptionError(`{{strict}}: ${skipped.length} file(s) skipped; ${opts.out} was not written`);
  checkShrink({ ...shrink, undecodable: changed.filter((id) => failed.has(id)).length, usable: ids.length - failed.size });
  await flush(true);
  const embeddedNow = new Set(todo.map((t) => t.id));
  const fieldsUpdated = await refreshFields(store, ids.filter((id) => !embeddedNow.has(id)), fields.fieldsOf, !!opts.fields);
  const total = await store.count();
  // Built now if it was not held (a new index); saved with the index (a held graph on close).
  if (wantAnn && total) await prepareAnn();
  return {
    out: opts.out,
    total,
    added: added.filter((id) => !failed.has(id)),
    changed: changed.filter((id) => !failed.has(id)),
    removed: [...removed, ...changed.filter((id) => failed.has(id))],
    unchanged: ids.length - added.length - changed.length,
    skipped,
    ...(backbone.spec.face ? { noFace } : {}),
    dim,
    embedded,
    fieldsUpdated,
    fieldsUnmatched: fields.unmatched(ids),
    fromApi,
  };
}

/**
 * Bring the fields of items that were not re-embedded up to date: all of them when a sidecar is
 * given, else only items with no fields yet (an index built before fields existed). One write.
 */
async function refreshFields(store: VectorStore, ids: string[], fieldsOf: FieldsOf, all: boolean): Promise<number> {
  // Without a sidecar only items lacking the automatic fields are candidates: the store finds them
  // (a pass over its fields, or SQL), so an unchanged re-index reads no item records.
  const candidates = new Set(await store.select(all ? undefined : { op: 'not', arg: { op: 'exists', field: 'size' } }));
  ids = ids.filter((id) => candidates.has(id));
  if (!ids.length) return 0;
  const updates: { id: string; fields: Fields }[] = [];
  for (let i = 0; i < ids.length; i += 1000) {
    const recs = await store.items(ids.slice(i, i + 1000));
    for (const r of recs) {
      if (!all && Object.keys(r.fields).length) continue;
      const f = await fieldsOf(r.id);
      if (JSON.stringify(sortKeys(f)) !== JSON.stringify(sortKeys(r.fields))) updates.push({ id: r.id, fields: f });
    }
  }
  return setItemFields(store, updates, true);
}

function sortKeys(f: Fields): [string, unknown][] {
  return Object.entries(f).sort((a, b) => (a[0] < b[0] ? -1 : 1));
}
