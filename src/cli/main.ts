/**
 * The `lookalike` command line: one subcommand per `*-cmd.ts` file in this folder. Building the
 * program reads only the library's declarations (src/schema.ts); a command loads the library
 * (src/api.ts, and with it models, stores and native code) when it runs.
 */
import { Command, CommanderError } from 'commander';
import { isOptionError } from '../schema.ts';
import { flagNamesOf, flagOf } from './flags.ts';
import { indexCommand } from './index-cmd.ts';
import { compactCommand } from './compact-cmd.ts';
import { verifyCommand } from './verify-cmd.ts';
import { searchCommand } from './search-cmd.ts';
import { fieldsCommand } from './fields-cmd.ts';
import { competeCommand } from './compete-cmd.ts';
import { demoCommand } from './demo-cmd.ts';
import { evalCommand } from './eval-cmd.ts';
import { modelsCommand } from './models-cmd.ts';
import { tuneCommand } from './tune-cmd.ts';
import { whitenCommand } from './whiten-cmd.ts';
import { dedupCommand } from './dedup-cmd.ts';
import { mapCommand } from './map-cmd.ts';
import { serveCommand } from './serve-cmd.ts';
import { experimentCommand } from './experiment-cmd.ts';
import { workerCommand } from './worker-cmd.ts';
import { statusCommand } from './status-cmd.ts';
import { reportCommand } from './report-cmd.ts';
import { adviseCommand } from './advise-cmd.ts';
import { printErr, printOut, withIo, type CliIo } from './io.ts';

/** Build the program with every subcommand. */
export function program(): Command {
  const program = new Command('lookalike')
    .description('top-k image retrieval: embed, index, search, evaluate, tune')
    .version('0.1.0')
    .showHelpAfterError()
    // Lets a command with subcommands keep its own options apart from theirs (`fields` / `fields set`).
    .enablePositionalOptions()
    .addHelpText('after', `
Example:
  lookalike index ./gallery --model model.onnx --out gallery.lkx
  lookalike search gallery.lkx ./query.jpg -k 10
  lookalike compete ./comp --model model.onnx -k 10 --out sub.json`);
  for (const make of [indexCommand, compactCommand, verifyCommand, searchCommand, fieldsCommand, competeCommand, demoCommand, evalCommand, modelsCommand, tuneCommand, dedupCommand, mapCommand, serveCommand, experimentCommand, workerCommand, statusCommand, reportCommand, adviseCommand, whitenCommand]) {
    program.addCommand(make());
  }
  return program;
}

/**
 * A closed stdout (`lookalike tune --help | head -1`) ends the process quietly, as SIGPIPE
 * would, with no stack trace: the reader is gone, and results are printed after the work is
 * written. A closed stderr only silences progress and skip lines: the work goes on.
 */
export function quietOnClosedPipe(): void {
  const closed = (e: NodeJS.ErrnoException) => e.code === 'EPIPE' || e.code === 'ERR_STREAM_DESTROYED';
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (closed(e)) process.exit(process.exitCode ?? 0);
    process.exitCode = 1;
  });
  process.stderr.on('error', (e: NodeJS.ErrnoException) => {
    if (!closed(e)) process.exitCode = 1;
  });
}

/** The one-line message of an error, with the library's option names spelled as this command's flags. */
export function errorLine(e: unknown, cmd?: Command): string {
  if (isOptionError(e)) return e.render((option) => flagOf(option, flagNamesOf(cmd)));
  return (e as Error).message;
}

/** Run one command line (argv as process.argv: node, script, args...), printing to `io` (default the process's streams); errors print one line. Resolves to the exit code: 0, 1 for errors, 2 for usage errors. */
export async function run(argv: string[], io?: CliIo): Promise<number> {
  return withIo(io, () => runCommand(argv));
}

/** Every command's own output (help, usage errors) through the CLI's sinks. */
function routeOutput(cmd: Command): void {
  cmd.configureOutput({ writeOut: printOut, writeErr: printErr });
  for (const c of cmd.commands) routeOutput(c);
}

async function runCommand(argv: string[]): Promise<number> {
  const p = program();
  routeOutput(p);
  let running: Command | undefined;
  p.hook('preAction', (_root, action) => {
    running = action;
  });
  p.exitOverride();
  for (const c of p.commands) c.exitOverride();
  const before = process.exitCode;
  process.exitCode = undefined;
  try {
    await p.parseAsync(argv);
    return Number(process.exitCode ?? 0);
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : 2;
    printErr(`error: ${errorLine(e, running)}\n`);
    if (process.env.LOOKALIKE_DEBUG) printErr(`${(e as Error).stack}\n`);
    return 1;
  } finally {
    process.exitCode = before;
  }
}

/** The `lookalike` binary: run the command line and set the process's exit code. */
export async function main(argv: string[]): Promise<void> {
  quietOnClosedPipe();
  process.exitCode = await run(argv);
}
