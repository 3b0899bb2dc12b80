/** The approximate-search flags (`--ann`, `--ef`, `--ann-dtype`) shared by search, compete, eval, index and serve. */
import { Command, Option } from 'commander';
import { ANN_AUTO_MIN, ANN_DEFAULT_EF, type AnnDtype, type AnnMode } from '../store/ann-mode.ts';
import type { SearchMode } from '../index/search.ts';
import { parseInteger } from './options.ts';

/** Parsed-flag fields these options add. */
export interface AnnFlags {
  ann?: AnnMode;
  ef?: string;
  annDtype?: AnnDtype;
  json?: boolean;
}

/** Add --ann and --ann-dtype to `index`: whether to build the graph at index time. */
export function addIndexAnnOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('--ann <mode>', `build (or update) the ANN graph with the index, so the first approximate search does not pay for it: auto = from ${ANN_AUTO_MIN.toLocaleString('en-US')} items`).choices(['auto', 'on', 'off']).default('auto'))
    .addOption(new Option('--ann-dtype <dtype>', 'how the graph stores vectors (f32, f16 = half the vector memory, i8 = a quarter)').choices(['f32', 'f16', 'i8']));
}

/** Add --ann, --ef and --ann-dtype to a command. */
export function addAnnOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('--ann <mode>', `approximate search through the HNSW graph kept beside the index: auto = on from ${ANN_AUTO_MIN.toLocaleString('en-US')} items`).choices(['auto', 'on', 'off']).default('auto'))
    .option('--ef <n>', `ANN search depth (HNSW ef; candidates per query = max(4k, ef); default ${ANN_DEFAULT_EF})`)
    .addOption(new Option('--ann-dtype <dtype>', 'how the graph stores vectors when it is built (scores are always re-computed from the float vectors)').choices(['f32', 'f16', 'i8']));
}

/** The SearchMode the flags ask for; notes about building the graph go to stderr unless --json. */
export function annMode(o: AnnFlags): SearchMode {
  return {
    ann: o.ann ?? 'auto',
    ef: o.ef === undefined ? undefined : parseInteger(o.ef, '--ef', 1),
    annDtype: o.annDtype,
    onNote: o.json ? undefined : (msg) => process.stderr.write(`${msg}\n`),
  };
}
