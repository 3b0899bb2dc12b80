/** `lookalike search INDEX QUERY...`: top-k gallery items for image files, folders, ids or texts. */
import { Command } from 'commander';
import { Progress } from '../schema.ts';
import type { QueryResult } from '../api.ts';
import { addAnnOptions, addFilterOptions, addModelOptions, addRerankOption, addStoreOption, annMode, filterMode, modelSettings, printJson, setFlagNames, skipReporter, type AnnFlags, type FilterFlags, type ModelFlags } from './flags.ts';
import { printErr, printOut } from './io.ts';
import { noFaceLine } from './face-note.ts';

interface SearchFlags extends ModelFlags, AnnFlags, FilterFlags {
  k: string;
  offset?: string;
  groupBy?: string;
  perGroup?: string;
  like?: string[];
  unlike?: string[];
  unlikeWeight?: string;
  fields?: boolean;
  id?: string[];
  excludeSelf?: boolean;
  submission?: string;
  text?: string[];
  store?: string;
}

/** Print results as a readable table (with each hit's fields when they were asked for). */
export function printResults(results: QueryResult[]): void {
  for (const r of results) {
    printOut(`${r.query}\n`);
    for (const h of r.hits) printOut(`  ${String(h.rank).padStart(3)}  ${h.score.toFixed(4)}  ${h.id}${h.fields ? `  ${fieldText(h.fields)}` : ''}\n`);
  }
}

function fieldText(f: Record<string, unknown>): string {
  return Object.entries(f)
    .map(([k, v]) => `${k}=${Array.isArray(v) ? v.join('|') : String(v)}`)
    .join(' ');
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
    .option('--like <example...>', 'one query made of several examples (indexed ids or image files), e.g. --like a.jpg b.jpg')
    .option('--unlike <example...>', 'negative examples for --like (results move away from them)')
    .option('--unlike-weight <w>', 'weight of the negatives\' mean (default 0.5; docs/filters.md)')
    .option('--offset <n>', 'skip the first n results (paging: page p of size k is --offset p*k)')
    .option('--group-by <field>', 'at most --per-group results per value of this field')
    .option('--per-group <n>', 'results per group with --group-by (default 1)')
    .option('--fields', 'show each result\'s fields')
    .option('--strict', 'exit with an error if any query file was skipped')
    .option('--json', 'print results as JSON');
  addModelOptions(cmd);
  addAnnOptions(cmd);
  addFilterOptions(cmd);
  addRerankOption(cmd);
  addStoreOption(cmd);
  setFlagNames(cmd, { ids: '--id', texts: '--text' });
  cmd.addHelpText('after', `
Example:
  lookalike search gallery.lkx ./query.jpg -k 10
  lookalike search big.lkx ./queries/ -k 10 --ann on --ef 128
  lookalike search gallery.lkx ./queries/ -k 10 --submission sub.json
  lookalike search gallery.lkx ./queries/ -k 10 --rerank dba+aqe:n=3,alpha=3
  lookalike search gallery.lkx --id shoes/0001.jpg --exclude-self --json
  lookalike search gallery.lkx --text "a red dress" -k 5
  lookalike search gallery.lkx --id shoes/0001.jpg --where 'label = "Shoes" and size < 50000' --fields
  lookalike search gallery.lkx --like shoes/0001.jpg shoes/0002.jpg --unlike boots/0003.jpg -k 20 --offset 20
  lookalike search gallery.lkx ./query.jpg --group-by folder --min-score 0.5`);
  cmd.action(async (first: string | undefined, rest: string[], o: SearchFlags) => {
    const api = await import('../api.ts');
    // With --store, every positional argument is a query.
    const location = o.store ?? first;
    const files = o.store && first !== undefined ? [first, ...rest] : rest;
    if (!location) throw new Error('give the index: INDEX or --store LOCATION');
    const k = api.checkK(o.k);
    const skips = skipReporter(o.json);
    const { id, excludeSelf, submission, text } = o;
    let bar: Progress | undefined;
    const noFace: string[] = [];
    const num = (v: string | undefined, option: string) => (v === undefined ? undefined : api.toInteger(v, option));
    const { results } = await api.search(location, { files, ids: id, texts: text, like: o.like, unlike: o.unlike }, {
      ...annMode(o),
      ...filterMode(o),
      offset: num(o.offset, 'offset'),
      groupBy: o.groupBy,
      perGroup: num(o.perGroup, 'perGroup'),
      unlikeWeight: o.unlikeWeight === undefined ? undefined : api.toNumber(o.unlikeWeight, 'unlikeWeight'),
      withFields: o.fields,
      k,
      excludeSelf,
      submission,
      strict: o.strict,
      model: modelSettings(o),
      onSkip: skips.report,
      onNoFace: (q) => noFace.push(q),
      onProgress: (done, total) => {
        bar ??= new Progress('queries', total, { quiet: o.json });
        bar.update(done);
      },
    });
    bar?.end();
    if (noFace.length) printErr(noFaceLine(noFace));
    if (o.json) printJson({ k, results, skipped: skips.list, ...(noFace.length ? { no_face: noFace } : {}) });
    else printResults(results);
  });
  return cmd;
}
