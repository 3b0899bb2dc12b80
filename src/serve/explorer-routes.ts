/**
 * The routes the page's explorer needs beyond search and browse (docs/api.md): an item's image at
 * full size, the gallery map, and near-duplicate groups. Each calls the library (Index.map,
 * Index.duplicates); nothing here ranks or lays out on its own.
 */
import type { FastifyInstance } from 'fastify';
import { sharpLib, toInteger, toNumber, type DedupResult } from '../api.ts';
import { HttpError, intParam } from './limits.ts';
import type { PixelBudget } from './pixels.ts';
import type { Generation, LiveIndex } from './reload.ts';

/** What these routes borrow from routes.ts (passed in, so the two files do not import each other). */
export interface ExplorerContext {
  live: LiveIndex;
  maxPixels: number;
  /** The image file of an item, or undefined (the same lookup and path checks as thumbnails). */
  fileOf(g: Generation, id: string): string | undefined;
  /** Read an item's file the way thumbnails do (regular files only, size and time bounds; errors name the item). */
  readFile(id: string, file: string): Promise<Buffer>;
  /** The server's decode budget: every decode takes its pixels from it first. */
  pixels: PixelBudget;
  /** A library check whose OptionError or FilterError becomes a 400 naming the parameter. */
  queryParam<T>(check: () => T): T;
  /** The thumbnail URL of an item. */
  thumbnailUrl(id: string): string;
}

/** Formats a browser shows as they are; any other (TIFF, HEIF, SVG...) is sent re-encoded as WebP. */
const AS_IS: Record<string, string> = { jpeg: 'image/jpeg', png: 'image/png', webp: 'image/webp', gif: 'image/gif', avif: 'image/avif' };

/**
 * An item's bytes for the full-size view: as they are for formats browsers show, re-encoded
 * otherwise (never an SVG or unknown type sent raw).
 */
async function viewable(bytes: Buffer, ctx: ExplorerContext): Promise<{ bytes: Buffer; type: string }> {
  const sharp = sharpLib();
  let meta;
  try {
    meta = await sharp(bytes, { limitInputPixels: false }).metadata();
  } catch {
    throw new HttpError(422, 'not an image');
  }
  const pixels = (meta.width ?? 0) * (meta.height ?? 0);
  const type = AS_IS[String(meta.format)];
  if (type) return { bytes, type };
  if (pixels > ctx.maxPixels) throw new HttpError(413, `${meta.width}x${meta.height} pixels; the limit is ${ctx.maxPixels}`);
  return { bytes: await ctx.pixels.run(pixels, () => sharp(bytes, { limitInputPixels: ctx.maxPixels }).rotate().webp({ quality: 90 }).toBuffer()), type: 'image/webp' };
}

/** Register GET /items/:id/image, GET /map and GET /duplicates. */
export function registerExplorerRoutes(app: FastifyInstance, ctx: ExplorerContext): void {
  registerImage(app, ctx);
  registerMap(app, ctx);
  registerDuplicates(app, ctx);
}

function registerImage(app: FastifyInstance, ctx: ExplorerContext): void {
  app.get('/items/:id/image', async (req, reply) => {
    const { id } = req.params as { id: string };
    const g = ctx.live.current;
    if (!(await g.index.has(id))) throw new HttpError(404, `no item ${JSON.stringify(id)} in the index`);
    const file = ctx.fileOf(g, id);
    if (!file) throw new HttpError(404, `item ${JSON.stringify(id)} has no image file here (the indexed folder moved?)`);
    const bytes = await ctx.readFile(id, file);
    let img;
    try {
      img = await viewable(bytes, ctx);
    } catch (e) {
      if (e instanceof HttpError) throw new HttpError(e.status, `item ${JSON.stringify(id)}: ${e.message}`);
      throw new HttpError(422, `cannot render ${JSON.stringify(id)}: ${(e as Error).message.split('\n')[0]}`);
    }
    reply.header('content-type', img.type).header('cache-control', 'public, max-age=300').header('content-security-policy', "default-src 'none'");
    return img.bytes;
  });
}

function registerMap(app: FastifyInstance, ctx: ExplorerContext): void {
  app.get('/map', async (req) => {
    const qs = (req.query ?? {}) as Record<string, string>;
    const method = (qs.method || 'auto') as 'auto';
    return ctx.live.use(async (g) => {
      const { map, colours, values } = await ctx.queryParam(() => g.index.colouredMap({ color: qs.color || undefined, method }));
      return {
        method: map.method,
        count: map.ids.length,
        color: colours.field ?? null,
        kind: colours.kind,
        legend: colours.legend,
        ids: map.ids,
        x: map.x,
        y: map.y,
        colours: colours.colours,
        values: values.map((v) => v ?? null),
      };
    });
  });
}

/** Groups sent per answer (the largest first); `groups_total` says how many there are. */
const DUPLICATE_GROUPS_MAX = 200;

function registerDuplicates(app: FastifyInstance, ctx: ExplorerContext): void {
  // The last few answers per generation: moving the threshold back and forth does not repeat the self-join.
  const recent = new Map<string, Promise<DedupResult>>();
  app.get('/duplicates', async (req) => {
    const qs = (req.query ?? {}) as Record<string, string>;
    const threshold = !qs.threshold || qs.threshold === 'auto' ? 'auto' : ctx.queryParam(() => toNumber(qs.threshold, 'threshold'));
    const neighbours = qs.neighbours ? ctx.queryParam(() => toInteger(qs.neighbours, 'neighbours', 1, 100)) : 10;
    const limit = intParam(qs.limit, 'limit', 50, DUPLICATE_GROUPS_MAX);
    return ctx.live.use(async (g) => {
      const key = JSON.stringify([g.number, threshold, neighbours, qs.filter ?? '']);
      let r = recent.get(key);
      if (!r) {
        r = ctx.queryParam(() => g.index.duplicates({ threshold, neighbours, filter: qs.filter || undefined, ann: g.searches.mode.ann, ef: g.searches.mode.ef }));
        recent.set(key, r);
        r.catch(() => recent.delete(key));
        if (recent.size > 8) recent.delete(recent.keys().next().value!);
      }
      const d = await r;
      const shown = d.groups.slice(0, limit);
      const recs = await g.index.items(shown.flatMap((x) => x.members.map((m) => m.id)));
      const fieldsOf = new Map(recs.map((x) => [x.id, x.fields]));
      return {
        threshold: d.threshold,
        rule: d.rule,
        items: d.items,
        pairs: d.pairs,
        duplicates: d.duplicates,
        keeper_rule: d.keeperRule,
        groups_total: d.groups.length,
        groups: shown.map((x) => ({ keeper: x.keeper, members: x.members.map((m) => ({ ...m, fields: fieldsOf.get(m.id) ?? {}, thumbnail: ctx.thumbnailUrl(m.id) })) })),
      };
    });
  });
}
