/**
 * `lookalike eval`: score rankings. Three inputs: an index plus labels.csv (leave-one-out or
 * query/gallery splits), a competition submission plus truth, or a rankings file (cases.json format).
 */
import { Command, Option } from 'commander';
import { DEFAULT_DEPTH, FULL_DEPTH_LIMIT, metricsHelp, parseKs, Progress } from '../schema.ts';
import type { CaptionEvalRun, EvalRun } from '../api.ts';
import { addAnnOptions, addRerankOption, addFilterOptions, filterMode, addStoreOption, annMode, setFlagNames, storeLocation, type AnnFlags, type FilterFlags } from './flags.ts';
import { printOut, printErr } from './io.ts';

/** Flags of `lookalike eval`. */
export interface EvalFlags extends AnnFlags, FilterFlags {
  labels?: string;
  rankings?: string;
  submission?: string;
  truth?: string;
  querySplit?: string;
  gallerySplit?: string;
  k: string;
  empty: 'skip' | 'zero';
  excludeSelf?: boolean;
  depth?: string;
  perQuery?: string;
  json?: boolean;
}

/** Run an evaluation from flags: parse them, call the library's evaluate, print its warnings. */
export async function runEvalFlags(index: string | undefined, o: EvalFlags): Promise<EvalRun> {
  const api = await import('../api.ts');
  let bar: Progress | undefined;
  let lastDone = 0;
  const run = await api.evaluate({
    index,
    labels: o.labels,
    rankings: o.rankings,
    submission: o.submission,
    truth: o.truth,
    querySplit: o.querySplit,
    gallerySplit: o.gallerySplit,
    ks: parseKs(o.k),
    empty: o.empty,
    excludeSelf: o.excludeSelf,
    depth: o.depth === undefined || o.depth === 'all' ? o.depth : api.toInteger(o.depth, 'depth', 1),
    search: { ...annMode(o), ...filterMode(o) },
    perQuery: o.perQuery,
    onProgress: (done, total) => {
      bar ??= new Progress('searching', total, { quiet: o.json });
      bar.tick(done - lastDone);
      lastDone = done;
    },
  });
  bar?.end();
  for (const w of run.warnings) printErr(`${w}\n`);
  return run;
}

/** The `eval` command. */
export function evalCommand(): Command {
  const cmd = new Command('eval')
    .description('score rankings: an index plus labels, a submission plus truth, or a rankings file')
    .argument('[index]', 'index folder from `lookalike index` (with --labels)')
    .option('--labels <csv>', 'labels CSV path,label[,domain][,split]; paths are index ids')
    .option('--query-split <name>', 'index mode: queries are the rows with this split (with --gallery-split)')
    .option('--gallery-split <name>', 'index mode: the gallery is the rows with this split')
    .option('--depth <n>', `index mode: ranked gallery items per query, or "all" (default: all up to ${FULL_DEPTH_LIMIT} items, else ${DEFAULT_DEPTH}); ap, map@r and r_precision count items past the depth as misses`)
    .option('--rankings <file>', 'rankings JSON {gallery: [{id,label,domain}], queries: [{id,label,domain,ranking}]}')
    .option('--submission <file>', 'competition submission {"query.jpg": ["gallery.jpg", ...]}')
    .option('--truth <file>', 'competition truth {"query.jpg": [relevant gallery ids]}')
    .option('--k <list>', 'cut-offs for the @k metrics', '1,5,10')
    .addOption(new Option('--empty <policy>', 'queries with no relevant gallery item').choices(['skip', 'zero']).default('skip'))
    .option('--exclude-self', 'rankings/submission: drop the gallery item whose id equals the query id (index mode always does)')
    .option('--per-query <file.csv>', 'write one CSV row per query')
    .option('--oxford <dir>', 'INDEX under the Oxford/Paris protocol: folder of NAME_query.txt, NAME_good.txt, NAME_ok.txt, NAME_junk.txt (prints oxford_map)')
    .option('--query-boxes', '--oxford: embed each query from its box in NAME_query.txt (the standard protocol) with the index\'s model; default: whole query images')
    .option('--captions <csv>', 'image<->text retrieval R@K on a captions CSV (path,caption): INDEX vectors, or images embedded with --model')
    .option('--model <model>', '--captions: text-image model folder or preset (default: the index\'s model)')
    .option('--root <dir>', '--captions without INDEX: folder the caption paths are relative to (default: the CSV\'s folder)')
    .option('--dtype <dtype>', '--captions: weight variant in the model folder')
    .option('--json', 'print {"mean": {...}, "queries_scored": n, "queries_skipped_no_relevant": [...]} instead of a table');
  addAnnOptions(cmd);
  addFilterOptions(cmd);
  addRerankOption(cmd);
  cmd.addHelpText(
    'after',
    `
Metrics (docs/metrics.md; declared once in src/metrics/registry.ts):
${metricsHelp()}
With --oxford: oxford_map (good+ok positive, junk removed, trapezoid AP).

Example:
  lookalike eval gallery.lkx --labels ../shared/datasets/clothing10/labels.csv
  lookalike eval gallery.lkx --labels labels.csv --query-split val --gallery-split train --k 1,5,10
  lookalike eval --submission sub.json --truth truth.json --json
  lookalike eval --rankings ../shared/metrics-golden/cases.json --per-query per-query.csv
  lookalike eval --captions ../shared/datasets/coco-mini/captions.csv --model clip-vit-b32
  lookalike eval coco.lkx --captions ../shared/datasets/coco-mini/captions.csv --json
  lookalike eval oxford.lkx --oxford ./oxford5k/gt --json
  lookalike eval oxford.lkx --oxford ./oxford5k/gt --query-boxes --rerank kr`,
  );
  addStoreOption(cmd);
  setFlagNames(cmd, { index: 'INDEX', ks: '--k' });
  cmd.action(async (indexArg: string | undefined, o: EvalFlags & { captions?: string; oxford?: string; queryBoxes?: boolean; model?: string; root?: string; dtype?: string; store?: string }) => {
    const index = indexArg === undefined && o.store === undefined ? undefined : storeLocation(indexArg, o.store);
    if (o.oxford) {
      if (!index) throw new Error('--oxford needs an INDEX argument (built over the Oxford images)');
      const api = await import('../api.ts');
      const r = await api.evaluateOxford(index, o.oxford, { search: annMode(o), queryBoxes: o.queryBoxes });
      printOut(o.json ? JSON.stringify({ mode: 'oxford', index, truth: o.oxford, ...r }, null, 2) + '\n' : `index ${index}, Oxford truth ${o.oxford}: ${r.queries_scored} queries, gallery of ${r.gallery_size}\noxford_map ${r.mean.oxford_map.toFixed(4)}\n`);
      return;
    }
    if (o.captions) {
      const api = await import('../api.ts');
      const r = await api.evaluateCaptions({ index, captions: o.captions, model: o.model, dtype: o.dtype, root: o.root, ks: parseKs(o.k) });
      printOut(o.json ? JSON.stringify({ mode: 'captions', ...r }, null, 2) + '\n' : formatCaptionEval(r));
      return;
    }
    const run = await runEvalFlags(index, o);
    printOut(o.json ? JSON.stringify(run.json, null, 2) + '\n' : run.table);
  });
  return cmd;
}

/** Table text of a caption evaluation. */
export function formatCaptionEval(r: CaptionEvalRun): string {
  const ks = Object.keys(r.imageToText).map(Number);
  const pct = (v: number) => (100 * v).toFixed(1).padStart(6);
  const lines = [
    `captions ${r.captionsFile} (model ${r.model}): ${r.images} images, ${r.captions} captions${r.missing ? `, ${r.missing} captions without an image left out` : ''}`,
    `direction      ${ks.map((k) => `R@${k}`.padStart(6)).join(' ')}`,
    `image->text    ${ks.map((k) => pct(r.imageToText[k])).join(' ')}`,
    `text->image    ${ks.map((k) => pct(r.textToImage[k])).join(' ')}`,
  ];
  return lines.join('\n') + '\n';
}

