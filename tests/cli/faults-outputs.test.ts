/**
 * Fault suite, FILE outputs: every `--out` hazard (compete --out, search --submission,
 * tune --out, eval --per-query) is refused before any work, with a one-line error naming the flag
 * and the path; a writer's own kind of file is replaced; temps are hidden siblings only lookalike
 * names, and only a dead process's are cleaned.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { writeCompetition } from '../../src/data/synthetic.ts';
import { guardOutput, OUTPUT_KINDS } from '../../src/util/outputs.ts';
import { cleanStaleTemps, parseTempName, tempPath } from '../../src/util/temp.ts';
import { writeFileAtomic } from '../../src/util/atomic.ts';
import { headModel } from '../../src/tune/export.ts';
import { createHead } from '../../src/tune/heads.ts';
import { Rng } from '../../src/util/random.ts';
import { cli, tmpDir, writeTinyCnn, ROOT, TINY_FLAGS } from '../helpers/tmp.ts';

const SUB = OUTPUT_KINDS.submission;

/** Snapshot of a folder: relative path -> content (files) or '<dir>'. */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (rel: string) => {
    for (const e of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
      const r = path.join(rel, e.name);
      if (e.isDirectory()) {
        out[r] = '<dir>';
        walk(r);
      } else out[r] = fs.readFileSync(path.join(dir, r)).toString('base64');
    }
  };
  walk('');
  return out;
}

test('guardOutput: the rule for existing paths, inputs and parents (one-line errors naming flag and path)', () => {
  const dir = tmpDir();
  const g = (file: string, inputs: string[] = []) => guardOutput(file, { option: 'out', kind: SUB, inputs });
  // new paths are fine, even in folders still to be made
  g(path.join(dir, 'new.json'));
  g(path.join(dir, 'a/b/new.json'));
  // an existing folder, a trailing slash
  fs.mkdirSync(path.join(dir, 'folder'));
  assert.throws(() => g(path.join(dir, 'folder')), /^OptionError: out .*folder: is an existing folder; refusing to replace it/);
  assert.throws(() => g(`${dir}/new/`), /out .*new\/: expected a file path, not a folder/);
  // an unrelated file, a JSON that is not a submission, a non-UTF-8 file
  fs.writeFileSync(path.join(dir, 'notes.txt'), 'my notes');
  assert.throws(() => g(path.join(dir, 'notes.txt')), /out .*notes\.txt: exists and is not a submission JSON .*refusing to replace it/);
  fs.writeFileSync(path.join(dir, 'config.json'), '{"port": 8080}');
  assert.throws(() => g(path.join(dir, 'config.json')), /config\.json: exists and is not a submission JSON/);
  fs.writeFileSync(path.join(dir, 'latin1.json'), Buffer.from([0x7b, 0x22, 0xe9, 0x22, 0x3a, 0x5b, 0x5d, 0x7d]));
  assert.throws(() => g(path.join(dir, 'latin1.json')), /latin1\.json: exists and is not a submission JSON/);
  // its own kind (an earlier submission) and an empty file are replaced
  fs.writeFileSync(path.join(dir, 'old.json'), '{"q.jpg": ["a.jpg", "b.jpg"], "r.jpg": []}');
  g(path.join(dir, 'old.json'));
  fs.writeFileSync(path.join(dir, 'empty.json'), '');
  g(path.join(dir, 'empty.json'));
  // a symbolic link, even to a submission
  fs.symlinkSync(path.join(dir, 'old.json'), path.join(dir, 'link.json'));
  assert.throws(() => g(path.join(dir, 'link.json')), /link\.json: is a symbolic link/);
  // a parent that is a file
  assert.throws(() => g(path.join(dir, 'notes.txt/sub.json')), /out .*notes\.txt\/sub\.json: .*notes\.txt is not a folder/);
  // an input, or inside an input folder
  fs.mkdirSync(path.join(dir, 'comp'));
  assert.throws(() => g(path.join(dir, 'comp'), [path.join(dir, 'comp')]), /is an input of this command/);
  assert.throws(() => g(path.join(dir, 'comp/sub.json'), [path.join(dir, 'comp')]), /lies inside the input folder/);
  assert.throws(() => g(path.join(dir, 'old.json'), [path.join(dir, 'old.json')]), /is an input of this command/);
  // each error is one line
  try {
    g(path.join(dir, 'notes.txt'));
  } catch (e) {
    assert.ok(!(e as Error).message.includes('\n'));
  }
  // nothing was touched
  assert.equal(fs.readFileSync(path.join(dir, 'notes.txt'), 'utf8'), 'my notes');
});

test('guardOutput recognises heads written by tune and per-query CSVs written by eval, and nothing else', () => {
  const dir = tmpDir();
  const head = createHead({ kind: 'linear', inputDim: 4, outputDim: 4, hidden: [], dropout: 0, batchNorm: false, numClasses: 0 }, new Rng(0));
  fs.writeFileSync(path.join(dir, 'head.onnx'), headModel(head));
  guardOutput(path.join(dir, 'head.onnx'), { option: 'out', kind: OUTPUT_KINDS.head });
  fs.writeFileSync(path.join(dir, 'backbone.onnx'), fs.readFileSync(writeTinyCnn(dir)));
  assert.throws(() => guardOutput(path.join(dir, 'backbone.onnx'), { option: 'out', kind: OUTPUT_KINDS.head }), /out .*backbone\.onnx: exists and is not an ONNX head written by `lookalike tune`/);
  fs.writeFileSync(path.join(dir, 'pq.csv'), 'query,label,domain,R,skipped,ap\nq1,a,,2,0,1\n');
  guardOutput(path.join(dir, 'pq.csv'), { option: 'perQuery', kind: OUTPUT_KINDS.perQueryCsv });
  fs.writeFileSync(path.join(dir, 'labels.csv'), 'path,label\na.jpg,x\n');
  assert.throws(() => guardOutput(path.join(dir, 'labels.csv'), { option: 'perQuery', kind: OUTPUT_KINDS.perQueryCsv }), /perQuery .*labels\.csv: exists and is not a per-query CSV/);
});

test('temps are hidden siblings only lookalike names; a dead process\'s are cleaned, nothing else is', async () => {
  const dir = tmpDir();
  const target = path.join(dir, 'sub.json');
  const t = tempPath(target);
  assert.equal(path.dirname(t), dir);
  assert.match(path.basename(t), /^\.sub\.json\.lookalike-tmp-\d+-[a-z0-9]+$/);
  assert.deepEqual(parseTempName(path.basename(t)), { target: 'sub.json', pid: process.pid });
  // a pid that is certainly dead: a child that has exited
  const child = spawn(process.execPath, ['-e', '0']);
  const deadPid = child.pid!;
  await new Promise((r) => child.on('exit', r));
  const stale = path.join(dir, `.sub.json.lookalike-tmp-${deadPid}-abc123`);
  const live = path.join(dir, `.sub.json.lookalike-tmp-${process.pid}-def456`);
  const otherTarget = path.join(dir, `.other.json.lookalike-tmp-${deadPid}-abc123`);
  const userFiles = ['.sub.json.bak', `.sub.json.tmp-${deadPid}-x`, 'sub.json.old', `.sub.json.lookalike-tmp-${deadPid}-UPPER`];
  for (const f of [stale, live, otherTarget, ...userFiles.map((u) => path.join(dir, u))]) fs.writeFileSync(f, 'x');
  fs.mkdirSync(path.join(dir, `.sub.json.lookalike-tmp-${deadPid}-dir999`));
  assert.deepEqual(cleanStaleTemps(target), [stale]);
  assert.ok(!fs.existsSync(stale));
  for (const f of [live, otherTarget, ...userFiles.map((u) => path.join(dir, u)), path.join(dir, `.sub.json.lookalike-tmp-${deadPid}-dir999`)]) assert.ok(fs.existsSync(f), f);
  // writeFileAtomic also cleans the target's stale temps and leaves no temp of its own
  fs.writeFileSync(stale, 'x');
  writeFileAtomic(target, '{}\n');
  assert.ok(!fs.existsSync(stale));
  assert.equal(fs.readdirSync(dir).filter((n) => parseTempName(n)?.pid === process.pid && n !== path.basename(live)).length, 0);
});

test('a crash in the middle of a file write leaves the old file and a temp that the next run removes', () => {
  const dir = tmpDir();
  const target = path.join(dir, 'sub.json');
  fs.writeFileSync(target, '{"old": []}\n');
  const script = `import { writeFileAtomic } from ${JSON.stringify(path.join(ROOT, 'src/util/atomic.ts'))}; writeFileAtomic(${JSON.stringify(target)}, '{"new": []}\\n');`;
  const crashed = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, LOOKALIKE_CRASH_AT: 'file:sub.json' } });
  assert.equal(crashed.signal, 'SIGKILL', crashed.stderr); // crashPoint is a real kill -9
  assert.equal(fs.readFileSync(target, 'utf8'), '{"old": []}\n');
  const temps = fs.readdirSync(dir).filter((n) => parseTempName(n));
  assert.equal(temps.length, 1, 'the crashed writer left its temp');
  const ok = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: ROOT, encoding: 'utf8' });
  assert.equal(ok.status, 0, ok.stderr);
  assert.equal(fs.readFileSync(target, 'utf8'), '{"new": []}\n');
  assert.deepEqual(fs.readdirSync(dir), ['sub.json']);
});

test('CLI writers refuse hazards before any work: compete --out, search --submission, tune --out, eval --per-query', async () => {
  const dir = tmpDir();
  const comp = path.join(dir, 'comp');
  await writeCompetition(comp, 3, 2);
  fs.writeFileSync(path.join(dir, 'notes.txt'), 'keep me');
  fs.mkdirSync(path.join(dir, 'project'));
  fs.writeFileSync(path.join(dir, 'project', 'a.txt'), 'a');
  const before = snapshot(dir);
  // The model does not exist: an error about --out proves the guard ran before the model was even looked at.
  const missingModel = path.join(dir, 'no-such-model.onnx');
  for (const [out, msg] of [
    [path.join(dir, 'project'), /^error: --out .*project: is an existing folder; refusing to replace it/],
    [comp, /^error: --out .*comp: is an input of this command/],
    [path.join(comp, 'sub.json'), /^error: --out .*comp\/sub\.json: lies inside the input folder/],
    [path.join(dir, 'notes.txt'), /^error: --out .*notes\.txt: exists and is not a submission JSON/],
  ] as const) {
    const r = cli(['compete', comp, '--model', missingModel, '--out', out]);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, msg);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  }
  const t = cli(['tune', '--train', comp, '--model', missingModel, '--out', path.join(dir, 'notes.txt')]);
  assert.equal(t.status, 1);
  assert.match(t.stderr, /^error: --out .*notes\.txt: exists and is not an ONNX head written by `lookalike tune`/);
  const e = cli(['eval', '--submission', path.join(dir, 'nope.json'), '--truth', path.join(comp, 'truth.json'), '--per-query', path.join(comp, 'truth.json')]);
  assert.equal(e.status, 1);
  assert.match(e.stderr, /^error: --per-query .*truth\.json: is an input of this command/);
  const s = cli(['search', path.join(dir, 'no-such.lkx'), path.join(comp, 'query'), '--submission', path.join(dir, 'project')]);
  assert.equal(s.status, 1);
  assert.match(s.stderr, /^error: --submission .*project: is an existing folder/);
  assert.deepEqual(snapshot(dir), before, 'nothing was created, changed or removed');

  // and a good run replaces its own earlier submission
  const model = writeTinyCnn(dir);
  const out = path.join(dir, 'sub.json');
  fs.writeFileSync(out, '{"old.jpg": ["x.jpg"]}');
  const ok = cli(['compete', comp, '--model', model, ...TINY_FLAGS, '-k', '2', '--out', out]);
  assert.equal(ok.status, 0, ok.stderr);
  assert.ok(!('old.jpg' in JSON.parse(fs.readFileSync(out, 'utf8'))));
  assert.deepEqual(fs.readdirSync(dir).filter((n) => n.startsWith('.')), [], 'no temp left');
});
