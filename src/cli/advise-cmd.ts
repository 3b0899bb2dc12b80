/** `lookalike advise DATASET`: rank the available backbones x a small mode list on your own labelled images and recommend one. */
import { Command, Option } from 'commander';
import { printJson } from './flags.ts';
import { printOut, printErr } from './io.ts';

/** The `advise` command. */
export function adviseCommand(): Command {
  const cmd = new Command('advise')
    .description('measure every available backbone (frozen and tuned) on a labelled sample of your images; rank by mmp@5 and cost; print the command to reproduce the best')
    .argument('<dataset>', 'folder of class folders, or with labels.csv (path,label[,domain][,split])')
    .option('--models <list>', 'comma-separated presets, folders or files (default: every available image preset, face models left out)')
    .option('--modes <list>', 'frozen, tune, projection', 'frozen,tune')
    .option('--limit <n>', 'labelled images used at most (stratified sample)', '400')
    .option('--epochs <n>', 'epochs of the tuned modes', '10')
    .option('--seeds <n>', 'splits measured (held-out rows drawn per seed): a tuned mode is recommended only when it beats frozen by more than the spread over them', '3')
    .addOption(new Option('--hold-out <what>', 'what each split holds out: classes (class-disjoint) or images of seen classes (default: like the set\'s own test rows, else classes)').choices(['classes', 'images']))
    .addOption(new Option('--protocol <p>', 'how held-out images are scored (default: cross-domain when the set\'s own queries and gallery are of different domains, else leave-one-out)').choices(['leave-one-out', 'cross-domain']))
    .option('--cache <dir>', 'embedding cache (default ~/.cache/lookalike/embeddings)')
    .option('--store <dir>', 'run store (default ~/.cache/lookalike/advise)')
    .option('--json', 'print JSON, no progress');
  cmd.addHelpText('after', `
Each of --seeds splits samples at most --limit labelled images and holds out half of their classes
(or half of each class's images, when the set's own test rows are of seen classes), drawn like the
test the advice predicts; test/query/gallery rows of a labels.csv are never sampled. Each split is
written to the run store as a labels file. Frozen is always measured; a tuned mode is recommended
only when its mean margin over the same backbone frozen exceeds the standard deviation of that
margin over the splits (printed as "vs frozen"). The printed commands rerun the first split
exactly (its labels file, seed and options) and print its score. A second call with the same images
re-embeds nothing (embedding cache) and re-runs nothing (run store).

Example:
  LOOKALIKE_MODELS=../shared/models lookalike advise ../shared/datasets/clothing10
  lookalike advise ./my-products --models mobilenet-v2-imagenet,./my-model.onnx --modes frozen,tune,projection`);
  cmd.action(async (dataset: string, o: { models?: string; modes: string; limit: string; epochs: string; seeds: string; holdOut?: 'classes' | 'images'; protocol?: 'leave-one-out' | 'cross-domain'; cache?: string; store?: string; json?: boolean }) => {
    const modes = o.modes.split(',').map((s) => s.trim());
    for (const m of modes) if (!['frozen', 'tune', 'projection'].includes(m)) throw new Error(`--modes ${o.modes}: "${m}" is not frozen, tune or projection`);
    const api = await import('../api.ts');
    const a = await api.advise(dataset, {
      models: o.models?.split(',').map((s) => s.trim()).filter(Boolean),
      modes: modes as ('frozen' | 'tune' | 'projection')[],
      limit: api.toInteger(o.limit, 'limit', 4),
      epochs: api.toInteger(o.epochs, 'epochs', 1),
      seeds: api.toInteger(o.seeds, 'seeds', 1),
      protocol: o.protocol,
      holdOut: o.holdOut,
      cache: o.cache,
      store: o.store,
      quiet: o.json,
      log: o.json ? undefined : (s) => printErr(`${s}\n`),
    });
    if (o.json) return printJson({ dataset, recommended: { model: a.recommended.model, mode: a.recommended.mode, 'mmp@5': a.recommended['mmp@5'], margin: a.recommended.margin ?? null, noise: a.recommended.noise ?? null }, seeds: a.seeds, design: a.design, splits: a.splits, commands: a.commands, rows: a.rows.map(({ run: _run, ...r }) => ({ ...r, noise: r.noise === undefined ? undefined : Number.isFinite(r.noise) ? r.noise : null })), skipped: a.skipped });
    printOut(api.formatAdvice(a));
  });
  return cmd;
}
