/** Shared CLI options: model spec flags, runtime flags, output helpers. */
import { Command, Option } from 'commander';
import { config } from '../util/config.ts';
import type { SpecOverrides } from '../models/load.ts';
import type { Feature } from '../models/hf.ts';
import type { Pooling } from '../models/spec.ts';
import type { Runtime } from '../models/runtime.ts';
import { openModel as openModelFor, openModelForIndex as openModelForIndexFor, type ModelChoice, type OpenedModel } from '../models/open.ts';
import type { EmbeddingSource } from '../models/compat.ts';

export { modelRef } from '../models/open.ts';
import { Progress } from '../util/progress.ts';
import type { Skipped } from '../embed/pipeline.ts';

/** Options every model-using command accepts. */
export interface ModelFlags {
  model?: string;
  dtype?: string;
  feature?: Feature;
  inputName?: string;
  output?: string;
  pooling?: Pooling;
  gemP?: string;
  resize?: string;
  crop?: string;
  mean?: string;
  std?: string;
  rescale?: string;
  bgr?: boolean;
  layout?: 'nchw' | 'nhwc';
  prefixTokens?: string;
  head?: string;
  threads?: string;
  device?: 'cpu' | 'cuda';
  batch?: string;
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
    .option('--crop <n|HxW|none>', 'center crop after resizing')
    .option('--mean <r,g,b>', 'per-channel mean after rescaling (default ImageNet)')
    .option('--std <r,g,b>', 'per-channel std (default ImageNet)')
    .option('--rescale <f>', 'multiply 0..255 pixels by f first (default 1/255)')
    .option('--bgr', 'feed channels in BGR order')
    .addOption(new Option('--layout <layout>', 'input tensor layout').choices(['nchw', 'nhwc']))
    .option('--prefix-tokens <n>', "special tokens skipped by 'mean' pooling (default 1)")
    .option('--threads <n>', 'inference threads (default: ORT chooses)')
    .addOption(new Option('--device <device>', 'execution device').choices(['cpu', 'cuda']))
    .option('--batch <n>', `images per batch (default ${config.batchSize})`);
}

/** A flag's value as a finite number, or an error naming the flag. */
export function parseNumber(v: string, flag: string): number {
  const n = Number(v);
  if (!Number.isFinite(n)) throw new Error(`${flag} ${v}: not a number`);
  return n;
}

/** A flag's value as an integer >= min, or an error naming the flag. */
export function parseInteger(v: string, flag: string, min = 0): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new Error(`${flag} ${v}: expected an integer >= ${min}`);
  return n;
}

/** The largest -k any command accepts; larger values are a typo, not a request (results are clamped to the gallery size anyway). */
export const MAX_K = 1_000_000;

/** A -k value: an integer from 1 to MAX_K, or an error naming the flag. */
export function parseK(v: string, flag = '-k'): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > MAX_K) throw new Error(`${flag} ${v}: expected an integer from 1 to ${MAX_K} (results are capped at the gallery size)`);
  return n;
}

const num = parseNumber;

function hw(v: string, flag: string): { height: number; width: number } {
  const m = /^(\d+)(?:x(\d+))?$/.exec(v);
  if (!m) throw new Error(`${flag} ${v}: expected N or HxW`);
  return { height: Number(m[1]), width: Number(m[2] ?? m[1]) };
}

function rgb(v: string, flag: string): [number, number, number] {
  const p = v.split(',').map((x) => num(x, flag));
  if (p.length === 1) return [p[0], p[0], p[0]];
  if (p.length !== 3) throw new Error(`${flag} ${v}: expected r,g,b`);
  return [p[0], p[1], p[2]];
}

/** Spec overrides from flags (only those given). */
export function specOverrides(o: ModelFlags): SpecOverrides {
  const s: SpecOverrides = {};
  if (o.inputName) s.inputName = o.inputName;
  if (o.output) s.output = o.output;
  if (o.pooling) s.pooling = o.pooling;
  if (o.gemP) s.gemP = num(o.gemP, '--gem-p');
  if (o.resize) {
    s.resize = /x/.test(o.resize) ? { mode: 'fixed', ...hw(o.resize, '--resize') } : { mode: 'shortest-edge', shortestEdge: num(o.resize, '--resize') };
  }
  if (o.crop) s.crop = o.crop === 'none' ? null : hw(o.crop, '--crop');
  if (o.mean) s.mean = rgb(o.mean, '--mean');
  if (o.std) s.std = rgb(o.std, '--std');
  if (o.rescale) s.rescale = o.rescale.includes('/') ? num(o.rescale.split('/')[0], '--rescale') / num(o.rescale.split('/')[1], '--rescale') : num(o.rescale, '--rescale');
  if (o.bgr) s.channelOrder = 'bgr';
  if (o.layout) s.layout = o.layout;
  if (o.prefixTokens) s.prefixTokens = num(o.prefixTokens, '--prefix-tokens');
  return s;
}

/** Runtime options from flags (threads, device, batch); passed to the library, never written into config. */
export function runtimeFlags(o: ModelFlags): Runtime {
  const r: Runtime = {};
  if (o.threads) r.threads = num(o.threads, '--threads');
  if (o.device) r.device = o.device;
  if (o.batch) r.batchSize = Math.max(1, num(o.batch, '--batch'));
  return r;
}

/** The model choice that flags make (model, spec overrides, dtype, feature, head, runtime). */
export function modelChoice(o: ModelFlags): ModelChoice {
  return { model: o.model, overrides: specOverrides(o), dtype: o.dtype, feature: o.feature, head: o.head, runtime: runtimeFlags(o) };
}

/** Load the backbone and optional head that flags name. */
export function openModel(o: ModelFlags): Promise<OpenedModel> {
  return openModelFor(modelChoice(o));
}

/** Load the model an index was built with, or the one flags name (same fingerprint required). */
export function openModelForIndex(source: EmbeddingSource, o: ModelFlags, what: string): Promise<OpenedModel> {
  return openModelForIndexFor(source, modelChoice(o), what);
}

/** Skipped-file reporter: one stderr line per file unless --json; collects them. */
export function skipReporter(json?: boolean): { list: Skipped[]; report: (s: Skipped) => void } {
  const list: Skipped[] = [];
  return {
    list,
    report: (s) => {
      list.push(s);
      if (!json) process.stderr.write(`skipped ${s.id}: ${s.reason}\n`);
    },
  };
}

/** A progress bar for embedding, quiet with --json or off a TTY. */
export function embedProgress(label: string, total: number, json?: boolean): Progress {
  return new Progress(label, total, { quiet: json });
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

/** Print JSON to stdout. */
export function printJson(v: unknown): void {
  process.stdout.write(JSON.stringify(v, null, 2) + '\n');
}
