/** `lookalike search INDEX QUERY...`: top-k gallery items for image files, folders or ids. */
import fs from 'node:fs';
import path from 'node:path';
import { Command } from 'commander';
import { listFolder, listingSkips, type ListingSkip } from '../data/images.ts';
import { embedImages, type EmbedItem } from '../embed/pipeline.ts';
import { searchByEmbeddings, searchByIds, type QueryResult } from '../index/search.ts';
import { loadIndex } from '../index/store.ts';
import { writeSubmission } from '../metrics/competition.ts';
import { embedTextQueries } from './text-query.ts';
import { addAnnOptions, annMode, type AnnFlags } from './ann-options.ts';
import { guardOutput, OUTPUT_KINDS } from '../util/outputs.ts';
import { addModelOptions, embedProgress, openModelForIndex, parseK, printJson, skipReporter, type ModelFlags } from './options.ts';

interface SearchFlags extends ModelFlags, AnnFlags {
  k: string;
  id?: string[];
  excludeSelf?: boolean;
  submission?: string;
  text?: string[];
}

/** A query image: the key it is reported under and the id it would have in the index. */
export interface QueryFile {
  key: string;
  file: string;
}

/** Expand query arguments (files and folders) into query files keyed by name relative to their folder. */
/**
 * Expand query arguments (files and folders) into query files keyed by name relative to their
 * folder, plus the entries skipped while listing. A folder without images is an error.
 */
export function expandQueries(args: string[]): { files: QueryFile[]; skipped: ListingSkip[] } {
  const files: QueryFile[] = [];
  const skipped: ListingSkip[] = [];
  for (const a of args) {
    if (!fs.existsSync(a)) throw new Error(`${a}: no such file or folder`);
    if (fs.statSync(a).isDirectory()) {
      const l = listFolder(a);
      if (!l.images.length) throw new Error(`${a}: no query images in this folder`);
      files.push(...l.images.map((rel) => ({ key: rel, file: path.join(a, rel) })));
      skipped.push(...listingSkips(l).map((s) => ({ ...s, id: path.join(a, s.id) })));
    } else files.push({ key: path.basename(a), file: a });
  }
  return { files, skipped };
}

/** Print results as a readable table. */
export function printResults(results: QueryResult[]): void {
  for (const r of results) {
    process.stdout.write(`${r.query}\n`);
    for (const h of r.hits) process.stdout.write(`  ${String(h.rank).padStart(3)}  ${h.score.toFixed(4)}  ${h.id}\n`);
  }
}

/** Submission object: query key -> ranked gallery ids. */
export function toSubmission(results: QueryResult[]): Record<string, string[]> {
  return Object.fromEntries(results.map((r) => [r.query, r.hits.map((h) => h.id)]));
}

/** The `search` command. */
export function searchCommand(): Command {
  const cmd = new Command('search')
    .description('find the top-k most similar gallery items for query images, folders, or indexed ids')
    .argument('<index>', 'index folder written by `lookalike index`')
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
  cmd.addHelpText('after', `
Example:
  lookalike search gallery.lkx ./query.jpg -k 10
  lookalike search big.lkx ./queries/ -k 10 --ann on --ef 128
  lookalike search gallery.lkx ./queries/ -k 10 --submission sub.json
  lookalike search gallery.lkx --id shoes/0001.jpg --exclude-self --json
  lookalike search gallery.lkx --text "a red dress" -k 5`);
  cmd.action(async (indexDir: string, queryArgs: string[], o: SearchFlags) => {
    const k = parseK(o.k);
    if (o.submission) guardOutput(o.submission, { flag: '--submission', kind: OUTPUT_KINDS.submission, inputs: [indexDir, ...queryArgs, o.head] });
    const index = loadIndex(indexDir);
    const mode = annMode(o);
    const results: QueryResult[] = [];
    const skips = skipReporter(o.json);
    if (o.id?.length) results.push(...(await searchByIds(index, o.id, k, o.excludeSelf, mode)));
    if (queryArgs.length) {
      const { files, skipped } = expandQueries(queryArgs);
      for (const s of skipped) skips.report(s);
      const { backbone, head } = await openModelForIndex(index.manifest, o, indexDir);
      // The id a query would have in the index (for --exclude-self), when it lies under the indexed folder.
      const idOf = (f: string) => {
        const rel = path.relative(index.manifest.root, path.resolve(f));
        return rel.startsWith('..') || path.isAbsolute(rel) ? `query:${f}` : rel.split(path.sep).join('/');
      };
      const items: EmbedItem[] = files.map((f) => ({ id: idOf(f.file), source: f.file }));
      const keyOf = new Map(files.map((f, i) => [items[i].id, f.key]));
      const bar = embedProgress('queries', items.length, o.json);
      // A query that cannot be decoded is reported under the path it was given as.
      const fileOf = new Map(files.map((f, i) => [items[i].id, f.file]));
      const emb = await embedImages(backbone, items, { head, onSkip: (s) => skips.report({ ...s, id: fileOf.get(s.id) ?? s.id }), onProgress: (n) => bar.tick(n) });
      bar.end();
      await backbone.dispose();
      await head?.dispose();
      const res = await searchByEmbeddings(index, emb, k, o.excludeSelf, mode);
      results.push(...res.map((r) => ({ ...r, query: keyOf.get(r.query) ?? r.query })));
    }
    if (o.text?.length) results.push(...(await searchByEmbeddings(index, await embedTextQueries(index, o.text, o), k, false, mode)));
    if (!o.id?.length && !queryArgs.length && !o.text?.length) throw new Error('give query images/folders, --id or --text');
    // --strict decides before anything is written or printed.
    if (o.strict && skips.list.length) throw new Error(`--strict: ${skips.list.length} query file(s) skipped${o.submission ? `; ${o.submission} was not written` : ''}`);
    if (o.submission) writeSubmission(o.submission, toSubmission(results));
    if (o.json) printJson({ k, results, skipped: skips.list });
    else printResults(results);
  });
  return cmd;
}
