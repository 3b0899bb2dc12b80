/**
 * The layer rule (docs/architecture.md), checked from the imports of every file in src/:
 * util -> data -> models -> store -> core (metrics, embed, index, eval, tune, jobs,
 * experiments) -> the library (api.ts, schema.ts) -> shells (cli, serve). No import runs up a
 * layer, no two files or folders import each other in a cycle, and the shells import only the
 * library and their own folder.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';

const SRC = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../src');

/** Each top-level folder (or root file) of src/ and its layer; a folder may import only folders of a lower or equal layer, and never in a cycle. */
export const LAYERS: Record<string, number> = {
  util: 0,
  data: 1,
  models: 2,
  store: 3,
  metrics: 4,
  embed: 5,
  index: 6,
  eval: 7,
  tune: 8,
  jobs: 8,
  experiments: 9,
  'api.ts': 10,
  'schema.ts': 10,
  cli: 11,
  serve: 11,
};

/** The one import a shell may make outside the library: the CLI's `serve` command starts the server shell. */
const SHELL_EXCEPTIONS = new Set(['cli/serve-cmd.ts -> serve/app.ts', 'cli/serve-cmd.ts -> serve/defaults.ts']);

function sourceFiles(dir = SRC): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? sourceFiles(p) : p.endsWith('.ts') ? [p] : [];
  });
}

/** Relative imports of every file (static, re-exports, dynamic and type-only), as src-relative paths. */
function importGraph(): Map<string, string[]> {
  const re = /(?:import|export)\s[^'"]*?from\s*['"](\.[^'"]+)['"]|import\(\s*['"](\.[^'"]+)['"]\s*\)|import\s+['"](\.[^'"]+)['"]/g;
  const g = new Map<string, string[]>();
  for (const f of sourceFiles()) {
    const from = path.relative(SRC, f).split(path.sep).join('/');
    const out: string[] = [];
    for (const m of fs.readFileSync(f, 'utf8').matchAll(re)) {
      const spec = m[1] ?? m[2] ?? m[3];
      const target = path.resolve(path.dirname(f), spec).replace(/\.js$/, '.ts');
      assert.ok(fs.existsSync(target), `${from}: import ${spec} does not exist`);
      out.push(path.relative(SRC, target).split(path.sep).join('/'));
    }
    g.set(from, out);
  }
  return g;
}

const top = (file: string) => file.split('/')[0];

/** Strongly connected components with more than one node (Tarjan). */
function cycles(nodes: string[], edges: (n: string) => string[]): string[][] {
  let index = 0;
  const idx = new Map<string, number>(), low = new Map<string, number>(), on = new Set<string>(), stack: string[] = [], out: string[][] = [];
  const visit = (v: string) => {
    idx.set(v, index), low.set(v, index++), stack.push(v), on.add(v);
    for (const w of edges(v)) {
      if (!idx.has(w)) visit(w), low.set(v, Math.min(low.get(v)!, low.get(w)!));
      else if (on.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const comp: string[] = [];
      let w: string;
      do (w = stack.pop()!), on.delete(w), comp.push(w);
      while (w !== v);
      if (comp.length > 1) out.push(comp.sort());
    }
  };
  for (const n of nodes) if (!idx.has(n)) visit(n);
  return out;
}

test('every folder of src/ has a layer', () => {
  const folders = fs.readdirSync(SRC);
  for (const f of folders) assert.ok(f in LAYERS, `src/${f} has no layer in tests/fast/layers.test.ts (and docs/architecture.md)`);
});

test('no import runs up a layer', () => {
  const bad: string[] = [];
  for (const [from, tos] of importGraph()) for (const to of tos) if (LAYERS[top(to)] > LAYERS[top(from)]) bad.push(`${from} -> ${to}`);
  assert.deepEqual(bad, []);
});

test('no import cycle between files', () => {
  const g = importGraph();
  assert.deepEqual(cycles([...g.keys()], (n) => g.get(n) ?? []), []);
});

test('no import cycle between sibling folders (src/*, then src/*/*)', () => {
  const g = importGraph();
  // At depth d a file belongs to its folder cut to d parts; files of shallower folders sit in
  // the parent, which may import its own subfolders and be imported by them.
  const folderOf = (f: string, depth: number) => {
    const parts = path.posix.dirname(f).split('/');
    return parts[0] === '.' || parts.length < depth ? undefined : parts.slice(0, depth).join('/');
  };
  for (const depth of [1, 2]) {
    const edges = new Map<string, Set<string>>();
    for (const [from, tos] of g) {
      const a = folderOf(from, depth);
      for (const to of tos) {
        const b = folderOf(to, depth);
        if (a && b && a !== b) (edges.get(a) ?? edges.set(a, new Set()).get(a)!).add(b);
      }
    }
    assert.deepEqual(cycles([...edges.keys()], (n) => [...(edges.get(n) ?? [])]), [], `folder cycle at depth ${depth}`);
  }
});

test('the shells (cli, serve) import only the library and their own folder', () => {
  const bad: string[] = [];
  for (const [from, tos] of importGraph()) {
    if (top(from) !== 'cli' && top(from) !== 'serve') continue;
    for (const to of tos) {
      if (top(to) === top(from) || to === 'api.ts' || to === 'schema.ts' || SHELL_EXCEPTIONS.has(`${from} -> ${to}`)) continue;
      bad.push(`${from} -> ${to}`);
    }
  }
  assert.deepEqual(bad, []);
});

/** Packages whose loading costs a fast start (native code, large bundles). */
const HEAVY = ['onnxruntime-node', 'sharp', 'usearch', 'pg', 'pg-boss', 'fastify', '@electric-sql/pglite', '@tensorflow/tfjs', 'vega', 'vega-lite', 'protobufjs', '@huggingface/tokenizers', 'yaml'];

/** Files loaded when `from` is imported: static value imports only (type-only and dynamic imports load nothing up front). */
function staticClosure(from: string): { files: Set<string>; heavy: string[] } {
  const files = new Set<string>();
  const heavy: string[] = [];
  const visit = (rel: string) => {
    if (files.has(rel)) return;
    files.add(rel);
    const text = fs.readFileSync(path.join(SRC, rel), 'utf8');
    for (const m of text.matchAll(/^import\s+(?!type\s)([^'"]*?)\s*from\s*['"]([^'"]+)['"]|^export\s+(?!type\s)[^'"]*?from\s*['"]([^'"]+)['"]|^import\s+['"]([^'"]+)['"]/gm)) {
      const spec = m[2] ?? m[3] ?? m[4];
      if (m[1] !== undefined && /^\{\s*(type\s+\w+\s*,?\s*)+\}$/.test(m[1].trim())) continue;
      if (spec.startsWith('.')) visit(path.relative(SRC, path.resolve(path.dirname(path.join(SRC, rel)), spec)).split(path.sep).join('/'));
      else if (HEAVY.some((h) => spec === h || spec.startsWith(`${h}/`))) heavy.push(`${rel} -> ${spec}`);
    }
  };
  visit(from);
  return { files, heavy };
}

test('a lazy CLI: building every command (lookalike --help) loads no model, store or server code', () => {
  const { files, heavy } = staticClosure('cli/main.ts');
  assert.deepEqual(heavy, []);
  assert.ok(!files.has('api.ts'), 'cli/main.ts loads api.ts up front');
  assert.ok(files.has('schema.ts'));
});

test('lookalike-retrieval/schema (src/schema.ts) loads nothing heavy', () => {
  assert.deepEqual(staticClosure('schema.ts').heavy, []);
});

test('importing the library (api.ts) and the CLI (cli/main.ts) loads no heavy package and no workflow: each loads on first use', () => {
  // A child process, so that what this test process already loaded does not count. Packages
  // loaded with require() show in require.cache; ES modules are seen by a resolve hook.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lookalike-loaded-'));
  const log = path.join(dir, 'resolved.txt');
  const hook = `import { appendFileSync } from 'node:fs'; export async function resolve(s, c, next) { const r = await next(s, c); appendFileSync(${JSON.stringify(log)}, r.url + '\\n'); return r; }`;
  const script = `
    import { createRequire, register } from 'node:module';
    register('data:text/javascript,' + encodeURIComponent(${JSON.stringify(hook)}));
    await import(${JSON.stringify(pathToFileURL(path.join(SRC, 'api.ts')).href)});
    await import(${JSON.stringify(pathToFileURL(path.join(SRC, 'cli/main.ts')).href)});
    console.log(JSON.stringify(Object.keys(createRequire(import.meta.url).cache)));`;
  let loaded: string[];
  try {
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    loaded = [...(JSON.parse(r.stdout) as string[]), ...fs.readFileSync(log, 'utf8').split('\n')];
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  const pkg = (f: string) => f.match(/node_modules\/((?:@[^/]+\/)?[^/]+)\//)?.[1];
  // Both views work: the hook saw the library's files, require.cache has commander (the CLI's parser).
  assert.ok(loaded.some((f) => f.endsWith('/src/api.ts')) && loaded.some((f) => pkg(f) === 'commander'), 'the child saw no imports');
  // @img/* are sharp's native parts (libvips), loaded with it.
  const heavy = [...new Set(loaded.map(pkg))].filter((p) => p && (HEAVY.includes(p) || p.startsWith('@img/'))).sort();
  assert.deepEqual(heavy, []);
  // The library's jobs and the Index's model, text and build paths load on first call (api.ts,
  // util/lazy-import.ts#lazyFunction): a one-shot search loads about the search path alone.
  const workflows = ['experiments/runner.ts', 'experiments/advise.ts', 'tune/run.ts', 'jobs/work.ts', 'index/compete.ts', 'index/build.ts', 'embed/text-queries.ts', 'models/open-model.ts', 'models/info.ts'];
  assert.deepEqual(workflows.filter((f) => loaded.some((u) => u.endsWith(`/src/${f}`))), []);
});
