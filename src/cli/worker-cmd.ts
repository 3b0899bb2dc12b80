/** `lookalike worker --store postgres://...`: claim embedding jobs from the queue and write vectors. */
import { Command } from 'commander';
import { addModelOptions, modelSettings, printJson, setFlagNames, type ModelFlags } from './flags.ts';
import { printErr } from './io.ts';

interface WorkerFlags extends ModelFlags {
  store: string;
  concurrency?: string;
  untilEmpty?: boolean;
  poll?: string;
}

/** The `worker` command. */
export function workerCommand(): Command {
  const cmd = new Command('worker')
    .description('claim embedding jobs queued by `index --enqueue`, embed with the store\'s model, write the vectors')
    .requiredOption('--store <url>', 'postgres://user:pass@host/db[?index=NAME] (the store the jobs belong to)')
    .option('--concurrency <n>', 'jobs processed at once in this process (default 1)')
    .option('--until-empty', 'exit when nothing is queued, retrying or running (default: keep waiting for jobs)')
    .option('--poll <s>', 'seconds between polls of an empty queue (default 2)')
    .option('--json', 'print a JSON summary at exit, no per-job lines');
  addModelOptions(cmd, false);
  setFlagNames(cmd, { pollSeconds: '--poll' });
  cmd.addHelpText('after', `
The model (and head) come from the store; --model/spec flags are only checked against it: a
worker refuses to write vectors from a different fingerprint. SIGINT/SIGTERM stop after the
current job; a worker killed outright loses nothing (its job is retried after the queue's timeout).

Example:
  lookalike index /mnt/gallery --model model.onnx --store postgres://lookalike:secret@db/lookalike --enqueue
  lookalike worker --store postgres://lookalike:secret@db/lookalike --concurrency 2   # on each machine
  lookalike status --store postgres://lookalike:secret@db/lookalike`);
  cmd.action(async (o: WorkerFlags) => {
    const api = await import('../api.ts');
    const log = (s: string) => !o.json && printErr(`${s}\n`);
    let stop!: () => void;
    const stopped = new Promise<void>((r) => (stop = r));
    const onSignal = () => {
      if (!o.json) printErr('worker: stopping after the current job\n');
      stop();
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    const { store, concurrency, untilEmpty, poll } = o;
    const r = await api.work(store, {
      model: modelSettings(o),
      concurrency: concurrency === undefined ? undefined : api.toInteger(concurrency, 'concurrency', 1),
      pollSeconds: poll === undefined ? undefined : api.toNumber(poll, 'pollSeconds'),
      untilEmpty,
      stop: stopped,
      onStart: (e) => log(`worker ${e.worker}: ${e.model} ${e.fingerprint.slice(0, 12)}, ${e.concurrency} at once`),
      onClaim: (id, n) => log(`claimed job ${id} (${n} images)`),
      onJob: (e) =>
        log(e.error ? `job ${e.id} failed: ${e.error}` : `job ${e.id}: ${e.images} images in ${e.seconds.toFixed(1)} s (${(e.images / Math.max(e.seconds, 1e-9)).toFixed(1)} img/s)${e.skipped.length ? `, ${e.skipped.length} skipped: ${e.skipped.map((s) => `${s.id} (${s.reason})`).join('; ')}` : ''}`),
    });
    if (o.json) printJson(r);
    else log(`worker ${r.worker}: ${r.jobs} jobs, ${r.images} images, ${r.failed} failed in ${r.seconds.toFixed(1)} s`);
  });
  return cmd;
}
