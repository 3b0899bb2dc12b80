/** `lookalike compete DIR`: rank DIR/gallery for every image in DIR/query and write the top-k submission JSON. */
import { Command } from 'commander';
import { addAnnOptions, addFilterOptions, filterMode, addModelOptions, addRerankOption, annMode, modelSettings, partProgress, printJson, skipReporter, type AnnFlags, type FilterFlags, type ModelFlags } from './flags.ts';
import { printOut, printErr } from './io.ts';
import { noFaceLine } from './face-note.ts';

interface CompeteFlags extends ModelFlags, AnnFlags, FilterFlags {
  k: string;
  out: string;
  store?: string;
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
  addFilterOptions(cmd);
  addRerankOption(cmd);
  cmd.addHelpText('after', `
Example:
  lookalike compete ../shared/datasets/cufs-sketch/test --model face-mobileface -k 10 --out sub.json
  lookalike eval --submission sub.json --truth ../shared/datasets/cufs-sketch/truth.json
  lookalike index ../shared/datasets/cufs-sketch/test/gallery --model face-mobileface --store pglite:./db
  lookalike compete ../shared/datasets/cufs-sketch/test --store pglite:./db -k 10 --out sub.json`);
  cmd.action(async (dir: string, o: CompeteFlags) => {
    const api = await import('../api.ts');
    const k = api.checkK(o.k);
    if (!o.model && !o.store) throw new Error("required option '-m, --model <model>' not specified (or give --store LOCATION, an index of DIR/gallery)");
    const skips = skipReporter(o.json);
    const bars = partProgress(o.json);
    const { out, store } = o;
    const r = await api.compete(dir, { model: modelSettings(o), store, k, out, strict: o.strict, search: { ...annMode(o), ...filterMode(o) }, onSkip: skips.report, ...bars }).finally(() => bars.end());
    const summary = { out, queries: r.queries, gallery: r.gallery, k, skipped: skips.list, ...(r.noFace ? { no_face: r.noFace } : {}) };
    if (r.noFace?.length) printErr(noFaceLine(r.noFace));
    if (o.json) printJson(summary);
    else printOut(`${out}: ${summary.queries} queries x top-${k} of ${summary.gallery} gallery images; ${skips.list.length} skipped\n`);
  });
  return cmd;
}
