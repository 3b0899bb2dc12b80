/** `lookalike compete DIR`: embed DIR/gallery and DIR/query, write the top-k submission JSON. */
import path from 'node:path';
import { Command } from 'commander';
import { competeSubmission, checkStoreGallery, competeWithStore, type CompeteOptions, type CompeteResult } from '../index/compete.ts';
import { writeSubmission } from '../metrics/competition.ts';
import { closeModel } from '../models/open.ts';
import type { Progress } from '../util/progress.ts';
import { addAnnOptions, annMode, type AnnFlags } from './ann-options.ts';
import { openStore } from '../store/open.ts';
import { addModelOptions, embedProgress, openModel, openModelForIndex, parseK, printJson, runtimeFlags, skipReporter, type ModelFlags } from './options.ts';
import { guardOutput, OUTPUT_KINDS } from '../util/outputs.ts';

interface CompeteFlags extends ModelFlags, AnnFlags {
  k: string;
  out: string;
  store?: string;
}

/** Rank with the gallery already in a store (an index of DIR/gallery): only DIR/query is embedded, with the store's model. */
async function competeFromStore(dir: string, location: string, k: number, o: CompeteFlags, opts: CompeteOptions): Promise<CompeteResult> {
  const store = await openStore(location);
  try {
    await checkStoreGallery(store, path.join(dir, 'gallery'));
    const model = await openModelForIndex(await store.meta(), o, location);
    return await competeWithStore(dir, store, model, k, opts).finally(() => closeModel(model));
  } finally {
    await store.close();
  }
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
    .option('--store <location>', 'take the gallery from an index of DIR/gallery (a folder, pglite:DIR or postgres://...): only DIR/query is embedded, with the index\'s model (--model optional, must match)')
    .option('--json', 'print a JSON summary, no progress');
  addModelOptions(cmd);
  addAnnOptions(cmd);
  cmd.addHelpText('after', `
Example:
  lookalike compete ../shared/datasets/cufs-sketch/test --model face-mobileface -k 10 --out sub.json
  lookalike eval --submission sub.json --truth ../shared/datasets/cufs-sketch/truth.json
  lookalike index ../shared/datasets/cufs-sketch/test/gallery --model face-mobileface --store pglite:./db
  lookalike compete ../shared/datasets/cufs-sketch/test --store pglite:./db -k 10 --out sub.json`);
  cmd.action(async (dir: string, o: CompeteFlags) => {
    const k = parseK(o.k);
    if (!o.model && !o.store) throw new Error("required option '-m, --model <model>' not specified (or give --store LOCATION, an index of DIR/gallery)");
    guardOutput(o.out, { flag: '--out', kind: OUTPUT_KINDS.submission, inputs: [dir, o.head, ...(o.store ? [o.store] : [])] });
    const skips = skipReporter(o.json);
    const bars = competeProgress(o.json);
    const opts: CompeteOptions = { batchSize: runtimeFlags(o).batchSize, onSkip: skips.report, search: annMode(o), ...bars };
    let r: CompeteResult;
    if (o.store) r = await competeFromStore(dir, o.store, k, o, opts);
    else {
      const model = await openModel(o);
      r = await competeSubmission(dir, model, k, opts).finally(() => closeModel(model));
    }
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
