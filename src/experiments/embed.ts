/** Embeddings of a dataset's items through one backbone, via the embedding cache: only images whose content is not cached are embedded. */
import { embedWithBackbone } from '../embed/pipeline.ts';
import type { Backbone } from '../models/backbone.ts';
import { parseViews, withViews } from '../models/views.ts';
import { EmbeddingCache, hashFiles } from './cache.ts';
import type { DatasetData } from './datasets.ts';
import type { ItemVectors } from './protocols.ts';

/** Item vectors plus what it cost: images embedded now, from the cache, and skipped. */
export interface DatasetEmbedding extends ItemVectors {
  embeddedNow: number;
  fromCache: number;
  skipped: { id: string; reason: string }[];
  seconds: number;
}

/** Images embedded per cache shard (each shard is one commit). */
export const CACHE_CHUNK = 512;

/**
 * Embed the items of a dataset not yet in the cache, then gather every item's row (row -1:
 * undecodable). `embed` are a mode's embedding options (MODE_EMBED_OPTIONS; the cache passed in is
 * keyed by them): `views` embeds each image with those views (src/models/views.ts).
 */
export async function embedDataset(d: DatasetData, backbone: Backbone, cache: EmbeddingCache, onProgress?: (n: number, total: number) => void, chunk = CACHE_CHUNK, embed: Record<string, string> = {}): Promise<DatasetEmbedding> {
  const unwired = Object.keys(embed).filter((k) => k !== 'views');
  if (unwired.length) throw new Error(`embedding option ${unwired[0]} is not wired into the experiments' embedding (src/experiments/embed.ts)`);
  const views = parseViews(embed.views, 'embed.views');
  if (views) backbone = withViews(backbone, views);
  const hashes = await hashFiles(d.items.map((x) => x.file));
  const todo: number[] = [];
  const seen = new Set<string>();
  hashes.forEach((h, i) => {
    if (!cache.has(h) && !seen.has(h)) (todo.push(i), seen.add(h));
  });
  let seconds = 0;
  let done = 0;
  // One cache shard per chunk, committed as it is embedded: a killed run loses at most one chunk.
  for (let c = 0; c < todo.length; c += chunk) {
    const part = todo.slice(c, c + chunk);
    const t0 = performance.now();
    const r = await embedWithBackbone(backbone, part.map((i) => ({ id: String(i), source: d.items[i].file })), { onProgress: (n) => onProgress?.((done += n), todo.length) });
    const s = (performance.now() - t0) / 1000;
    seconds += s;
    const skipped: Record<string, string> = {};
    for (const x of r.skipped) skipped[hashes[Number(x.id)]] = x.reason;
    cache.add(backbone.name, r.ids.map((id) => hashes[Number(id)]), r.vectors, r.dim, skipped, s);
  }
  const dim = cache.dim;
  const row = new Int32Array(d.items.length).fill(-1);
  let n = 0;
  hashes.forEach((h, i) => {
    if (cache.get(h)) row[i] = n++;
  });
  const vectors = new Float32Array(n * dim);
  hashes.forEach((h, i) => {
    if (row[i] >= 0) vectors.set(cache.get(h)!, row[i] * dim);
  });
  const skipped = d.items.flatMap((x, i) => (row[i] < 0 ? [{ id: x.id, reason: cache.skipped(hashes[i]) ?? 'not embedded' }] : []));
  return { vectors, dim, row, embeddedNow: todo.length, fromCache: d.items.length - todo.length, skipped, seconds };
}
