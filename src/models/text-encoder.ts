/**
 * Text towers of text-image models (CLIP, SigLIP, MobileCLIP): tokenize with
 * @huggingface/tokenizers, pad and truncate as the model expects, run text_model.onnx,
 * read the text embedding and L2-normalise it. Caption retrieval (text queries, image<->caption
 * evaluation) is in src/embed/text-queries.ts.
 */
import fs from 'node:fs';
import path from 'node:path';
import type * as ort from 'onnxruntime-node';
import type { Tokenizer } from '@huggingface/tokenizers';
import { config } from '../util/config.ts';
import { ortLib, tokenizersLib } from '../util/lazy-import.ts';
import { l2normalize } from './pool.ts';
import { createSession, describeSession } from './ort.ts';
import type { Runtime } from './runtime.ts';
import type { TensorInfo } from './backbone.ts';
import { familyOf, hfOnnxCandidates, hfOnnxFile, readConfig, type Family } from './hf.ts';
import { findPreset } from './presets.ts';
import { readJsonObject } from '../util/json.ts';
import { explicitHubTarget, resolveHubModel } from './hub.ts';
import { hashFile, hashParts } from '../util/hash.ts';

/** How token sequences are padded: to a fixed length (CLIP 77, SigLIP 64) or to the longest in the batch. */
export interface TokenizeRules {
  maxLength: number;
  padding: 'max_length' | 'longest';
  padId: number;
}

/** A tokenized batch: n x length ids and attention mask, row-major. */
export interface TokenBatch {
  ids: BigInt64Array;
  mask: BigInt64Array;
  n: number;
  length: number;
}

/** The padding/truncation rules of a family, from config.json, tokenizer_config.json and tokenizer.json. */
export function tokenizeRules(family: Family, cfg: Record<string, unknown> | null, tokCfg: Record<string, unknown>, tok: Tokenizer, tokJson: Record<string, unknown>): TokenizeRules {
  const textCfg = (cfg?.text_config as Record<string, unknown> | undefined) ?? {};
  const fromModel = Number(textCfg.max_position_embeddings);
  const fromTok = Number(tokCfg.model_max_length);
  const fallback = family === 'siglip' ? 64 : 77;
  const maxLength = Number.isInteger(fromModel) && fromModel > 0 ? fromModel : Number.isInteger(fromTok) && fromTok > 0 && fromTok < 100000 ? fromTok : fallback;
  const padTok = typeof tokCfg.pad_token === 'string' ? tokCfg.pad_token : (tokCfg.pad_token as { content?: string } | undefined)?.content;
  const eosTok = typeof tokCfg.eos_token === 'string' ? tokCfg.eos_token : (tokCfg.eos_token as { content?: string } | undefined)?.content;
  const padCfg = tokJson.padding as { pad_id?: number } | null | undefined;
  let padId = padTok !== undefined ? tok.token_to_id(padTok) : undefined;
  if (padId === undefined && typeof padCfg?.pad_id === 'number') padId = padCfg.pad_id;
  // CLIP pads with <|endoftext|>; its pooled token is the first end-of-text, so padding never moves it.
  if (padId === undefined && eosTok !== undefined) padId = tok.token_to_id(eosTok);
  if (padId === undefined) padId = tok.token_to_id('<|endoftext|>') ?? tok.token_to_id('</s>') ?? 0;
  // SigLIP was trained on sequences padded to max_length and pools the last position: always pad fully.
  return { maxLength, padding: 'max_length', padId };
}

/**
 * Tokenize texts: add the model's special tokens, truncate to maxLength keeping the leading
 * and trailing special tokens (so CLIP keeps its end-of-text), pad with padId.
 */
export function tokenizeBatch(tok: Tokenizer, texts: string[], rules: TokenizeRules): TokenBatch {
  const special = new Set([...tok.get_added_tokens_decoder().entries()].filter(([, t]) => t.special).map(([id]) => id));
  const seqs = texts.map((t) => {
    const ids = tok.encode(t).ids;
    if (ids.length <= rules.maxLength) return ids;
    let head = 0;
    while (head < ids.length && special.has(ids[head])) head++;
    let tail = 0;
    while (tail < ids.length - head && special.has(ids[ids.length - 1 - tail])) tail++;
    const keep = Math.max(0, rules.maxLength - head - tail);
    return [...ids.slice(0, head), ...ids.slice(head, head + keep), ...ids.slice(ids.length - tail)].slice(0, rules.maxLength);
  });
  const length = rules.padding === 'max_length' ? rules.maxLength : Math.max(1, ...seqs.map((s) => s.length));
  const ids = new BigInt64Array(texts.length * length).fill(BigInt(rules.padId));
  const mask = new BigInt64Array(texts.length * length);
  seqs.forEach((s, i) => {
    for (let j = 0; j < s.length; j++) {
      ids[i * length + j] = BigInt(s[j]);
      mask[i * length + j] = 1n;
    }
  });
  return { ids, mask, n: texts.length, length };
}

/** A loaded text tower. */
export interface TextEncoder {
  name: string;
  family: Family;
  /** sha256 of the text ONNX file, tokenizer and rules. */
  fingerprint: string;
  rules: TokenizeRules;
  tokenizer: Tokenizer;
  inputs: TensorInfo[];
  outputs: TensorInfo[];
  /** The output read as the text embedding. */
  output: string;
  /** Encode a batch of texts to un-normalised embeddings (n x dim). */
  run(texts: string[]): Promise<{ data: Float32Array; dim: number }>;
  dispose(): Promise<void>;
}

/** Load the tokenizer of a folder (tokenizer.json + tokenizer_config.json). */
export function loadTokenizer(dir: string): { tokenizer: Tokenizer; json: Record<string, unknown>; config: Record<string, unknown> } {
  const tokFile = path.join(dir, 'tokenizer.json');
  if (!fs.existsSync(tokFile)) throw new Error(`${dir}: no tokenizer.json; the text tower needs tokenizer.json (and tokenizer_config.json) next to onnx/text_model.onnx`);
  const json = readJsonObject(tokFile);
  const cfgFile = path.join(dir, 'tokenizer_config.json');
  const cfg = fs.existsSync(cfgFile) ? readJsonObject(cfgFile) : {};
  try {
    return { tokenizer: new (tokenizersLib().Tokenizer)(json, cfg), json, config: cfg };
  } catch (e) {
    throw new Error(`${tokFile}: cannot build tokenizer: ${(e as Error).message}`);
  }
}

/**
 * Why a model has no text tower, or undefined when it may have one (then loadTextEncoder decides):
 * a single file, a folder without text_model*.onnx, or a preset without a text tower.
 */
export function textTowerMissing(model: string, dtype?: string): string | undefined {
  if (fs.existsSync(model)) {
    if (!fs.statSync(model).isDirectory()) return `${model} is a single file with no text tower`;
    if (!hfOnnxCandidates(model, 'text', dtype).some((f) => fs.existsSync(f))) return `${model} has no text tower (no onnx/text_model.onnx)`;
    return undefined;
  }
  const preset = findPreset(model);
  return preset && !preset.text ? `preset ${model} has no text tower` : undefined;
}

/** Load the text tower of a folder, preset or Hub id (text_model*.onnx + tokenizer.json). */
export async function loadTextEncoder(model: string, opts: { dtype?: string; download?: boolean; runtime?: Runtime } = {}): Promise<TextEncoder> {
  let dir = model;
  if (!fs.existsSync(model)) {
    if (!explicitHubTarget(model)) throw new Error(`${model}: no such file or folder (give a folder with onnx/text_model.onnx and tokenizer.json, a text-image preset, or hf:owner/name)`);
    dir = (await resolveHubModel(model, { dtype: opts.dtype, text: true, download: opts.download, offline: opts.runtime?.offline })).dir;
  } else if (!fs.statSync(model).isDirectory()) {
    throw new Error(`${model}: text search needs a model folder (onnx/text_model.onnx + tokenizer.json), not a single file`);
  }
  const file = hfOnnxFile(dir, 'text', opts.dtype);
  const cfg = readConfig(dir);
  const family = familyOf(cfg);
  const { tokenizer, json, config: tokCfg } = loadTokenizer(dir);
  const rules = tokenizeRules(family, cfg, tokCfg, tokenizer, json);
  const session = await createSession(file, file, opts.runtime);
  const { inputs, outputs } = describeSession(session);
  const output = ['text_embeds', 'pooler_output'].find((o) => session.outputNames.includes(o));
  if (!output) {
    await session.release();
    throw new Error(`${file}: no text embedding output (text_embeds or pooler_output); outputs are ${session.outputNames.join(', ')}`);
  }
  if (!session.inputNames.includes('input_ids')) {
    await session.release();
    throw new Error(`${file}: text model has no input_ids input; inputs are ${session.inputNames.join(', ')}`);
  }
  const fingerprint = hashParts(await hashFile(file), await hashFile(path.join(dir, 'tokenizer.json')), JSON.stringify(rules));
  return {
    name: model,
    family,
    fingerprint,
    rules,
    tokenizer,
    inputs,
    outputs,
    output,
    async run(texts) {
      const b = tokenizeBatch(tokenizer, texts, rules);
      const { Tensor } = ortLib();
      const feeds: Record<string, ort.Tensor> = {};
      for (const name of session.inputNames) {
        if (name === 'input_ids') feeds[name] = new Tensor('int64', b.ids, [b.n, b.length]);
        // SigLIP was trained without a padding mask (its processor returns input_ids only).
        else if (name === 'attention_mask') feeds[name] = new Tensor('int64', family === 'siglip' ? b.mask.fill(1n) : b.mask, [b.n, b.length]);
        else if (name === 'position_ids') {
          const pos = new BigInt64Array(b.n * b.length);
          for (let i = 0; i < pos.length; i++) pos[i] = BigInt(i % b.length);
          feeds[name] = new Tensor('int64', pos, [b.n, b.length]);
        } else throw new Error(`${file}: unsupported text input ${name}`);
      }
      const out = (await session.run(feeds, [output]))[output];
      if (out.type !== 'float32' || out.dims.length !== 2) throw new Error(`${file}: ${output} is ${out.type} [${out.dims}], expected float32 [N, D]`);
      return { data: out.data as Float32Array, dim: out.dims[1] as number };
    },
    async dispose() {
      await session.release();
    },
  };
}

/** Embed texts in batches and L2-normalise: n x dim row-major. */
export async function embedTexts(enc: TextEncoder, texts: string[], batchSize = config.batchSize): Promise<{ vectors: Float32Array; dim: number }> {
  let dim = 0;
  const parts: Float32Array[] = [];
  for (let i = 0; i < texts.length; i += batchSize) {
    const r = await enc.run(texts.slice(i, i + batchSize));
    dim = r.dim;
    parts.push(l2normalize(Float32Array.from(r.data), dim));
  }
  const vectors = new Float32Array(texts.length * dim);
  let o = 0;
  for (const p of parts) {
    vectors.set(p, o);
    o += p.length;
  }
  return { vectors, dim };
}
