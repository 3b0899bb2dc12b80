/** `lookalike index FOLDER --model M --out X.lkx`: embed a gallery folder into an index (or queue it for workers). */
import { Command } from 'commander';
import { addIndexAnnOptions, addModelOptions, annMode, lazyProgress, modelSettings, printJson, skipReporter, type AnnFlags, type ModelFlags } from './flags.ts';
import { printOut, printErr } from './io.ts';
import { noFaceLine } from './face-note.ts';

interface IndexFlags extends ModelFlags, AnnFlags {
  out?: string;
  store?: string;
  rebuild?: boolean;
  allowEmpty?: boolean;
  allowShrink?: boolean;
  rootChange?: boolean;
  followLinks?: boolean;
  enqueue?: boolean;
  jobSize?: string;
  jobTimeout?: string;
  retries?: string;
  retryDelay?: string;
  fields?: string;
}

/** The `index` command. */
export function indexCommand(): Command {
  const cmd = new Command('index')
    .description('embed every image under FOLDER and write (or update) an index')
    .argument('<folder>', 'folder of gallery images (searched recursively)')
    .option('-o, --out <index>', 'index folder to write, e.g. gallery.lkx')
    .option('--store <location>', 'same as --out (a folder, or a store URL)')
    .option('--rebuild', 'embed everything again into a new index built beside the old one, then swap it in')
    .option('--allow-empty', 'let a folder with no images empty an existing index (otherwise an error that leaves it untouched)')
    .option('--fields <file>', 'item fields from items.csv or items.jsonl, joined on a `path` column (docs/filters.md); label, folder, size, dates, width, height and EXIF are found automatically')
    .option('--allow-shrink', 'let this run remove more than half of the index, or anything when no image decoded (otherwise an error before anything is removed)')
    .option('--root-change', "index FOLDER in place of the folder the index was built from (a rebuild); without it another folder is an error")
    .option('--follow-links', 'follow symbolic links that lead out of FOLDER (skipped with a reason by default)')
    .option('--strict', 'exit with an error if any file was skipped')
    .option('--json', 'print a JSON summary, no progress');
  addModelOptions(cmd, true);
  cmd
    .option('--enqueue', 'with a postgres:// store: queue the images as jobs for `lookalike worker` instead of embedding here (SRC: a folder all workers mount, or a CSV with a path column)')
    .option('--job-size <n>', 'images per queued job (default 64)')
    .option('--job-timeout <s>', 'seconds a job may run before it is retried on another worker (default 600)')
    .option('--retries <n>', 'retries (with backoff) before a job is parked as failed (default 5)')
    .option('--retry-delay <s>', 'seconds before the first retry, doubling after (default 5)');
  addIndexAnnOptions(cmd);
  cmd.addHelpText('after', `
Example:
  lookalike index ./gallery --model ./clip/ --out gallery.lkx
  lookalike index ./gallery --model resnet50.onnx --pooling gem --out gallery.lkx   # re-run: only new/changed files are embedded
  lookalike index ./photos --model clip-vit-b32 --out big.lkx --ann on --ann-dtype f16   # ANN graph built now, not by the first search
  lookalike index ./shop --model mobilenet-v2-imagenet --out shop.lkx --fields items.csv   # price, brand... for --where

Progress is committed every 1,000 images or 30 s: after a crash or kill, run the same command
again and only the images not yet indexed are embedded.
--out must be a new path, an empty folder or a lookalike index: never a file, another folder,
the gallery itself or a folder containing it. Files deleted from the gallery are removed from
the index on the next run; to remove many items on purpose, delete them from the folder (or
index a smaller folder with --rebuild --allow-shrink); to empty an index, index an empty folder with
--allow-empty --root-change. A run that would remove more than half of the index, or anything when no image
decoded, stops before removing anything unless --allow-shrink. Items added over HTTP (POST /items)
or with Index.add are kept by a re-index. Another FOLDER than the one the index was built from
is an error unless --root-change. Links leading out of FOLDER are skipped unless --follow-links.`);
  cmd.action(async (folder: string, o: IndexFlags) => {
    const api = await import('../api.ts');
    if (o.out && o.store) throw new Error('give --out or --store, not both');
    const out = o.out ?? o.store;
    if (!out) throw new Error("required option '-o, --out <index>' (or --store) not specified");
    const skips = skipReporter(o.json);
    const { enqueue, jobSize, jobTimeout, retries, retryDelay, rebuild, allowEmpty, allowShrink, rootChange, followLinks, ann, annDtype } = o;
    if (enqueue) {
      const num = (v: string | undefined, option: string, min: number) => (v === undefined ? undefined : api.toInteger(v, option, min));
      const r = await api.enqueueFolder(folder, out, {
        model: modelSettings(o),
        jobSize: num(jobSize, 'jobSize', 1),
        jobTimeout: num(jobTimeout, 'jobTimeout', 1),
        retries: num(retries, 'retries', 0),
        retryDelay: num(retryDelay, 'retryDelay', 0),
        strict: o.strict,
        onSkip: skips.report,
      });
      if (o.json) return printJson({ store: r.store, queue: r.queue, listed: r.listed, queued: r.queued, jobs: r.jobs, unchanged: r.unchanged, removed: r.removed.length, skipped: r.skipped, removed_ids: r.removed });
      printOut(`${r.index}: ${r.listed} listed, ${r.queued} queued in ${r.jobs} jobs on ${r.queue}, ${r.unchanged} unchanged, ${r.removed.length} removed, ${r.skipped.length} skipped; run \`lookalike worker --store ...\` on each machine, \`lookalike status --store ...\` to follow\n`);
      return;
    }
    const bar = lazyProgress('embedding', o.json);
    const report = await api.indexFolder(folder, out, {
      model: modelSettings(o),
      rebuild,
      strict: o.strict,
      allowEmpty,
      fields: o.fields,
      allowShrink,
      rootChange,
      followLinks,
      ann: { mode: ann, dtype: annDtype },
      onNote: annMode(o).onNote,
      onSkip: skips.report,
      onProgress: bar.update,
      onPlan: (p) => {
        if (p.indexed || !o.json) printErr(`${out}: ${p.indexed} items indexed; ${p.unchanged} unchanged, embedding ${p.toEmbed}, removing ${p.toRemove}\n`);
      },
    });
    bar.end();
    const summary = {
      index: report.out,
      images: report.total,
      dim: report.dim,
      added: report.added.length,
      changed: report.changed.length,
      removed: report.removed.length,
      unchanged: report.unchanged,
      embedded: report.embedded,
      fields_updated: report.fieldsUpdated,
      fields_unmatched: report.fieldsUnmatched,
      skipped: report.skipped,
      ...(report.noFace ? { no_face: report.noFace } : {}),
    };
    if (report.noFace?.length) printErr(noFaceLine(report.noFace));
    if (o.json) printJson({ ...summary, added_ids: report.added, changed_ids: report.changed, removed_ids: report.removed });
    else {
      for (const id of report.added.slice(0, 20)) printOut(`+ ${id}\n`);
      for (const id of report.changed.slice(0, 20)) printOut(`~ ${id}\n`);
      for (const id of report.removed.slice(0, 20)) printOut(`- ${id}\n`);
      const more = report.added.length + report.changed.length + report.removed.length;
      if (more > 60) printOut(`(${more} changes in all)\n`);
      printOut(
        `${report.out}: ${report.total} images, ${report.dim}-d; ${summary.added} added, ${summary.changed} changed, ${summary.removed} removed, ${summary.unchanged} unchanged, ${report.skipped.length} skipped${report.fromApi ? `, ${report.fromApi} added through the API kept` : ''}${report.fieldsUpdated ? `; fields updated on ${report.fieldsUpdated}` : ''}\n`,
      );
      if (report.fieldsUnmatched) printErr(`${o.fields}: ${report.fieldsUnmatched} row(s) name no image of ${folder} (ignored)\n`);
    }
    if (o.strict && report.skipped.length) throw new Error(`--strict: ${report.skipped.length} file(s) skipped`);
  });
  return cmd;
}
