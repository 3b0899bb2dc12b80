/**
 * Distil a head from unlabelled images (`lookalike tune --teacher`): embed a folder with the
 * student and the teacher, train the student -> teacher head on 90% of the images, measure
 * agreement with the teacher on the other 10%, write the head.
 */
import path from 'node:path';
import { listFolder } from '../data/images.ts';
import { embedWithBackbone, type EmbedResult, type Skipped } from '../embed/pipeline.ts';
import { loadBackbone } from '../models/load.ts';
import { modelChoice, type ModelSettings } from '../models/settings.ts';
import { modelRef, openModel } from '../models/open-model.ts';
import type { Backbone } from '../models/backbone.ts';
import { guardOutput, OUTPUT_KINDS } from '../util/outputs.ts';
import { writeFileAtomic } from '../util/atomic.ts';
import { gatherRows } from '../util/matrix.ts';
import { OptionError } from '../util/options.ts';
import { Rng } from '../util/random.ts';
import { agreement, applyDistilled, distill, distillOptionsFrom, type Agreement } from './distill.ts';
import { headModel } from './export.ts';
import { HEAD_META } from '../util/head-metadata.ts';

/** Options of distillHead. */
export interface DistillHeadOptions {
  /** The student backbone (its own embeddings; no head). */
  model: ModelSettings;
  /** The teacher model whose space the head maps into. */
  teacher: string;
  /** Folder of unlabelled images. */
  trainDir: string;
  /** Head file to write (.onnx). */
  out: string;
  /** Distillation options (loss cosine|mse, headType, hidden, dropout, epochs, batchSize, lr, weightDecay, seed) over DISTILL_DEFAULTS. */
  options?: Record<string, string | number | boolean | undefined>;
  /** Held-out share of the images for the agreement measure (default 0.1). */
  valFrac?: number;
  log?: (line: string) => void;
  onSkip?: (s: Skipped) => void;
  /** Embedding progress per model: (which, images embedded so far, total). */
  onProgress?: (which: 'student' | 'teacher', done: number, total: number) => void;
}

/** What distillHead wrote and measured. */
export interface DistillHeadResult {
  out: string;
  student: string;
  teacher: string;
  inputDim: number;
  outputDim: number;
  trainImages: number;
  heldOut: number;
  agreement: Agreement;
  epochs: { epoch: number; loss: number; seconds: number }[];
  loss: string;
  headType: string;
}

/** Train a head mapping the student's embeddings into the teacher's space on unlabelled images, and write it. */
export async function distillHead(o: DistillHeadOptions): Promise<DistillHeadResult> {
  guardOutput(o.out, { option: 'out', kind: OUTPUT_KINDS.head, inputs: [o.trainDir] });
  const log = o.log ?? (() => undefined);
  const seed = Number(o.options?.seed ?? 0);
  const settings = distillOptionsFrom(o.options ?? {}, seed, 'tune');
  const items = listFolder(o.trainDir).images.map((id) => ({ id, source: path.join(o.trainDir, id) }));
  if (items.length < 4) throw new Error(`${o.trainDir}: ${items.length} images; distillation needs at least 4`);
  const embed = async (which: 'student' | 'teacher', open: () => Promise<Backbone>): Promise<EmbedResult & { name: string; fingerprint: string }> => {
    const backbone = await open();
    let done = 0;
    try {
      const r = await embedWithBackbone(backbone, items, { onProgress: (k) => o.onProgress?.(which, (done += k), items.length), onSkip: o.onSkip });
      return { ...r, name: backbone.name, fingerprint: backbone.fingerprint };
    } finally {
      await backbone.dispose();
    }
  };
  const s = await embed('student', async () => (await openModel({ ...modelChoice(o.model), head: undefined })).backbone);
  const t = await embed('teacher', () => loadBackbone(modelRef(o.teacher)));
  // Images both could embed, in the same order.
  const tPos = new Map(t.ids.map((id, i) => [id, i]));
  const both = s.ids.map((id, i) => [i, tPos.get(id)] as const).filter((p): p is readonly [number, number] => p[1] !== undefined);
  const order = new Rng(settings.seed).shuffle(both.map((_, i) => i));
  const valFrac = o.valFrac ?? 0.1;
  if (!(valFrac > 0 && valFrac < 1)) throw new OptionError(`{{valFrac}} ${valFrac}: expected a number between 0 and 1`);
  const nVal = Math.max(2, Math.round(valFrac * both.length));
  const val = order.slice(0, nVal), tr = order.slice(nVal);
  const rows = (idx: number[], which: 0 | 1) => idx.map((i) => both[i][which]);
  log(`distilling ${s.name} (${s.dim}-d) -> ${t.name} (${t.dim}-d) on ${tr.length} images, ${val.length} held out; loss ${settings.loss}`);
  const r = await distill(gatherRows(s.vectors, s.dim, rows(tr, 0)), s.dim, gatherRows(t.vectors, t.dim, rows(tr, 1)), t.dim, {
    ...settings,
    onEpoch: (e) => log(`epoch ${String(e.epoch).padStart(3)}  loss ${e.loss.toFixed(4)}  ${e.seconds.toFixed(2)}s`),
  });
  const mapped = await applyDistilled(r.head, gatherRows(s.vectors, s.dim, rows(val, 0)));
  const agree = await agreement(mapped, gatherRows(t.vectors, t.dim, rows(val, 1)), t.dim);
  writeFileAtomic(o.out, headModel(r.head, { [HEAD_META.distilledFrom]: t.name, [HEAD_META.teacherFingerprint]: t.fingerprint, [HEAD_META.model]: s.name, [HEAD_META.loss]: settings.loss, [HEAD_META.agreement]: JSON.stringify(agree) }));
  return { out: o.out, student: s.name, teacher: t.name, inputDim: s.dim, outputDim: t.dim, trainImages: tr.length, heldOut: val.length, agreement: agree, epochs: r.epochs, loss: settings.loss, headType: settings.head.kind };
}
