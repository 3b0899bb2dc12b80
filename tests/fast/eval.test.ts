/** `lookalike eval`: rankings, submission + truth, and index + labels modes; output formats; errors. */
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { runEvalFlags, type EvalFlags } from '../../src/cli/eval-cmd.ts';
import { loadIndex, saveIndex, type Manifest } from '../../src/index/whole-index.ts';
import { readLabels } from '../../src/data/labels.ts';
import { parseCsv } from '../../src/data/csv.ts';
import { evaluateIndex } from '../../src/eval/from-index.ts';
import { evaluateLabelled, rankByScores } from '../../src/metrics/evaluate.ts';
import type { ModelSpec } from '../../src/models/spec.ts';
import { runCli } from '../helpers/cli.ts';
import { SHARED, tmpDir } from '../helpers/tmp.ts';

const golden = path.join(SHARED, 'metrics-golden');
const expected = JSON.parse(fs.readFileSync(path.join(golden, 'expected.json'), 'utf8'));
const subExpected = JSON.parse(fs.readFileSync(path.join(golden, 'submission_expected.json'), 'utf8'));
const flags = (o: Partial<EvalFlags>): EvalFlags => ({ k: '1,5,10', empty: 'skip', ...o });
const close = (a: number, b: number, what = '') => assert.ok(Math.abs(a - b) < 1e-9, `${what} ${a} != ${b}`);
const dir = tmpDir('lookalike-eval-');

test('CLI: --rankings --json reproduces expected.json; --submission --truth reproduces submission_expected.json', async () => {
  const r = (await runCli(['eval', '--rankings', path.join(golden, 'cases.json'), '--json']));
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.deepEqual(Object.keys(out.mean), Object.keys(expected.mean));
  for (const [m, v] of Object.entries(expected.mean)) close(out.mean[m], v as number, m);
  assert.equal(out.queries_scored, expected.queries_scored);
  assert.deepEqual(out.queries_skipped_no_relevant, expected.queries_skipped_no_relevant);

  const s = (await runCli(['eval', '--submission', path.join(golden, 'submission.json'), '--truth', path.join(golden, 'truth.json'), '--json']));
  assert.equal(s.status, 0, s.stderr);
  const sj = JSON.parse(s.stdout);
  for (const [key, v] of Object.entries(subExpected)) close(sj[key], v as number, key);
  close(sj.mean.weighted_topk, subExpected.weighted_topk);
});

test('CLI: --help shows an example; bad input exits 1 with a clear message', async () => {
  const h = (await runCli(['eval', '--help']));
  assert.equal(h.status, 0);
  assert.match(h.stdout, /Example:\n {2}lookalike eval/);
  const bad = path.join(dir, 'bad-sub.json');
  fs.writeFileSync(bad, JSON.stringify({ 'q000.jpg': ['g001.jpg'], 'nope.jpg': [] }));
  const e = (await runCli(['eval', '--submission', bad, '--truth', path.join(golden, 'truth.json')]));
  assert.equal(e.status, 1);
  assert.match(e.stderr, /bad-sub\.json: query nope\.jpg is not in .*truth\.json \(unknown query id\)/);
  const both = (await runCli(['eval', '--rankings', path.join(golden, 'cases.json'), '--submission', bad]));
  assert.equal(both.status, 1);
  assert.match(both.stderr, /give exactly one input/);
  const empty = (await runCli(['eval', '--rankings', path.join(golden, 'cases.json'), '--empty', 'maybe']));
  assert.equal(empty.status, 2);
});

test('table, --k, --empty zero and --per-query CSV', async () => {
  const csv = path.join(dir, 'pq.csv');
  const run = await runEvalFlags(undefined, flags({ rankings: path.join(golden, 'cases.json'), k: '3,20', perQuery: csv }));
  assert.match(run.table, /38 queries scored; 2 skipped, no relevant gallery item: q005, q009/);
  assert.match(run.table, /@20/);
  assert.match(run.table, /weighted_topk\s+836\.84/);
  assert.ok('precision@3' in run.result.mean && 'ndcg@20' in run.result.mean && !('precision@5' in run.result.mean));
  close(run.result.mean['mmp@5'], expected.mean['mmp@5'], 'mmp@5 is independent of --k');
  const rows = parseCsv(fs.readFileSync(csv, 'utf8'), csv);
  assert.equal(rows.length, 40);
  const q005 = rows.find((r) => r.query === 'q005')!;
  assert.equal(q005.skipped, '1');
  assert.equal(q005['precision@3'], '');
  const q000 = rows.find((r) => r.query === 'q000')!;
  assert.equal(q000.R, '6');
  assert.equal(q000.domain, 'cartoon');
  close(Number(q000.ap), expected.per_query.q000.ap);

  const zero = await runEvalFlags(undefined, flags({ rankings: path.join(golden, 'cases.json'), empty: 'zero' }));
  assert.equal(zero.result.queries_scored, 40);
  close(zero.result.mean['precision@1'], (expected.mean['precision@1'] * 38) / 40);
  assert.deepEqual(zero.json.queries_zero_no_relevant, ['q005', 'q009']);
});

/** Write a labels CSV and an index of 2-d unit vectors at the given angles (degrees). */
async function writeAngleIndex(name: string, items: { id: string; label: string; deg: number; split?: string }[]): Promise<{ index: string; labels: string }> {
  const vectors = new Float32Array(items.length * 2);
  items.forEach((it, i) => {
    vectors[2 * i] = Math.cos((it.deg * Math.PI) / 180);
    vectors[2 * i + 1] = Math.sin((it.deg * Math.PI) / 180);
  });
  const manifest: Manifest = {
    model: { name: 'angles', fingerprint: 'test', spec: {} as ModelSpec },
    dim: 2,
    root: dir,
    created: new Date(0).toISOString(),
    updated: new Date(0).toISOString(),
  };
  const index = path.join(dir, `${name}.lkx`);
  await saveIndex(index, { manifest, ids: items.map((i) => i.id), vectors, dim: 2, files: {} });
  const labels = path.join(dir, `${name}.csv`);
  const split = items.some((i) => i.split);
  fs.writeFileSync(labels, [split ? 'path,label,split' : 'path,label', ...items.map((i) => [i.id, i.label, ...(split ? [i.split ?? ''] : [])].join(','))].join('\n') + '\n');
  return { index, labels };
}

test('index + labels: leave-one-out all-vs-all with self excluded (hand-worked)', async () => {
  // a1 0deg, a2 8deg, b1 20deg, b2 90deg, c1 180deg.
  // a1 -> a2 b1 b2 c1 (hit at 1); a2 -> a1 ... (hit at 1); b1 -> a2 a1 b2 (first hit at 3);
  // b2 -> b1 first (hit at 1); c1 has no other C: skipped.
  const { index, labels } = await writeAngleIndex('loo', [
    { id: 'a/a1.jpg', label: 'A', deg: 0 },
    { id: 'a/a2.jpg', label: 'A', deg: 8 },
    { id: 'b/b1.jpg', label: 'B', deg: 20 },
    { id: 'b/b2.jpg', label: 'B', deg: 90 },
    { id: 'c/c1.jpg', label: 'C', deg: 180 },
  ]);
  const run = await runEvalFlags(index, flags({ labels, json: true }));
  const m = run.result.mean;
  assert.equal(run.json.protocol, 'leave-one-out');
  assert.equal(run.json.gallery_size, 5);
  assert.equal(run.result.queries_scored, 4);
  assert.deepEqual(run.result.queries_skipped_no_relevant, ['c/c1.jpg']);
  close(m['precision@1'], 3 / 4);
  close(m.ap, (1 + 1 + 1 / 3 + 1) / 4);
  close(m.rr, (1 + 1 + 1 / 3 + 1) / 4);
  close(m.weighted_topk, (1000 + 1000 + 400 + 1000) / 4);
  close(m['mmp@5'], 3 / 4);
  close(run.result.per_query['b/b1.jpg']['ap@5'], 1 / 3);
  // Depth-limited search: the same @1 numbers; ap is cut at depth 2.
  const shallow = await runEvalFlags(index, flags({ labels, depth: '2' }));
  close(shallow.result.mean['precision@1'], 3 / 4);
  close(shallow.result.per_query['b/b1.jpg'].ap, 0);
  assert.match(shallow.table, /ranked to depth 2/);
  const all = await runEvalFlags(index, flags({ labels, depth: 'all' }));
  assert.equal(all.json.depth, 5);
  await assert.rejects(runEvalFlags(index, flags({ labels, depth: '0' })), /^OptionError: depth 0: expected an integer >= 1/);
});

test('index + labels: query/gallery splits from the split column, or --query-split/--gallery-split', async () => {
  const { index, labels } = await writeAngleIndex('splits', [
    { id: 'g/a.jpg', label: 'A', deg: 0, split: 'gallery' },
    { id: 'g/b.jpg', label: 'B', deg: 45, split: 'gallery' },
    { id: 'q/a.jpg', label: 'A', deg: 30, split: 'query' }, // nearer b (15deg) than a (30deg)
    { id: 'q/b.jpg', label: 'B', deg: 50, split: 'query' },
    { id: 'v/a.jpg', label: 'A', deg: 2, split: 'val' },
  ]);
  const r = await runEvalFlags(index, flags({ labels }));
  assert.equal(r.json.protocol, 'split query vs gallery');
  assert.equal(r.json.gallery_size, 2);
  assert.deepEqual(Object.keys(r.result.per_query), ['q/a.jpg', 'q/b.jpg']);
  assert.equal(r.result.per_query['q/a.jpg']['precision@1'], 0);
  assert.equal(r.result.per_query['q/b.jpg']['precision@1'], 1);
  const v = await runEvalFlags(index, flags({ labels, querySplit: 'val', gallerySplit: 'gallery' }));
  assert.equal(v.json.protocol, 'split val vs gallery');
  assert.deepEqual(Object.keys(v.result.per_query), ['v/a.jpg']);
  assert.equal(v.result.mean['precision@1'], 1);
  await assert.rejects(runEvalFlags(index, flags({ labels, querySplit: 'val' })), /give both querySplit and gallerySplit/);
  await assert.rejects(runEvalFlags(index, flags({ labels, querySplit: 'test', gallerySplit: 'gallery' })), /no indexed row has split "test"/);
});

test('index + labels: ties by gallery order, errors for mismatched paths, agreement with rankByScores', async () => {
  // n and p have identical vectors: for query q, n (lower row) ranks first.
  const { index, labels } = await writeAngleIndex('ties', [
    { id: 'n.jpg', label: 'N', deg: 40 },
    { id: 'p.jpg', label: 'P', deg: 40 },
    { id: 'q.jpg', label: 'P', deg: 0 },
  ]);
  const r = await runEvalFlags(index, flags({ labels }));
  assert.equal(r.result.per_query['q.jpg']['precision@1'], 0);
  close(r.result.per_query['q.jpg'].rr, 1 / 2);

  const other = path.join(dir, 'other.csv');
  fs.writeFileSync(other, 'path,label\nimages/x.jpg,A\n');
  await assert.rejects(runEvalFlags(index, flags({ labels: other })), /other\.csv: no path matches an index id \(index ids look like "n\.jpg", label paths like "images\/x\.jpg"\)/);
  await assert.rejects(runEvalFlags(index, flags({})), /give labels labels.csv/);

  // A random index: the exact search + label relevance agree with a plain sort of cosine scores.
  let seed = 11;
  const rand = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
  const items = Array.from({ length: 40 }, (_, i) => ({ id: `i${i}.jpg`, label: `L${i % 4}`, deg: rand() * 360 }));
  const rnd = await writeAngleIndex('random', items);
  const viaIndex = await evaluateIndex(await loadIndex(rnd.index), readLabels(rnd.labels));
  const vec = (d: number) => [Math.fround(Math.cos((d * Math.PI) / 180)), Math.fround(Math.sin((d * Math.PI) / 180))];
  const queries = items.map((q, qi) => {
    const others = items.map((_, i) => i).filter((i) => i !== qi);
    const scores = others.map((i) => Math.fround(vec(q.deg)[0] * vec(items[i].deg)[0] + vec(q.deg)[1] * vec(items[i].deg)[1]));
    return { ...q, ranking: [...rankByScores(scores)].map((j) => items[others[j]].id) };
  });
  const viaSort = evaluateLabelled(items, queries, { excludeSelf: true });
  for (const [m, v] of Object.entries(viaSort.mean)) close(viaIndex.mean[m], v, m);
});
