/**
 * Where the CLI prints: results to `out`, notes, skips and errors to `err`. The binary prints to
 * the process's stdout and stderr; `run` can be given other sinks (tests run commands in-process
 * and read what they printed).
 */

import { escapeControls } from '../schema.ts';

/** The two sinks of a command's output. */
export interface CliIo {
  out: (text: string) => void;
  err: (text: string) => void;
}

const processIo: CliIo = {
  out: (text) => void process.stdout.write(text),
  err: (text) => void process.stderr.write(text),
};

let current: CliIo = processIo;

/** Print results (stdout); control characters (from file names) are escaped, newlines kept. */
export function printOut(text: string): void {
  current.out(escapeControls(text));
}

/** Print notes, skipped files and errors (stderr); control characters are escaped, newlines kept. */
export function printErr(text: string): void {
  current.err(escapeControls(text));
}

/** Run fn with the CLI printing to `io` (the process's streams when undefined). */
export async function withIo<T>(io: CliIo | undefined, fn: () => Promise<T>): Promise<T> {
  const before = current;
  current = io ?? processIo;
  try {
    return await fn();
  } finally {
    current = before;
  }
}
