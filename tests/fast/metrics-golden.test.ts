/** Exact agreement (1e-9) with the independent reference values in ../shared/metrics-golden. */
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { readSubmission, readTruth } from '../../src/metrics/competition.ts';
import { evaluateLabelled, evaluateSubmission, readCases } from '../../src/metrics/evaluate.ts';

const dir = path.resolve(import.meta.dirname, '../../../shared/metrics-golden');
const expected = JSON.parse(fs.readFileSync(path.join(dir, 'expected.json'), 'utf8')) as {
  mean: Record<string, number>;
  per_query: Record<string, Record<string, number>>;
  queries_scored: number;
  queries_skipped_no_relevant: string[];
};
const subExpected = JSON.parse(fs.readFileSync(path.join(dir, 'submission_expected.json'), 'utf8')) as Record<string, number>;

function near(actual: number | undefined, want: number, what: string): void {
  assert.ok(actual !== undefined, `${what}: missing`);
  assert.ok(Math.abs(actual - want) <= 1e-9, `${what}: ${actual} != ${want}`);
}

test('cases.json reproduces every mean and per-query value of expected.json', () => {
  const cases = readCases(path.join(dir, 'cases.json'));
  const r = evaluateLabelled(cases.gallery, cases.queries);
  assert.deepEqual(Object.keys(r.mean), Object.keys(expected.mean), 'same metric names, same order');
  for (const [m, v] of Object.entries(expected.mean)) near(r.mean[m], v, `mean ${m}`);
  assert.deepEqual(Object.keys(r.per_query).sort(), Object.keys(expected.per_query).sort());
  let n = 0;
  for (const [q, ms] of Object.entries(expected.per_query)) {
    assert.deepEqual(Object.keys(r.per_query[q]).sort(), Object.keys(ms).sort(), `metrics of ${q}`);
    for (const [m, v] of Object.entries(ms)) (near(r.per_query[q][m], v, `${q} ${m}`), n++);
  }
  assert.ok(n > 500, `checked ${n} values`);
  assert.equal(r.queries_scored, expected.queries_scored);
  assert.deepEqual(r.queries_skipped_no_relevant, expected.queries_skipped_no_relevant);
});

test('submission.json + truth.json reproduce submission_expected.json', () => {
  const r = evaluateSubmission(readSubmission(path.join(dir, 'submission.json')), readTruth(path.join(dir, 'truth.json')));
  near(r.weighted_topk, subExpected.weighted_topk, 'weighted_topk');
  assert.equal(r.queries_scored, subExpected.queries_scored);
  assert.equal(r.queries_without_truth, subExpected.queries_without_truth);
  // The submission holds the same rankings cut at 10, so every @k<=10 value matches expected.json too.
  for (const [q, ms] of Object.entries(expected.per_query)) {
    for (const m of ['precision@1', 'precision@5', 'precision@10', 'recall@10', 'hit@10', 'ndcg@10', 'ap@10', 'weighted_topk', 'ns@4']) {
      near(r.per_query[`${q}.jpg`][m], ms[m], `${q} ${m}`);
    }
  }
});
