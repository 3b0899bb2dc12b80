/** Text queries for `search --text` and caption evaluation for `eval --captions` (text-image models). */
import { gatherRows } from '../util/matrix.ts';
import fs from 'node:fs';
import path from 'node:path';
import type { EmbedResult } from '../embed/pipeline.ts';
import type { IndexData } from '../index/store.ts';
import { crossModalRecall, type CrossModalRecall } from '../metrics/crossmodal.ts';
import { embedTexts, evaluateCaptions, loadTextEncoder } from '../models/text.ts';
import { scoreMatrix } from '../index/exact.ts';
import { readCaptions } from '../data/captions.ts';
import { loadBackbone } from '../models/load.ts';
import { ModelProto } from '../models/onnx/proto.ts';

/** The text tower to use with an index: --model, else the model the index was built with. */
function textModelFor(index: IndexData | undefined, model: string | undefined): string {
  const m = model ?? index?.manifest.model.name;
  if (!m) throw new Error('--text/--captions need --model (a text-image model folder or preset) or an index built with one');
  return fs.existsSync(m) ? path.resolve(m) : m;
}

/** The teacher a head was distilled from (its `lookalike.distilled_from` metadata), or undefined. */
export function distilledTeacher(headFile: string): string | undefined {
  try {
    const m = ModelProto.decode(fs.readFileSync(headFile)) as unknown as { metadata_props?: { key?: string; value?: string }[] };
    return (m.metadata_props ?? []).find((p) => p.key === 'lookalike.distilled_from')?.value || undefined;
  } catch {
    return undefined;
  }
}

/** Embed text queries with the text tower matching an index; ids are the texts themselves. */
export async function embedTextQueries(index: IndexData, texts: string[], o: { model?: string; dtype?: string }): Promise<EmbedResult> {
  // A head distilled into a text-image teacher's space (tune --teacher) puts the index in that teacher's space: its text tower answers.
  const teacher = index.manifest.head ? distilledTeacher(index.manifest.head.file) : undefined;
  if (index.manifest.head && !teacher) throw new Error(`${index.dir}: built with a tuned head (${index.manifest.head.file}); text queries need an index of the model's own image embeddings, or a head distilled from a text-image model (tune --teacher)`);
  // A model named only by the index manifest is never downloaded.
  const enc = await loadTextEncoder(o.model ? textModelFor(index, o.model) : teacher ?? textModelFor(index, undefined), { dtype: o.dtype, download: o.model !== undefined });
  try {
    const { vectors, dim } = await embedTexts(enc, texts);
    if (dim !== index.dim) {
      throw new Error(`${index.dir}: index vectors are ${index.dim}-d but ${enc.name}'s text embeddings are ${dim}-d; index with the projected image output (image_embeds) of the same model`);
    }
    return { ids: texts, vectors, dim, skipped: [] };
  } finally {
    await enc.dispose();
  }
}

/** Options of a caption evaluation. */
export interface CaptionEvalOptions {
  captions: string;
  model?: string;
  dtype?: string;
  /** Folder the caption paths are relative to (default: the captions file's folder; ignored with an index). */
  root?: string;
  ks: number[];
}

/** Caption retrieval figures plus what was evaluated. */
export interface CaptionEvalRun extends CrossModalRecall {
  model: string;
  captionsFile: string;
  missing: number;
}

/**
 * Image->text and text->image R@K on a captions CSV (`path,caption`): with an index, its vectors
 * are the images (paths are index ids); otherwise the images are embedded with --model from `root`.
 */
export async function runCaptionEval(index: IndexData | undefined, o: CaptionEvalOptions): Promise<CaptionEvalRun> {
  const caps = readCaptions(o.captions);
  const model = textModelFor(index, o.model);
  const enc = await loadTextEncoder(model, { dtype: o.dtype, download: o.model !== undefined });
  try {
    if (index) {
      const row = new Map(index.ids.map((id, i) => [id, i]));
      const kept = caps.filter((c) => row.has(c.path));
      if (kept.length === 0) throw new Error(`${o.captions}: no caption path is an id of ${index.dir} (ids look like ${index.ids[0]})`);
      const used = [...new Set(kept.map((c) => row.get(c.path)!))];
      const local = new Map(used.map((r, i) => [r, i]));
      const imgs = gatherRows(index.vectors, index.dim, used);
      const txt = await embedTexts(enc, kept.map((c) => c.caption));
      if (txt.dim !== index.dim) throw new Error(`${index.dir}: index vectors are ${index.dim}-d but text embeddings are ${txt.dim}-d`);
      const r = crossModalRecall(await scoreMatrix(imgs, txt.vectors, index.dim), used.length, kept.map((c) => local.get(row.get(c.path)!)!), o.ks);
      return { ...r, model, captionsFile: o.captions, missing: caps.length - kept.length };
    }
    const backbone = await loadBackbone(model, { dtype: o.dtype });
    try {
      const r = await evaluateCaptions(backbone, enc, caps, o.root ?? path.dirname(o.captions), o.ks);
      return { imageToText: r.imageToText, textToImage: r.textToImage, images: r.images, captions: r.captions, model, captionsFile: o.captions, missing: caps.length - r.captions };
    } finally {
      await backbone.dispose();
    }
  } finally {
    await enc.dispose();
  }
}

/** Table text of a caption evaluation. */
export function formatCaptionEval(r: CaptionEvalRun): string {
  const ks = Object.keys(r.imageToText).map(Number);
  const pct = (v: number) => (100 * v).toFixed(1).padStart(6);
  const lines = [
    `captions ${r.captionsFile} (model ${r.model}): ${r.images} images, ${r.captions} captions${r.missing ? `, ${r.missing} captions without an image left out` : ''}`,
    `direction      ${ks.map((k) => `R@${k}`.padStart(6)).join(' ')}`,
    `image->text    ${ks.map((k) => pct(r.imageToText[k])).join(' ')}`,
    `text->image    ${ks.map((k) => pct(r.textToImage[k])).join(' ')}`,
  ];
  return lines.join('\n') + '\n';
}

