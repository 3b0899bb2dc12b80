/**
 * Caption retrieval in one module (text-image models: CLIP, SigLIP): text queries against an
 * index, and image<->caption R@K on a captions CSV, from an index or from images embedded now.
 * The recall metric is src/metrics/crossmodal.ts; scores come from the ORT Gemm in src/store/exact.ts.
 */
import { gatherRows } from '../util/matrix.ts';
import fs from 'node:fs';
import path from 'node:path';
import type { EmbedResult } from './pipeline.ts';
import type { VectorStore } from '../store/types.ts';
import { crossModalRecall, type CrossModalRecall } from '../metrics/crossmodal.ts';
import { embedTexts, loadTextEncoder, type TextEncoder } from '../models/text-encoder.ts';
import type { Runtime } from '../models/runtime.ts';
import type { EmbeddingSource } from '../models/compat.ts';
import type { Caption } from '../data/captions-csv.ts';
import type { Backbone } from '../models/backbone.ts';
import { embedWithBackbone } from './pipeline.ts';
import { scoreMatrix } from '../store/exact.ts';
import { readCaptions } from '../data/captions-csv.ts';
import { loadBackbone } from '../models/load.ts';
import { modelProto } from '../util/onnx-proto.ts';
import { OptionError } from '../util/options.ts';
import { HEAD_META } from '../util/head-metadata.ts';

/** The text tower to use with an index: --model, else the model the index was built with. */
function textModelFor(source: EmbeddingSource | undefined, model: string | undefined): string {
  const m = model ?? source?.model.name;
  if (!m) throw new OptionError('{{texts}}/{{captions}} need {{model}} (a text-image model folder or preset) or an index built with one');
  return fs.existsSync(m) ? path.resolve(m) : m;
}

/** What text queries need to know about an index: its name, embedding size and model. */
export interface TextTarget {
  name: string;
  dim: number;
  source: EmbeddingSource;
}

/** The teacher a head was distilled from (its `lookalike.distilled_from` metadata), or undefined. */
export function distilledTeacher(headFile: string): string | undefined {
  try {
    const m = modelProto().decode(fs.readFileSync(headFile)) as unknown as { metadata_props?: { key?: string; value?: string }[] };
    return (m.metadata_props ?? []).find((p) => p.key === HEAD_META.distilledFrom)?.value || undefined;
  } catch {
    return undefined;
  }
}

/**
 * Load the text tower matching an index (--model, else the index's model). An index built with a
 * head has no text space, unless the head was distilled into a text-image teacher's space
 * (tune --teacher): then the teacher's text tower answers.
 */
export async function textEncoderFor(target: TextTarget, o: { model?: string; dtype?: string; runtime?: Runtime }): Promise<TextEncoder> {
  const teacher = target.source.head ? distilledTeacher(target.source.head.file) : undefined;
  if (target.source.head && !teacher) throw new OptionError(`${target.name}: built with a tuned head (${target.source.head.file}); text queries need an index of the model's own image embeddings, or a head distilled from a text-image model (tune {{teacher}})`);
  // A model named only by the index's metadata is never downloaded.
  return loadTextEncoder(o.model ? textModelFor(target.source, o.model) : teacher ?? textModelFor(target.source, undefined), { dtype: o.dtype, runtime: o.runtime, download: o.model !== undefined });
}

/** Embed texts with a loaded text tower, checking the size against the index. */
export async function embedTextsFor(target: TextTarget, enc: TextEncoder, texts: string[], batchSize?: number): Promise<EmbedResult> {
  const { vectors, dim } = await embedTexts(enc, texts, batchSize);
  if (dim !== target.dim) {
    throw new Error(`${target.name}: index vectors are ${target.dim}-d but ${enc.name}'s text embeddings are ${dim}-d; index with the projected image output (image_embeds) of the same model`);
  }
  return { ids: texts, vectors, dim, skipped: [] };
}

/** Options of a caption evaluation. */
export interface CaptionEvalOptions {
  captions: string;
  model?: string;
  dtype?: string;
  /** Folder the caption paths are relative to (default: the captions file's folder; ignored with an index). */
  root?: string;
  ks: number[];
  /** Threads, device, offline. */
  runtime?: Runtime;
}

/** Caption retrieval figures plus what was evaluated. */
export interface CaptionEvalRun extends CrossModalRecall {
  model: string;
  captionsFile: string;
  missing: number;
}

/**
 * Image->text and text->image R@K on a captions CSV (`path,caption`): with an index (an opened
 * store), the vectors of the captioned ids are the images (read by id, not the whole index);
 * otherwise the images are embedded with --model from `root`.
 */
export async function runCaptionEval(index: VectorStore | undefined, o: CaptionEvalOptions): Promise<CaptionEvalRun> {
  const caps = readCaptions(o.captions);
  const meta = index ? await index.meta() : undefined;
  const model = textModelFor(meta, o.model);
  const enc = await loadTextEncoder(model, { dtype: o.dtype, runtime: o.runtime, download: o.model !== undefined });
  try {
    if (index && meta) {
      // Only the captioned items' vectors are read (by id), never the whole index.
      const ids = await index.ids();
      const wanted = new Set(caps.map((c) => c.path));
      const used = ids.filter((id) => wanted.has(id));
      if (used.length === 0) throw new Error(`${o.captions}: no caption path is an id of ${index.location} (ids look like ${ids[0]})`);
      const images = { ids: used, vectors: await index.getVectors(used), dim: meta.dim };
      const r = await captionRecall(enc, images, caps, o.ks, { where: index.location, captionsFile: o.captions });
      return { imageToText: r.imageToText, textToImage: r.textToImage, images: r.images, captions: r.captions, model, captionsFile: o.captions, missing: r.missing };
    }
    const backbone = await loadBackbone(model, { dtype: o.dtype, runtime: o.runtime });
    try {
      const r = await captionEvalOfBackbone(backbone, enc, caps, o.root ?? path.dirname(o.captions), o.ks);
      return { imageToText: r.imageToText, textToImage: r.textToImage, images: r.images, captions: r.captions, model, captionsFile: o.captions, missing: caps.length - r.captions };
    } finally {
      await backbone.dispose();
    }
  } finally {
    await enc.dispose();
  }
}

/**
 * Image<->caption R@K for images already embedded (`ids` with their rows, e.g. an index or an
 * experiment's embedding cache): captions whose path is not an id are left out (`missing`); images
 * are ranked in the order their captions first name them.
 */
export async function captionRecall(enc: TextEncoder, images: { ids: readonly string[]; vectors: Float32Array; dim: number }, caps: Caption[], ks: number[], o: { where: string; captionsFile: string }): Promise<CrossModalRecall & { missing: number }> {
  const row = new Map(images.ids.map((id, i) => [id, i]));
  const kept = caps.filter((c) => row.has(c.path));
  if (kept.length === 0) throw new Error(`${o.captionsFile}: no caption path is an id of ${o.where} (ids look like ${images.ids[0]})`);
  const used = [...new Set(kept.map((c) => row.get(c.path)!))];
  const local = new Map(used.map((r, i) => [r, i]));
  const imgs = gatherRows(images.vectors, images.dim, used);
  const txt = await embedTexts(enc, kept.map((c) => c.caption));
  if (txt.dim !== images.dim) throw new Error(`${o.where}: image vectors are ${images.dim}-d but text embeddings are ${txt.dim}-d`);
  const r = crossModalRecall(await scoreMatrix(imgs, txt.vectors, images.dim), used.length, kept.map((c) => local.get(row.get(c.path)!)!), ks);
  return { ...r, missing: caps.length - kept.length };
}

/** Rank captions for one image embedding: caption indices by decreasing similarity (ties: lower index first). */
export async function rankCaptions(image: Float32Array, captions: Float32Array, dim: number): Promise<{ order: number[]; scores: Float32Array }> {
  const scores = await scoreMatrix(image, captions, dim);
  const order = Array.from(scores.keys()).sort((x, y) => scores[y] - scores[x] || x - y);
  return { order, scores };
}

/** Image<->caption retrieval figures on a captions file, with the images and captions that took part. */
export interface CaptionEval extends CrossModalRecall {
  skippedImages: { id: string; reason: string }[];
  dim: number;
}

/**
 * Embed the images of a captions file (paths relative to `root`) with `backbone` and the captions
 * with `text`, then compute image->text and text->image R@K. Both towers must share an embedding space.
 */
export async function captionEvalOfBackbone(backbone: Backbone, text: TextEncoder, captions: Caption[], root: string, ks: number[] = [1, 5, 10]): Promise<CaptionEval> {
  const paths = [...new Set(captions.map((c) => c.path))];
  const img = await embedWithBackbone(backbone, paths.map((p) => ({ id: p, source: path.join(root, p) })));
  const row = new Map(img.ids.map((id, i) => [id, i]));
  const kept = captions.filter((c) => row.has(c.path));
  const txt = await embedTexts(text, kept.map((c) => c.caption));
  if (txt.dim !== img.dim) throw new OptionError(`image embeddings are ${img.dim}-d but text embeddings are ${txt.dim}-d: use the projected image output ({{feature}} projected)`);
  const sim = await scoreMatrix(img.vectors, txt.vectors, img.dim);
  const r = crossModalRecall(sim, img.ids.length, kept.map((c) => row.get(c.path)!), ks);
  return { ...r, skippedImages: img.skipped, dim: img.dim };
}
