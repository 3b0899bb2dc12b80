/** The `lookalike` command line: one subcommand per file in this folder. */
import { Command, CommanderError } from 'commander';
import { indexCommand } from './index-cmd.ts';
import { compactCommand } from './compact.ts';
import { verifyCommand } from './verify.ts';
import { searchCommand } from './search.ts';
import { competeCommand } from './compete.ts';
import { demoCommand } from './demo.ts';
import { evalCommand } from './eval.ts';
import { modelsCommand } from './models.ts';
import { tuneCommand } from './tune.ts';
import { dedupCommand } from './dedup.ts';
import { serveCommand } from './serve.ts';
import { experimentCommand } from './experiment.ts';
import { workerCommand } from './worker.ts';
import { statusCommand } from './status.ts';
import { reportCommand } from './report.ts';
import { adviseCommand } from './advise.ts';

/** Build the program with every subcommand. */
export function program(): Command {
  const program = new Command('lookalike')
    .description('top-k image retrieval: embed, index, search, evaluate, tune')
    .version('0.1.0')
    .showHelpAfterError()
    .addHelpText('after', `
Example:
  lookalike index ./gallery --model model.onnx --out gallery.lkx
  lookalike search gallery.lkx ./query.jpg -k 10
  lookalike compete ./comp --model model.onnx -k 10 --out sub.json`);
  program.addCommand(indexCommand());
  program.addCommand(compactCommand());
  program.addCommand(verifyCommand());
  program.addCommand(searchCommand());
  program.addCommand(competeCommand());
  program.addCommand(demoCommand());
  program.addCommand(evalCommand());
  program.addCommand(modelsCommand());
  program.addCommand(tuneCommand());
  program.addCommand(dedupCommand());
  program.addCommand(serveCommand());
  program.addCommand(experimentCommand());
  program.addCommand(workerCommand());
  program.addCommand(statusCommand());
  program.addCommand(reportCommand());
  program.addCommand(adviseCommand());
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

/** Run the CLI; errors print one line and exit 1 (2 for usage errors). */
export async function main(argv: string[]): Promise<void> {
  quietOnClosedPipe();
  const p = program();
  p.exitOverride();
  for (const c of p.commands) c.exitOverride();
  try {
    await p.parseAsync(argv);
  } catch (e) {
    if (e instanceof CommanderError) {
      process.exitCode = e.exitCode === 0 ? 0 : 2;
      return;
    }
    process.stderr.write(`error: ${(e as Error).message}\n`);
    if (process.env.LOOKALIKE_DEBUG) process.stderr.write(`${(e as Error).stack}\n`);
    process.exitCode = 1;
  }
}
