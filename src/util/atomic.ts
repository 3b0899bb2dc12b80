/** Crash-safe writes: temp file (or folder) + fsync + rename. */
import fs from 'node:fs';
import path from 'node:path';

/** Test hook: LOOKALIKE_CRASH_AT=<step> makes the process exit abruptly at that step, to prove crash safety. */
export function crashPoint(step: string): void {
  if (process.env.LOOKALIKE_CRASH_AT === step) {
    process.stderr.write(`simulated crash at ${step}\n`);
    process.exit(137);
  }
}

function tmpName(target: string): string {
  return `${target}.tmp-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
}

/** Write a file atomically: the target holds either its old or its new content, never a partial one. */
export function writeFileAtomic(file: string, data: string | Uint8Array): void {
  fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  const tmp = tmpName(file);
  const fd = fs.openSync(tmp, 'w');
  try {
    fs.writeSync(fd, typeof data === 'string' ? Buffer.from(data) : data);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
}

/**
 * Replace a folder atomically enough to survive a crash at any point: files go into a temp
 * folder, the old folder moves to `<dir>.old`, the temp folder takes its place, the old one is
 * removed. Readers fall back to `<dir>.old` when `<dir>` is missing (see recoverDir).
 */
export function writeDirAtomic(dir: string, files: Record<string, string | Uint8Array>): void {
  const target = path.resolve(dir);
  fs.mkdirSync(path.dirname(target), { recursive: true });
  const tmp = tmpName(target);
  fs.mkdirSync(tmp);
  for (const [name, data] of Object.entries(files)) {
    const fd = fs.openSync(path.join(tmp, name), 'w');
    try {
      fs.writeSync(fd, typeof data === 'string' ? Buffer.from(data) : data);
      crashPoint(`write:${name}`);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  }
  const old = `${target}.old`;
  if (fs.existsSync(target)) {
    fs.rmSync(old, { recursive: true, force: true });
    fs.renameSync(target, old);
  }
  crashPoint('swap');
  fs.renameSync(tmp, target);
  fs.rmSync(old, { recursive: true, force: true });
}

/** The folder to read: `dir`, or `<dir>.old` left by a crash between the two renames. */
export function recoverDir(dir: string): string {
  const target = path.resolve(dir);
  if (fs.existsSync(target)) return target;
  if (fs.existsSync(`${target}.old`)) {
    process.stderr.write(`warning: ${dir} missing; reading ${dir}.old left by an interrupted write\n`);
    return `${target}.old`;
  }
  return target;
}
