/** lookalike advise: ranked table of backbones x modes on held-out classes, a recommendation and its commands; second call re-embeds nothing. */
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { writeClassFolders } from '../../src/data/synthetic.ts';
import { tinyCnn } from '../../src/models/tiny.ts';
import { ROOT, tmpDir } from '../helpers/tmp.ts';

test('advise: ranks models x modes by mmp@5, recommends one, prints the reproducing command; cached the second time', async () => {
  const dir = tmpDir('lookalike-advise-');
  await writeClassFolders(path.join(dir, 'shop'), 8, 10, 0, 40);
  fs.rmSync(path.join(dir, 'shop/labels.csv')); // class folders only
  // Two tiny backbones that read 32x32 input (bare ONNX at a fixed input size).
  fs.writeFileSync(path.join(dir, 'a.onnx'), tinyCnn({ seed: 1 }));
  fs.writeFileSync(path.join(dir, 'b.onnx'), tinyCnn({ seed: 9, channels: 8, dim: 8 }));
  const args = [path.join(ROOT, 'bin/lookalike.js'), 'advise', path.join(dir, 'shop'), '--models', `${path.join(dir, 'a.onnx')},${path.join(dir, 'b.onnx')}`, '--epochs', '2', '--cache', path.join(dir, 'cache'), '--store', path.join(dir, 'store')];
  const r = spawnSync(process.execPath, args, { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout.split('\n');
  const rows = lines.filter((l) => /^\d+\s+[ab]\s+(frozen|tune)\s/.test(l));
  assert.equal(rows.length, 4, r.stdout);
  const scores = rows.map((l) => Number(l.trim().split(/\s+/)[3]));
  for (let i = 1; i < scores.length; i++) assert.ok(scores[i] <= scores[i - 1] + 0.005, `ranked by mmp@5: ${scores}`);
  assert.match(r.stdout, /recommended: [ab] \((frozen|tune)\)/);
  assert.match(r.stdout, /reproduce with:\n  lookalike (index|tune) /);
  assert.match(r.stderr, /embedded a x data: 80 now/);
  const again = spawnSync(process.execPath, [...args, '--json'], { encoding: 'utf8' });
  assert.equal(again.status, 0, again.stderr);
  const j = JSON.parse(again.stdout) as { rows: { model: string; 'mmp@5': number }[]; commands: string[]; recommended: { model: string } };
  assert.equal(j.rows.length, 4);
  assert.equal(j.recommended.model, j.rows[0].model);
  // Nothing embedded, nothing re-run: the cache and the run store answer.
  assert.equal(fs.readdirSync(path.join(dir, 'cache')).length, 2);
  const shards = fs.readdirSync(path.join(dir, 'cache')).flatMap((d) => fs.readdirSync(path.join(dir, 'cache', d)).filter((f) => f.endsWith('.json')));
  assert.equal(shards.length, 2, 'one shard per model: the second call embedded nothing');
  const bad = spawnSync(process.execPath, [path.join(ROOT, 'bin/lookalike.js'), 'advise', path.join(dir, 'shop'), '--modes', 'frozen,zz'], { encoding: 'utf8' });
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /--modes frozen,zz: "zz"/);
});
