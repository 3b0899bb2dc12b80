/** The metric registry drives names, scoring, tables and help; the Oxford truth reader and eval --oxford. */
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { METRICS, checkMetricNames, findMetric, metricsHelp, retrievalNames } from '../../src/metrics/registry.ts';
import { metricNames, scoreQuery, evaluateJudgements } from '../../src/metrics/evaluate.ts';
import { formatTable } from '../../src/metrics/eval-report.ts';
import { readOxfordTruth, scoreOxford } from '../../src/metrics/oxford-truth.ts';
import { evaluateOxford } from '../../src/eval/oxford-index.ts';
import { tmpDir } from '../helpers/tmp.ts';

test('metric names come from the registry in the golden order', () => {
  assert.deepEqual(metricNames([1, 5]), retrievalNames([1, 5]));
  assert.deepEqual(metricNames([1]), ['precision@1', 'recall@1', 'hit@1', 'mp@1', 'ndcg@1', 'ap@1', 'ap', 'map@r', 'r_precision', 'rr', 'weighted_topk', 'ns@4']);
  // Every name scored by scoreQuery is declared.
  const m = scoreQuery([true, false, true], 3, [1, 5]);
  for (const n of Object.keys(m)) assert.ok(findMetric(n), n);
  assert.equal(m['precision@5'], 2 / 5);
  assert.equal(findMetric('mp@5')?.k, 5);
  assert.equal(findMetric('mmp@5')?.def.aggregation, 'domain-mean');
  assert.equal(findMetric('macro_f1')?.def.family, 'classification');
  assert.equal(findMetric('bogus@5'), undefined);
  assert.throws(() => checkMetricNames(['mmp@5', 'nope'], 'exp.yaml'), /exp\.yaml: unknown metric "nope"/);
  assert.ok(metricsHelp().includes('mmp@5'));
  assert.equal(new Set(METRICS.map((d) => (d.perK ? d.name + '@k' : d.name))).size, METRICS.length);
});

test('the eval table prints every registry description', () => {
  const r = evaluateJudgements([{ id: 'q', rel: [true, false], R: 1 }], { ks: [1] });
  const t = formatTable(r);
  for (const d of METRICS.filter((x) => x.family === 'retrieval' && !x.perK)) assert.ok(t.includes(d.description), d.name);
  assert.match(t, /mmp@5\s+1\.0000/);
});

test('Oxford truth folder: good/ok positive, junk removed, query image dropped', async () => {
  const dir = tmpDir();
  fs.writeFileSync(path.join(dir, 'tower_1_query.txt'), 'oxc1_a 1 2 3 4\n');
  fs.writeFileSync(path.join(dir, 'tower_1_good.txt'), 'a\nb\n');
  fs.writeFileSync(path.join(dir, 'tower_1_ok.txt'), 'c\n');
  fs.writeFileSync(path.join(dir, 'tower_1_junk.txt'), 'j\n');
  const truth = readOxfordTruth(dir);
  assert.deepEqual(truth, [{ id: 'tower_1', image: 'a', good: ['a', 'b'], ok: ['c'], junk: ['j'] }]);
  // Ranking a, j, x, b, c -> without self and junk: x b c -> rel 0 1 1, R = 2.
  const s = scoreOxford(truth, new Map([['tower_1', ['img/a.jpg', 'img/j.jpg', 'img/x.jpg', 'img/b.jpg', 'img/c.jpg']]]));
  // trapezoid: rank 2 adds 0.5*(0 + 1/2)/2 = 0.125, rank 3 adds 0.5*(1/2 + 2/3)/2 = 0.291666...
  assert.ok(Math.abs(s.oxford_map - (0.125 + 7 / 24)) < 1e-12);
  // Through vectors: a and b identical direction, c close, j and x far.
  const ids = ['img/a.jpg', 'img/b.jpg', 'img/c.jpg', 'img/j.jpg', 'img/x.jpg'];
  const v = Float32Array.from([1, 0, 1, 0, 0.9, 0.436, 0, 1, -1, 0]);
  const r = await evaluateOxford(ids, v, 2, truth);
  assert.equal(r.mean.oxford_map, 1);
  fs.writeFileSync(path.join(dir, 'tower_2_query.txt'), 'oxc1_zz\n');
  assert.throws(() => readOxfordTruth(dir), /tower_2_good\.txt: query tower_2 has no good or ok images/);
  assert.throws(() => readOxfordTruth(path.join(dir, 'none')), /not a folder/);
});
