/**
 * Heavy third-party packages, loaded on first use instead of at import. With them imported
 * statically, importing the library (api.ts) took about 0.3 s longer, before any command ran; a
 * one-shot command that decodes no image and runs no model (search --id, status) now starts
 * without them. Each getter loads its package once, with require() (each has a CommonJS entry),
 * and returns the same module after. Files take the package's types with `import type`.
 * tests/fast/layers.test.ts checks that importing api.ts and cli/main.ts loads none of them.
 */
import { createRequire } from 'node:module';
import type Sharp from 'sharp';
import type * as Ort from 'onnxruntime-node';
import type * as Yaml from 'yaml';
import type Protobuf from 'protobufjs';
import type * as Tokenizers from '@huggingface/tokenizers';

const require = createRequire(import.meta.url);

/**
 * A getter that runs `load` (a require() of one package, written out so that tools reading
 * src/ see the package) on its first call and returns the same module after. Settings a package
 * needs before any use belong in `load`, after the require().
 */
export function lazyPackage<T>(load: () => T): () => T {
  let mod: T | undefined;
  return () => (mod ??= load());
}

/** sharp (libvips, ~150 ms to load): only commands that decode, draw or write images need it. */
export const sharpLib = lazyPackage(() => require('sharp') as typeof Sharp);

/** onnxruntime-node (native runtime, ~45 ms): only embedding, tuning and the exact-search kernel run a session. */
export const ortLib = lazyPackage(() => require('onnxruntime-node') as typeof Ort);

/** yaml (~45 ms): only experiment and tune-search configs written in YAML need the parser. */
export const yamlLib = lazyPackage(() => require('yaml') as typeof Yaml);

/** protobufjs (~40 ms): only reading or writing ONNX graphs (heads, projections, the search kernels) needs it. */
export const protobufLib = lazyPackage(() => require('protobufjs') as typeof Protobuf);

/** @huggingface/tokenizers (its CommonJS build, ./dist/tokenizers.cjs): only text queries tokenize. */
export const tokenizersLib = lazyPackage(() => require('@huggingface/tokenizers') as typeof Tokenizers);

/**
 * `name` of the module `load` imports, as an async function of the same type that imports the
 * module on its first call: the library (api.ts) re-exports its workflows this way, so that
 * importing it loads only what a search needs (~0.7 ms of module loading per file) and a
 * workflow's modules load when it first runs. `load` is an arrow returning import() of the
 * module's .ts path written as a literal (the build rewrites it to .js; tests/fast/layers.test.ts
 * reads it as an import).
 */
export function lazyFunction<K extends string, M extends { [k in K]: (...args: never[]) => Promise<unknown> }>(load: () => Promise<M>, name: K): M[K] {
  // import() of a module already loaded returns it from the loader's cache.
  const call = async (...args: unknown[]): Promise<unknown> => Reflect.apply((await load())[name], undefined, args);
  // The function's own name, as a re-export had it (stack traces, logs).
  Object.defineProperty(call, 'name', { value: name });
  return call as unknown as M[K];
}
