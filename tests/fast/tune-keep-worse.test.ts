import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { tuneHead } from '../../src/tune/run.ts';
import { openStore } from '../../src/store/open-store.ts';
import { contractMeta } from '../helpers/store-contract.ts';
import { Rng } from '../../src/util/random.ts';
import { runCli } from '../helpers/cli.ts';
import { tmpDir } from '../helpers/tmp.ts';

/** An index whose frozen vectors already rank perfectly: 4 tight classes along 4 axes. */
async function perfectIndex(dir: string): Promise<{ index: string; labels: string }> {
  const rng = new Rng(7);
  const dim = 8;
  const items = Array.from({ length: 40 }, (_, i) => {
    const v = Float32Array.from({ length: dim }, (_, k) => (k === i % 4 ? 1 : 0) + 0.01 * rng.normal());
    const n = Math.hypot(...v);
    return { id: `c${i % 4}/${i}.jpg`, vector: v.map((x) => x / n) };
  });
  const index = path.join(dir, 'p.lkx');
  const w = await openStore(index, { write: true, create: contractMeta(dim) });
  await w.write({ upsert: items });
  await w.close();
  const labels = path.join(dir, 'labels.csv');
  fs.writeFileSync(labels, 'path,label\n' + items.map((it) => `${it.id},${it.id.split('/')[0]}`).join('\n') + '\n');
  return { index, labels };
}

test('tune writes no head that does not beat frozen on validation, unless keepWorse; the CLI says so', async () => {
  const dir = tmpDir();
  const { index, labels } = await perfectIndex(dir);
  const out = path.join(dir, 'head.onnx');
  const options = { epochs: 2, batchSize: 16, m: 4, headType: 'linear' };
  const r = await tuneHead({ index, labels, out, options });
  assert.ok(r.frozen && r.tuned, 'validation ran');
  assert.ok(!(r.tuned!['mmp@5'] > r.frozen!['mmp@5']), 'the frozen ranking cannot be beaten here');
  assert.equal(r.written, false);
  assert.match(r.notWritten!, /does not beat the frozen embeddings on validation \(mmp@5 [\d.]+ vs frozen [\d.]+\).*set keepWorse/);
  assert.equal(fs.existsSync(out), false);
  const kept = await tuneHead({ index, labels, out, options, keepWorse: true });
  assert.equal(kept.written, true);
  assert.ok(fs.statSync(out).size > 0);
  fs.rmSync(out);
  const cli = await runCli(['tune', '--index', index, '--labels', labels, '--epochs', '2', '--batch-size', '16', '--head-type', 'linear', '--out', out]);
  assert.equal(cli.status, 0, cli.stderr);
  assert.match(cli.stdout, /not written: .*pass --keep-worse/);
  assert.equal(fs.existsSync(out), false);
  assert.equal((await runCli(['tune', '--index', index, '--labels', labels, '--epochs', '2', '--batch-size', '16', '--head-type', 'linear', '--keep-worse', '--out', out])).status, 0);
  assert.ok(fs.existsSync(out));
});
