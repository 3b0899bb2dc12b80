/** `lookalike search INDEX QUERY...`: top-k gallery items for image files, folders or ids. */
import { Command } from 'commander';
import { addStoreOption } from './store-option.ts';
import { searchByEmbeddings, searchByIds, type QueryResult } from '../index/search.ts';
import { expandQueries, searchFiles, toSubmission } from '../index/query.ts';
import { openStore } from '../store/open.ts';
import { writeSubmission } from '../metrics/competition.ts';
import { embedTextQueries, textTargetOf } from '../embed/captions.ts';
import { closeModel } from '../models/open.ts';
import { addAnnOptions, annMode, type AnnFlags } from './ann-options.ts';
import { guardOutput, OUTPUT_KINDS } from '../util/outputs.ts';
import { addModelOptions, embedProgress, openModelForIndex, parseK, printJson, runtimeFlags, skipReporter, type ModelFlags } from './options.ts';

interface SearchFlags extends ModelFlags, AnnFlags {
  k: string;
  id?: string[];
  excludeSelf?: boolean;
  submission?: string;
  text?: string[];
  store?: string;
}

/** Print results as a readable table. */
export function printResults(results: QueryResult[]): void {
  for (const r of results) {
    process.stdout.write(`${r.query}\n`);
    for (const h of r.hits) process.stdout.write(`  ${String(h.rank).padStart(3)}  ${h.score.toFixed(4)}  ${h.id}\n`);
  }
}

/** The `search` command. */
export function searchCommand(): Command {
  const cmd = new Command('search')
    .description('find the top-k most similar gallery items for query images, folders, or indexed ids')
    .argument('[index]', 'index folder written by `lookalike index` (or --store LOCATION)')
    .argument('[queries...]', 'query image files or folders')
    .option('-k, --k <k>', 'results per query', '10')
    .option('--id <id...>', 'query with items already in the index (their relative paths)')
    .option('--exclude-self', 'leave the query itself out of its results (matched by id)')
    .option('--submission <file>', 'also write {"query.jpg": ["gallery.jpg", ...]} to this file')
    .option('--text <query...>', 'text queries (text-image models: CLIP, SigLIP); the text tower comes from the index\'s model or --model')
    .option('--strict', 'exit with an error if any query file was skipped')
    .option('--json', 'print results as JSON');
  addModelOptions(cmd);
  addAnnOptions(cmd);
  addStoreOption(cmd);
  cmd.addHelpText('after', `
Example:
  lookalike search gallery.lkx ./query.jpg -k 10
  lookalike search big.lkx ./queries/ -k 10 --ann on --ef 128
  lookalike search gallery.lkx ./queries/ -k 10 --submission sub.json
  lookalike search gallery.lkx --id shoes/0001.jpg --exclude-self --json
  lookalike search gallery.lkx --text "a red dress" -k 5`);
  cmd.action(async (first: string | undefined, rest: string[], o: SearchFlags) => {
    // With --store, every positional argument is a query.
    const indexDir = o.store ?? first;
    const queryArgs = o.store && first !== undefined ? [first, ...rest] : rest;
    if (!indexDir) throw new Error('give the index: INDEX or --store LOCATION');
    const k = parseK(o.k);
    if (o.submission) guardOutput(o.submission, { flag: '--submission', kind: OUTPUT_KINDS.submission, inputs: [indexDir, ...queryArgs, o.head] });
    // The index is searched through its store (bounded-memory exact search or the ANN graph).
    const index = await openStore(indexDir);
    const mode = annMode(o);
    const results: QueryResult[] = [];
    const skips = skipReporter(o.json);
    try {
      if (!o.id?.length && !queryArgs.length && !o.text?.length) throw new Error('give query images/folders, --id or --text');
      if (o.id?.length) results.push(...(await searchByIds(index, o.id, k, o.excludeSelf, mode)));
      if (queryArgs.length) {
        const { files, skipped } = expandQueries(queryArgs);
        for (const s of skipped) skips.report(s);
        const model = await openModelForIndex(await index.meta(), o, indexDir);
        const bar = embedProgress('queries', files.length, o.json);
        try {
          results.push(...(await searchFiles(index, files, model, { k, excludeSelf: o.excludeSelf, search: mode, batchSize: runtimeFlags(o).batchSize, onSkip: skips.report, onProgress: (n) => bar.tick(n) })));
        } finally {
          bar.end();
          await closeModel(model);
        }
      }
      if (o.text?.length) results.push(...(await searchByEmbeddings(index, await embedTextQueries(await textTargetOf(index), o.text, { model: o.model, dtype: o.dtype, runtime: runtimeFlags(o) }), k, false, mode)));
    } finally {
      await index.close();
    }
    // --strict decides before anything is written or printed.
    if (o.strict && skips.list.length) throw new Error(`--strict: ${skips.list.length} query file(s) skipped${o.submission ? `; ${o.submission} was not written` : ''}`);
    if (o.submission) writeSubmission(o.submission, toSubmission(results));
    if (o.json) printJson({ k, results, skipped: skips.list });
    else printResults(results);
  });
  return cmd;
}
