/** lookalike report: tables with the best cell marked, deltas, SVG charts from vega-lite, thumbnails; opened in Chromium (playwright-core) with a screenshot. */
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { chromium } from 'playwright-core';
import { writeClassFolders } from '../../src/data/synthetic.ts';
import { tinyCnn } from '../../src/models/tiny.ts';
import { readExperimentConfig } from '../../src/experiments/experiment-config.ts';
import { runExperiment } from '../../src/experiments/runner.ts';
import { readRuns } from '../../src/experiments/run-records.ts';
import { metricTable, deltas } from '../../src/experiments/report-data.ts';
import { ROOT, tmpDir } from '../helpers/tmp.ts';
import { OUTPUT_KINDS } from '../../src/util/outputs.ts';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

test('report: HTML + Markdown + SVGs from tracked runs; opens in Chromium with every chart and thumbnail', async (t) => {
  const dir = tmpDir('lookalike-report-');
  await writeClassFolders(path.join(dir, 'ds'), 8, 10, 0, 40);
  fs.writeFileSync(path.join(dir, 'tiny.onnx'), tinyCnn());
  fs.writeFileSync(path.join(dir, 'tiny2.onnx'), tinyCnn({ seed: 7, channels: 8, dim: 8 }));
  fs.writeFileSync(
    path.join(dir, 'exp.yaml'),
    `name: rep
models:
  - {name: tiny-a, model: tiny.onnx, flags: {resize: 32x32, crop: none}}
  - {name: tiny-b, model: tiny2.onnx, flags: {resize: 32x32, crop: none}}
datasets:
  - {name: ds, path: ds, testClasses: 0.5}
modes:
  - frozen
  - {name: tune, kind: tune, loss: supcon, epochs: 3, hidden: 16, batchSize: 12}
`,
  );
  await runExperiment(readExperimentConfig(path.join(dir, 'exp.yaml')), { quiet: true });
  const runs = readRuns(path.join(dir, 'runs'));
  assert.equal(runs.length, 4);
  for (const x of runs) assert.equal(x.status, "finished", `${x.id}: ${x.reason}`);
  // Best cells per column: exactly those holding the maximum (ties all marked).
  const tbl = metricTable(runs, 'mmp@5');
  const values = tbl.rows.map((r) => r.cells[0].value!);
  const max = Math.max(...values);
  assert.deepEqual(tbl.rows.map((r) => r.cells[0].best), values.map((v) => v === max));
  assert.equal(deltas(runs, 'mmp@5').length, 2);

  const out = path.join(dir, 'report.html');
  const r = spawnSync(process.execPath, [path.join(ROOT, 'bin/lookalike.js'), 'report', path.join(dir, 'runs'), '--out', out, '--markdown', path.join(dir, 'summary.md'), '--svg-dir', path.join(dir, 'charts')], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const html = fs.readFileSync(out, 'utf8');
  assert.ok(!/(src|href)="https?:/.test(html), 'self-contained: no external references');
  assert.match(html, /★/);
  const md = fs.readFileSync(path.join(dir, 'summary.md'), 'utf8');
  // One table per dataset, every metric a column (the chosen ones first), and the verdict line.
  assert.match(md, /\n## ds\n\n\| model \| mode \| mmp@5 \| mr@1 \| precision@1 \| map@r \| [^\n]*precision@10/);
  const best = runs.reduce((a, b) => (b.metrics['mmp@5'] > a.metrics['mmp@5'] ? b : a));
  const frozen = runs.find((x) => x.mode.kind === 'frozen' && x.model.name === best.model.name)!;
  const gain = best.mode.kind === 'frozen' ? ' \\(frozen is best\\)' : ` \\([+-]${Math.abs((best.metrics['mmp@5'] - frozen.metrics['mmp@5']) * 100).toFixed(1)} points over frozen`;
  assert.match(md, new RegExp(`\\*\\*Best per dataset by mmp@5: ds: ${best.model.name} × ${best.mode.name}, mmp@5 ${best.metrics['mmp@5'].toFixed(4)}${gain}`));
  const wrong = (JSON.parse(fs.readFileSync(path.join(dir, 'runs', best.experiment, best.id, 'rankings.json'), 'utf8')) as { top: { relevant: boolean }[] }[]).filter((q) => !q.top[0].relevant).length;
  assert.ok(wrong > 0, 'the tiny models get some queries wrong');
  assert.equal((html.match(/<div class="strip failure">/g) ?? []).length, Math.min(8, wrong));
  assert.match(html, new RegExp(`ds: ${wrong} of \\d+ queries wrong at rank 1`));
  assert.match(md, /!\[bars-mmp_5\]\(charts\/bars-mmp_5\.svg\)/);
  for (const f of ['bars-mmp_5.svg', 'precision-at-k.svg', 'validation-epochs.svg', 'throughput.svg']) assert.match(fs.readFileSync(path.join(dir, 'charts', f), 'utf8'), /^<svg/);
  // Re-running may replace these files (lookalike recognises its own report, summary and charts); nothing else.
  assert.ok(OUTPUT_KINDS.reportHtml.recognise(fs.readFileSync(out)) && OUTPUT_KINDS.reportMarkdown.recognise(fs.readFileSync(path.join(dir, 'summary.md'))));
  assert.ok(OUTPUT_KINDS.svgChart.recognise(fs.readFileSync(path.join(dir, 'charts', 'throughput.svg'))));
  fs.writeFileSync(path.join(dir, 'notes.html'), '<p>mine</p>');
  const guarded = spawnSync(process.execPath, [path.join(ROOT, 'bin/lookalike.js'), 'report', path.join(dir, 'runs'), '--out', path.join(dir, 'notes.html')], { encoding: 'utf8' });
  assert.equal(guarded.status, 1);
  assert.match(guarded.stderr, /^error: --out .*notes\.html: exists and is not an HTML report written by `lookalike report`/);
  assert.equal(fs.readFileSync(path.join(dir, 'notes.html'), 'utf8'), '<p>mine</p>');
  // Errors: an unknown metric, an empty folder.
  const bad = spawnSync(process.execPath, [path.join(ROOT, 'bin/lookalike.js'), 'report', path.join(dir, 'runs'), '--out', out, '--metrics', 'zz'], { encoding: 'utf8' });
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /--metrics: unknown metric "zz"/);

  if (!fs.existsSync(CHROMIUM)) return t.skip(`no Chromium at ${CHROMIUM}`);
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update'] });
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const requests: string[] = [];
    page.on('request', (req) => requests.push(req.url()));
    await page.goto(`file://${out}`);
    const facts = await page.evaluate(() => ({
      charts: document.querySelectorAll('.chart svg').length,
      marks: document.querySelectorAll('.chart svg path, .chart svg rect').length,
      thumbs: [...document.querySelectorAll('.strip:not(.failure) img')].map((i) => (i as HTMLImageElement).naturalWidth),
      best: document.querySelectorAll('td.best').length,
      verdict: document.querySelector('.verdict')?.textContent ?? '',
      verdictTop: document.querySelector('.verdict')?.getBoundingClientRect().top ?? 1e9,
      failures: [...document.querySelectorAll('.strip.failure img')].map((i) => (i as HTMLImageElement).naturalWidth),
      chartWidths: [...document.querySelectorAll('.chart svg')].map((x) => x.getBoundingClientRect().width),
      title: document.title,
    }));
    assert.ok(facts.charts >= 6, `charts: ${facts.charts}`);
    assert.ok(facts.marks > 20);
    assert.ok(facts.thumbs.length >= 6 && facts.thumbs.every((w) => w === 64), `thumbnails decoded: ${facts.thumbs}`);
    assert.ok(facts.best >= 5);
    assert.match(facts.title, /lookalike report: rep/);
    assert.match(facts.verdict, /^Best per dataset by mmp@5: ds: /);
    assert.ok(facts.verdictTop < 120, 'the verdict opens the report');
    assert.ok(facts.failures.length >= 6 && facts.failures.every((w) => w === 96), `failure thumbnails: ${facts.failures}`);
    assert.ok(Math.max(...facts.chartWidths) > 500, `charts large enough to read: ${facts.chartWidths}`);
    assert.ok(requests.every((u) => u.startsWith('file:') || u.startsWith('data:')), `no network: ${requests.filter((u) => !u.startsWith('file:') && !u.startsWith('data:'))}`);
    fs.mkdirSync(path.join(ROOT, 'out', 'test-artefacts'), { recursive: true });
    const shot = path.join(process.env.LOOKALIKE_SCREENSHOT_DIR ?? path.join(ROOT, 'out', 'test-artefacts'), 'report.png');
    await page.screenshot({ path: shot, fullPage: true });
    assert.ok(fs.statSync(shot).size > 10000);
  } finally {
    await browser.close();
  }
});
