/** lookalike advise: ranked table of backbones x modes on held-out classes, a recommendation and the commands that rerun its first split; second call re-embeds nothing. */
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { writeClassFolders } from '../../src/data/synthetic.ts';
import { tinyCnn } from '../../src/models/tiny.ts';
import { ROOT, tmpDir } from '../helpers/tmp.ts';
import { runCli } from '../helpers/cli.ts';

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
  assert.match(r.stdout, /reproduce split 1 \(seed 0: mmp@5 [\d.]+\) with:\n  lookalike (index|tune) /);
  assert.match(r.stdout, /half of the classes held out \(class-disjoint\)/);
  assert.match(r.stdout, /vs frozen/);
  assert.match(r.stderr, /embedded a x data: 80 now/);
  const again = spawnSync(process.execPath, [...args, '--json'], { encoding: 'utf8' });
  assert.equal(again.status, 0, again.stderr);
  const j = JSON.parse(again.stdout) as { seeds: number; rows: { model: string; mode: string; 'mmp@5': number; splits: number[]; margin?: number; noise?: number | null; eligible: boolean }[]; commands: string[]; recommended: { model: string; mode: string } };
  assert.equal(j.rows.length, 4);
  assert.equal(j.seeds, 3);
  assert.ok(j.rows.every((x) => x.splits.length === 3));
  // The pick is the best row that is frozen or beats its backbone frozen by more than the spread over the splits,
  // so it never scores below frozen.
  const pick = j.rows.find((x) => x.eligible)!;
  assert.deepEqual([j.recommended.model, j.recommended.mode], [pick.model, pick.mode]);
  for (const x of j.rows.filter((r) => r.mode !== 'frozen')) {
    const frozen = j.rows.find((r) => r.model === x.model && r.mode === 'frozen')!;
    const diffs = x.splits.map((v, i) => v - frozen.splits[i]);
    const m = diffs.reduce((t, d) => t + d, 0) / 3;
    const sd = Math.sqrt(diffs.reduce((t, d) => t + (d - m) ** 2, 0) / 2);
    assert.ok(Math.abs(x.margin! - m) < 1e-9 && Math.abs(x.noise! - sd) < 1e-9, 'margin and noise are the mean and sd of the paired differences');
    assert.equal(x.eligible, m > 0 && m > sd);
  }
  const chosen = j.rows.find((r) => r.model === pick.model && r.mode === pick.mode)!;
  const itsFrozen = j.rows.find((r) => r.model === pick.model && r.mode === 'frozen')!;
  assert.ok(chosen['mmp@5'] >= itsFrozen['mmp@5']);
  // Nothing embedded, nothing re-run: the cache and the run store answer.
  assert.equal(fs.readdirSync(path.join(dir, 'cache')).length, 2);
  const shards = fs.readdirSync(path.join(dir, 'cache')).flatMap((d) => fs.readdirSync(path.join(dir, 'cache', d)).filter((f) => f.endsWith('.json')));
  assert.equal(shards.length, 2, 'one shard per model: the second call embedded nothing');
  const bad = spawnSync(process.execPath, [path.join(ROOT, 'bin/lookalike.js'), 'advise', path.join(dir, 'shop'), '--modes', 'frozen,zz'], { encoding: 'utf8' });
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /--modes frozen,zz: "zz"/);
});

test('advise never samples the test/query/gallery rows of a competition-style labels.csv', async () => {
  const dir = tmpDir('lookalike-advise-comp-');
  const data = path.join(dir, 'comp');
  await writeClassFolders(data, 6, 6, 0, 40);
  const csv = fs.readFileSync(path.join(data, 'labels.csv'), 'utf8').trim().split('\n');
  // Held-out rows whose files do not exist: any use of them would show as a skip or a failure.
  const held = ['query', 'gallery', 'test'].flatMap((split) => [0, 1].map((i) => `held/${split}-${i}.jpg,class00,${split}`));
  assert.equal(csv[0], 'path,label,split');
  fs.writeFileSync(path.join(data, 'labels.csv'), [csv[0], ...csv.slice(1).map((l) => l.replace(/,[^,]*$/, ',train')), ...held].join('\n') + '\n');
  fs.writeFileSync(path.join(dir, 'a.onnx'), tinyCnn({ seed: 1 }));
  const r = spawnSync(process.execPath, [path.join(ROOT, 'bin/lookalike.js'), 'advise', data, '--models', path.join(dir, 'a.onnx'), '--modes', 'frozen', '--seeds', '1', '--cache', path.join(dir, 'cache'), '--store', path.join(dir, 'store')], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /6 test\/query\/gallery rows of .*labels\.csv left out/);
  assert.doesNotMatch(r.stderr + r.stdout, /held\//);
  assert.match(r.stdout, /recommended: a \(frozen\)/);
  // The set's own held-out rows are of a seen class (class00), so the splits hold out images of seen classes.
  assert.match(r.stdout, /half of each class's images held out \(seen classes\)/);
});

test('advise: every row\'s printed commands rerun split 1 exactly (its mmp@5), and the pick never scores below frozen on a class-disjoint test split', async (t) => {
  const dir = tmpDir('lookalike-advise-test-');
  const all = path.join(dir, 'all');
  await writeClassFolders(all, 12, 8, 0, 40);
  const adviseDir = path.join(dir, 'advise');
  const testDir = path.join(dir, 'test');
  const classes = fs.readdirSync(all).filter((c) => c.startsWith('class')).sort();
  // Class-disjoint: advise sees 8 classes, the test split is the other 4.
  classes.forEach((c, i) => fs.cpSync(path.join(all, c), path.join(i < 8 ? adviseDir : testDir, c), { recursive: true }));
  fs.writeFileSync(path.join(testDir, 'labels.csv'), 'path,label\n' + classes.slice(8).flatMap((c) => fs.readdirSync(path.join(testDir, c)).map((f) => `${c}/${f},${c}`)).join('\n') + '\n');
  const model = path.join(dir, 'a.onnx');
  fs.writeFileSync(model, tinyCnn({ seed: 3 }));
  const run = async (args: string[]) => {
    const r = await runCli(args);
    assert.equal(r.status, 0, `${args.join(' ')}\n${r.stderr}`);
    return r.stdout;
  };
  const a = JSON.parse(await run(['advise', adviseDir, '--models', model, '--modes', 'tune,projection', '--epochs', '3', '--cache', path.join(dir, 'cache'), '--store', path.join(dir, 'store'), '--json'])) as { recommended: { mode: string }; commands: string[]; splits: { seed: number; labels: string; test: string }[]; rows: { mode: string; splits: number[]; commands: string[] }[] };
  assert.equal(a.rows.length, 3);
  // The measured rows: the split's labels file never holds the test classes; its held-out rows are the test file's.
  const split = fs.readFileSync(a.splits[0].labels, 'utf8');
  assert.doesNotMatch(split, /class(08|09|10|11)\//);
  const held = split.trim().split('\n').slice(1).filter((l) => l.endsWith(',test')).map((l) => l.replace(/,test$/, ''));
  assert.deepEqual(fs.readFileSync(a.splits[0].test, 'utf8').trim().split('\n').slice(1), held);
  const cwd = process.cwd();
  process.chdir(dir); // the printed commands write their head and index beside the user, here the temp folder
  try {
    for (const row of a.rows) {
      let score = NaN;
      for (const c of row.commands) {
        const args = c.split(/\s+/).slice(1);
        const out = await run(args[0] === 'eval' ? [...args, '--json'] : args);
        if (args[0] === 'eval') score = JSON.parse(out).mean['mmp@5'];
      }
      assert.ok(Math.abs(score - row.splits[0]) < 1e-6, `${row.mode}: its printed commands score ${score}, advise measured ${row.splits[0]} on split 1`);
    }
    const testScore = async (head?: string) => {
      const out = path.join(dir, `t-${head ? 'head' : 'frozen'}.lkx`);
      await run(['index', testDir, '--model', model, ...(head ? ['--head', head] : []), '--out', out]);
      return JSON.parse(await run(['eval', out, '--labels', path.join(testDir, 'labels.csv'), '--json'])).mean['mmp@5'] as number;
    };
    const frozen = await testScore();
    t.diagnostic(`advise picked ${a.recommended.mode}; frozen test mmp@5 ${frozen.toFixed(4)}`);
    if (a.recommended.mode === 'frozen') return;
    const tune = a.commands[0].split(/\s+/);
    const tuned = await testScore(path.join(dir, tune[tune.indexOf('--out') + 1]));
    t.diagnostic(`its head's test mmp@5 ${tuned.toFixed(4)}`);
    assert.ok(tuned >= frozen, `recommended ${a.recommended.mode} scores below frozen on the test split`);
  } finally {
    process.chdir(cwd);
  }
});
