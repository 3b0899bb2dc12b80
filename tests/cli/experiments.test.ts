/** lookalike experiment: config checks, dry run, every mode on tiny data, the embedding cache, resume after a kill. */
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { writeClassFolders, writeCompetition } from '../../src/data/synthetic.ts';
import { tinyCnn } from '../../src/models/tiny.ts';
import { checkConfig, readExperimentConfig } from '../../src/experiments/experiment-config.ts';
import { runExperiment } from '../../src/experiments/runner.ts';
import { readRuns } from '../../src/experiments/run-records.ts';
import { EmbeddingCache } from '../../src/experiments/cache.ts';
import { readSubmission, readTruth } from '../../src/metrics/competition.ts';
import { evaluateSubmission } from '../../src/metrics/evaluate.ts';
import { ROOT, tmpDir } from '../helpers/tmp.ts';

const BIN = path.join(ROOT, 'bin/lookalike.js');

/** A folder with a tiny model, a labelled dataset without splits, a competition folder, and a config. */
async function fixture(): Promise<string> {
  const dir = tmpDir('lookalike-exp-');
  await writeClassFolders(path.join(dir, 'ds'), 8, 8, 0, 48);
  // No split column: the runner holds out half of the classes for testing.
  const rows = fs.readFileSync(path.join(dir, 'ds/labels.csv'), 'utf8').trim().split('\n').slice(1).map((l) => l.split(',').slice(0, 2).join(','));
  fs.writeFileSync(path.join(dir, 'ds/labels.csv'), ['path,label', ...rows].join('\n') + '\n');
  await writeCompetition(path.join(dir, 'comp/test'), 6, 2, 48);
  fs.renameSync(path.join(dir, 'comp/test/truth.json'), path.join(dir, 'comp/truth.json'));
  await writeClassFolders(path.join(dir, 'comp/training'), 6, 4, 0, 48);
  fs.rmSync(path.join(dir, 'comp/training/labels.csv'));
  fs.writeFileSync(path.join(dir, 'tiny.onnx'), tinyCnn());
  fs.writeFileSync(
    path.join(dir, 'exp.yaml'),
    `name: smoke
store: runs
cache: cache
metrics: [mmp@5, mr@1, weighted_topk]
models:
  - {name: tiny, model: tiny.onnx, flags: {resize: 32x32, crop: none}}
datasets:
  - {name: ds, path: ds}
  - {name: comp, path: comp, protocol: competition}
modes:
  - frozen
  - {name: tune-ce, kind: tune, loss: cross-entropy, epochs: 3, hidden: 32, batchSize: 16}
  - {name: proj, kind: projection, loss: supcon, epochs: 2}
  - {name: cross, kind: cross, train: ds, epochs: 2, hidden: 16}
  - {name: search, kind: search, trials: 2, epochs: 2, space: {lr: {min: 0.0001, max: 0.01, log: true}, hidden: ['16', '32']}}
`,
  );
  return dir;
}

test('config errors name the file and the field', () => {
  assert.throws(() => checkConfig({ models: ['m.onnx'], datasets: [{ path: 'd' }], modes: ['frozen'], bogus: 1 }, 'x.yaml'), /x\.yaml: bogus: unknown field/);
  assert.throws(() => checkConfig({ models: ['m.onnx'], datasets: [{ path: 'd', protocol: 'nope' }], modes: ['frozen'] }, 'x.yaml'), /datasets\[0\]\.protocol: "nope"/);
  assert.throws(() => checkConfig({ models: ['m.onnx'], datasets: [{ path: 'd' }], modes: [{ name: 'c', kind: 'cross', train: 'zz' }] }, 'x.yaml'), /modes\[0\]\.train: no dataset named "zz"/);
  assert.throws(() => checkConfig({ models: ['m.onnx'], datasets: [{ path: 'd' }], modes: [{ name: 't', loss: 'hinge' }] }, 'x.yaml'), /modes\[0\]\.loss: "hinge"/);
  assert.throws(() => checkConfig({ models: ['m.onnx'], datasets: [{ path: 'd' }], modes: ['frozen'], metrics: ['mmp@5', 'xx'] }, 'x.yaml'), /unknown metric "xx"/);
  const dir = tmpDir();
  fs.writeFileSync(path.join(dir, 'bad.yaml'), 'models: [a\n');
  assert.throws(() => readExperimentConfig(path.join(dir, 'bad.yaml')), /bad\.yaml: not valid YAML/);
});

test('experiment: dry run, every mode, tracked runs, cache reuse, and resume after a kill', async () => {
  const dir = await fixture();
  const dry = spawnSync(process.execPath, [BIN, 'experiment', path.join(dir, 'exp.yaml'), '--dry-run', '--json'], { encoding: 'utf8' });
  assert.equal(dry.status, 0, dry.stderr);
  const listed = JSON.parse(dry.stdout) as { runs: { id: string; done: boolean }[] };
  // 2 datasets x 5 modes, minus cross on its own training dataset.
  assert.equal(listed.runs.length, 9);
  assert.ok(listed.runs.every((r) => !r.done));
  assert.ok(!fs.existsSync(path.join(dir, 'runs')), 'a dry run writes nothing');

  // Killed right after the third run finished.
  const killed = spawnSync(process.execPath, [BIN, 'experiment', path.join(dir, 'exp.yaml')], { encoding: 'utf8', env: { ...process.env, LOOKALIKE_CRASH_AT: 'experiment:run:3' } });
  assert.ok(killed.status === 137 || killed.signal === 'SIGKILL', `killed: ${killed.status} ${killed.signal} ${killed.stderr}`);
  assert.match(killed.stderr, /run 3 of 9/);
  const c = readExperimentConfig(path.join(dir, 'exp.yaml'));
  assert.equal(readRuns(path.join(dir, 'runs/smoke')).filter((r) => r.mode.kind !== 'trial').length, 3);

  // Resumed: the three finished runs are skipped, and nothing of ds is embedded again.
  const r = await runExperiment(c, { quiet: true });
  assert.equal(r.skipped, 3);
  assert.equal(r.ran, 6);
  const embeddedDsAgain = r.records.some((x) => x.dataset.name === 'ds' && (x.timings.embedded_now ?? 0) > 0);
  assert.equal(embeddedDsAgain, false, 'ds comes from the cache');
  const runs = readRuns(path.join(dir, 'runs/smoke'));
  const byId = new Map(runs.map((x) => [x.id, x]));
  for (const id of ['tiny__ds__frozen', 'tiny__ds__tune-ce', 'tiny__ds__proj', 'tiny__ds__search', 'tiny__comp__frozen', 'tiny__comp__tune-ce', 'tiny__comp__cross']) {
    const x = byId.get(id);
    assert.ok(x, id);
    assert.equal(x.status, 'finished', `${id}: ${x.reason}`);
    assert.ok(Number.isFinite(x.metrics['mmp@5']), id);
    assert.ok(x.environment.packages['onnxruntime-node'], 'runtime package versions recorded');
    assert.ok(x.command.includes('experiment') || x.command.length > 0);
    assert.ok(fs.existsSync(path.join(dir, 'runs/smoke', id, 'per_query.csv')));
  }
  // Competition runs are scored with truth.json: weighted_topk on the 0..1000 scale.
  assert.ok(byId.get('tiny__comp__frozen')!.metrics.weighted_topk >= 0 && byId.get('tiny__comp__frozen')!.metrics.weighted_topk <= 1000);
  // ... and leave a submission artefact that eval --submission scores the same.
  const comp = byId.get('tiny__comp__frozen')!;
  assert.equal(comp.artefacts.submission, 'submission.json');
  const sub = readSubmission(path.join(dir, 'runs/smoke/tiny__comp__frozen/submission.json'));
  assert.ok(Object.values(sub).every((l) => l.length === 10));
  assert.equal(evaluateSubmission(sub, readTruth(path.join(dir, 'comp/truth.json')), { ks: [1, 5, 10] }).mean.weighted_topk, comp.metrics.weighted_topk);
  // Tuned runs carry a head, per-epoch records and the held-out classes' metrics.
  const tuned = byId.get('tiny__ds__tune-ce')!;
  assert.equal(tuned.epochs?.length, 3);
  assert.ok(fs.statSync(path.join(dir, 'runs/smoke/tiny__ds__tune-ce/head.onnx')).size > 100);
  assert.match(fs.readFileSync(path.join(dir, 'runs/smoke/tiny__ds__tune-ce/epochs.csv'), 'utf8'), /^epoch,loss,lr,seconds,val_precision@1/);
  // Class-disjoint test classes: the classifier knows none of them, so no classification metrics.
  assert.equal((tuned.extra as Record<string, unknown>).classification, undefined);
  // Competition training classes are not the test identities either; comp tune-ce trained on 24 images.
  assert.equal(byId.get('tiny__comp__tune-ce')!.counts.train! + byId.get('tiny__comp__tune-ce')!.counts.val!, 24);
  // Search: 2 trials tracked as runs of their own, with validation metrics only.
  const trials = runs.filter((x) => x.mode.kind === 'trial' && x.id.startsWith('tiny__ds__search'));
  assert.equal(trials.length, 2);
  for (const t of trials) assert.deepEqual(Object.keys(t.metrics).every((k) => k.startsWith('val_')), true);
  assert.match(fs.readFileSync(path.join(dir, 'runs/smoke/runs.csv'), 'utf8'), /^id,status,model,dataset,mode,kind,mmp@5,mr@1,weighted_topk/);

  // A third run: everything finished, nothing embedded.
  const again = await runExperiment(c, { quiet: true });
  assert.equal(again.ran, 0);
  assert.equal(again.skipped, 9);
  assert.equal(again.embeddedNow, 0);
  // Adding a mode re-embeds nothing.
  const c2 = { ...c, modes: [...c.modes, { name: 'tune-supcon', kind: 'tune' as const, options: { loss: 'supcon', epochs: 1 } }] };
  const more = await runExperiment(c2, { quiet: true });
  assert.equal(more.ran, 2);
  assert.equal(more.embeddedNow, 0);
  // The cache holds each distinct image content once.
  const fp = byId.get('tiny__ds__frozen')!.model.fingerprint!;
  assert.ok(EmbeddingCache.open(path.join(dir, 'cache'), fp).size <= 64 + 18 + 24);
});
