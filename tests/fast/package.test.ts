/**
 * The published package: every package src/ imports is a runtime dependency of the core, or an
 * optional peer loaded only through src/util/optional.ts (type-only imports aside), and the
 * versions there are package.json's. Reads files only (no npm pack), so it is fast.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { builtinModules } from 'node:module';
import { OPTIONAL_FEATURES, installCommand, isMissingPackage, optionalImport, type OptionalFeature } from '../../src/util/optional.ts';
import { ROOT } from '../helpers/tmp.ts';

interface Pkg {
  name: string;
  files: string[];
  scripts: Record<string, string>;
  dependencies: Record<string, string>;
  peerDependencies: Record<string, string>;
  peerDependenciesMeta: Record<string, { optional?: boolean }>;
  devDependencies: Record<string, string>;
  optionalDependencies?: Record<string, string>;
}
const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as Pkg;
const OPTIONAL_MODULE = 'src/util/optional.ts';

/** The package a bare specifier names ('@scope/name/sub' -> '@scope/name'), or undefined for Node's own modules and relative paths. */
function packageOf(spec: string): string | undefined {
  if (spec.startsWith('.') || spec.startsWith('/') || spec.startsWith('node:') || builtinModules.includes(spec.split('/')[0])) return undefined;
  const parts = spec.split('/');
  return spec.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

interface Use {
  file: string;
  pkg: string;
  kind: 'static' | 'dynamic' | 'require' | 'type' | 'optional';
  feature?: string;
}

/** Every package reference in one source file. */
export function usesIn(file: string, text: string): Use[] {
  const out: Use[] = [];
  const add = (spec: string, kind: Use['kind'], feature?: string) => {
    const p = packageOf(spec);
    if (p) out.push({ file, pkg: p, kind, feature });
  };
  // import X from 'p' / import { a, type B } from 'p' / import * as X from 'p' / export { a } from 'p' / import type X from 'p'
  for (const m of text.matchAll(/^[ \t]*(?:import|export)\s+(type\s+)?([\w*{}\s,$]+?)\s+from\s+['"]([^'"]+)['"]/gm)) {
    const clause = m[2].trim();
    const typeOnly = Boolean(m[1]) || (/^\{[\s\S]*\}$/.test(clause) && clause.slice(1, -1).split(',').map((s) => s.trim()).filter(Boolean).every((s) => s.startsWith('type ')));
    add(m[3], typeOnly ? 'type' : 'static');
  }
  for (const m of text.matchAll(/^[ \t]*import\s+['"]([^'"]+)['"]/gm)) add(m[1], 'static');
  for (const m of text.matchAll(/(typeof\s+)?\bimport\(\s*['"]([^'"]+)['"]\s*\)/g)) add(m[2], m[1] ? 'type' : 'dynamic');
  for (const m of text.matchAll(/\b(?:require|createRequire\([^)]*\))\(\s*['"]([^'"]+)['"]\s*\)/g)) add(m[1], 'require');
  for (const m of text.matchAll(/\boptionalImport<[\s\S]*?>\(\s*['"]([^'"]+)['"]\s*,\s*['"]([^'"]+)['"]\s*\)/g)) add(m[1], 'optional', m[2]);
  return out;
}

function sourceFiles(dir: string): string[] {
  return fs
    .readdirSync(path.join(ROOT, dir), { recursive: true })
    .map((f) => path.join(dir, String(f)))
    .filter((f) => /\.(ts|js|mjs|cjs)$/.test(f) && fs.statSync(path.join(ROOT, f)).isFile());
}

const uses = sourceFiles('src').flatMap((f) => usesIn(f, fs.readFileSync(path.join(ROOT, f), 'utf8')));
const core = new Set(Object.keys(pkg.dependencies));
const peers = new Set(Object.keys(pkg.peerDependencies));

test('the import scanner sees value, type, dynamic and optional imports', () => {
  const text = [
    "import a from 'pg';",
    "import { type B, type C } from '@scope/x/sub';",
    "import { type D, e } from 'vega';",
    'import type F from "fastify";',
    "export { g } from 'sharp';",
    "import 'side-effect';",
    "type T = typeof import('@tensorflow/tfjs');",
    "const h = await import('yaml');",
    "const i = await optionalImport<typeof import('pg')>('pg', 'postgres');",
    " * import { not, code } from 'in-a-comment';",
  ].join('\n');
  const got = usesIn('x.ts', text).map((u) => `${u.kind}:${u.pkg}${u.feature ? `:${u.feature}` : ''}`);
  assert.deepEqual(got.sort(), ['static:pg', 'type:@scope/x', 'static:vega', 'type:fastify', 'static:sharp', 'static:side-effect', 'type:@tensorflow/tfjs', 'dynamic:yaml', 'type:pg', 'optional:pg:postgres'].sort());
});

test('src/ imports only core dependencies; optional peers only as types or through optionalImport', () => {
  assert.ok(uses.length > 20, `found only ${uses.length} package references in src/`);
  const bad: string[] = [];
  for (const u of uses) {
    if (u.kind === 'static' || u.kind === 'dynamic' || u.kind === 'require') {
      if (peers.has(u.pkg)) bad.push(`${u.file}: ${u.kind} import of the optional peer ${u.pkg}; load it with optionalImport (${OPTIONAL_MODULE})`);
      else if (!core.has(u.pkg)) bad.push(`${u.file}: imports ${u.pkg}, which is not in package.json "dependencies"`);
    } else if (u.kind === 'type') {
      if (!core.has(u.pkg) && !peers.has(u.pkg)) bad.push(`${u.file}: type import of ${u.pkg}, neither a dependency nor a peer`);
    } else {
      const feature = OPTIONAL_FEATURES[u.feature as OptionalFeature];
      if (!feature) bad.push(`${u.file}: optionalImport of ${u.pkg} names no feature "${u.feature}"`);
      else if (!(u.pkg in feature.packages)) bad.push(`${u.file}: optionalImport of ${u.pkg} under "${u.feature}", which does not list it`);
    }
  }
  assert.deepEqual(bad, []);
});

test('every core dependency is used by src/ (nothing installed for tests, benches or one feature only)', () => {
  const used = new Set(uses.filter((u) => u.kind !== 'type' && u.kind !== 'optional').map((u) => u.pkg));
  assert.deepEqual([...core].filter((d) => !used.has(d)), []);
  assert.equal(pkg.optionalDependencies, undefined, 'optional features are optional peers, not optionalDependencies');
  for (const dev of ['tsx', 'typescript', 'playwright-core', 'autocannon']) assert.ok(!core.has(dev) && dev in pkg.devDependencies, `${dev} is a devDependency`);
});

test('src/util/optional.ts versions are package.json\'s: optional peers, and devDependencies at the same pin', () => {
  const table = new Map<string, string>();
  for (const [name, f] of Object.entries(OPTIONAL_FEATURES)) {
    for (const [p, v] of Object.entries(f.packages) as [string, string][]) {
      assert.ok(!table.has(p) || table.get(p) === v, `${p}: two versions in ${OPTIONAL_MODULE}`);
      table.set(p, v);
      assert.equal(pkg.peerDependencies[p], v, `${name}: ${p}@${v} is peerDependencies' ${pkg.peerDependencies[p]}`);
      assert.equal(pkg.peerDependenciesMeta[p]?.optional, true, `${p} is an optional peer`);
      assert.equal(pkg.devDependencies[p], v, `${p}@${v} is devDependencies' ${pkg.devDependencies[p]}`);
      assert.ok(!core.has(p), `${p} is not also a runtime dependency`);
    }
  }
  assert.deepEqual([...peers].sort(), [...table.keys()].sort(), 'every optional peer is in the table and the other way round');
  assert.equal(installCommand('serve'), `npm install fastify@${pkg.peerDependencies.fastify} @fastify/multipart@${pkg.peerDependencies['@fastify/multipart']} @fastify/static@${pkg.peerDependencies['@fastify/static']}`);
});

test('optionalImport loads an installed package and turns a missing one into the npm install line', async () => {
  const vl = await optionalImport<typeof import('vega-lite')>('vega-lite', 'charts');
  assert.equal(typeof vl.compile, 'function');
  await assert.rejects(optionalImport('pg' as never, 'serve'), /pg is not a package of the optional feature serve/);
  const err = await import('lookalike-no-such-package' as string).catch((e: unknown) => e);
  assert.ok(isMissingPackage(err, 'lookalike-no-such-package'), String(err));
  assert.ok(!isMissingPackage(err, 'pg'));
});

test('the tarball carries dist/ and the preinstall that keeps onnxruntime-node from downloading', () => {
  assert.equal(pkg.name, 'lookalike-retrieval');
  const script = 'scripts/onnxruntime-cpu-only.cjs';
  assert.ok(pkg.files.includes('dist') && pkg.files.includes('bin') && pkg.files.includes(script));
  assert.equal(pkg.scripts.preinstall, `node ${script}`);
  const marker = /const MARKER = '([^']*)/.exec(fs.readFileSync(path.join(ROOT, script), 'utf8'))?.[1] ?? '';
  const ort = fs.readFileSync(path.join(ROOT, 'src/models/ort.ts'), 'utf8');
  const checked = /startsWith\('([^']+)'\)/.exec(ort)?.[1];
  assert.ok(checked && marker.startsWith(checked), `src/models/ort.ts recognises the marker the preinstall writes (${checked} / ${marker})`);
});
