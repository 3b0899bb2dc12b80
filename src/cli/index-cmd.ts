/** `lookalike index FOLDER --model M --out X.lkx`: embed a gallery folder into an index. */
import { Command } from 'commander';
import { buildIndex } from '../index/build.ts';
import { checkIndexOut } from '../index/guard.ts';
import { addEnqueueOptions, runEnqueue, type EnqueueFlags } from './enqueue.ts';
import { addIndexAnnOptions, annMode, type AnnFlags } from './ann-options.ts';
import { addModelOptions, lazyProgress, openModel, printJson, runtimeFlags, skipReporter, type ModelFlags } from './options.ts';

interface IndexFlags extends ModelFlags, EnqueueFlags, AnnFlags {
  out?: string;
  store?: string;
  rebuild?: boolean;
  allowEmpty?: boolean;
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
    .option('--strict', 'exit with an error if any file was skipped')
    .option('--json', 'print a JSON summary, no progress');
  addModelOptions(cmd, true);
  addEnqueueOptions(cmd);
  addIndexAnnOptions(cmd);
  cmd.addHelpText('after', `
Example:
  lookalike index ./gallery --model ./clip/ --out gallery.lkx
  lookalike index ./gallery --model resnet50.onnx --pooling gem --out gallery.lkx   # re-run: only new/changed files are embedded
  lookalike index ./photos --model clip-vit-b32 --out big.lkx --ann on --ann-dtype f16   # ANN graph built now, not by the first search

Progress is committed every 1,000 images or 30 s: after a crash or kill, run the same command
again and only the images not yet indexed are embedded.
--out must be a new path, an empty folder or a lookalike index: never a file, another folder,
the gallery itself or a folder containing it. Files deleted from the gallery are removed from
the index on the next run; to remove many items on purpose, delete them from the folder (or
index a smaller folder with --rebuild); to empty an index, index an empty folder with --allow-empty.`);
  cmd.action(async (folder: string, o: IndexFlags) => {
    if (o.out && o.store) throw new Error('give --out or --store, not both');
    const out = o.out ?? o.store;
    if (!out) throw new Error("required option '-o, --out <index>' (or --store) not specified");
    if (o.enqueue) return runEnqueue(folder, out, o);
    // Refuse a wrong --out before loading the model or reading any image.
    checkIndexOut(out, folder);
    const { backbone, head } = await openModel(o);
    const skips = skipReporter(o.json);
    const bar = lazyProgress('embedding', o.json);
    const report = await buildIndex({
      folder,
      out,
      backbone,
      head,
      rebuild: o.rebuild,
      strict: o.strict,
      batchSize: runtimeFlags(o).batchSize,
      allowEmpty: o.allowEmpty,
      ann: { mode: o.ann, dtype: o.annDtype, onNote: annMode(o).onNote },
      onSkip: skips.report,
      onProgress: bar.update,
      onPlan: (p) => {
        if (p.indexed || !o.json) process.stderr.write(`${out}: ${p.indexed} items indexed; ${p.unchanged} unchanged, embedding ${p.toEmbed}, removing ${p.toRemove}\n`);
      },
    });
    bar.end();
    await backbone.dispose();
    await head?.dispose();
    const summary = {
      index: report.out,
      images: report.total,
      dim: report.dim,
      added: report.added.length,
      changed: report.changed.length,
      removed: report.removed.length,
      unchanged: report.unchanged,
      embedded: report.embedded,
      skipped: report.skipped,
    };
    if (o.json) printJson({ ...summary, added_ids: report.added, changed_ids: report.changed, removed_ids: report.removed });
    else {
      for (const id of report.added.slice(0, 20)) process.stdout.write(`+ ${id}\n`);
      for (const id of report.changed.slice(0, 20)) process.stdout.write(`~ ${id}\n`);
      for (const id of report.removed.slice(0, 20)) process.stdout.write(`- ${id}\n`);
      const more = report.added.length + report.changed.length + report.removed.length;
      if (more > 60) process.stdout.write(`(${more} changes in all)\n`);
      process.stdout.write(
        `${report.out}: ${report.total} images, ${report.dim}-d; ${summary.added} added, ${summary.changed} changed, ${summary.removed} removed, ${summary.unchanged} unchanged, ${report.skipped.length} skipped\n`,
      );
    }
    if (o.strict && report.skipped.length) throw new Error(`--strict: ${report.skipped.length} file(s) skipped`);
  });
  return cmd;
}
