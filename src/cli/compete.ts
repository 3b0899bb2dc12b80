/** `lookalike compete DIR`: embed DIR/gallery and DIR/query, write the top-k submission JSON. */
import path from 'node:path';
import { Command } from 'commander';
import { listFolder } from '../data/images.ts';
import { embedImages } from '../embed/pipeline.ts';
import { searchExact } from '../index/exact.ts';
import { toResults } from '../index/search.ts';
import { writeSubmission } from '../metrics/competition.ts';
import { addModelOptions, embedProgress, openModel, printJson, skipReporter, type ModelFlags } from './options.ts';
import { toSubmission } from './search.ts';

interface CompeteFlags extends ModelFlags {
  k: string;
  out: string;
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
  cmd.addHelpText('after', `
Example:
  lookalike compete ../shared/datasets/cufs-sketch/test --model face-mobileface -k 10 --out sub.json
  lookalike eval --submission sub.json --truth ../shared/datasets/cufs-sketch/truth.json`);
  cmd.action(async (dir: string, o: CompeteFlags) => {
    const k = Number(o.k);
    if (!Number.isInteger(k) || k < 1) throw new Error(`-k ${o.k}: expected a positive integer`);
    const qDir = path.join(dir, 'query');
    const gDir = path.join(dir, 'gallery');
    const q = listFolder(qDir);
    const g = listFolder(gDir);
    if (!g.images.length) throw new Error(`${gDir}: no gallery images`);
    const { backbone, head } = await openModel(o);
    const skips = skipReporter(o.json);
    for (const f of [...q.others.map((x) => `query/${x}`), ...g.others.map((x) => `gallery/${x}`)]) skips.report({ id: f, reason: 'unsupported file type' });
    const embed = async (folder: string, ids: string[], label: string) => {
      const bar = embedProgress(label, ids.length, o.json);
      const r = await embedImages(backbone, ids.map((id) => ({ id, source: path.join(folder, id) })), {
        head,
        onSkip: (s) => skips.report({ ...s, id: `${label}/${s.id}` }),
        onProgress: (n) => bar.tick(n),
      });
      bar.end();
      return r;
    };
    const gallery = await embed(gDir, g.images, 'gallery');
    const queries = await embed(qDir, q.images, 'query');
    await backbone.dispose();
    await head?.dispose();
    const top = await searchExact(gallery.vectors, queries.vectors, gallery.dim, k);
    const sub = toSubmission(toResults(queries.ids, top, gallery.ids));
    writeSubmission(o.out, sub);
    const summary = { out: o.out, queries: queries.ids.length, gallery: gallery.ids.length, k, skipped: skips.list };
    if (o.json) printJson(summary);
    else process.stdout.write(`${o.out}: ${summary.queries} queries x top-${k} of ${summary.gallery} gallery images; ${skips.list.length} skipped\n`);
    if (o.strict && skips.list.length) throw new Error(`--strict: ${skips.list.length} file(s) skipped`);
  });
  return cmd;
}
