/** `lookalike compete DIR`: embed DIR/gallery and DIR/query, write the top-k submission JSON. */
import path from 'node:path';
import { Command } from 'commander';
import { listFolder, listingSkips } from '../data/images.ts';
import { embedImages } from '../embed/pipeline.ts';
import { searchExact } from '../index/exact.ts';
import { toResults } from '../index/search.ts';
import { writeSubmission, type Submission } from '../metrics/competition.ts';
import type { Backbone } from '../models/backbone.ts';
import type { Head } from '../embed/head.ts';
import type { Skipped } from '../embed/pipeline.ts';
import { addModelOptions, embedProgress, openModel, parseK, printJson, skipReporter, type ModelFlags } from './options.ts';
import { toSubmission } from './search.ts';
import { addAnnOptions, annMode, type AnnFlags } from './ann-options.ts';
import type { SearchMode } from '../index/search.ts';
import { annSearchMatrix, useAnn } from '../store/ann-search.ts';
import { ANN_DEFAULTS } from '../store/ann.ts';
import { guardOutput, OUTPUT_KINDS } from '../util/outputs.ts';

interface CompeteFlags extends ModelFlags, AnnFlags {
  k: string;
  out: string;
}

/**
 * Rank DIR/gallery for every image in DIR/query: the submission object (query file name ->
 * k gallery file names) and the counts. Undecodable files go to onSkip as query/... or gallery/....
 */
export async function competeSubmission(
  dir: string,
  backbone: Backbone,
  k: number,
  opts: { head?: Head; json?: boolean; onSkip?: (s: Skipped) => void; search?: SearchMode } = {},
): Promise<{ submission: Submission; queries: number; gallery: number }> {
  const qDir = path.join(dir, 'query');
  const gDir = path.join(dir, 'gallery');
  const q = listFolder(qDir);
  const g = listFolder(gDir);
  if (!g.images.length) throw new Error(`${gDir}: no gallery images`);
  if (!q.images.length) throw new Error(`${qDir}: no query images`);
  for (const s of [...listingSkips(q, 'query/'), ...listingSkips(g, 'gallery/')]) opts.onSkip?.(s);
  const embed = async (folder: string, ids: string[], label: string) => {
    const bar = embedProgress(label, ids.length, opts.json);
    const r = await embedImages(backbone, ids.map((id) => ({ id, source: path.join(folder, id) })), {
      head: opts.head,
      onSkip: (s) => opts.onSkip?.({ ...s, id: `${label}/${s.id}` }),
      onProgress: (n) => bar.tick(n),
    });
    bar.end();
    return r;
  };
  const gallery = await embed(gDir, g.images, 'gallery');
  const queries = await embed(qDir, q.images, 'query');
  const mode = opts.search ?? {};
  const results = useAnn(mode.ann, gallery.ids.length)
    ? (await annSearchMatrix(gallery.ids, gallery.vectors, gallery.dim, queries.vectors, { k, ef: mode.ef, params: mode.annDtype ? { ...ANN_DEFAULTS, dtype: mode.annDtype } : undefined })).map((hits, i) => ({ query: queries.ids[i], hits }))
    : toResults(queries.ids, await searchExact(gallery.vectors, queries.vectors, gallery.dim, k), gallery.ids);
  return { submission: toSubmission(results), queries: queries.ids.length, gallery: gallery.ids.length };
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
    const { backbone, head } = await openModel(o);
    const skips = skipReporter(o.json);
    const r = await competeSubmission(dir, backbone, k, { head, json: o.json, onSkip: skips.report, search: annMode(o) });
    await backbone.dispose();
    await head?.dispose();
    // --strict decides before anything is written.
    if (o.strict && skips.list.length) throw new Error(`--strict: ${skips.list.length} file(s) skipped; ${o.out} was not written`);
    writeSubmission(o.out, r.submission);
    const summary = { out: o.out, queries: r.queries, gallery: r.gallery, k, skipped: skips.list };
    if (o.json) printJson(summary);
    else process.stdout.write(`${o.out}: ${summary.queries} queries x top-${k} of ${summary.gallery} gallery images; ${skips.list.length} skipped\n`);
  });
  return cmd;
}
