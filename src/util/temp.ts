/**
 * Temp names lookalike alone creates and recognises: a hidden sibling of the target,
 * `.NAME.lookalike-tmp-PID-RAND`. A temp whose process is gone is stale and is removed by the
 * next writer of the same target; nothing else in the folder is ever touched.
 */
import fs from 'node:fs';
import path from 'node:path';

const TAG = '.lookalike-tmp-';

/** A fresh temp path beside `target` (same folder, so a rename onto the target is atomic). */
export function tempPath(target: string): string {
  const abs = path.resolve(target);
  return path.join(path.dirname(abs), `.${path.basename(abs)}${TAG}${process.pid}-${Math.random().toString(36).slice(2, 10)}`);
}

/** The target name and pid of a lookalike temp file name, or undefined for any other name. */
export function parseTempName(name: string): { target: string; pid: number } | undefined {
  const m = /^\.(.+)\.lookalike-tmp-(\d+)-[a-z0-9]+$/.exec(name);
  return m ? { target: m[1], pid: Number(m[2]) } : undefined;
}

/** True while a process with this id exists (EPERM: it exists but belongs to another user). */
export function processAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Remove stale temps of `target` (lookalike temp names for this target whose process is gone;
 * plain files only). Returns the paths removed.
 */
export function cleanStaleTemps(target: string): string[] {
  const abs = path.resolve(target);
  const dir = path.dirname(abs);
  const base = path.basename(abs);
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    const t = parseTempName(name);
    if (!t || t.target !== base || processAlive(t.pid)) continue;
    const p = path.join(dir, name);
    try {
      if (!fs.lstatSync(p).isFile()) continue;
      fs.unlinkSync(p);
      removed.push(p);
    } catch {
      // gone already, or not ours to remove
    }
  }
  return removed;
}
