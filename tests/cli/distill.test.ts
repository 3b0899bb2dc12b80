/** Distillation: loss gradients, agreement with the teacher rising with training, and tune --teacher on tiny models. */
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { writeClassFolders } from '../../src/data/synthetic.ts';
import { tinyCnn } from '../../src/models/tiny.ts';
import { distillLoss } from '../../src/tune/distill.ts';
import { loadHead } from '../../src/models/head.ts';
import { ROOT, tmpDir } from '../helpers/tmp.ts';

test('distillation losses: gradients match finite differences', () => {
  const n = 3, d = 4;
  const e = Float32Array.from({ length: n * d }, (_, i) => Math.sin(i + 1));
  const t = Float32Array.from({ length: n * d }, (_, i) => Math.cos(i * 0.7));
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let k = 0; k < d; k++) s += t[i * d + k] ** 2;
    for (let k = 0; k < d; k++) t[i * d + k] /= Math.sqrt(s);
  }
  for (const kind of ['cosine', 'mse'] as const) {
    const { dEmb } = distillLoss(kind, e, t, n, d);
    for (let j = 0; j < n * d; j++) {
      const h = 1e-3;
      const p = Float32Array.from(e), m = Float32Array.from(e);
      p[j] += h;
      m[j] -= h;
      const num = (distillLoss(kind, p, t, n, d).loss - distillLoss(kind, m, t, n, d).loss) / (2 * h);
      assert.ok(Math.abs(num - dEmb[j]) < 1e-3, `${kind} [${j}]: ${num} vs ${dEmb[j]}`);
    }
  }
  // A perfect student: zero loss.
  assert.ok(distillLoss('cosine', t, t, n, d).loss < 1e-6);
  assert.ok(distillLoss('mse', t, t, n, d).loss < 1e-12);
});

test('tune --teacher: a head into the teacher space; training brings the student closer to the teacher', async () => {
  const dir = tmpDir('lookalike-distill-');
  await writeClassFolders(path.join(dir, 'imgs'), 8, 10, 0, 40);
  fs.writeFileSync(path.join(dir, 'student.onnx'), tinyCnn({ seed: 1, channels: 8, dim: 8 }));
  fs.writeFileSync(path.join(dir, 'teacher.onnx'), tinyCnn({ seed: 5, channels: 16, dim: 16 }));
  const run = (epochs: string, lr: string, out: string) =>
    spawnSync(process.execPath, [path.join(ROOT, 'bin/lookalike.js'), 'tune', '--train', path.join(dir, 'imgs'), '--model', path.join(dir, 'student.onnx'), '--teacher', path.join(dir, 'teacher.onnx'), '--loss', 'cosine', '--hidden', '32', '--epochs', epochs, '--lr', lr, '--batch-size', '16', '--val-frac', '0.25', '--out', path.join(dir, out), '--json'], { encoding: 'utf8' });
  const untrained = run('1', '1e-6', 'u.onnx');
  assert.equal(untrained.status, 0, untrained.stderr);
  const trained = run('40', '3e-3', 'h.onnx');
  assert.equal(trained.status, 0, trained.stderr);
  const u = JSON.parse(untrained.stdout) as { agreement: { mean_cosine: number; top10_agreement: number; r_at_1: number } };
  const t = JSON.parse(trained.stdout) as typeof u & { output_dim: number; held_out: number };
  assert.equal(t.output_dim, 16);
  assert.equal(t.held_out, 20);
  assert.ok(t.agreement.mean_cosine > u.agreement.mean_cosine + 0.1, `cosine ${u.agreement.mean_cosine} -> ${t.agreement.mean_cosine}`);
  assert.ok(t.agreement.top10_agreement >= 0 && t.agreement.top10_agreement <= 1);
  const head = await loadHead(path.join(dir, 'h.onnx'));
  const out = await head.apply(new Float32Array(8), 1, 8);
  assert.equal(out.dim, 16);
  await head.dispose();
  const bad = spawnSync(process.execPath, [path.join(ROOT, 'bin/lookalike.js'), 'tune', '--train', path.join(dir, 'imgs'), '--model', path.join(dir, 'student.onnx'), '--loss', 'mse', '--out', path.join(dir, 'x.onnx')], { encoding: 'utf8' });
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /--loss mse is for distillation/);
});

test('search --text on a CNN index through a CLIP-like teacher: the distilled head maps the CNN into the teacher space', async () => {
  const { writeClipFolder, solidPng } = await import('../fixtures/hf.ts');
  const dir = tmpDir('lookalike-distill-text-');
  const clip = writeClipFolder(path.join(dir, 'clip')).dir;
  fs.writeFileSync(path.join(dir, 'cnn.onnx'), tinyCnn({ seed: 3, channels: 16, dim: 16 }));
  fs.mkdirSync(path.join(dir, 'imgs'));
  // Unlabelled training images: shades of red, green and blue.
  const base: [number, number, number][] = [[220, 30, 30], [30, 200, 40], [30, 40, 220]];
  let n = 0;
  for (let v = 0; v < 12; v++) for (const [r, g, b] of base) await solidPng(path.join(dir, 'imgs', `${n++}.png`), [Math.min(255, r + v * 3), Math.min(255, g + v * 2), Math.min(255, b + v * 3)]);
  const bin = path.join(ROOT, 'bin/lookalike.js');
  const head = path.join(dir, 'cnn-to-clip.onnx');
  const t = spawnSync(process.execPath, [bin, 'tune', '--train', path.join(dir, 'imgs'), '--model', path.join(dir, 'cnn.onnx'), '--teacher', clip, '--loss', 'cosine', '--hidden', '32', '--epochs', '60', '--lr', '5e-3', '--batch-size', '12', '--out', head, '--json'], { encoding: 'utf8' });
  assert.equal(t.status, 0, t.stderr);
  fs.mkdirSync(path.join(dir, 'gallery'));
  await solidPng(path.join(dir, 'gallery', 'red.png'), [230, 20, 20]);
  await solidPng(path.join(dir, 'gallery', 'green.png'), [20, 210, 30]);
  await solidPng(path.join(dir, 'gallery', 'blue.png'), [20, 30, 230]);
  const lkx = path.join(dir, 'g.lkx');
  const ix = spawnSync(process.execPath, [bin, 'index', path.join(dir, 'gallery'), '--model', path.join(dir, 'cnn.onnx'), '--head', head, '--out', lkx], { encoding: 'utf8' });
  assert.equal(ix.status, 0, ix.stderr);
  const s = spawnSync(process.execPath, [bin, 'search', lkx, '--text', 'red', 'blue', '-k', '1', '--json'], { encoding: 'utf8' });
  assert.equal(s.status, 0, s.stderr);
  const res = JSON.parse(s.stdout) as { results: { query: string; hits: { id: string }[] }[] };
  assert.deepEqual(res.results.map((r) => [r.query, r.hits[0].id]), [['red', 'red.png'], ['blue', 'blue.png']]);
});
