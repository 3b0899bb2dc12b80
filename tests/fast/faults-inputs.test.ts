/**
 * Fault suite, wrong inputs: bad CSV (unterminated quote, empty label), non-UTF-8 JSON/CSV,
 * duplicate or non-string ids in submissions and rankings, TF.js weight paths leaving the model
 * folder, an empty query folder, --strict deciding before writing, a closed stdout.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { writeClassFolders, writeCompetition } from '../../src/data/synthetic.ts';
import { parseCsvLines, readCsv } from '../../src/data/csv.ts';
import { readLabels } from '../../src/data/labels.ts';
import { readCaptions } from '../../src/data/captions-csv.ts';
import { readSubmission } from '../../src/metrics/competition.ts';
import { readCases, evaluateLabelled } from '../../src/metrics/evaluate.ts';
import { readJson } from '../../src/util/json.ts';
import { readTfjsArtifacts } from '../../src/models/tfjs.ts';
import { runCli } from '../helpers/cli.ts';
import { tmpDir, writeTinyCnn, ROOT, TINY_FLAGS } from '../helpers/tmp.ts';

const LATIN1_E = 0xe9; // "é" in Latin-1: not valid UTF-8 on its own

test('CSV: an unterminated quote is an error at the line it opened, not a swallowed file', () => {
  const dir = tmpDir();
  const f = path.join(dir, 'labels.csv');
  fs.writeFileSync(f, 'path,label\na.jpg,x\n"b.jpg,y\nc.jpg,z\nd.jpg,z\n');
  assert.throws(() => readLabels(f), new RegExp(`^Error: ${f.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:3: unterminated quoted field`));
  assert.throws(() => readCsv(f), /labels\.csv:3: unterminated quoted field/);
  // a quoted field may span lines: later line numbers stay right
  const rows = parseCsvLines('path,caption\na.jpg,"two\nlines"\nb.jpg,one\n');
  assert.deepEqual(rows.map((r) => r.line), [1, 2, 4]);
  fs.writeFileSync(path.join(dir, 'caps.csv'), 'path,caption\na.jpg,"two\nlines"\nb.jpg,\n');
  assert.throws(() => readCaptions(path.join(dir, 'caps.csv')), /caps\.csv:4: missing path or caption/);
});

test('CSV: empty labels and paths are errors naming file:line; columns mismatches too', () => {
  const dir = tmpDir();
  const f = path.join(dir, 'labels.csv');
  fs.writeFileSync(f, 'path,label\na.jpg,x\nb.jpg,\nc.jpg,y\n');
  assert.throws(() => readLabels(f), /labels\.csv:3: empty label for b\.jpg/);
  fs.writeFileSync(f, 'path,label\na.jpg,x\nb.jpg,"  "\n');
  assert.throws(() => readLabels(f), /labels\.csv:3: empty label/);
  fs.writeFileSync(f, 'path,label\n,x\n');
  assert.throws(() => readLabels(f), /labels\.csv:2: empty path/);
  fs.writeFileSync(f, 'path,label\n\na.jpg,x,extra\n');
  assert.throws(() => readLabels(f), /labels\.csv:3: 3 columns, header has 2/);
});

test('non-UTF-8 CSV and JSON are errors naming the file (and line), never replacement characters', () => {
  const dir = tmpDir();
  const csv = path.join(dir, 'labels.csv');
  fs.writeFileSync(csv, Buffer.concat([Buffer.from('path,label\na.jpg,caf'), Buffer.from([LATIN1_E]), Buffer.from('\n')]));
  assert.throws(() => readLabels(csv), /labels\.csv:2: not valid UTF-8 text/);
  const json = path.join(dir, 'sub.json');
  fs.writeFileSync(json, Buffer.concat([Buffer.from('{\n"q.jpg": ["caf'), Buffer.from([LATIN1_E]), Buffer.from('.jpg"]}')]));
  assert.throws(() => readSubmission(json), /sub\.json:2: not valid UTF-8 text/);
  assert.throws(() => readJson(json), /sub\.json:2: not valid UTF-8 text/);
  assert.throws(() => readCases(json), /sub\.json:2: not valid UTF-8 text/);
  // a UTF-8 BOM is fine
  fs.writeFileSync(json, Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"q.jpg": ["é.jpg"]}')]));
  assert.deepEqual(readSubmission(json), { 'q.jpg': ['é.jpg'] });
});

test('duplicate or non-string ids in submissions and rankings name the file and the item', () => {
  const dir = tmpDir();
  const f = path.join(dir, 'sub.json');
  const sub = (text: string) => {
    fs.writeFileSync(f, text);
    return () => readSubmission(f);
  };
  assert.throws(sub('{"q.jpg": ["a.jpg", "a.jpg"]}'), /sub\.json: query q\.jpg: gallery id a\.jpg is listed twice \(positions 1 and 2\)/);
  assert.throws(sub('{"q.jpg": ["a.jpg", 7]}'), /sub\.json: query q\.jpg: item 2 is not a non-empty string id \(7\)/);
  assert.throws(sub('{"q.jpg": ["a.jpg"], "q.jpg": ["b.jpg"]}'), /sub\.json: query id q\.jpg appears more than once/);
  assert.throws(sub('{"q.jpg": "a.jpg"}'), /sub\.json: query q\.jpg: expected an array of gallery ids/);
  const cases = path.join(dir, 'cases.json');
  const rankings = (v: unknown) => {
    fs.writeFileSync(cases, JSON.stringify(v));
    return () => {
      const c = readCases(cases);
      evaluateLabelled(c.gallery, c.queries, { source: cases });
    };
  };
  const g = [{ id: 'a', label: 'x' }, { id: 'b', label: 'y' }];
  assert.throws(rankings({ gallery: [...g, { id: 'a', label: 'z' }], queries: [] }), /cases\.json: gallery id a appears more than once/);
  assert.throws(rankings({ gallery: g, queries: [{ id: 'q', label: 'x', ranking: ['a', 'a'] }] }), /cases\.json: query q: gallery id a is ranked twice/);
  assert.throws(rankings({ gallery: g, queries: [{ id: 'q', label: 'x', ranking: ['a', 3] }] }), /cases\.json: queries\[0\] \(q\): ranking must be an array of gallery ids/);
  assert.throws(rankings({ gallery: [{ id: 5, label: 'x' }], queries: [] }), /cases\.json: gallery\[0\]: expected \{id, label\[, domain\]\}/);
  assert.throws(rankings({ gallery: g, queries: [{ id: 'q', label: 'x', ranking: [] }, { id: 'q', label: 'y', ranking: [] }] }), /cases\.json: query id q appears more than once/);
});

test('TF.js weight paths must stay inside the model folder', () => {
  const dir = tmpDir();
  const model = path.join(dir, 'model');
  fs.mkdirSync(model);
  fs.writeFileSync(path.join(dir, 'secret.bin'), Buffer.alloc(16));
  const write = (p: string) => {
    const json = { format: 'graph-model', modelTopology: { node: [] }, weightsManifest: [{ paths: [p], weights: [{ name: 'w', shape: [4], dtype: 'float32' }] }] };
    fs.writeFileSync(path.join(model, 'model.json'), JSON.stringify(json));
    return () => readTfjsArtifacts(path.join(model, 'model.json'));
  };
  assert.throws(write('../secret.bin'), /model\.json: weight path \.\.\/secret\.bin points outside the model folder/);
  assert.throws(write('sub/../../secret.bin'), /points outside the model folder/);
  assert.throws(write(path.join(dir, 'secret.bin')), /is not a relative path inside the model folder/);
  assert.throws(write('file:///etc/passwd'), /is not a relative path inside the model folder/);
  fs.symlinkSync(path.join(dir, 'secret.bin'), path.join(model, 'link.bin'));
  assert.throws(write('link.bin'), /weight path link\.bin links outside the model folder/);
  // a shard inside the folder is read
  fs.writeFileSync(path.join(model, 'ok.bin'), Buffer.alloc(16));
  assert.doesNotThrow(write('ok.bin'));
});

test('CLI: a bad labels CSV fails eval with one line; an empty query folder is an error, not {}', async () => {
  const dir = tmpDir();
  const gallery = path.join(dir, 'gallery');
  await writeClassFolders(gallery, 2, 2, 0);
  const model = writeTinyCnn(dir);
  const index = path.join(dir, 'g.lkx');
  assert.equal((await runCli(['index', gallery, '--model', model, ...TINY_FLAGS, '--out', index])).status, 0);
  const labels = path.join(dir, 'labels.csv');
  fs.writeFileSync(labels, 'path,label\nclass00/000.jpg,a\n"class00/001.jpg,a\nclass01/000.jpg,b\nclass01/001.jpg,b\n');
  const e = (await runCli(['eval', index, '--labels', labels]));
  assert.equal(e.status, 1);
  assert.match(e.stderr, /^error: .*labels\.csv:3: unterminated quoted field/);
  assert.equal(e.stderr.trim().split('\n').length, 1);
  const empty = path.join(dir, 'empty');
  fs.mkdirSync(empty);
  fs.writeFileSync(path.join(empty, 'notes.txt'), 'not an image');
  const s = (await runCli(['search', index, empty, '--submission', path.join(dir, 'sub.json')]));
  assert.equal(s.status, 1);
  assert.match(s.stderr, /^error: .*empty: no query images in this folder/);
  assert.ok(!fs.existsSync(path.join(dir, 'sub.json')));
  const comp = path.join(dir, 'comp');
  await writeCompetition(comp, 2, 1);
  for (const f of fs.readdirSync(path.join(comp, 'query'))) fs.rmSync(path.join(comp, 'query', f));
  const c = (await runCli(['compete', comp, '--model', model, ...TINY_FLAGS, '--out', path.join(dir, 'c.json')]));
  assert.equal(c.status, 1);
  assert.match(c.stderr, /query: no query images/);
  assert.ok(!fs.existsSync(path.join(dir, 'c.json')));
});

test('--strict decides before writing: no index, submission or search output is written when a file is skipped', async () => {
  const dir = tmpDir();
  const comp = path.join(dir, 'comp');
  await writeCompetition(comp, 2, 2);
  fs.writeFileSync(path.join(comp, 'gallery', 'broken.jpg'), 'not a jpeg');
  const model = writeTinyCnn(dir);
  const out = path.join(dir, 'sub.json');
  const c = (await runCli(['compete', comp, '--model', model, ...TINY_FLAGS, '--out', out, '--strict']));
  assert.equal(c.status, 1);
  assert.match(c.stderr, /--strict: 1 file\(s\) skipped; .*sub\.json was not written/);
  assert.ok(!fs.existsSync(out));
  // index: a first build writes nothing; an existing index stays byte for byte
  const index = path.join(dir, 'g.lkx');
  const first = (await runCli(['index', path.join(comp, 'gallery'), '--model', model, ...TINY_FLAGS, '--out', index, '--strict']));
  assert.equal(first.status, 1);
  assert.ok(!fs.existsSync(index));
  assert.equal((await runCli(['index', path.join(comp, 'gallery'), '--model', model, ...TINY_FLAGS, '--out', index])).status, 0);
  const before = fs.readFileSync(path.join(index, 'manifest.json'));
  fs.writeFileSync(path.join(comp, 'gallery', 'also-broken.png'), 'nope');
  const again = (await runCli(['index', path.join(comp, 'gallery'), '--model', model, ...TINY_FLAGS, '--out', index, '--strict']));
  assert.equal(again.status, 1);
  assert.ok(fs.readFileSync(path.join(index, 'manifest.json')).equals(before));
  // search --submission with a broken query file
  const s = (await runCli(['search', index, path.join(comp, 'gallery', 'broken.jpg'), path.join(comp, 'query'), '--submission', out, '--strict']));
  assert.equal(s.status, 1);
  assert.match(s.stderr, /--strict: 1 query file\(s\) skipped; .*sub\.json was not written/);
  assert.ok(!fs.existsSync(out));
});

test('a closed stdout ends the process quietly: `lookalike tune --help | head -1`; a closed stderr does not stop the work', async () => {
  const r = spawnSync('bash', ['-c', `node ${JSON.stringify(path.join(ROOT, 'bin/lookalike.js'))} tune --help | head -1; echo "rc=\${PIPESTATUS[0]}"`], { encoding: 'utf8' });
  assert.match(r.stdout, /^Usage: lookalike tune/);
  assert.match(r.stdout, /rc=0\n$/);
  assert.equal(r.stderr, '', 'no EPIPE stack trace');
  // stderr (skip lines) closed by its reader: the index is still written, exit 0
  const dir = tmpDir();
  const gallery = path.join(dir, 'gallery');
  await writeClassFolders(gallery, 2, 2, 0);
  for (let i = 0; i < 50; i++) fs.writeFileSync(path.join(gallery, `broken${i}.jpg`), 'nope');
  const out = path.join(dir, 'g.lkx');
  const child = spawn(process.execPath, [path.join(ROOT, 'bin/lookalike.js'), 'index', gallery, '--model', writeTinyCnn(dir), ...TINY_FLAGS, '--out', out], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stderr.destroy();
  let stdout = '';
  child.stdout.on('data', (d) => (stdout += d));
  const code = await new Promise((res) => child.on('close', res));
  assert.equal(code, 0);
  assert.match(stdout, /4 images, 16-d; 4 added/);
  assert.ok(fs.existsSync(out));
});
