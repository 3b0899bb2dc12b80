/**
 * `lookalike tune`: train a head on frozen embeddings (an index + labels, or class folders) and
 * write it as ONNX; `--search` searches its options, `--teacher` distils a head from unlabelled
 * images. The tuning flags are generated from the library's one option schema (TUNE_OPTIONS).
 */
import { Command, Option } from 'commander';
import { Progress, TUNE_OPTIONS, type TuneOption, type TuneValues } from '../schema.ts';
import type { TuneMetrics } from '../api.ts';
import { addModelOptions, addStoreOption, flagOf, modelSettings, printJson, setFlagNames, skipReporter, storeLocation, type ModelFlags } from './flags.ts';
import { printOut, printErr } from './io.ts';

interface TuneFlags extends ModelFlags {
  search?: string;
  trials: string;
  strategy: 'random' | 'grid';
  runs?: string;
  teacher?: string;
  index?: string;
  labels?: string;
  train?: string;
  out: string;
  valFrac?: string;
  valCrossDomain?: boolean;
  valClasses?: string;
  keepWorse?: boolean;
  store?: string;
  [option: string]: unknown;
}

/** The flag of a schema option: its name as a flag, with its choices and default. */
function optionOf(t: TuneOption): Option {
  const flag = flagOf(t.name);
  const o = new Option(t.kind === 'boolean' ? flag : `${flag} <${t.arg ?? t.kind}>`, t.help);
  // Distillation (--teacher) trains with its own two losses.
  if (t.choices) o.choices(t.name === 'loss' ? [...t.choices, 'cosine', 'mse'] : [...t.choices]);
  if (t.default !== undefined) o.default(t.kind === 'choice' || t.kind === 'string' ? t.default : String(t.default));
  return o;
}

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
    .option('--keep-worse', 'write the head even when it does not beat the frozen embeddings on validation (by --monitor); by default it is not written')
    .option('--teacher <model>', 'distillation: map --model\'s embeddings into this model\'s space on the unlabelled images of --train (loss cosine or mse)');
  for (const t of TUNE_OPTIONS) cmd.addOption(optionOf(t));
  cmd
    .option('--search <space>', 'hyperparameter search: a YAML/JSON space file, inline JSON, or "default" (lr log-scale, hidden, dropout, loss); scored on the validation split only')
    .option('--trials <n>', '--search: number of trials', '10')
    .addOption(new Option('--strategy <s>', '--search: random draws or the grid').choices(['random', 'grid']).default('random'))
    .option('--runs <dir>', '--search: run store for the trials (default ./runs)')
    .option('--json', 'print a JSON summary, no progress');
  addModelOptions(cmd);
  addStoreOption(cmd);
  setFlagNames(cmd, { trainDir: '--train', space: '--search' });
  cmd.addHelpText('after', `
The backbone stays frozen: the head maps its embeddings [N, D] to [N, D'] and is written as ONNX;
pass it to index/search/compete/eval with --head. Validation: every validation image queries the
others; frozen and tuned precision@1, mmp@5 and mAP are printed side by side. Each loss and
miner reads only the parameters it declares (docs/tuning.md).

Examples:
  lookalike index ../shared/datasets/clothing10 --model m.onnx --out clothing.lkx
  lookalike tune --index clothing.lkx --labels ../shared/datasets/clothing10/labels.csv --loss hybrid --out clothing-head.onnx
  lookalike tune --train ./faces --model m.onnx --val-classes 0.2 --loss arcface --head-type linear --out face-head.onnx
  lookalike compete ./comp --model m.onnx --head clothing-head.onnx -k 10 --out sub.json
  lookalike tune --index clothing.lkx --labels labels.csv --search default --trials 8 --epochs 15 --out best-head.onnx
  lookalike tune --train ./photos --model mobilenet-v3-small-embedder --teacher mobilenet-v2-imagenet --loss cosine --out to-v2.onnx`);
  cmd.action(async (o: TuneFlags) => {
    const api = await import('../api.ts');
    if (o.store !== undefined) o.index = storeLocation(o.index, o.store, '--index');
    const log = (s: string) => (o.json ? undefined : printErr(`${s}\n`));
    const skips = skipReporter(o.json);
    const options: TuneValues = Object.fromEntries(TUNE_OPTIONS.flatMap((t) => (o[t.name] === undefined ? [] : [[t.name, o[t.name] as string | boolean]])));
    const settings = modelSettings(o);
    const valFrac = o.valFrac === undefined ? undefined : api.toNumber(o.valFrac, 'valFrac');
    if (o.teacher) {
      if (!o.train) throw new Error('--teacher needs --train DIR (unlabelled images) and --model (the student backbone)');
      const bars: Record<string, Progress> = {};
      const r = await api.distillHead({
        model: settings,
        teacher: o.teacher,
        trainDir: o.train,
        out: o.out,
        options,
        valFrac,
        log,
        onSkip: skips.report,
        onProgress: (which, done, total) => {
          bars[which] ??= new Progress(`embedding (${which})`, total, { quiet: o.json });
          bars[which].update(done);
          if (done >= total) bars[which].end();
        },
      });
      if (o.json) return printJson({ head: r.out, student: r.student, teacher: r.teacher, input_dim: r.inputDim, output_dim: r.outputDim, train_images: r.trainImages, held_out: r.heldOut, agreement: r.agreement, epochs: r.epochs });
      const a = r.agreement;
      printOut(
        `held-out agreement with ${r.teacher} (${a.queries} images): top-10 overlap ${a.top10_agreement.toFixed(4)}, R@1 vs the teacher's top-1 ${a.r_at_1.toFixed(4)}, R@10 ${a.r_at_10.toFixed(4)}, mean cosine ${a.mean_cosine.toFixed(4)}\n` +
          `${r.out}: head ${r.inputDim} -> ${r.outputDim}-d (${r.headType}, ${r.loss}); use it with --model ${r.student} --head ${r.out} to query an index built by ${r.teacher}\n`,
      );
      return;
    }
    if (options.loss === 'cosine' || options.loss === 'mse') throw new Error(`--loss ${options.loss} is for distillation (with --teacher MODEL)`);
    let bar: Progress | undefined;
    const inputs = {
      index: o.index,
      labels: o.labels,
      trainDir: o.train,
      model: o.train ? api.modelChoice(settings) : undefined,
      out: o.out,
      options,
      valFrac,
      valClasses: valClasses(o.valClasses),
      valCrossDomain: o.valCrossDomain,
      keepWorse: o.keepWorse,
      log,
      onSkip: skips.report,
      onEmbedStart: (total: number) => (bar = new Progress('embedding', total, { quiet: o.json })),
      onEmbedProgress: (n: number) => bar?.tick(n),
    };
    if (o.search) {
      const r = await api.searchHead({ ...inputs, space: o.search, trials: api.toInteger(o.trials, 'trials', 1), strategy: o.strategy, runs: o.runs }).finally(() => bar?.end());
      if (o.json) return printJson({ head: r.head, trials: r.trials, best: { index: r.best.index, values: r.best.values, val: r.best.val }, retrained_epochs: r.retrained_epochs, runs: r.runs });
      printOut(`best trial ${r.best.index} of ${r.trials.length}: ${Object.entries(r.best.values).map(([k, v]) => `${k}=${v}`).join(' ')} (val ${r.monitor} ${r.best.score.toFixed(4)})\n${r.head}: retrained on train + validation rows for ${r.retrained_epochs} epochs; trials in ${r.runs}\n`);
      return;
    }
    const r = await api
      .tuneHead({
        ...inputs,
        training: {
          onStart: (i) => log(`trainable parameters: ${i.trainable} (head ${i.embedding}, classifier ${i.classifier}, loss ${i.lossParams}); ${i.stepsPerEpoch} steps per epoch`),
          onEpoch: (e) =>
            log(`epoch ${String(e.epoch).padStart(3)}  loss ${e.loss.toFixed(4)}  lr ${e.lr.toExponential(2)}  ${e.seconds.toFixed(2)}s` + (e.val ? `  p@1 ${e.val['precision@1'].toFixed(4)}  mmp@5 ${e.val['mmp@5'].toFixed(4)}  mAP ${e.val.map.toFixed(4)}${e.best ? '  *' : ''}` : '')),
        },
      })
      .finally(() => bar?.end());
    if (o.json) {
      printJson({ head: o.out, written: r.written, ...(r.notWritten ? { not_written: r.notWritten.replace('set keepWorse', 'pass --keep-worse') } : {}), input_dim: r.inputDim, output_dim: r.outputDim, trainable: r.trainable, best_epoch: r.bestEpoch, seconds_per_epoch: r.secondsPerEpoch, frozen: r.frozen, tuned: r.tuned, epochs: r.epochs });
      return;
    }
    const headType = String(options.headType);
    const hidden = headType === 'mlp' ? String(options.hidden).split(',').map((s) => s.trim()) : [];
    if (r.frozen && r.tuned) printOut(`validation (${r.tuned.queries} queries, best epoch ${r.bestEpoch}):\n${sideBySide(r.frozen, r.tuned)}\n`);
    if (!r.written) {
      printOut(`not written: ${r.notWritten!.replace('set keepWorse', 'pass --keep-worse')}\n`);
      return;
    }
    printOut(`${o.out}: head ${r.inputDim} -> ${r.outputDim}-d (${headType}${hidden.length ? ' ' + hidden.join('-') : ''}, ${options.loss}), ${r.secondsPerEpoch.toFixed(2)}s per epoch\n`);
  });
  return cmd;
}
