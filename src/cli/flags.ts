/**
 * Flags shared by several commands (model and runtime, ANN, --store) and the shell's output
 * helpers. Flags are named after the library's options (camelCase option = kebab-case flag),
 * so a command passes what commander parsed straight to the library; the library's
 * OptionErrors are shown with the flag names (flagOf).
 */
import { Command, Option } from 'commander';
import { ANN_AUTO_MIN, ANN_DEFAULT_EF, checkEf, checkMinScore, config, Progress, rerankHelp, VIEWS_HELP, type AnnDtype, type AnnMode, type ModelSettings } from '../schema.ts';
import type { Skipped } from '../api.ts';
import { printOut, printErr } from './io.ts';

/** Model settings as flags give them, plus the output switches every command has. */
export interface ModelFlags extends ModelSettings {
  json?: boolean;
  strict?: boolean;
}

/** Add the model and runtime flags to a command. */
export function addModelOptions(cmd: Command, required = false): Command {
  const m = new Option('-m, --model <model>', 'ONNX file, Hugging Face folder, TF.js model.json, preset name, or hf:owner/name (downloads only for presets and hf: ids)');
  if (required) m.makeOptionMandatory();
  return cmd
    .addOption(m)
    .option('--dtype <dtype>', 'weight variant in a model folder: fp32, fp16, quantized, int8, uint8, q4')
    .addOption(new Option('--feature <kind>', 'projected embedding (image_embeds) or the pre-projection feature, where the graph has both').choices(['projected', 'pre-projection']))
    .option('--head <file>', 'tuned head (.onnx from `lookalike tune`) applied after pooling')
    .option('--input-name <name>', 'graph input to feed (default: first image input)')
    .option('--output <name>', 'graph output or node to read (default: first output)')
    .addOption(new Option('--pooling <mode>', 'reduce the output to a vector').choices(['auto', 'none', 'cls', 'mean', 'gap', 'gem']))
    .option('--gem-p <p>', 'GeM exponent (default 3)')
    .option('--resize <n|HxW>', 'resize shortest edge to n, or to exactly HxW')
    .option('--crop <n|HxW|none|face>', 'center crop after resizing; face: the largest face, aligned by the eyes (docs/faces.md)')
    .option('--mean <r,g,b>', 'per-channel mean after rescaling (default ImageNet)')
    .option('--std <r,g,b>', 'per-channel std (default ImageNet)')
    .option('--rescale <f>', 'multiply 0..255 pixels by f first (default 1/255)')
    .option('--bgr', 'feed channels in BGR order')
    .addOption(new Option('--layout <layout>', 'input tensor layout').choices(['nchw', 'nhwc']))
    .option('--prefix-tokens <n>', "special tokens skipped by 'mean' pooling (default 1)")
    .option('--views <views>', `${VIEWS_HELP} (docs/ranking.md)`)
    .option('--threads <n>', 'inference threads (default: every core)')
    .addOption(new Option('--device <device>', 'execution device').choices(['cpu', 'cuda']))
    .option('--batch <n>', `images per batch (default ${config.batchSize})`);
}

/** The model settings in parsed flags (the library reads the model, spec, head and runtime fields and ignores the command's other flags). */
export function modelSettings(o: ModelFlags): ModelSettings {
  const { json: _json, strict: _strict, ...s } = o;
  return s;
}

/** Parsed-flag fields the ANN options add. */
export interface AnnFlags {
  ann?: AnnMode;
  ef?: string;
  annDtype?: AnnDtype;
  rerank?: string;
  json?: boolean;
}

/** ANN_AUTO_MIN with thousands separators, without toLocaleString: that loads ICU's number formats, about 30 ms of every command's start. */
const AUTO_MIN_TEXT = String(ANN_AUTO_MIN).replace(/\B(?=(\d{3})+$)/g, ',');

/** Add --ann and --ann-dtype to `index`: whether to build the graph at index time. */
export function addIndexAnnOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('--ann <mode>', `build (or update) the ANN graph with the index, so the first approximate search does not pay for it: auto = from ${AUTO_MIN_TEXT} items`).choices(['auto', 'on', 'off']).default('auto'))
    .addOption(new Option('--ann-dtype <dtype>', 'how the graph stores vectors (f32, f16 = half the vector memory, i8 = a quarter)').choices(['f32', 'f16', 'i8']));
}

/** Add --ann, --ef and --ann-dtype to a command. */
export function addAnnOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('--ann <mode>', `approximate search through the HNSW graph kept beside the index: auto = on from ${AUTO_MIN_TEXT} items`).choices(['auto', 'on', 'off']).default('auto'))
    .option('--ef <n>', `ANN search depth (HNSW ef; candidates per query = max(4k, ef); default ${ANN_DEFAULT_EF})`)
    .addOption(new Option('--ann-dtype <dtype>', 'how the graph stores vectors when it is built (scores are always re-computed from the float vectors)').choices(['f32', 'f16', 'i8']));
}

/** Add --rerank to a command that ranks (search, compete, eval, serve): the methods are declared once in the library. */
export function addRerankOption(cmd: Command): Command {
  return cmd.option('--rerank <methods>', `re-rank with METHOD[:PARAM=V,...] joined by + (docs/ranking.md): ${rerankHelp()}`);
}

/** The search mode the ANN (and --rerank) flags ask for; notes about building the graph go to stderr unless --json. */
export function annMode(o: AnnFlags): { ann: AnnMode; ef?: number; annDtype?: AnnDtype; rerank?: string; onNote?: (msg: string) => void } {
  return {
    ann: o.ann ?? 'auto',
    ef: o.ef === undefined ? undefined : checkEf(o.ef),
    annDtype: o.annDtype,
    ...(o.rerank === undefined ? {} : { rerank: o.rerank }),
    onNote: o.json ? undefined : (msg) => printErr(`${msg}\n`),
  };
}

/** Parsed-flag fields the filter options add. */
export interface FilterFlags {
  where?: string;
  minScore?: string;
}

/** Add --where and --min-score: the search restrictions every ranking command shares (docs/filters.md). */
export function addFilterOptions(cmd: Command, minScore = true): Command {
  cmd.option('--where <expr>', 'rank only items whose fields match, e.g. \'label = "Shoes" and size < 50000\' (docs/filters.md)');
  return minScore ? cmd.option('--min-score <s>', 'drop results scoring below this cosine (-1..1)') : cmd;
}

/** The filter and score floor the flags ask for (checked by the library). */
export function filterMode(o: FilterFlags): { filter?: string; minScore?: number } {
  return { filter: o.where, minScore: o.minScore === undefined ? undefined : checkMinScore(o.minScore) };
}

/** Add `--store <location>` to a command that takes an index. */
export function addStoreOption(cmd: Command): Command {
  return cmd.option('--store <location>', 'the index to use, same as the INDEX argument: a folder, or a store URL (postgres://..., pglite:DIR)');
}

/** The index location from the positional argument or --store (not both). */
export function storeLocation(positional: string | undefined, store: string | undefined, what = 'INDEX'): string {
  if (positional !== undefined && store !== undefined && positional !== store) throw new Error(`give the index once: either ${what} or --store (got ${positional} and --store ${store})`);
  const loc = store ?? positional;
  if (!loc) throw new Error(`give the index: ${what} or --store LOCATION`);
  return loc;
}

/** How the CLI spells a library option: --kebab-case (`-k` for k), unless the running command names it otherwise (setFlagNames). */
export function flagOf(option: string, overrides: Record<string, string> = {}): string {
  return overrides[option] ?? SPELLINGS[option] ?? `--${option.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}

/** Library options every command spells otherwise. */
const SPELLINGS: Record<string, string> = { k: '-k', filter: '--where', withFields: '--fields' };

const commandFlags = new WeakMap<Command, Record<string, string>>();

/** Spell some options differently in this command's errors (e.g. the positional INDEX). */
export function setFlagNames(cmd: Command, names: Record<string, string>): Command {
  commandFlags.set(cmd, names);
  return cmd;
}

/** The per-command spellings set with setFlagNames. */
export function flagNamesOf(cmd: Command | undefined): Record<string, string> {
  return (cmd && commandFlags.get(cmd)) ?? {};
}

/** Skipped-file reporter: one stderr line per file unless --json; collects them. */
export function skipReporter(json?: boolean): { list: Skipped[]; report: (s: Skipped) => void } {
  const list: Skipped[] = [];
  return {
    list,
    report: (s) => {
      list.push(s);
      if (!json) printErr(`skipped ${s.id}: ${s.reason}\n`);
    },
  };
}

/** Progress for work whose total is known only at the first report: (done, total) callback plus end(). */
export function lazyProgress(label: string, json?: boolean): { update: (done: number, total: number) => void; end: () => void } {
  let bar: Progress | undefined;
  return {
    update: (done, total) => {
      bar ??= new Progress(label, total, { quiet: json });
      bar.update(done);
    },
    end: () => bar?.end(),
  };
}

/** Progress bars for work in named parts (compete's gallery then query): onPart starts a bar, onProgress advances it. */
export function partProgress(json?: boolean): { onPart: (part: 'gallery' | 'query', total: number) => void; onProgress: (part: 'gallery' | 'query', n: number) => void; end: () => void } {
  let bar: Progress | undefined;
  return {
    onPart: (part, total) => {
      bar?.end();
      bar = new Progress(part, total, { quiet: json });
    },
    onProgress: (_part, n) => bar?.tick(n),
    end: () => bar?.end(),
  };
}

/** Print JSON to stdout. */
export function printJson(v: unknown): void {
  printOut(JSON.stringify(v, null, 2) + '\n');
}
