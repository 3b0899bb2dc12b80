/**
 * The CLI in this process (src/cli/main.ts#run) with what it prints captured: the same
 * commands, flags, output and exit codes as the binary, without a process start per call. One
 * call at a time; tests of what only a process shows (signals, environment variables read at
 * start, a closed pipe, the binary itself) use `cli` from ./tmp.ts instead.
 */
import { run } from '../../src/cli/main.ts';

let queue: Promise<unknown> = Promise.resolve();

/** Run `lookalike ARGS` in-process; resolves to its exit status and what it printed. */
export function runCli(args: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  const next = queue.then(async () => {
    let stdout = '';
    let stderr = '';
    const status = await run(['node', 'lookalike', ...args], { out: (t) => (stdout += t), err: (t) => (stderr += t) });
    return { status, stdout, stderr };
  });
  queue = next.catch(() => undefined);
  return next;
}
