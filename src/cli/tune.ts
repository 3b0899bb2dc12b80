/** `lookalike tune`: train a head on frozen embeddings (an index + labels, or class folders) and write it as ONNX. */
import fs from 'node:fs';
import path from 'node:path';
import { Command, Option } from 'commander';
import { readLabels } from '../data/labels.ts';
import { listFolder, listingSkips } from '../data/images.ts';
import { embedImages } from '../embed/pipeline.ts';
import { loadIndex } from '../index/store.ts';
import { decodeNpy } from '../index/npy.ts';
import { runTuneSearch, type SearchFlags } from './tune-search.ts';
import { runDistill, type DistillFlags } from './tune-distill.ts';
import { writeHead } from '../tune/export.ts';
import { encodeLabels, folderLabels, joinLabels, splitRows, subset, type Labelled, type SplitRule } from '../tune/data.ts';
import { LOSS_NAMES } from '../tune/losses/index.ts';
import { Rng } from '../util/random.ts';
import { train, type TrainOptions } from '../tune/train.ts';
import type { TuneMetrics } from '../tune/evaluate.ts';
import { guardOutput, OUTPUT_KINDS } from '../util/outputs.ts';
import { addModelOptions, embedProgress, openModel, parseInteger, parseNumber, printJson, skipReporter, type ModelFlags } from './options.ts';

interface TuneFlags extends ModelFlags {
  search?: string;
  teacher?: string;
  index?: string;
  labels?: string;
  train?: string;
  out: string;
  valFrac?: string;
  valCrossDomain?: boolean;
  valClasses?: string;
  headType: 'linear' | 'mlp';
  hidden: string;
  outDim?: string;
  dropout: string;
  batchNorm?: boolean;
  init?: string;
  loss: string;
  miner: string;
  sampler: 'random' | 'm-per-class';
  m: string;
  batchSize: string;
  epochs: string;
  lr: string;
  minLr: string;
  warmup: string;
  optimizer: 'adam' | 'adamw' | 'sgd';
  weightDecay: string;
  momentum: string;
  accumulate: string;
  monitor: 'precision@1' | 'mmp@5' | 'map';
  patience: string;
  seed: string;
  smoothing?: string;
  lambda?: string;
  temperature?: string;
  margin?: string;
  posMargin?: string;
  negMargin?: string;
  scale?: string;
  alpha?: string;
  beta?: string;
  base?: string;
  hardStart?: string;
  hardEnd?: string;
}

const num = (v: string | undefined, flag: string): number | undefined => (v === undefined ? undefined : parseNumber(v, flag));
const int = parseInteger;

/** Read the labelled embeddings named by --index/--labels or --train. */
async function loadInputs(o: TuneFlags, log: (s: string) => void): Promise<{ data: Labelled; source: string; model?: string }> {
  if (o.index && o.train) throw new Error('give --index or --train, not both');
  if (o.index) {
    if (!o.labels) throw new Error('--index needs --labels (a CSV with path,label: the index ids are its paths)');
    const idx = loadIndex(o.index);
    if (idx.manifest.head) throw new Error(`${o.index}: built with head ${idx.manifest.head.file}; tune on an index built without --head (heads take the backbone's embeddings)`);
    const { data, unlabelled, missing } = joinLabels(idx.ids, idx.vectors, idx.dim, readLabels(o.labels), `${o.index} + ${o.labels}`);
    if (unlabelled) log(`note: ${unlabelled} index ids have no row in ${o.labels}; left out`);
    if (missing) log(`note: ${missing} rows of ${o.labels} are not in ${o.index}`);
    return { data, source: o.index, model: idx.manifest.model.name };
  }
  if (!o.train) throw new Error('give --index X.lkx --labels labels.csv, or --train DIR --model M');
  if (o.head) throw new Error('--head: tune trains on the backbone\'s own embeddings; apply heads with index/search/compete/eval');
  const listing = listFolder(o.train);
  const rows = o.labels ? readLabels(o.labels) : folderLabels(listing.images, o.train);
  const known = new Set(listing.images);
  const items = rows.filter((r) => known.has(r.path)).map((r) => ({ id: r.path, source: path.join(o.train!, r.path) }));
  if (!items.length) throw new Error(`${o.train}: none of the ${rows.length} labelled paths is an image in this folder`);
  const { backbone } = await openModel(o);
  const skips = skipReporter(o.json);
  for (const s of listingSkips(listing)) skips.report(s);
  const bar = embedProgress('embedding', items.length, o.json);
  const emb = await embedImages(backbone, items, { onProgress: (k) => bar.tick(k), onSkip: skips.report });
  bar.end();
  await backbone.dispose();
  const { data } = joinLabels(emb.ids, emb.vectors, emb.dim, rows, o.train);
  return { data, source: o.train, model: backbone.name };
}

function splitRule(o: TuneFlags, hasColumn: boolean): SplitRule {
  if (o.valClasses !== undefined) {
    const f = Number(o.valClasses);
    return Number.isFinite(f) && f > 0 && f < 1 ? { kind: 'classes', frac: f } : { kind: 'classes', names: o.valClasses.split(',').map((s) => s.trim()) };
  }
  if (o.valFrac !== undefined) return Number(o.valFrac) === 0 ? { kind: 'none' } : { kind: 'stratified', frac: num(o.valFrac, '--val-frac')! };
  return hasColumn ? { kind: 'column' } : { kind: 'stratified', frac: 0.2 };
}

/** Frozen and tuned metrics side by side. */
export function sideBySide(frozen: TuneMetrics, tuned: TuneMetrics): string {
  const rows = (['precision@1', 'mmp@5', 'map'] as const).map((k) => `  ${k.padEnd(12)} ${frozen[k].toFixed(4).padStart(8)} ${tuned[k].toFixed(4).padStart(8)} ${((tuned[k] - frozen[k]) >= 0 ? '+' : '') + (tuned[k] - frozen[k]).toFixed(4)}`);
  return [`  ${'metric'.padEnd(12)} ${'frozen'.padStart(8)} ${'tuned'.padStart(8)} delta`, ...rows].join('\n');
}

/** The `tune` command. */
export function tuneCommand(): Command {
  const cmd = new Command('tune')
    .description('adapt frozen embeddings: train a head (linear or MLP) with CE, metric-learning or hybrid losses; writes an ONNX head for --head')
    .option('--index <index>', 'index of the training images (built without --head)')
    .option('--labels <csv>', 'labels CSV: path,label[,domain][,split]; paths = index ids (or paths under --train)')
    .option('--train <dir>', 'folder of images to embed on the fly (class folders, or paths from --labels); needs --model')
    .requiredOption('-o, --out <file>', 'head file to write (.onnx)')
    .option('--val-frac <f>', 'stratified validation share of each class (0 = no validation; default 0.2, or the split column)')
    .option('--val-classes <f|names>', 'class-disjoint validation: a share of the classes (e.g. 0.2) or comma-separated class names')
    .option('--val-cross-domain', 'validation queries rank only items of other domains (domain column), as in photo -> sketch retrieval')
    .addOption(new Option('--head-type <type>', 'head').choices(['linear', 'mlp']).default('mlp'))
    .option('--hidden <widths>', 'MLP hidden widths, 1-3 comma-separated', '512')
    .option('--out-dim <n>', 'embedding size of the head (default: the input size)')
    .option('--dropout <p>', 'dropout after each hidden layer', '0.1')
    .option('--batch-norm', 'batch norm before each hidden ReLU')
    .option('--init <npy>', 'initial weight matrix for a linear head (.npy, float32 [D, D\']): projection tuning')
    .addOption(new Option('--loss <loss>', 'training loss (cosine or mse with --teacher)').choices([...LOSS_NAMES, 'cosine', 'mse']).default('hybrid'))
    .option('--teacher <model>', 'distillation: map --model\'s embeddings into this model\'s space on the unlabelled images of --train (loss cosine or mse)')
    .addOption(new Option('--miner <miner>', 'pair/triplet miner for contrastive, triplet, multi-similarity').choices(['none', 'batch-hard', 'semi-hard', 'multi-similarity', 'progressive']).default('none'))
    .addOption(new Option('--sampler <sampler>', 'batch sampler').choices(['random', 'm-per-class']).default('m-per-class'))
    .option('--m <n>', 'items per class per batch (m-per-class)', '4')
    .option('--batch-size <n>', 'rows per batch', '128')
    .option('--epochs <n>', 'maximum epochs', '30')
    .option('--lr <f>', 'peak learning rate', '1e-3')
    .option('--min-lr <f>', 'learning rate at the end of the cosine', '0')
    .option('--warmup <f>', 'share of steps with linear warmup', '0.05')
    .addOption(new Option('--optimizer <opt>', 'optimiser').choices(['adam', 'adamw', 'sgd']).default('adamw'))
    .option('--weight-decay <f>', 'weight decay (decoupled for adamw)', '1e-4')
    .option('--momentum <f>', 'SGD momentum', '0.9')
    .option('--accumulate <n>', 'batches per optimiser step (gradient accumulation)', '1')
    .addOption(new Option('--monitor <metric>', 'validation metric for early stopping').choices(['precision@1', 'mmp@5', 'map']).default('mmp@5'))
    .option('--patience <n>', 'epochs without improvement before stopping (0 = never)', '5')
    .option('--seed <n>', 'random seed (runs repeat exactly)', '0')
    .option('--smoothing <f>', 'label smoothing (cross-entropy, hybrid)')
    .option('--lambda <f>', 'hybrid: weight of the contrastive term (default 0.5)')
    .option('--temperature <f>', 'supcon/hybrid temperature (default 0.1)')
    .option('--margin <f>', 'triplet margin (0.1), ArcFace margin in radians (0.5), CosFace margin (0.35), cosine-embedding margin (0), semi-hard miner margin')
    .option('--pos-margin <f>', 'contrastive positive margin on cosine (default 1)')
    .option('--neg-margin <f>', 'contrastive negative margin on cosine (default 0.3)')
    .option('--scale <f>', 'ArcFace/CosFace scale (default 64)')
    .option('--alpha <f>', 'multi-similarity alpha (2)')
    .option('--beta <f>', 'multi-similarity beta (50)')
    .option('--base <f>', 'multi-similarity base (0.5)')
    .option('--hard-start <f>', 'progressive miner: share of hardest negatives at the start (0)')
    .option('--hard-end <f>', 'progressive miner: share at the end (1)')
    .option('--search <space>', 'hyperparameter search: a YAML/JSON space file, inline JSON, or "default" (lr log-scale, hidden, dropout, loss); scored on the validation split only')
    .option('--trials <n>', '--search: number of trials', '10')
    .addOption(new Option('--strategy <s>', '--search: random draws or the grid').choices(['random', 'grid']).default('random'))
    .option('--runs <dir>', '--search: run store for the trials (default ./runs)')
    .option('--json', 'print a JSON summary, no progress');
  addModelOptions(cmd);
  cmd.addHelpText('after', `
The backbone stays frozen: the head maps its embeddings [N, D] to [N, D'] and is written as ONNX;
pass it to index/search/compete/eval with --head. Validation: every validation image queries the
others; frozen and tuned precision@1, mmp@5 and mAP are printed side by side.

Examples:
  lookalike index ../shared/datasets/clothing10 --model m.onnx --out clothing.lkx
  lookalike tune --index clothing.lkx --labels ../shared/datasets/clothing10/labels.csv --loss hybrid --out clothing-head.onnx
  lookalike tune --train ./faces --model m.onnx --val-classes 0.2 --loss arcface --head-type linear --out face-head.onnx
  lookalike compete ./comp --model m.onnx --head clothing-head.onnx -k 10 --out sub.json
  lookalike tune --index clothing.lkx --labels labels.csv --search default --trials 8 --epochs 15 --out best-head.onnx
  lookalike tune --train ./photos --model mobilenet-v3-small-embedder --teacher mobilenet-v2-imagenet --loss cosine --out to-v2.onnx`);
  cmd.action(async (o: TuneFlags) => {
    const log = (s: string) => (o.json ? undefined : process.stderr.write(`${s}\n`));
    const seed = int(o.seed, '--seed');
    guardOutput(o.out, { flag: '--out', kind: OUTPUT_KINDS.head, inputs: [o.index, o.labels, o.train, o.init] });
    if (o.teacher) return runDistill(o as TuneFlags & DistillFlags, log);
    if (o.loss === 'cosine' || o.loss === 'mse') throw new Error(`--loss ${o.loss} is for distillation (with --teacher MODEL)`);
    const { data, source, model } = await loadInputs(o, log);
    // Rows marked test/query/gallery in the split column never take part.
    const hasColumn = data.splits.some((s) => s !== undefined);
    const usable = data.labels.map((_, i) => i).filter((i) => !hasColumn || ['train', 'val', 'valid', 'validation', undefined].includes(data.splits[i]));
    let pool = subset(data, usable);
    const rule = splitRule(o, hasColumn && pool.splits.some((s) => s && s !== 'train'));
    if (rule.kind !== 'column' && hasColumn) pool = subset(pool, pool.labels.map((_, i) => i).filter((i) => pool.splits[i] === 'train' || pool.splits[i] === undefined));
    if (o.search) return runTuneSearch(o as TuneFlags & SearchFlags, pool, rule, seed, source, model, log);
    const split = splitRows(pool, rule, new Rng(seed));
    const tr = subset(pool, split.train);
    const va = split.val.length >= 2 ? subset(pool, split.val) : undefined;
    if (!va) log('note: no validation rows (use --val-frac or --val-classes); training for all epochs, no early stopping');
    const { names, index } = encodeLabels(tr.labels);
    if (names.length < 2) throw new Error(`${source}: training needs at least 2 classes, found ${names.length}`);
    let init: TrainOptions['init'];
    if (o.init) {
      if (o.headType !== 'linear') throw new Error('--init needs --head-type linear');
      if (!fs.existsSync(o.init)) throw new Error(`${o.init}: no such file`);
      const m = decodeNpy(fs.readFileSync(o.init), o.init);
      if (m.rows !== data.dim) throw new Error(`${o.init}: matrix is [${m.rows}, ${m.cols}], the embeddings are ${data.dim}-d`);
      init = { weight: m.data };
      if (o.outDim !== undefined && int(o.outDim, '--out-dim', 1) !== m.cols) throw new Error(`--out-dim ${o.outDim} differs from ${o.init}'s ${m.cols} columns`);
      o.outDim = String(m.cols);
    }
    const outDim = o.outDim !== undefined ? int(o.outDim, '--out-dim', 1) : data.dim;
    const hidden = o.headType === 'mlp' ? o.hidden.split(',').map((s) => int(s.trim(), '--hidden', 1)) : [];
    log(`${source}: ${tr.labels.length} training rows, ${names.length} classes; ${va?.labels.length ?? 0} validation rows (${split.rule}); ${data.dim}-d`);
    const opts: TrainOptions = {
      head: { kind: o.headType, hidden, outputDim: outDim, dropout: num(o.dropout, '--dropout')!, batchNorm: Boolean(o.batchNorm) },
      init,
      loss: o.loss,
      lossOptions: {
        smoothing: num(o.smoothing, '--smoothing'),
        lambda: num(o.lambda, '--lambda'),
        temperature: num(o.temperature, '--temperature'),
        margin: num(o.margin, '--margin'),
        posMargin: num(o.posMargin, '--pos-margin'),
        negMargin: num(o.negMargin, '--neg-margin'),
        scale: num(o.scale, '--scale'),
        alpha: num(o.alpha, '--alpha'),
        beta: num(o.beta, '--beta'),
        base: num(o.base, '--base'),
      },
      miner: o.miner as TrainOptions['miner'],
      minerOptions: { margin: num(o.margin, '--margin'), hardStart: num(o.hardStart, '--hard-start'), hardEnd: num(o.hardEnd, '--hard-end') },
      sampler: o.sampler,
      m: int(o.m, '--m', 1),
      batchSize: int(o.batchSize, '--batch-size', 2),
      epochs: int(o.epochs, '--epochs', 1),
      lr: num(o.lr, '--lr')!,
      minLr: num(o.minLr, '--min-lr'),
      warmup: num(o.warmup, '--warmup'),
      optimizer: o.optimizer,
      weightDecay: num(o.weightDecay, '--weight-decay')!,
      momentum: num(o.momentum, '--momentum'),
      accumulate: int(o.accumulate, '--accumulate', 1),
      monitor: o.monitor,
      patience: int(o.patience, '--patience'),
      seed,
      onStart: (i) => log(`trainable parameters: ${i.trainable} (head ${i.embedding}, classifier ${i.classifier}, loss ${i.lossParams}); ${i.stepsPerEpoch} steps per epoch`),
      onEpoch: (e) =>
        log(`epoch ${String(e.epoch).padStart(3)}  loss ${e.loss.toFixed(4)}  lr ${e.lr.toExponential(2)}  ${e.seconds.toFixed(2)}s` + (e.val ? `  p@1 ${e.val['precision@1'].toFixed(4)}  mmp@5 ${e.val['mmp@5'].toFixed(4)}  mAP ${e.val.map.toFixed(4)}${e.best ? '  *' : ''}` : '')),
    };
    if (opts.sampler === 'm-per-class' && opts.batchSize % opts.m !== 0) throw new Error(`--batch-size ${opts.batchSize} must be a multiple of --m ${opts.m}`);
    if (opts.sampler === 'm-per-class' && opts.batchSize / opts.m > names.length) {
      const bs = names.length * opts.m;
      log(`note: ${names.length} classes x m=${opts.m}: batch size lowered from ${opts.batchSize} to ${bs}`);
      opts.batchSize = bs;
    }
    const r = await train({ vectors: tr.vectors, dim: tr.dim, labels: index, numClasses: names.length }, va ? { vectors: va.vectors, dim: va.dim, labels: va.labels, domains: va.domains, ids: va.ids, crossDomain: o.valCrossDomain } : undefined, opts);
    const meta: Record<string, string> = {
      'lookalike.loss': o.loss,
      'lookalike.source': source,
      'lookalike.classes': String(names.length),
      'lookalike.best_epoch': String(r.bestEpoch),
      ...(model ? { 'lookalike.model': model } : {}),
      ...(r.frozen && r.tuned ? { 'lookalike.val': JSON.stringify({ frozen: r.frozen, tuned: r.tuned }) } : {}),
    };
    writeHead(o.out, r.head, meta);
    if (o.json) {
      printJson({ head: o.out, input_dim: data.dim, output_dim: outDim, trainable: r.trainable, best_epoch: r.bestEpoch, seconds_per_epoch: r.secondsPerEpoch, frozen: r.frozen, tuned: r.tuned, epochs: r.epochs });
      return;
    }
    if (r.frozen && r.tuned) process.stdout.write(`validation (${r.tuned.queries} queries, best epoch ${r.bestEpoch}):\n${sideBySide(r.frozen, r.tuned)}\n`);
    process.stdout.write(`${o.out}: head ${data.dim} -> ${outDim}-d (${o.headType}${hidden.length ? ' ' + hidden.join('-') : ''}, ${o.loss}), ${r.secondsPerEpoch.toFixed(2)}s per epoch\n`);
  });
  return cmd;
}
