/** `lookalike compete DIR`: embed DIR/gallery and DIR/query, write the top-k submission JSON. */
import { Command } from 'commander';
import { competeSubmission, type CompeteOptions } from '../index/compete.ts';
import { writeSubmission } from '../metrics/competition.ts';
import { closeModel } from '../models/open.ts';
import type { Progress } from '../util/progress.ts';
import { addAnnOptions, annMode, type AnnFlags } from './ann-options.ts';
import { addModelOptions, embedProgress, openModel, parseK, printJson, runtimeFlags, skipReporter, type ModelFlags } from './options.ts';
import { guardOutput, OUTPUT_KINDS } from '../util/outputs.ts';

interface CompeteFlags extends ModelFlags, AnnFlags {
  k: string;
  out: string;
}

/** Progress bars for competeSubmission's two parts, quiet with --json. */
export function competeProgress(json?: boolean): Pick<CompeteOptions, 'onPart' | 'onProgress'> & { end: () => void } {
  let bar: Progress | undefined;
  return {
    onPart: (part, total) => {
      bar?.end();
      bar = embedProgress(part, total, json);
    },
    onProgress: (_part, n) => bar?.tick(n),
    end: () => bar?.end(),
  };
}

/** The `compete` command. */
export function competeCommand(): Command {
  const cmd = new Command('compete')
    .description('rank DIR/gallery for every image in DIR/query and write a competition submission')
    .argument('<dir>', 'competition folder with query/ and gallery/')
    .option('-k, --k <k>', 'gallery items per query', '10')
    .requiredOption('-o, --out <file>', 'submission JSON to write')
    .option('--strict', 'exit with an error if any file was skipped')
    .option('--json', 'print a JSON summary, no progress');
  addModelOptions(cmd, true);
  addAnnOptions(cmd);
  cmd.addHelpText('after', `
Example:
  lookalike compete ../shared/datasets/cufs-sketch/test --model face-mobileface -k 10 --out sub.json
  lookalike eval --submission sub.json --truth ../shared/datasets/cufs-sketch/truth.json`);
  cmd.action(async (dir: string, o: CompeteFlags) => {
    const k = parseK(o.k);
    guardOutput(o.out, { flag: '--out', kind: OUTPUT_KINDS.submission, inputs: [dir, o.head] });
    const model = await openModel(o);
    const skips = skipReporter(o.json);
    const bars = competeProgress(o.json);
    const r = await competeSubmission(dir, model, k, { batchSize: runtimeFlags(o).batchSize, onSkip: skips.report, search: annMode(o), ...bars }).finally(() => closeModel(model));
    bars.end();
    // --strict decides before anything is written.
    if (o.strict && skips.list.length) throw new Error(`--strict: ${skips.list.length} file(s) skipped; ${o.out} was not written`);
    writeSubmission(o.out, r.submission);
    const summary = { out: o.out, queries: r.queries, gallery: r.gallery, k, skipped: skips.list };
    if (o.json) printJson(summary);
    else process.stdout.write(`${o.out}: ${summary.queries} queries x top-${k} of ${summary.gallery} gallery images; ${skips.list.length} skipped\n`);
  });
  return cmd;
}
