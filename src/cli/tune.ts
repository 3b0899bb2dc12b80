/** `lookalike tune`: train a head on frozen embeddings (an index + labels, or class folders) and write it as ONNX. */
import { Command, Option } from 'commander';
import { LOSS_NAMES } from '../tune/losses/index.ts';
import type { TrainOptions } from '../tune/train.ts';
import type { TuneMetrics } from '../tune/evaluate.ts';
import { prepareTuneData, tuneHead, type TuneHeadOptions } from '../tune/run.ts';
import { runTuneSearch, type SearchFlags } from './tune-search.ts';
import { runDistill, type DistillFlags } from './tune-distill.ts';
import { guardOutput, OUTPUT_KINDS } from '../util/outputs.ts';
import type { Progress } from '../util/progress.ts';
import { addStoreOption, storeLocation } from './store-option.ts';
import { addModelOptions, embedProgress, modelChoice, parseInteger, parseNumber, printJson, skipReporter, type ModelFlags } from './options.ts';

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

/** --val-classes: a share of the classes (0 < f < 1) or comma-separated class names. */
function valClasses(v: string | undefined): number | string[] | undefined {
  if (v === undefined) return undefined;
  const f = Number(v);
  return Number.isFinite(f) && f > 0 && f < 1 ? f : v.split(',').map((x) => x.trim());
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
    .option('--index <index>', 'index of the training images (built without --head); its labelled vectors are loaded into memory for training (count x dim x 4 bytes)')
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
  addStoreOption(cmd);
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
  cmd.action(async (o: TuneFlags & { store?: string }) => {
    if (o.store !== undefined) o.index = storeLocation(o.index, o.store, '--index');
    const log = (s: string) => (o.json ? undefined : process.stderr.write(`${s}\n`));
    const skips = skipReporter(o.json);
    guardOutput(o.out, { flag: '--out', kind: OUTPUT_KINDS.head, inputs: [o.index, o.labels, o.train, o.init] });
    if (o.teacher) return runDistill(o as TuneFlags & DistillFlags, log);
    if (o.loss === 'cosine' || o.loss === 'mse') throw new Error(`--loss ${o.loss} is for distillation (with --teacher MODEL)`);
    let bar: Progress | undefined;
    const inputs: Omit<TuneHeadOptions, 'out' | 'head' | 'training'> = {
      index: o.index,
      labels: o.labels,
      trainDir: o.train,
      model: o.train ? modelChoice(o) : undefined,
      valFrac: num(o.valFrac, '--val-frac'),
      valClasses: valClasses(o.valClasses),
      valCrossDomain: o.valCrossDomain,
      log,
      onSkip: skips.report,
      onEmbedStart: (total) => (bar = embedProgress('embedding', total, o.json)),
      onEmbedProgress: (n) => bar?.tick(n),
    };
    const prepared = await prepareTuneData(inputs).finally(() => bar?.end());
    if (o.search) return runTuneSearch(o as TuneFlags & SearchFlags, prepared.pool, prepared.rule, int(o.seed, '--seed'), prepared.source, prepared.model, log);
    const r = await tuneHead({
      ...inputs,
      out: o.out,
      head: {
        kind: o.headType,
        hidden: o.hidden.split(',').map((s) => int(s.trim(), '--hidden', 1)),
        outputDim: o.outDim !== undefined ? int(o.outDim, '--out-dim', 1) : undefined,
        dropout: num(o.dropout, '--dropout')!,
        batchNorm: Boolean(o.batchNorm),
      },
      init: o.init,
      training: {
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
        seed: int(o.seed, '--seed'),
        onStart: (i) => log(`trainable parameters: ${i.trainable} (head ${i.embedding}, classifier ${i.classifier}, loss ${i.lossParams}); ${i.stepsPerEpoch} steps per epoch`),
        onEpoch: (e) =>
          log(`epoch ${String(e.epoch).padStart(3)}  loss ${e.loss.toFixed(4)}  lr ${e.lr.toExponential(2)}  ${e.seconds.toFixed(2)}s` + (e.val ? `  p@1 ${e.val['precision@1'].toFixed(4)}  mmp@5 ${e.val['mmp@5'].toFixed(4)}  mAP ${e.val.map.toFixed(4)}${e.best ? '  *' : ''}` : '')),
      },
    }, prepared);
    const outDim = r.outputDim;
    const hidden = o.headType === 'mlp' ? o.hidden.split(',').map((s) => s.trim()) : [];
    if (o.json) {
      printJson({ head: o.out, input_dim: r.inputDim, output_dim: outDim, trainable: r.trainable, best_epoch: r.bestEpoch, seconds_per_epoch: r.secondsPerEpoch, frozen: r.frozen, tuned: r.tuned, epochs: r.epochs });
      return;
    }
    if (r.frozen && r.tuned) process.stdout.write(`validation (${r.tuned.queries} queries, best epoch ${r.bestEpoch}):\n${sideBySide(r.frozen, r.tuned)}\n`);
    process.stdout.write(`${o.out}: head ${r.inputDim} -> ${outDim}-d (${o.headType}${hidden.length ? ' ' + hidden.join('-') : ''}, ${o.loss}), ${r.secondsPerEpoch.toFixed(2)}s per epoch\n`);
  });
  return cmd;
}
