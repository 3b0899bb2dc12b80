/**
 * The HTTP API (docs/api.md): search by uploaded image (multipart or raw body), by indexed id,
 * by text or by vector; thumbnails of indexed items only; /info and /healthz; adding and removing
 * items with a bearer token, persisted through the store's atomic write; /reload.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { checkEf, checkK, checkMinScore, FieldError, FileReadError, FilterError, isOptionError, openIndex, readRegularFile, regularStat, sharpLib, toInteger, toNumber, type Example, type Fields, type Hit, type Index, type ItemRecord } from '../api.ts';
import { boolParam, checkImage, checkItemId, checkToken, HttpError, intParam } from './limits.ts';
import type { PixelBudget } from './pixels.ts';
import type { Generation, LiveIndex } from './reload.ts';
import { registerExplorerRoutes } from './explorer-routes.ts';

/** What the routes need from the server. */
export interface RouteContext {
  live: LiveIndex;
  token?: string;
  uploadBytes: number;
  maxPixels: number;
  /** Folder where images added over HTTP are kept (for their thumbnails); undefined: not kept. */
  uploads?: string;
  /** Largest k answered. */
  maxK: number;
  /** Every decode takes its pixels from this budget first. */
  pixels: PixelBudget;
  /** Largest gallery file read for a thumbnail, and how long its read may take. */
  fileBytes: number;
  readTimeoutMs: number;
}

/** One search result as sent. */
export interface ResultJson {
  rank: number;
  id: string;
  score: number;
  thumbnail: string;
  fields?: Fields;
}

/** The thumbnail URL of an item. */
export function thumbnailUrl(id: string): string {
  return `/items/${encodeURIComponent(id)}/thumbnail`;
}

type Query =
  | { kind: 'image'; bytes: Buffer }
  | { kind: 'id'; id: string }
  | { kind: 'text'; text: string }
  | { kind: 'vector'; vector: Float32Array }
  | { kind: 'like'; like: Example[]; unlike: Example[] };

interface Params {
  k?: unknown;
  min_score?: unknown;
  exclude_self?: unknown;
  /** ANN search depth for this query (default: the server's --ef). */
  ef?: unknown;
  /** A filter expression (docs/filters.md). */
  filter?: unknown;
  offset?: unknown;
  group_by?: unknown;
  per_group?: unknown;
  unlike_weight?: unknown;
}

/** like/unlike examples in JSON: an id string, or {"id"}, {"vector": [...]}, {"text"}. */
function examples(v: unknown, name: string): Example[] {
  if (v === undefined) return [];
  if (!Array.isArray(v) || v.length > 64) throw new HttpError(400, `${name}: expected an array of at most 64 examples (ids, {"id"}, {"vector"} or {"text"})`);
  return v.map((x, i): Example => {
    if (typeof x === 'string') return { id: x };
    const o = (x ?? {}) as Record<string, unknown>;
    if (typeof o.id === 'string') return { id: o.id };
    if (typeof o.text === 'string') return { text: o.text };
    if (Array.isArray(o.vector) && o.vector.every((n) => typeof n === 'number' && Number.isFinite(n))) return { vector: normalise(Float32Array.from(o.vector as number[])) };
    throw new HttpError(400, `${name}[${i}]: expected an id, {"id"}, {"vector": [numbers]} or {"text"}`);
  });
}

/** Read the single uploaded file (its name) and the fields of a multipart request; a body that does not parse is a 400 with the parser's reason. */
async function readMultipart(req: FastifyRequest, uploadBytes: number): Promise<{ bytes?: Buffer; name?: string; fields: Record<string, string> }> {
  const fields: Record<string, string> = {};
  let bytes: Buffer | undefined;
  let name: string | undefined;
  try {
    for await (const part of req.parts({ limits: { fileSize: uploadBytes, files: 1, fields: 10, fieldSize: 10_000 } })) {
      if (part.type === 'file') {
        bytes = await part.toBuffer();
        if (part.file.truncated) throw new HttpError(413, `upload is larger than ${uploadBytes} bytes`);
        name = part.filename;
      } else fields[part.fieldname] = String(part.value);
    }
  } catch (e) {
    const err = e as Error & { statusCode?: number; code?: string };
    // Limits (files, fields, size) carry their own status and code; anything else is the body's fault.
    if (e instanceof HttpError || err.statusCode || (err.code ?? '').startsWith('FST_')) throw e;
    throw new HttpError(400, `malformed multipart/form-data body: ${oneLineOf(err.message)}`);
  }
  return { bytes, name, fields };
}

function oneLineOf(s: string): string {
  return s.replace(/\s+/g, ' ').trim().slice(0, 200);
}

/** The largest finite float32. */
const FLOAT32_MAX = 3.4028234663852886e38;

/** The query and its parameters from any of the accepted request shapes. */
async function parseSearch(req: FastifyRequest, ctx: RouteContext): Promise<{ q: Query; p: Params }> {
  const qs = (req.query ?? {}) as Record<string, string>;
  if (req.method === 'GET') {
    if (qs.id !== undefined) return { q: { kind: 'id', id: qs.id }, p: qs };
    if (qs.text !== undefined) return { q: { kind: 'text', text: qs.text }, p: qs };
    throw new HttpError(400, 'GET /search needs ?id=ITEM or ?text=WORDS; upload images with POST /search');
  }
  if (req.isMultipart()) {
    const { bytes, fields } = await readMultipart(req, ctx.uploadBytes);
    const p = { ...qs, ...fields };
    if (bytes) return { q: { kind: 'image', bytes }, p };
    if (fields.id !== undefined) return { q: { kind: 'id', id: fields.id }, p };
    if (fields.text !== undefined) return { q: { kind: 'text', text: fields.text }, p };
    throw new HttpError(400, 'multipart search needs a file field (the image), or an id or text field');
  }
  const body = req.body;
  if (Buffer.isBuffer(body)) return { q: { kind: 'image', bytes: body }, p: qs };
  if (body && typeof body === 'object') {
    const b = body as Record<string, unknown>;
    const p = { ...qs, ...b } as Params;
    if (typeof b.id === 'string') return { q: { kind: 'id', id: b.id }, p };
    if (typeof b.text === 'string') return { q: { kind: 'text', text: b.text }, p };
    if (b.like !== undefined) return { q: { kind: 'like', like: examples(b.like, 'like'), unlike: examples(b.unlike, 'unlike') }, p };
    if (Array.isArray(b.vector) && b.vector.every((x) => typeof x === 'number')) {
      const bad = (b.vector as number[]).findIndex((x) => !(Math.abs(x) <= FLOAT32_MAX));
      if (bad >= 0) throw new HttpError(400, `vector: value ${b.vector[bad]} at position ${bad} does not fit a float32 (at most ${FLOAT32_MAX} in size)`);
      return { q: { kind: 'vector', vector: Float32Array.from(b.vector as number[]) }, p };
    }
    throw new HttpError(400, 'JSON search needs "id", "text", "vector" or "like" (with optional "unlike")');
  }
  throw new HttpError(400, 'send an image (multipart field or raw image body), or JSON {"id"|"text"|"vector"}');
}

/** Embed (or look up) a query on a generation; `self` is the id exclude_self leaves out. */
async function queryVector(g: Generation, q: Query, ctx: RouteContext): Promise<{ vector: Float32Array; self?: string; noFace?: boolean }> {
  switch (q.kind) {
    case 'id':
      if (!(await g.index.has(q.id))) throw new HttpError(404, `no item ${JSON.stringify(q.id)} in the index`);
      return { vector: await g.index.vector(q.id), self: q.id };
    case 'text':
      if (!q.text.trim()) throw new HttpError(400, 'text: empty query');
      if (q.text.length > 1000) throw new HttpError(400, 'text: at most 1000 characters');
      if (g.missing) throw new HttpError(503, g.missing);
      if (!g.text) throw new HttpError(400, `text search needs a text-image model (CLIP, SigLIP); ${g.meta.model.name} has no text tower here`);
      return g.index.embedQuery({ text: q.text });
    case 'vector':
      if (q.vector.length !== g.meta.dim) throw new HttpError(400, `vector: ${q.vector.length} values, the index is ${g.meta.dim}-d`);
      return { vector: normalise(q.vector) };
    case 'image': {
      const info = await checkImage(q.bytes, ctx.maxPixels);
      return ctx.pixels.run(info.width * info.height, () => g.queue.embed(q.bytes));
    }
    case 'like':
      throw new HttpError(400, 'like/unlike is a query of its own');
  }
}

function normalise(v: Float32Array): Float32Array {
  let n = 0;
  for (const x of v) n += x * x;
  n = Math.sqrt(n);
  if (!n) throw new HttpError(400, 'vector: all zeros');
  return v.map((x) => x / n);
}

function toJson(hits: Hit[]): ResultJson[] {
  return hits.map((h) => ({ rank: h.rank, id: h.id, score: h.score, thumbnail: thumbnailUrl(h.id), ...(h.fields ? { fields: h.fields } : {}) }));
}

/** An item record as sent (no file path: ids are relative to the gallery). */
function itemJson(r: ItemRecord) {
  return { id: r.id, fields: r.fields, thumbnail: thumbnailUrl(r.id) };
}

/** Read an upload for POST /items: multipart (file + optional id field) or raw image body (?id=). */
async function readUpload(req: FastifyRequest, ctx: RouteContext): Promise<{ bytes: Buffer; id?: string; name?: string; fields?: Fields }> {
  const qs = (req.query ?? {}) as Record<string, string>;
  if (req.isMultipart()) {
    const { bytes, name, fields } = await readMultipart(req, ctx.uploadBytes);
    if (!bytes) throw new HttpError(400, 'POST /items needs a file field with the image');
    return { bytes, id: fields.id ?? qs.id, name, fields: fieldsParam(fields.fields ?? qs.fields) };
  }
  if (Buffer.isBuffer(req.body)) return { bytes: req.body, id: qs.id, fields: fieldsParam(qs.fields) };
  throw new HttpError(415, 'POST /items takes multipart/form-data (file + optional id) or a raw image body with ?id=');
}

/** The `fields` of an upload: a JSON object (checked by the store against the index's field types). */
function fieldsParam(v: string | undefined): Fields | undefined {
  if (v === undefined || v === '') return undefined;
  let f: unknown;
  try {
    f = JSON.parse(v);
  } catch {
    throw new HttpError(400, 'fields: not valid JSON (expected an object such as {"price": 49.5})');
  }
  if (!f || typeof f !== 'object' || Array.isArray(f)) throw new HttpError(400, 'fields: expected a JSON object such as {"price": 49.5}');
  return f as Fields;
}

const FORMAT_EXT: Record<string, string> = { jpeg: '.jpg', png: '.png', webp: '.webp', gif: '.gif', tiff: '.tif', avif: '.avif', heif: '.heic' };

/** Write a file atomically (temp file in the same folder, fsync, rename). */
function writeFileAtomic(file: string, bytes: Buffer): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
  const fd = fs.openSync(tmp, 'wx');
  try {
    fs.writeSync(fd, bytes);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
}

/** Resolve `id` under `dir`, refusing anything that would land outside it. */
function inside(dir: string, id: string): string | undefined {
  const base = path.resolve(dir);
  const f = path.resolve(base, id);
  return f.startsWith(base + path.sep) ? f : undefined;
}

/** The image file of an indexed item: an upload we kept, else the indexed folder's file. */
function itemFile(g: Generation, id: string, ctx: RouteContext): string | undefined {
  const up = ctx.uploads ? inside(ctx.uploads, id) : undefined;
  if (up && fs.existsSync(up)) return up;
  const f = g.meta.root ? inside(g.meta.root, id) : undefined;
  return f && fs.existsSync(f) ? f : undefined;
}

/** A queue that runs its functions one after another (one per server: its writes). */
function serialQueue(): <T>(fn: () => Promise<T>) => Promise<T> {
  let tail: Promise<unknown> = Promise.resolve();
  return <T>(fn: () => Promise<T>) => {
    const run = tail.then(fn);
    tail = run.catch(() => undefined);
    return run;
  };
}

/** Open the index for one write, mapping a held lock to 409. */
async function withWriter<T>(location: string, fn: (w: Index) => Promise<T>): Promise<T> {
  let store;
  try {
    store = await openIndex(location, { write: true });
  } catch (e) {
    const msg = (e as Error).message;
    if (/EROFS|EACCES|EPERM|read-only|permission denied/i.test(msg)) throw new HttpError(503, 'the index cannot be written here (read-only filesystem or folder): adding and removing items are off', {}, msg);
    if (/lock|another writer/i.test(msg)) throw new HttpError(409, 'the index is being written by another process; retry shortly', { 'retry-after': '5' }, msg);
    throw e;
  }
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

/** A parameter checked by the library (a value, or a promise of one): its OptionError or FilterError becomes a 400 naming the parameter. */
function queryParam<T>(check: () => T): T {
  const fail = (e: unknown): never => {
    if (isOptionError(e)) throw new HttpError(400, e.render((option) => option.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)));
    if (e instanceof FilterError || e instanceof FieldError) throw new HttpError(400, e.message);
    throw e;
  };
  try {
    const r = check();
    return (r instanceof Promise ? r.catch(fail) : r) as T;
  } catch (e) {
    return fail(e);
  }
}

const THUMBS_MAX = 512;

/** A file check or read for item `id`, its FileReadError as an HTTP error that names the item, never the path. */
async function fileCheck<T>(id: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (!(e instanceof FileReadError)) throw e;
    const status = e.kind === 'special' ? 422 : e.kind === 'large' ? 413 : e.kind === 'missing' ? 404 : 503;
    throw new HttpError(status, `item ${JSON.stringify(id)}: ${e.message}`, status === 503 ? { 'retry-after': '5' } : {});
  }
}

/** Register every API route. Each server has its own write queue and thumbnail cache (nothing shared between servers in one process). */
export function registerRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const { live } = ctx;
  // Writes from this server run one at a time (the store's lock also guards against other processes).
  const serially = serialQueue();
  // A small LRU of rendered thumbnails.
  const thumbs = new Map<string, Buffer>();

  app.get('/healthz', async () => ({ ok: true }));

  app.get('/info', async () => {
    const g = live.current;
    return {
      location: live.location,
      store: g.index.store.kind,
      model: g.meta.model.name,
      fingerprint: g.meta.model.fingerprint,
      head: g.meta.head ? { file: path.basename(g.meta.head.file), fingerprint: g.meta.head.fingerprint } : null,
      count: g.count,
      dim: g.meta.dim,
      text: g.text,
      model_available: !g.missing,
      updated: g.meta.updated,
      generation: g.number,
      writable: Boolean(ctx.token),
      search: { ann: g.searches.mode.ann ?? 'auto', ef: g.searches.mode.ef ?? null, rerank: g.searches.mode.rerank ?? null },
      limits: { upload_bytes: ctx.uploadBytes, pixels: ctx.maxPixels, max_k: ctx.maxK, queue: g.queue.limit },
    };
  });

  const search = async (req: FastifyRequest, reply: FastifyReply) => {
    const t0 = performance.now();
    const { q, p } = await parseSearch(req, ctx);
    // The library's checks and limits (the same as the CLI's); the server then caps k at its
    // per-request bound (max_k in /info), which keeps each response's memory small.
    const given = (v: unknown) => v !== undefined && v !== '';
    const k = given(p.k) ? Math.min(queryParam(() => checkK(String(p.k))), ctx.maxK) : 10;
    const minScore = given(p.min_score) ? queryParam(() => checkMinScore(String(p.min_score))) : undefined;
    const excludeSelf = boolParam(p.exclude_self);
    const ef = given(p.ef) ? queryParam(() => checkEf(String(p.ef))) : undefined;
    const refine = {
      filter: given(p.filter) ? String(p.filter) : undefined,
      offset: given(p.offset) ? queryParam(() => toInteger(String(p.offset), 'offset')) : undefined,
      groupBy: given(p.group_by) ? String(p.group_by) : undefined,
      perGroup: given(p.per_group) ? queryParam(() => toInteger(String(p.per_group), 'perGroup', 1)) : undefined,
      unlikeWeight: given(p.unlike_weight) ? queryParam(() => toNumber(String(p.unlike_weight), 'unlikeWeight')) : undefined,
    };
    return live.use(async (g) => {
      const mode = { ...refine, minScore, ann: g.searches.mode.ann, ef: ef ?? g.searches.mode.ef, withFields: true };
      let hits: Hit[];
      let noFace = false;
      if (q.kind === 'like') {
        for (const x of [...q.like, ...q.unlike]) if ('id' in x && !(await g.index.has(x.id))) throw new HttpError(404, `no item ${JSON.stringify(x.id)} in the index`);
        if ([...q.like, ...q.unlike].some((x) => 'text' in x) && !g.text) throw new HttpError(400, `text examples need a text-image model; ${g.meta.model.name} has no text tower here`);
        hits = (await queryParam(() => g.index.search({ like: q.like, unlike: q.unlike }, { ...mode, k }))).hits;
      } else {
        const { vector, self, noFace: none } = await queryVector(g, q, ctx);
        noFace = !!none;
        const exclude = excludeSelf ? self : undefined;
        // Plain searches that arrive together share one pass (SearchBatcher); refined ones run alone.
        if (refine.filter === undefined && !refine.offset && refine.groupBy === undefined) {
          hits = (await g.searches.search(vector, k, exclude, ef)).filter((h) => minScore === undefined || h.score >= minScore);
          const recs = hits.length ? await g.index.items(hits.map((h) => h.id)) : [];
          hits.forEach((h, i) => (h.fields = recs[i].fields));
        } else [hits] = await queryParam(() => g.index.searchVectors(vector, { ...mode, k, exclude: [exclude] }));
      }
      reply.header('x-generation', String(g.number));
      const query = q.kind === 'image' ? { image: `${q.bytes.length} bytes` } : q.kind === 'vector' ? { vector: `${q.vector.length} values` } : q.kind === 'id' ? { id: q.id } : q.kind === 'text' ? { text: q.text } : { like: q.like.length, unlike: q.unlike.length };
      // A face-cropping model that found no face in the query embedded the whole image: said, not hidden.
      return { query, ...(noFace ? { no_face: true } : {}), k, count: g.count, took_ms: +(performance.now() - t0).toFixed(2), results: toJson(hits ?? []) };
    });
  };
  app.get('/search', search);
  app.post('/search', search);

  // Browsing: a page of the items a filter matches (sorted by id or a field), and value counts per field.
  app.get('/items', async (req) => {
    const qs = (req.query ?? {}) as Record<string, string>;
    const opts = {
      filter: qs.filter || undefined,
      offset: qs.offset ? queryParam(() => toInteger(qs.offset, 'offset')) : 0,
      limit: qs.limit ? queryParam(() => toInteger(qs.limit, 'limit', 1, 1000)) : 60,
      sortBy: qs.sort || undefined,
      descending: boolParam(qs.desc),
    };
    return live.use(async (g) => {
      const page = await queryParam(() => g.index.browse(opts));
      return { total: page.total, offset: opts.offset, items: page.items.map(itemJson) };
    });
  });

  app.get('/facets', async (req) => {
    const qs = (req.query ?? {}) as Record<string, string>;
    const top = qs.top ? queryParam(() => toInteger(qs.top, 'top', 1, 200)) : 20;
    return live.use(async (g) => ({ types: await g.index.fieldSchema(), facets: await queryParam(() => g.index.facets({ filter: qs.filter || undefined, top })) }));
  });

  app.get('/items/:id', async (req) => {
    const { id } = req.params as { id: string };
    return live.use(async (g) => {
      if (!(await g.index.has(id))) throw new HttpError(404, `no item ${JSON.stringify(id)} in the index`);
      return itemJson((await g.index.items([id]))[0]);
    });
  });

  app.patch('/items/:id', async (req) => {
    checkToken(req.headers.authorization, ctx.token);
    const { id } = req.params as { id: string };
    const body = (req.body ?? {}) as Record<string, unknown>;
    const fields = body.fields;
    if (!fields || typeof fields !== 'object' || Array.isArray(fields)) throw new HttpError(400, 'PATCH /items/:id takes JSON {"fields": {"name": value, ...}} (null removes a field; "replace": true drops the others)');
    const gen = await serially(async () => {
      if (!(await live.current.index.has(id))) throw new HttpError(404, `no item ${JSON.stringify(id)} in the index`);
      await withWriter(live.location, (w) => queryParam(() => w.setFields([{ id, fields: fields as Record<string, Fields[string] | null> }], { replace: body.replace === true })));
      return live.reload(`PATCH /items ${id}`);
    });
    const rec = await live.use(async (g) => (await g.index.items([id]))[0]);
    return { ...itemJson(rec), generation: gen };
  });

  app.get('/items/:id/thumbnail', async (req, reply) => {
    const { id } = req.params as { id: string };
    const size = intParam((req.query as Record<string, string>)?.size, 'size', 256, 512);
    const g = live.current;
    if (!(await g.index.has(id))) throw new HttpError(404, `no item ${JSON.stringify(id)} in the index`);
    const file = itemFile(g, id, ctx);
    if (!file) throw new HttpError(404, `item ${JSON.stringify(id)} has no image file here (the indexed folder moved?)`);
    // Checked without opening: a FIFO, device or socket in the gallery is refused at once.
    const st = await fileCheck(id, () => regularStat(file));
    const key = crypto.createHash('sha256').update([file, st.dev, st.ino, st.mtimeMs, st.size, size].join('\0')).digest('hex');
    let buf = thumbs.get(key);
    if (!buf) {
      const { bytes } = await fileCheck(id, () => readRegularFile(file, { maxBytes: ctx.fileBytes, timeoutMs: ctx.readTimeoutMs }));
      const sharp = sharpLib();
      let meta: { width?: number; height?: number };
      try {
        meta = await sharp(bytes, { limitInputPixels: false }).metadata();
      } catch {
        throw new HttpError(422, `cannot render ${JSON.stringify(id)}: not an image`);
      }
      const pixels = (meta.width ?? 0) * (meta.height ?? 0);
      if (pixels > ctx.maxPixels) throw new HttpError(413, `cannot render ${JSON.stringify(id)}: ${meta.width}x${meta.height} pixels; the limit is ${ctx.maxPixels}`);
      try {
        buf = await ctx.pixels.run(pixels, () => sharp(bytes, { limitInputPixels: ctx.maxPixels }).rotate().resize(size, size, { fit: 'inside', withoutEnlargement: true }).webp({ quality: 80 }).toBuffer());
      } catch (e) {
        if (e instanceof HttpError) throw e;
        throw new HttpError(422, `cannot render ${JSON.stringify(id)}: ${(e as Error).message.split('\n')[0]}`);
      }
      thumbs.set(key, buf);
      if (thumbs.size > THUMBS_MAX) thumbs.delete(thumbs.keys().next().value!);
    }
    reply.header('content-type', 'image/webp').header('cache-control', 'public, max-age=300').header('etag', `"${key.slice(0, 16)}"`);
    return buf;
  });

  app.post('/items', async (req, reply) => {
    checkToken(req.headers.authorization, ctx.token);
    const up = await readUpload(req, ctx);
    const checked = await checkImage(up.bytes, ctx.maxPixels);
    // What is known about an upload without the user: its size, dimensions and format (like an indexed file's).
    const info = { ...checked, fields: { source: 'upload', size: up.bytes.length, width: checked.width, height: checked.height, format: checked.format } };
    const rawId = up.id ?? (up.name ? path.basename(up.name) : `upload-${Date.now()}${FORMAT_EXT[info.format] ?? ''}`);
    const id = checkItemId(rawId);
    const result = await serially(async () => {
      const vector = await live.use(async (g) => {
        if (await g.index.has(id)) throw new HttpError(409, `item ${JSON.stringify(id)} already exists; DELETE /items/${encodeURIComponent(id)} first`);
        return (await ctx.pixels.run(info.width * info.height, () => g.queue.embed(up.bytes))).vector;
      });
      let kept: string | undefined;
      if (ctx.uploads) {
        kept = inside(ctx.uploads, id);
        if (!kept) throw new HttpError(400, `id ${JSON.stringify(id)}: not a path inside the uploads folder`);
        writeFileAtomic(kept, up.bytes);
      }
      try {
        await withWriter(live.location, (w) => queryParam(() => w.addVectors([{ id, vector, file: { sha256: crypto.createHash('sha256').update(up.bytes).digest('hex'), size: up.bytes.length, origin: 'api' }, fields: { ...info.fields, ...up.fields } }])));
      } catch (e) {
        if (kept) fs.rmSync(kept, { force: true });
        throw e;
      }
      return live.reload(`POST /items ${id}`);
    });
    reply.code(201);
    return { id, thumbnail: thumbnailUrl(id), count: live.current.count, generation: result };
  });

  app.delete('/items/:id', async (req) => {
    checkToken(req.headers.authorization, ctx.token);
    const { id } = req.params as { id: string };
    const gen = await serially(async () => {
      if (!(await live.current.index.has(id))) throw new HttpError(404, `no item ${JSON.stringify(id)} in the index`);
      await withWriter(live.location, (w) => w.remove([id]));
      // Only images this server kept are deleted; the indexed folder is never touched.
      const kept = ctx.uploads ? inside(ctx.uploads, id) : undefined;
      if (kept) fs.rmSync(kept, { force: true });
      return live.reload(`DELETE /items ${id}`);
    });
    return { id, deleted: true, count: live.current.count, generation: gen };
  });

  registerExplorerRoutes(app, {
    live,
    maxPixels: ctx.maxPixels,
    pixels: ctx.pixels,
    fileOf: (g, id) => itemFile(g, id, ctx),
    readFile: async (id, file) => (await fileCheck(id, () => readRegularFile(file, { maxBytes: ctx.fileBytes, timeoutMs: ctx.readTimeoutMs }))).bytes,
    queryParam,
    thumbnailUrl,
  });

  app.post('/reload', async (req) => {
    if (ctx.token) checkToken(req.headers.authorization, ctx.token);
    const gen = await live.reload('POST /reload');
    return { generation: gen, count: live.current.count };
  });
}
