/**
 * Classification metrics for tuned heads: accuracy, macro precision/recall/F1 and the confusion
 * matrix. Conventions of scikit-learn (average='macro', zero_division=0) and torchmetrics
 * (multiclass, average='macro'): macro averages run over the classes that occur in the truth or
 * the predictions (or over an explicit label list); a 0/0 ratio counts as 0; macro F1 is the mean
 * of per-class F1, not the F1 of macro precision and recall.
 */

/** A class label. */
export type ClassLabel = string | number;

/** Confusion matrix: matrix[t][p] counts items of true class labels[t] predicted as labels[p]. */
export interface ConfusionMatrix {
  labels: ClassLabel[];
  matrix: number[][];
}

/** Per-class precision, recall, F1 and support (number of true items). */
export interface ClassScores {
  label: ClassLabel;
  precision: number;
  recall: number;
  f1: number;
  support: number;
}

/** A full classification report. */
export interface ClassificationReport {
  accuracy: number;
  macro_precision: number;
  macro_recall: number;
  macro_f1: number;
  per_class: ClassScores[];
  confusion: ConfusionMatrix;
}

function checkPair(yTrue: readonly ClassLabel[], yPred: readonly ClassLabel[]): void {
  if (yTrue.length !== yPred.length) throw new Error(`${yTrue.length} true labels but ${yPred.length} predictions`);
  if (yTrue.length === 0) throw new Error('no labels to score');
}

/** Sorted union of the labels (numbers numerically, then strings). */
function labelUnion(yTrue: readonly ClassLabel[], yPred: readonly ClassLabel[]): ClassLabel[] {
  return [...new Set([...yTrue, ...yPred])].sort((a, b) =>
    typeof a === 'number' && typeof b === 'number' ? a - b : typeof a === 'number' ? -1 : typeof b === 'number' ? 1 : a < b ? -1 : a > b ? 1 : 0,
  );
}

/** Fraction of predictions equal to the truth. */
export function accuracy(yTrue: readonly ClassLabel[], yPred: readonly ClassLabel[]): number {
  checkPair(yTrue, yPred);
  let ok = 0;
  for (let i = 0; i < yTrue.length; i++) if (yTrue[i] === yPred[i]) ok++;
  return ok / yTrue.length;
}

/** Confusion matrix over `labels` (default: sorted union of truth and predictions); unknown labels are an error. */
export function confusionMatrix(yTrue: readonly ClassLabel[], yPred: readonly ClassLabel[], labels?: readonly ClassLabel[]): ConfusionMatrix {
  checkPair(yTrue, yPred);
  const ls = labels ? [...labels] : labelUnion(yTrue, yPred);
  const pos = new Map(ls.map((l, i) => [l, i]));
  if (pos.size !== ls.length) throw new Error('label list has duplicates');
  const matrix = ls.map(() => ls.map(() => 0));
  for (let i = 0; i < yTrue.length; i++) {
    const t = pos.get(yTrue[i]);
    const p = pos.get(yPred[i]);
    if (t === undefined) throw new Error(`item ${i}: true label ${yTrue[i]} is not in the label list`);
    if (p === undefined) throw new Error(`item ${i}: predicted label ${yPred[i]} is not in the label list`);
    matrix[t][p]++;
  }
  return { labels: ls, matrix };
}

/** Per-class precision = tp/(tp+fp), recall = tp/(tp+fn), F1 = 2PR/(P+R); 0 where the divisor is 0. */
export function perClassScores(cm: ConfusionMatrix): ClassScores[] {
  const n = cm.labels.length;
  return cm.labels.map((label, c) => {
    const tp = cm.matrix[c][c];
    let predicted = 0;
    let support = 0;
    for (let i = 0; i < n; i++) {
      predicted += cm.matrix[i][c];
      support += cm.matrix[c][i];
    }
    const precision = predicted > 0 ? tp / predicted : 0;
    const recall = support > 0 ? tp / support : 0;
    const f1 = precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0;
    return { label, precision, recall, f1, support };
  });
}

/** Accuracy, macro precision/recall/F1, per-class scores and the confusion matrix. */
export function classificationReport(yTrue: readonly ClassLabel[], yPred: readonly ClassLabel[], labels?: readonly ClassLabel[]): ClassificationReport {
  const confusion = confusionMatrix(yTrue, yPred, labels);
  const per = perClassScores(confusion);
  const avg = (f: (s: ClassScores) => number) => per.reduce((a, s) => a + f(s), 0) / per.length;
  return {
    accuracy: accuracy(yTrue, yPred),
    macro_precision: avg((s) => s.precision),
    macro_recall: avg((s) => s.recall),
    macro_f1: avg((s) => s.f1),
    per_class: per,
    confusion,
  };
}
