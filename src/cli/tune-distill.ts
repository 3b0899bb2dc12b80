/** `lookalike tune --teacher MODEL --loss cosine|mse`: distil a head mapping the --model backbone's embeddings into the teacher's space, on unlabelled images. */
import path from 'node:path';
import { embedImages } from '../embed/pipeline.ts';
import { listFolder } from '../data/images.ts';
import { loadBackbone } from '../models/load.ts';
import { agreement, applyDistilled, distill, type DistillLoss } from '../tune/distill.ts';
import { headModel } from '../tune/export.ts';
import { writeFileAtomic } from '../util/atomic.ts';
import { gatherRows } from '../util/matrix.ts';
import { Rng } from '../util/random.ts';
import { embedProgress, modelRef, openModel, printJson, skipReporter, type ModelFlags } from './options.ts';

/** Flags distillation reads. */
export interface DistillFlags extends ModelFlags {
  teacher: string;
  train?: string;
  out: string;
  loss: string;
  headType: string;
  hidden: string;
  dropout: string;
  epochs: string;
  batchSize: string;
  lr: string;
  weightDecay: string;
  seed: string;
  valFrac?: string;
}

/** Embed a folder with the student and the teacher, train the head on 90% of the images, measure agreement on the other 10%, write the head. */
export async function runDistill(o: DistillFlags, log: (s: string) => void): Promise<void> {
  if (!o.train) throw new Error('--teacher needs --train DIR (unlabelled images) and --model (the student backbone)');
  const loss = (o.loss === 'hybrid' ? 'cosine' : o.loss) as DistillLoss;
  if (loss !== 'cosine' && loss !== 'mse') throw new Error(`--teacher: --loss ${o.loss}: distillation takes cosine or mse`);
  const items = listFolder(o.train).images.map((id) => ({ id, source: path.join(o.train!, id) }));
  if (items.length < 4) throw new Error(`${o.train}: ${items.length} images; distillation needs at least 4`);
  const skips = skipReporter(o.json);
  const embed = async (which: string, open: () => Promise<{ backbone: Awaited<ReturnType<typeof loadBackbone>> }>) => {
    const { backbone } = await open();
    const bar = embedProgress(`embedding (${which})`, items.length, o.json);
    const t0 = performance.now();
    try {
      const r = await embedImages(backbone, items, { onProgress: (k) => bar.tick(k), onSkip: skips.report });
      bar.end();
      return { ...r, name: backbone.name, fingerprint: backbone.fingerprint, seconds: (performance.now() - t0) / 1000 };
    } finally {
      await backbone.dispose();
    }
  };
  const s = await embed('student', () => openModel({ ...o, head: undefined }));
  const t = await embed('teacher', async () => ({ backbone: await loadBackbone(modelRef(o.teacher)) }));
  // Images both could embed, in the same order.
  const tPos = new Map(t.ids.map((id, i) => [id, i]));
  const both = s.ids.map((id, i) => [i, tPos.get(id)] as const).filter((p): p is readonly [number, number] => p[1] !== undefined);
  const rng = new Rng(Number(o.seed));
  const order = rng.shuffle(both.map((_, i) => i));
  const nVal = Math.max(2, Math.round(Number(o.valFrac ?? 0.1) * both.length));
  const val = order.slice(0, nVal), tr = order.slice(nVal);
  const rows = (idx: number[], which: 0 | 1) => idx.map((i) => both[i][which]);
  const hidden = o.headType === 'mlp' ? o.hidden.split(',').map((x) => Number(x.trim())) : [];
  log(`distilling ${s.name} (${s.dim}-d) -> ${t.name} (${t.dim}-d) on ${tr.length} images, ${val.length} held out; loss ${loss}`);
  const r = await distill(gatherRows(s.vectors, s.dim, rows(tr, 0)), s.dim, gatherRows(t.vectors, t.dim, rows(tr, 1)), t.dim, {
    loss,
    head: { kind: o.headType as 'linear' | 'mlp', hidden, dropout: Number(o.dropout), batchNorm: false },
    epochs: Number(o.epochs),
    batchSize: Number(o.batchSize),
    lr: Number(o.lr),
    weightDecay: Number(o.weightDecay),
    seed: Number(o.seed),
    onEpoch: (e) => log(`epoch ${String(e.epoch).padStart(3)}  loss ${e.loss.toFixed(4)}  ${e.seconds.toFixed(2)}s`),
  });
  const mapped = await applyDistilled(r.head, gatherRows(s.vectors, s.dim, rows(val, 0)));
  const agree = await agreement(mapped, gatherRows(t.vectors, t.dim, rows(val, 1)), t.dim);
  writeFileAtomic(o.out, headModel(r.head, { 'lookalike.distilled_from': t.name, 'lookalike.teacher_fingerprint': t.fingerprint, 'lookalike.model': s.name, 'lookalike.loss': loss, 'lookalike.agreement': JSON.stringify(agree) }));
  if (o.json) return printJson({ head: o.out, student: s.name, teacher: t.name, input_dim: s.dim, output_dim: t.dim, train_images: tr.length, held_out: val.length, agreement: agree, epochs: r.epochs });
  process.stdout.write(
    `held-out agreement with ${t.name} (${agree.queries} images): top-10 overlap ${agree.top10_agreement.toFixed(4)}, R@1 vs the teacher's top-1 ${agree.r_at_1.toFixed(4)}, R@10 ${agree.r_at_10.toFixed(4)}, mean cosine ${agree.mean_cosine.toFixed(4)}\n` +
      `${o.out}: head ${s.dim} -> ${t.dim}-d (${o.headType}, ${loss}); use it with --model ${s.name} --head ${o.out} to query an index built by ${t.name}\n`,
  );
}
