/** tune --search: random/grid trials on the validation split, each a tracked run; best retrained; the test rows never reach the search. */
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { writeClassFolders } from '../../src/data/synthetic.ts';
import { tinyCnn } from '../../src/models/tiny.ts';
import { sampleTrials } from '../../src/tune/hyper-search.ts';
import { checkSpace } from '../../src/tune/search-space.ts';
import { readRuns } from '../../src/experiments/run-records.ts';
import { ROOT, tmpDir } from '../helpers/tmp.ts';

test('search space: log-scale draws in range, grid, errors', () => {
  const space = checkSpace({ lr: { min: 1e-4, max: 1e-2, log: true }, hidden: ['16', '32'] }, 's.yaml');
  const draws = sampleTrials(space, 200, 'random', 1);
  const lrs = draws.map((d) => Number(d.lr));
  assert.ok(lrs.every((x) => x >= 1e-4 && x <= 1e-2));
  // Log scale: about half the draws below the geometric middle 1e-3.
  const below = lrs.filter((x) => x < 1e-3).length;
  assert.ok(below > 70 && below < 130, `log-uniform: ${below} of 200 below 1e-3`);
  assert.deepEqual(sampleTrials(space, 10, 'grid', 0).map((d) => `${d.lr}/${d.hidden}`), ['0.0001/16', '0.0001/32', '0.001/16', '0.001/32', '0.01/16', '0.01/32']);
  assert.throws(() => checkSpace({ lrr: [1] }, 's.yaml'), /s\.yaml: lrr: not a tune option/);
  assert.throws(() => checkSpace({ lr: { min: 0, max: 1, log: true } }, 's.yaml'), /log-scale range needs min > 0/);
});

test('tune --search: trials tracked, best retrained and written; changing the test rows changes nothing', async () => {
  const dir = tmpDir('lookalike-search-');
  await writeClassFolders(path.join(dir, 'imgs'), 6, 12, 0, 40);
  fs.writeFileSync(path.join(dir, 'tiny.onnx'), tinyCnn());
  const rows = fs.readFileSync(path.join(dir, 'imgs/labels.csv'), 'utf8').trim().split('\n').slice(1).map((l) => l.split(','));
  // train 0-6, val 7-9, test 10-11 of each class.
  const split = (p: string) => (Number(p.split('/')[1].slice(0, 3)) < 7 ? 'train' : Number(p.split('/')[1].slice(0, 3)) < 10 ? 'val' : 'test');
  const csv = (testLabel: (l: string) => string) => 'path,label,split\n' + rows.map(([p, l]) => `${p},${split(p) === 'test' ? testLabel(l) : l},${split(p)}`).join('\n') + '\n';
  fs.writeFileSync(path.join(dir, 'a.csv'), csv((l) => l));
  // Same training and validation rows; the test rows' labels all scrambled.
  fs.writeFileSync(path.join(dir, 'b.csv'), csv((l) => `other-${l.length % 2}`));
  fs.writeFileSync(path.join(dir, 'space.yaml'), 'lr: {min: 0.0003, max: 0.01, log: true}\nhidden: ["16", "32"]\ndropout: [0, 0.2]\n');
  const run = (labels: string, out: string, runs: string) =>
    spawnSync(process.execPath, [path.join(ROOT, 'bin/lookalike.js'), 'tune', '--train', path.join(dir, 'imgs'), '--labels', path.join(dir, labels), '--model', path.join(dir, 'tiny.onnx'), '--search', path.join(dir, 'space.yaml'), '--trials', '3', '--epochs', '3', '--batch-size', '24', '--out', path.join(dir, out), '--runs', path.join(dir, runs), '--json'], { encoding: 'utf8' });
  const a = run('a.csv', 'a.onnx', 'runs-a');
  assert.equal(a.status, 0, a.stderr);
  const ja = JSON.parse(a.stdout) as { trials: { values: Record<string, unknown>; val: Record<string, number> }[]; best: { index: number; val: Record<string, number> } };
  assert.equal(ja.trials.length, 3);
  const best = Math.max(...ja.trials.map((t) => t.val['mmp@5']));
  assert.equal(ja.best.val['mmp@5'], best);
  const runs = readRuns(path.join(dir, 'runs-a'));
  assert.equal(runs.length, 3);
  assert.ok(runs.every((r) => r.mode.kind === 'trial' && Number.isFinite(r.metrics['val_mmp@5']) && r.epochs!.length >= 1));
  assert.ok(fs.statSync(path.join(dir, 'a.onnx')).size > 100);
  const b = run('b.csv', 'b.onnx', 'runs-b');
  assert.equal(b.status, 0, b.stderr);
  const jb = JSON.parse(b.stdout) as typeof ja;
  assert.deepEqual(jb.trials, ja.trials, 'same trials and validation scores whatever the test rows say');
  assert.deepEqual(fs.readFileSync(path.join(dir, 'b.onnx')), fs.readFileSync(path.join(dir, 'a.onnx')), 'the same head');
});
