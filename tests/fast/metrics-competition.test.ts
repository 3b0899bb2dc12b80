/** Competition files: atomic submission writes, validation errors that name the file, scoring rules. */
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { duplicateTopLevelKeys, readSubmission, validateSubmission, writeSubmission } from '../../src/metrics/competition.ts';
import { evaluateSubmission } from '../../src/metrics/evaluate.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lookalike-comp-'));
test.after(() => fs.rmSync(tmp, { recursive: true, force: true }));

function write(name: string, text: string): string {
  const f = path.join(tmp, name);
  fs.writeFileSync(f, text);
  return f;
}

test('writeSubmission writes atomically and reads back; Maps work too', () => {
  const f = path.join(tmp, 'sub', 'out.json');
  const sub = { 'q1.jpg': ['g2.jpg', 'g1.jpg'], 'q2.jpg': [] };
  writeSubmission(f, sub);
  assert.deepEqual(readSubmission(f), sub);
  writeSubmission(f, new Map([['q3.jpg', ['g9.jpg']]]));
  assert.deepEqual(readSubmission(f), { 'q3.jpg': ['g9.jpg'] });
  assert.deepEqual(fs.readdirSync(path.dirname(f)), ['out.json'], 'no temp files left behind');
  // An invalid submission is refused and the old file stays intact.
  assert.throws(() => writeSubmission(f, { 'q.jpg': ['a', 'a'] }), /out\.json: query q\.jpg: gallery id a is listed twice/);
  assert.deepEqual(readSubmission(f), { 'q3.jpg': ['g9.jpg'] });
});

test('readSubmission errors name the file and the problem', () => {
  assert.throws(() => readSubmission(path.join(tmp, 'missing.json')), /missing\.json: no such file/);
  assert.throws(() => readSubmission(write('bad.json', '{"q": [')), /bad\.json: not valid JSON/);
  assert.throws(() => readSubmission(write('arr.json', '[["a"]]')), /arr\.json: expected a JSON object.*got an array/);
  assert.throws(() => readSubmission(write('str.json', '{"q.jpg": "g.jpg"}')), /str\.json: query q\.jpg: expected an array/);
  assert.throws(() => readSubmission(write('num.json', '{"q.jpg": ["g.jpg", 3]}')), /num\.json: query q\.jpg: item 2 is not a non-empty string id/);
  assert.throws(() => readSubmission(write('dupg.json', '{"q.jpg": ["a.jpg", "b.jpg", "a.jpg"]}')), /dupg\.json: query q\.jpg: gallery id a\.jpg is listed twice \(positions 1 and 3\)/);
  assert.throws(() => readSubmission(write('dupq.json', '{"q.jpg": ["a.jpg"], "r.jpg": [], "q.jpg": ["b.jpg"]}')), /dupq\.json: query id q\.jpg appears more than once/);
  assert.throws(() => validateSubmission({ 'q.jpg': [] }, 'x.json', { allowEmpty: false }), /x\.json: query q\.jpg: empty ranking/);
});

test('duplicateTopLevelKeys ignores nested keys, strings and escapes', () => {
  assert.deepEqual(duplicateTopLevelKeys('{"a": ["a", "a"], "b": {"a": 1, "a": 2}, "c\\"": "x", "c\\"": []}'), ['c"']);
  assert.deepEqual(duplicateTopLevelKeys('{"a": [], "b": []}'), []);
});

test('scoring: unknown and missing queries are errors; unknown gallery ids when the gallery is known', () => {
  const truth = { 'q1.jpg': ['g1.jpg'], 'q2.jpg': ['g2.jpg', 'g3.jpg'], 'q3.jpg': [] };
  const sub = { 'q1.jpg': ['g1.jpg'], 'q2.jpg': ['g1.jpg', 'g3.jpg'], 'q3.jpg': ['g1.jpg'] };
  const r = evaluateSubmission(sub, truth, { subFile: 's.json', truthFile: 't.json' });
  assert.equal(r.queries_scored, 2);
  assert.equal(r.queries_without_truth, 1);
  assert.deepEqual(r.queries_skipped_no_relevant, ['q3.jpg']);
  assert.equal(r.weighted_topk, (1000 + 400) / 2);
  assert.equal(r.per_query['q2.jpg']['recall@10'], 1 / 2);
  assert.throws(() => evaluateSubmission({ ...sub, 'zz.jpg': [] }, truth, { subFile: 's.json', truthFile: 't.json' }), /s\.json: query zz\.jpg is not in t\.json \(unknown query id\)/);
  const { 'q2.jpg': _, ...partial } = sub;
  assert.throws(() => evaluateSubmission(partial, truth, { subFile: 's.json', truthFile: 't.json' }), /s\.json: 1 query of t\.json has no ranking \(first: q2\.jpg\)/);
  assert.throws(
    () => evaluateSubmission(sub, truth, { subFile: 's.json', gallery: new Set(['g1.jpg', 'g2.jpg']) }),
    /s\.json: query q2\.jpg: unknown gallery id g3\.jpg/,
  );
  // Scoring zero instead of skipping the query without truth.
  assert.equal(evaluateSubmission(sub, truth, { empty: 'zero' }).weighted_topk, (1000 + 400) / 3);
});

test('scoring with --exclude-self drops the query from its own ranking and truth', () => {
  const truth = { a: ['a', 'b'] };
  const sub = { a: ['a', 'c', 'b'] };
  assert.equal(evaluateSubmission(sub, truth).per_query.a['precision@1'], 1);
  const r = evaluateSubmission(sub, truth, { excludeSelf: true });
  assert.equal(r.per_query.a['precision@1'], 0);
  assert.equal(r.per_query.a.rr, 1 / 2);
  assert.equal(r.per_query.a['recall@5'], 1);
});
