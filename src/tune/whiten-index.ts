/**
 * `lookalike whiten`: learn a whitening (tune/whiten.ts) from an index's vectors or from a folder
 * embedded with a model, and write it as a linear ONNX head (tune/export.ts), usable wherever
 * --head is. With labels (a CSV, or class folders with --data), the supervised variant.
 */
import path from 'node:path';
import { readLabels } from '../data/labels.ts';
import { listFolder, listingSkips } from '../data/images.ts';
import { embedWithBackbone, type Skipped } from '../embed/pipeline.ts';
import { loadIndex } from '../index/whole-index.ts';
import { openModel } from '../models/open-model.ts';
import { modelChoice, runtimeOf, type ModelSettings } from '../models/settings.ts';
import { Rng } from '../util/random.ts';
import { guardOutput, OUTPUT_KINDS } from '../util/outputs.ts';
import { OptionError, toInteger, toNumber } from '../util/options.ts';
import { HEAD_META } from '../util/head-metadata.ts';
import { createHead } from './heads.ts';
import { writeHead } from './export.ts';
import { folderLabels, joinLabels } from './data.ts';
import { learnWhitening, WHITEN_SHRINKAGE } from './whiten.ts';

/** Options of whitenIndex. */
export interface WhitenIndexOptions {
  /** Learn from this index's vectors (built without a head). */
  index?: string;
  /** Or from this folder's images, embedded with `model`. */
  data?: string;
  /** Model settings as a user gives them (model, spec flags, runtime). */
  model?: ModelSettings;
  /** labels.csv (path,label): learn from matching pairs (supervised). With `data`, `supervised` takes class folders instead. */
  labels?: string;
  /** With `data` and no labels: labels from class folders (data/<class>/...). */
  supervised?: boolean;
  /** Output dimensions (default every direction the rows span). */
  dims?: number | string;
  /** Eigenvalue shrinkage 0..1 (default WHITEN_SHRINKAGE). */
  shrinkage?: number | string;
  /** The head file to write. */
  out: string;
  onSkip?: (s: Skipped) => void;
}

/** What whitenIndex learned and wrote. */
export interface WhitenReport {
  out: string;
  source: string;
  model: string;
  rows: number;
  inputDim: number;
  outputDim: number;
  shrinkage: number;
  supervised: boolean;
  /** Variances of the kept directions (shrunk; after C_S whitening when supervised), largest first. */
  variances: number[];
}

/** Learn a whitening from an index or a folder and write it as a head. */
export async function whitenIndex(o: WhitenIndexOptions): Promise<WhitenReport> {
  if (Boolean(o.index) === Boolean(o.data)) throw new OptionError('give an INDEX or {{data}} DIR (with {{model}}), not both');
  if (!o.out) throw new OptionError('{{out}} is required (the head file to write)');
  const shrinkage = o.shrinkage === undefined ? WHITEN_SHRINKAGE : toNumber(o.shrinkage, 'shrinkage');
  if (shrinkage < 0 || shrinkage > 1) throw new OptionError(`{{shrinkage}} ${shrinkage}: expected a number from 0 to 1`);
  const dims = o.dims === undefined ? undefined : toInteger(o.dims, 'dims', 1);
  guardOutput(o.out, { option: 'out', kind: OUTPUT_KINDS.head, inputs: [o.index, o.labels, o.data] });
  let ids: string[];
  let vectors: Float32Array;
  let dim: number;
  let model: string;
  let source: string;
  if (o.index) {
    const idx = await loadIndex(o.index);
    if (idx.manifest.head) throw new Error(`${o.index}: built with head ${idx.manifest.head.file}; learn whitening on an index built without a head (a head takes the backbone's embeddings)`);
    ({ ids, vectors, dim } = idx);
    model = idx.manifest.model.name;
    source = o.index;
  } else {
    if (o.model?.head) throw new OptionError('{{head}}: whitening is learned on the backbone\'s own embeddings');
    const listing = listFolder(o.data!);
    for (const s of listingSkips(listing)) o.onSkip?.(s);
    const { backbone } = await openModel(modelChoice(o.model ?? {}));
    try {
      const r = await embedWithBackbone(backbone, listing.images.map((p) => ({ id: p, source: path.join(o.data!, p) })), { batchSize: runtimeOf(o.model ?? {}).batchSize, onSkip: o.onSkip });
      ({ ids, vectors, dim } = r);
      model = backbone.name;
    } finally {
      await backbone.dispose();
    }
    source = o.data!;
  }
  let labels: string[] | undefined;
  if (o.labels || (o.data && o.supervised)) {
    const rows = o.labels ? readLabels(o.labels) : folderLabels(ids, o.data!);
    const joined = joinLabels(ids, vectors, dim, rows, `${source} + ${o.labels ?? 'class folders'}`).data;
    ({ ids, vectors } = joined);
    labels = joined.labels;
  }
  const w = learnWhitening(vectors, dim, { dims, shrinkage, labels });
  const head = createHead({ kind: 'linear', inputDim: dim, outputDim: w.outputDim, hidden: [], dropout: 0, batchNorm: false, numClasses: 0 }, new Rng(1), { weight: w.weight, bias: w.bias });
  writeHead(o.out, head, {
    [HEAD_META.mode]: labels ? 'whiten-supervised' : 'whiten',
    [HEAD_META.source]: source,
    [HEAD_META.model]: model,
    [HEAD_META.whiten]: JSON.stringify({ shrinkage, dims: w.outputDim, rows: ids.length, supervised: Boolean(labels) }),
  });
  return { out: o.out, source, model, rows: ids.length, inputDim: dim, outputDim: w.outputDim, shrinkage, supervised: Boolean(labels), variances: w.variances };
}
