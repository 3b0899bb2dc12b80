/** Classification metrics for tuned heads: hand-worked confusion matrix and macro scores. */
import test from 'node:test';
import assert from 'node:assert/strict';
import { accuracy, classificationReport, confusionMatrix } from '../../src/metrics/classification.ts';

const close = (a: number, b: number) => assert.ok(Math.abs(a - b) < 1e-12, `${a} != ${b}`);

test('hand-worked 3-class example (sklearn / torchmetrics macro conventions)', () => {
  const yTrue = ['a', 'a', 'a', 'b', 'b', 'c'];
  const yPred = ['a', 'a', 'b', 'b', 'c', 'c'];
  const r = classificationReport(yTrue, yPred);
  assert.deepEqual(r.confusion.labels, ['a', 'b', 'c']);
  assert.deepEqual(r.confusion.matrix, [
    [2, 1, 0],
    [0, 1, 1],
    [0, 0, 1],
  ]);
  close(r.accuracy, 4 / 6);
  // precision a 2/2, b 1/2, c 1/2; recall a 2/3, b 1/2, c 1/1; F1 a 0.8, b 0.5, c 2/3.
  close(r.macro_precision, (1 + 0.5 + 0.5) / 3);
  close(r.macro_recall, (2 / 3 + 0.5 + 1) / 3);
  close(r.macro_f1, (0.8 + 0.5 + 2 / 3) / 3);
  assert.deepEqual(r.per_class.map((c) => c.support), [3, 2, 1]);
  // Macro F1 is the mean of per-class F1, not the F1 of macro precision and recall.
  const f1OfMeans = (2 * r.macro_precision * r.macro_recall) / (r.macro_precision + r.macro_recall);
  assert.ok(Math.abs(f1OfMeans - r.macro_f1) > 1e-3);
});

test('zero division counts 0; explicit label lists; numeric labels sort numerically', () => {
  const r = classificationReport([0, 0, 2], [0, 10, 10], [0, 2, 10, 7]);
  const byLabel = Object.fromEntries(r.per_class.map((c) => [c.label, c]));
  assert.equal(byLabel[7].precision, 0); // never predicted, never true
  assert.equal(byLabel[7].f1, 0);
  assert.equal(byLabel[10].precision, 0); // predicted twice, never right
  assert.equal(byLabel[2].recall, 0);
  close(byLabel[0].f1, 2 / 3); // precision 1, recall 1/2
  close(r.macro_f1, 2 / 3 / 4);
  assert.deepEqual(confusionMatrix([10, 9, 2], [2, 9, 10]).labels, [2, 9, 10]);
  assert.throws(() => confusionMatrix([1], [2], [1]), /predicted label 2 is not in the label list/);
  assert.throws(() => accuracy([1, 2], [1]), /2 true labels but 1 predictions/);
  assert.throws(() => accuracy([], []), /no labels/);
  close(accuracy(['x', 'y', 'y'], ['x', 'y', 'x']), 2 / 3);
});
