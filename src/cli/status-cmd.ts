/** `lookalike status --store postgres://...`: the embedding queue and throughput per worker. */
import { Command } from 'commander';
import { printJson } from './flags.ts';
import { printOut } from './io.ts';

/** The `status` command. */
export function statusCommand(): Command {
  return new Command('status')
    .description('show the embedding queue of a Postgres store: queued, running, done, failed; throughput per worker')
    .requiredOption('--store <url>', 'postgres://user:pass@host/db[?index=NAME]')
    .option('--json', 'print JSON')
    .addHelpText('after', `
Example:
  lookalike status --store postgres://lookalike:secret@localhost/lookalike`)
    .action(async (o: { store: string; json?: boolean }) => {
      const api = await import('../api.ts');
      const { index, ...s } = await api.workStatus(o.store);
      if (o.json) return printJson(s);
      const st = s.states;
      const out: string[] = [
        `${index}: ${s.stored} images stored`,
        `jobs: ${st.created} queued, ${st.retry} waiting to retry, ${st.active} running, ${st.completed} done, ${st.failed} failed${st.cancelled ? `, ${st.cancelled} cancelled` : ''}`,
      ];
      if (s.workers.length) {
        out.push('worker                          jobs   images  failed  busy s   images/s  last seen');
        for (const w of s.workers) {
          out.push(`${w.worker.padEnd(30)} ${String(w.jobs).padStart(5)} ${String(w.images).padStart(8)} ${String(w.failed).padStart(7)} ${w.busySeconds.toFixed(1).padStart(7)} ${w.imagesPerSecond.toFixed(1).padStart(10)}  ${w.lastSeen}`);
        }
      }
      for (const f of s.failures) out.push(`failed job ${f.id} after ${f.retries} retries: ${f.error}`);
      printOut(out.join('\n') + '\n');
    });
}
