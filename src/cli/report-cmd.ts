/** `lookalike report RUNS`: one self-contained HTML report (and a Markdown summary) from a run store. */
import { Command } from 'commander';
import { printOut } from './io.ts';

/** The `report` command. */
export function reportCommand(): Command {
  const cmd = new Command('report')
    .description('write one self-contained HTML report (tables, SVG charts, sample queries) and a Markdown summary from tracked runs')
    .argument('<runs>', 'run store, experiment folder or run folder (from `lookalike experiment`)')
    .requiredOption('-o, --out <file.html>', 'HTML file to write')
    .option('--markdown <file.md>', 'also write a Markdown summary')
    .option('--svg-dir <dir>', 'also write each chart as an SVG file (the Markdown links them)')
    .option('--metrics <list>', 'metrics with a table, headline first', 'mmp@5,mr@1,precision@1,map@r,weighted_topk')
    .option('--samples <n>', 'sample queries per dataset', '4')
    .option('--title <text>', 'report title');
  cmd.addHelpText('after', `
Example:
  lookalike experiment bench/experiment.yaml
  lookalike report bench/runs/benchmark --out report.html --markdown summary.md --svg-dir charts`);
  cmd.action(async (runs: string, o: { out: string; markdown?: string; svgDir?: string; metrics: string; samples: string; title?: string }) => {
    const api = await import('../api.ts');
    const metrics = o.metrics.split(',').map((s) => s.trim()).filter(Boolean);
    const r = await api.reportRuns(runs, { out: o.out, markdown: o.markdown, svgDir: o.svgDir, metrics, samples: api.toInteger(o.samples, 'samples', 0), title: o.title });
    printOut(`${o.out}: ${r.runs} runs, ${r.charts} charts${o.markdown ? `; ${o.markdown}` : ''}\n`);
  });
  return cmd;
}
