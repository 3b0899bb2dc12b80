import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { saveIndex } from '../../src/index/whole-index.ts';
import { defaultSpec } from '../../src/models/spec.ts';
import { syntheticSet } from '../../src/tune/synthetic-embeddings.ts';
import { loadHead } from '../../src/models/head.ts';

const BIN = path.resolve('bin/lookalike.js');

test('lookalike tune --index --labels: writes a loadable head, prints frozen vs tuned, uses the split column', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lookalike-tune-cli-'));
  try {
    const s = syntheticSet({ n: 900, dim: 32, classes: 12, seed: 3 });
    // An index holds L2-normalised rows.
    for (let i = 0; i < 900; i++) {
      const row = s.vectors.subarray(i * 32, (i + 1) * 32);
      const n = Math.hypot(...row);
      row.forEach((v, d) => (row[d] = v / n));
    }
    const ids = Array.from({ length: 900 }, (_, i) => `images/c${s.labels[i]}/${i}.jpg`);
    const now = new Date().toISOString();
    await saveIndex(path.join(dir, 'x.lkx'), {
      manifest: { model: { name: 'synthetic', fingerprint: 'f', spec: defaultSpec() }, dim: 32, root: dir, created: now, updated: now },
      ids,
      vectors: s.vectors,
      dim: 32,
      files: {},
    });
    const split = (i: number) => (i % 5 === 0 ? 'val' : i % 7 === 0 ? 'test' : 'train');
    fs.writeFileSync(path.join(dir, 'labels.csv'), 'path,label,split\n' + ids.map((id, i) => `${id},c${s.labels[i]},${split(i)}`).join('\n') + '\n');
    const out = path.join(dir, 'head.onnx');
    const args = [BIN, 'tune', '--index', path.join(dir, 'x.lkx'), '--labels', path.join(dir, 'labels.csv'), '--out', out, '--epochs', '10', '--batch-size', '48', '--hidden', '64', '--out-dim', '16', '--lr', '3e-3', '--json'];
    const res = JSON.parse(execFileSync(process.execPath, args, { encoding: 'utf8' }));
    assert.equal(res.output_dim, 16);
    assert.equal(res.tuned.queries, 180); // the 180 split=val rows (test rows unused)
    assert.ok(res.tuned['mmp@5'] > res.frozen['mmp@5'], `tuned ${res.tuned['mmp@5']} vs frozen ${res.frozen['mmp@5']}`);
    const head = await loadHead(out);
    assert.equal(head.inputDim, 32);
    const y = await head.apply(s.vectors.slice(0, 32 * 3), 3, 32);
    assert.equal(y.dim, 16);
    await head.dispose();
    // Human output: side-by-side table.
    const text = execFileSync(process.execPath, [...args.slice(0, -1), '--epochs', '1'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    assert.match(text, /metric\s+frozen\s+tuned\s+delta/);
    assert.match(text, /precision@1/);
    // Bad input: an index without --labels.
    assert.throws(() => execFileSync(process.execPath, [BIN, 'tune', '--index', path.join(dir, 'x.lkx'), '--out', out], { stdio: 'pipe' }), /--index needs --labels/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
