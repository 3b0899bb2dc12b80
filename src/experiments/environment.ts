/** What a run records about where it ran: lookalike's version and git commit, Node, runtime package versions, the machine. */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const require = createRequire(import.meta.url);

/** Packages whose versions change numbers (inference, decoding, training runtimes). */
export const RUNTIME_PACKAGES = ['onnxruntime-node', 'sharp', '@tensorflow/tfjs', '@tensorflow/tfjs-backend-wasm', '@huggingface/tokenizers'];

/** The recorded environment. */
export interface RunEnvironment {
  lookalike: { version: string; commit?: string; dirty?: boolean };
  node: string;
  packages: Record<string, string>;
  platform: string;
  cpus: number;
  cpu_model: string;
  memory_gb: number;
}

function packageVersion(name: string): string | undefined {
  try {
    const file = require.resolve(`${name}/package.json`, { paths: [ROOT] });
    return (JSON.parse(fs.readFileSync(file, 'utf8')) as { version?: string }).version;
  } catch {
    // Packages that do not export package.json: find it beside the entry point.
    try {
      let dir = path.dirname(require.resolve(name, { paths: [ROOT] }));
      for (let i = 0; i < 5; i++, dir = path.dirname(dir)) {
        const f = path.join(dir, 'package.json');
        if (fs.existsSync(f)) {
          const p = JSON.parse(fs.readFileSync(f, 'utf8')) as { name?: string; version?: string };
          if (p.name === name) return p.version;
        }
      }
    } catch {
      return undefined;
    }
  }
  return undefined;
}

let cached: RunEnvironment | undefined;

/** The environment of this process (computed once). */
export function runEnvironment(): RunEnvironment {
  if (cached) return cached;
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string };
  let commit: string | undefined;
  let dirty: boolean | undefined;
  try {
    commit = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim() !== '';
  } catch {
    commit = undefined;
  }
  const packages: Record<string, string> = {};
  for (const p of RUNTIME_PACKAGES) {
    const v = packageVersion(p);
    if (v) packages[p] = v;
  }
  cached = {
    lookalike: { version: pkg.version, commit, dirty },
    node: process.version,
    packages,
    platform: `${os.platform()} ${os.arch()}`,
    cpus: os.cpus().length,
    cpu_model: os.cpus()[0]?.model ?? 'unknown',
    memory_gb: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
  };
  return cached;
}

/** Peak resident memory of this process so far, in MiB. */
export function peakRssMb(): number {
  return Math.round((process.resourceUsage().maxRSS / 1024) * 10) / 10;
}
