/** Test helpers: temp folders, tiny models on disk, running the CLI. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { tinyCnn, tinyVit } from '../../src/models/tiny.ts';

/** Repository root. */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
/** ../shared beside the checkout. */
export const SHARED = path.resolve(ROOT, '../shared');

/** A fresh temp folder removed at process exit. */
export function tmpDir(prefix = 'lookalike-test-'): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  process.on('exit', () => fs.rmSync(d, { recursive: true, force: true }));
  return d;
}

/** Write the tiny CNN (32x32 input, 16-d) to dir and return its path. */
export function writeTinyCnn(dir: string, opts: Parameters<typeof tinyCnn>[0] = {}): string {
  const f = path.join(dir, opts?.spatial ? 'tiny-cnn-spatial.onnx' : 'tiny-cnn.onnx');
  fs.writeFileSync(f, tinyCnn(opts));
  return f;
}

/** Write the tiny ViT-shaped encoder and return its path. */
export function writeTinyVit(dir: string): string {
  const f = path.join(dir, 'tiny-vit.onnx');
  fs.writeFileSync(f, tinyVit());
  return f;
}

/** Spec flags that make the tiny models' 32x32 input. */
export const TINY_FLAGS = ['--resize', '32x32', '--crop', 'none'];

/** Run the CLI synchronously; returns status, stdout, stderr. */
export function cli(args: string[], env: Record<string, string> = {}): { status: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [path.join(ROOT, 'bin/lookalike.js'), ...args], { encoding: 'utf8', env: { ...process.env, ...env } });
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}
