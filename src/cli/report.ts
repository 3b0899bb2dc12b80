/** `lookalike report RUNS`: one self-contained HTML report (and a Markdown summary) from a run store. */
import fs from 'node:fs';
import path from 'node:path';
import { Command } from 'commander';
import { checkMetricNames } from '../metrics/registry.ts';
import { buildReport, writeReport } from '../experiments/report.ts';
import { readRuns } from '../experiments/run-records.ts';
import { parseInteger } from './options.ts';
import { guardOutput, OUTPUT_KINDS } from '../util/outputs.ts';

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
    const metrics = o.metrics.split(',').map((s) => s.trim()).filter(Boolean);
    checkMetricNames(metrics, '--metrics');
    guardOutput(o.out, { flag: '--out', kind: OUTPUT_KINDS.reportHtml, inputs: [runs] });
    if (o.markdown) guardOutput(o.markdown, { flag: '--markdown', kind: OUTPUT_KINDS.reportMarkdown, inputs: [runs, o.out] });
    if (o.svgDir && fs.existsSync(o.svgDir) && !fs.statSync(o.svgDir).isDirectory()) throw new Error(`--svg-dir ${o.svgDir}: is not a folder`);
    const records = readRuns(runs);
    const r = await buildReport(records, { store: runs, metrics, samples: parseInteger(o.samples, '--samples', 0), title: o.title });
    // Chart names are known once the report is built: check each before anything is written.
    if (o.svgDir) for (const name of Object.keys(r.svgs)) guardOutput(path.join(o.svgDir, `${name}.svg`), { flag: '--svg-dir', kind: OUTPUT_KINDS.svgChart, inputs: [runs] });
    writeReport(r, o.out, o.markdown, o.svgDir);
    process.stdout.write(`${o.out}: ${records.length} runs, ${Object.keys(r.svgs).length} charts${o.markdown ? `; ${o.markdown}` : ''}\n`);
  });
  return cmd;
}
