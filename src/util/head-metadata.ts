/** The metadata keys of an ONNX head lookalike writes (tune, distillation, experiments) and reads (loading a head, output guards, text towers): one list for both sides. */
export const HEAD_META = {
  kind: 'lookalike.kind',
  spec: 'lookalike.head',
  loss: 'lookalike.loss',
  model: 'lookalike.model',
  source: 'lookalike.source',
  classes: 'lookalike.classes',
  bestEpoch: 'lookalike.best_epoch',
  val: 'lookalike.val',
  distilledFrom: 'lookalike.distilled_from',
  teacherFingerprint: 'lookalike.teacher_fingerprint',
  agreement: 'lookalike.agreement',
  mode: 'lookalike.mode',
  search: 'lookalike.search',
  whiten: 'lookalike.whiten',
} as const;
