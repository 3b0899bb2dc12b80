/** The distill mode of experiments: a student head into a teacher's space, scored as student queries against the teacher's gallery, with agreement recorded. */
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { writeClassFolders } from '../../src/data/synthetic.ts';
import { tinyCnn } from '../../src/models/tiny.ts';
import { checkConfig, planRuns, readExperimentConfig } from '../../src/experiments/experiment-config.ts';
import { runExperiment } from '../../src/experiments/runner.ts';
import { readRuns } from '../../src/experiments/run-records.ts';
import { distilledTeacher } from '../../src/embed/text-queries.ts';
import { buildReport } from '../../src/experiments/report.ts';
import { tmpDir } from '../helpers/tmp.ts';

test('distill config: teacher required, cosine/mse only, distill options only', () => {
  const base = { models: ['m.onnx'], datasets: [{ path: 'd' }] };
  assert.throws(() => checkConfig({ ...base, modes: [{ name: 'd', kind: 'distill' }] }, 'x.yaml'), /modes\[0\]\.teacher: expected a non-empty string/);
  assert.throws(() => checkConfig({ ...base, modes: [{ name: 'd', kind: 'distill', teacher: 't.onnx', loss: 'hybrid' }] }, 'x.yaml'), /modes\[0\]\.loss: "hybrid": distillation takes cosine or mse/);
  assert.throws(() => checkConfig({ ...base, modes: [{ name: 'd', kind: 'distill', teacher: 't.onnx', miner: 'hard' }] }, 'x.yaml'), /modes\[0\]\.miner: not a distill option/);
  assert.throws(() => checkConfig({ ...base, modes: [{ name: 't', kind: 'tune', teacher: 't.onnx' }] }, 'x.yaml'), /modes\[0\]\.teacher: only a distill mode has a teacher/);
  // The teacher names a model entry (with its flags); a backbone is never distilled into itself.
  const c = checkConfig({ models: [{ name: 's', model: 's.onnx' }, { name: 't', model: 't.onnx', flags: { resize: '32x32' } }], datasets: [{ path: 'd' }], modes: [{ name: 'd', kind: 'distill', teacher: 't' }] }, '/x/x.yaml');
  assert.deepEqual(c.modes[0].teacher, { name: 't', model: '/x/t.onnx', flags: { resize: '32x32' }, datasets: undefined });
  assert.deepEqual(planRuns(c).map((p) => p.id), ['s__d__d']);
});

test('experiment distill mode: trains on the train pool, scores student queries vs the teacher gallery, records agreement', async () => {
  const dir = tmpDir('lookalike-exp-distill-');
  await writeClassFolders(path.join(dir, 'ds'), 8, 8, 0, 40);
  const rows = fs.readFileSync(path.join(dir, 'ds/labels.csv'), 'utf8').trim().split('\n').slice(1).map((l) => l.split(',').slice(0, 2).join(','));
  fs.writeFileSync(path.join(dir, 'ds/labels.csv'), ['path,label', ...rows].join('\n') + '\n');
  fs.writeFileSync(path.join(dir, 'student.onnx'), tinyCnn({ seed: 1, dim: 16 }));
  fs.writeFileSync(path.join(dir, 'teacher.onnx'), tinyCnn({ seed: 5, dim: 12, channels: 12 }));
  // The teacher's twin: same weights, so its linear head starts at the identity and its queries are the teacher's own.
  fs.copyFileSync(path.join(dir, 'teacher.onnx'), path.join(dir, 'twin.onnx'));
  fs.writeFileSync(
    path.join(dir, 'exp.yaml'),
    `name: dist
store: runs
cache: cache
models:
  - {name: student, model: student.onnx, flags: {resize: 32x32, crop: none}}
  - {name: teacher, model: teacher.onnx, flags: {resize: 32x32, crop: none}}
  - {name: twin, model: twin.onnx, flags: {resize: 32x32, crop: none}}
datasets:
  - {name: ds, path: ds}
modes:
  - frozen
  - {name: d1, kind: distill, teacher: teacher, headType: linear, epochs: 1, lr: 0.0001}
  - {name: d40, kind: distill, teacher: teacher, headType: linear, epochs: 40, lr: 0.01, batchSize: 8}
`,
  );
  const r = await runExperiment(readExperimentConfig(path.join(dir, 'exp.yaml')), { quiet: true });
  assert.deepEqual(r.planned.map((p) => p.plan.id), ['student__ds__frozen', 'student__ds__d1', 'student__ds__d40', 'teacher__ds__frozen', 'twin__ds__frozen', 'twin__ds__d1', 'twin__ds__d40']);
  // 64 images embedded once by each backbone (the twin has the teacher's fingerprint): later runs read what the distill runs cached.
  assert.equal(r.embeddedNow, 128);
  const byId = new Map(readRuns(path.join(dir, 'runs')).map((x) => [x.id, x]));
  const d1 = byId.get('student__ds__d1')!, d40 = byId.get('student__ds__d40')!;
  for (const x of [d1, d40]) {
    assert.equal(x.status, 'finished', x.reason);
    assert.ok(Number.isFinite(x.metrics['mmp@5']));
    assert.equal(x.params['distill.teacher'], path.join(dir, 'teacher.onnx'));
    assert.equal(x.params['distill.loss'], 'cosine');
    // Class-disjoint: the head is trained on the 4 train classes' 32 images only.
    assert.equal(x.counts.train, 32);
  }
  const agree = (x: typeof d1) => (x.extra!.distill as { agreement: { top10_agreement: number; r_at_1: number; mean_cosine: number; queries: number } }).agreement;
  assert.equal(agree(d40).queries, 32);
  assert.ok(agree(d40).mean_cosine > agree(d1).mean_cosine + 0.05, `${agree(d1).mean_cosine} -> ${agree(d40).mean_cosine}`);
  assert.ok(agree(d40).top10_agreement >= agree(d1).top10_agreement, `${agree(d1).top10_agreement} -> ${agree(d40).top10_agreement}`);
  assert.equal(d40.epochs?.length, 40);
  // Scoring is student queries against the teacher's gallery: the twin's barely trained head gives the teacher's own figures.
  const twin = byId.get('twin__ds__d1')!, teacher = byId.get('teacher__ds__frozen')!;
  assert.ok(agree(twin).mean_cosine > 0.9999, String(agree(twin).mean_cosine));
  for (const m of ['mmp@5', 'mr@1', 'map@r']) assert.ok(Math.abs(twin.metrics[m] - teacher.metrics[m]) < 1e-6, `${m}: ${twin.metrics[m]} vs ${teacher.metrics[m]}`);
  // The report has a distillation table.
  const rep = await buildReport(readRuns(path.join(dir, 'runs')), { store: path.join(dir, 'runs') });
  assert.match(rep.markdown, new RegExp(`\\| student \\| ds \\| d40 \\| teacher \\| ${agree(d40).top10_agreement.toFixed(4)} \\| ${agree(d40).r_at_1.toFixed(4)} \\| ${agree(d40).mean_cosine.toFixed(4)} \\|`));
  assert.match(rep.html, /<h2>Distillation: how close each student gets to its teacher/);
  // The head remembers its teacher, so `search --text`-style checks and --head users know its space.
  assert.equal(distilledTeacher(path.join(dir, 'runs/dist/student__ds__d40/head.onnx')), path.join(dir, 'teacher.onnx'));
});
