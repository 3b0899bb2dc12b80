/** `lookalike experiment CONFIG`: models x datasets x modes from one YAML/JSON file, tracked in a run store. */
import { Command } from 'commander';
import { printJson } from './flags.ts';
import { printOut, printErr } from './io.ts';

/** The `experiment` command. */
export function experimentCommand(): Command {
  const cmd = new Command('experiment')
    .description('run models x datasets x modes from a config file; every cell a tracked run in a run store (resumes where it stopped)')
    .argument('<config>', 'experiment config (.yaml or .json; see docs/runs.md)')
    .option('--dry-run', 'list the runs (and which are already finished) without running anything')
    .option('--force', 'run again even the runs that already finished')
    .option('--json', 'print a JSON summary, no progress');
  cmd.addHelpText('after', `
Config (docs/runs.md): name, store (run folder, default ./runs), cache (embedding cache, default
./.lookalike-cache), seed, seeds (replicates of each tuned cell: mean ± sample sd, default 1), ks,
metrics, models [{name, model, flags}], datasets [{name, path, protocol:
leave-one-out|split|cross-domain|competition|oxford|captions, holdOut: classes}], modes [{name, kind:
frozen|tune|projection|cross|search|distill|whiten, rerank, ...lookalike tune options}]. Cells that cannot apply (tuning on
captions or Oxford data, image<->text with a model without a text tower) are recorded as
not-applicable. With MLFLOW_TRACKING_URI set, every run is also logged to that MLflow server.

Example:
  lookalike experiment bench/experiment.yaml --dry-run
  lookalike experiment bench/experiment.yaml
  lookalike report runs/bench --out report.html`);
  cmd.action(async (file: string, o: { dryRun?: boolean; force?: boolean; json?: boolean }) => {
    const api = await import('../api.ts');
    const { notApplicable } = api;
    const c = api.readExperimentConfig(file);
    const log = (s: string) => (o.json ? undefined : printErr(`${s}\n`));
    const mlflow = o.dryRun ? undefined : api.mlflowFromEnv();
    if (mlflow) log(`logging runs to MLflow at ${mlflow.base}`);
    const r = await api.runExperiment(c, { dryRun: o.dryRun, force: o.force, quiet: o.json, log, command: process.argv.slice(1), onRecord: mlflow ? async (rec, dir) => {
      try {
        await mlflow.logRun(rec, dir);
      } catch (e) {
        printErr(`warning: run ${rec.id} kept in the run store but not logged to MLflow: ${(e as Error).message}\n`);
      }
    } : undefined });
    if (o.dryRun) {
      if (o.json) return printJson({ experiment: c.name, store: c.store, runs: r.planned.map((p) => ({ id: p.plan.id, model: p.plan.model.name, dataset: p.plan.dataset.name, mode: p.plan.mode.name, kind: p.plan.mode.kind, done: p.done, ...(notApplicable(p.plan) ? { not_applicable: notApplicable(p.plan) } : {}) })) });
      const lines = r.planned.map((p, i) => `${String(i + 1).padStart(3)}  ${p.done ? 'done   ' : 'to run '} ${p.plan.id}${notApplicable(p.plan) ? `  (n/a: ${notApplicable(p.plan)})` : ''}`);
      printOut(`${c.name}: ${r.planned.length} runs (${r.skipped} finished, ${r.planned.length - r.skipped} to run), store ${c.store}\n${lines.join('\n')}\n`);
      return;
    }
    const summary = { experiment: c.name, store: c.store, runs: r.planned.length, ran: r.ran, skipped_finished: r.skipped, failed: r.records.filter((x) => x.status === 'failed').length, not_applicable: r.records.filter((x) => x.status === 'not-applicable').length, embedded_now: r.embeddedNow, from_cache: r.fromCache, seconds: Math.round(r.seconds * 10) / 10 };
    if (o.json) return printJson(summary);
    printOut(`${c.name}: ${r.ran} runs done, ${r.skipped} already finished, ${summary.failed} failed${summary.not_applicable ? `, ${summary.not_applicable} not applicable` : ''}; ${r.embeddedNow} images embedded, ${r.fromCache} from the cache; ${summary.seconds}s\nrun store: ${c.store}/${c.name} (lookalike report ${c.store}/${c.name} --out report.html)\n`);
    if (summary.failed) process.exitCode = 1;
  });
  return cmd;
}
