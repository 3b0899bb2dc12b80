/**
 * Heavy third-party packages, loaded on first use instead of at import. Importing the library
 * (api.ts) with them static cost about 0.35 s before any command ran; a one-shot command that
 * decodes no image and runs no model (search --id, status, --version) now starts without them.
 * Each getter loads its package once, with require() (every one has a CommonJS entry), and
 * returns the same module after. Files take the package's types with `import type`.
 */
import { createRequire } from 'node:module';
import type Sharp from 'sharp';
import type * as Ort from 'onnxruntime-node';
import type * as Yaml from 'yaml';
import type Protobuf from 'protobufjs';
import type * as Tokenizers from '@huggingface/tokenizers';

const require = createRequire(import.meta.url);

/**
 * A getter that loads package `name` on its first call and returns the same module after;
 * `init`, when given, runs once on the module before its first use (settings it needs first).
 */
export function lazyPackage<T>(name: string, init?: (mod: T) => void): () => T {
  let mod: T | undefined;
  return () => {
    if (mod === undefined) {
      const m = require(name) as T;
      init?.(m);
      mod = m;
    }
    return mod;
  };
}

/** sharp (libvips, ~150 ms to load): only commands that decode, draw or write images need it. */
export const sharpLib = lazyPackage<typeof Sharp>('sharp');

/** onnxruntime-node (native runtime, ~45 ms): only embedding, tuning and the exact-search kernel run a session. */
export const ortLib = lazyPackage<typeof Ort>('onnxruntime-node');

/** yaml (~45 ms): only experiment and tune-search configs written in YAML need the parser. */
export const yamlLib = lazyPackage<typeof Yaml>('yaml');

/** protobufjs (~40 ms): only reading or writing ONNX graphs (heads, projections, output metadata) needs it. */
export const protobufLib = lazyPackage<typeof Protobuf>('protobufjs');

/** @huggingface/tokenizers (CommonJS build ./dist/tokenizers.cjs): only text queries tokenize. */
export const tokenizersLib = lazyPackage<typeof Tokenizers>('@huggingface/tokenizers');
