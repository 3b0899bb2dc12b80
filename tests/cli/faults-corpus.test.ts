/**
 * Fault suite, bad files: a generated corpus (zero-byte, truncated JPEG/PNG, text with an image
 * extension, a PNG header claiming 30000x30000, a non-image file, symlink loops, a dangling link,
 * a symlinked folder linked twice, an unreadable file and folder, odd names, CMYK, 16-bit and a
 * PNG named .jpg) through index, search and compete with the tiny generated model: every bad entry
 * is reported with its real reason and skipped, every good image is indexed.
 *
 * Unreadable entries: tests often run as root, where chmod 000 blocks nothing (CAP_DAC_OVERRIDE).
 * Then the CLI runs as the `nobody` user (uid 65534) so the permission errors are real; where
 * that is impossible the unreadable cases are left out of the corpus and the test says so.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { classImage } from '../../src/data/synthetic.ts';
import { writeFaultCorpus, unreadableRunner, type FaultCorpus } from '../helpers/faults.ts';
import { tmpDir, writeTinyCnn, ROOT, TINY_FLAGS } from '../helpers/tmp.ts';

interface Skip {
  id: string;
  reason: string;
}

const runner = unreadableRunner();

/** Run the CLI as the runner's user (nobody when root), with a HOME/TMPDIR it may write. */
function run(args: string[], scratch: string): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [path.join(ROOT, 'bin/lookalike.js'), ...args], {
    encoding: 'utf8',
    uid: runner.uid,
    gid: runner.gid,
    env: { ...process.env, HOME: scratch, TMPDIR: scratch },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const setup = (async () => {
  const dir = tmpDir();
  fs.chmodSync(dir, 0o755);
  const scratch = path.join(dir, 'scratch');
  fs.mkdirSync(scratch);
  fs.chmodSync(scratch, 0o777);
  const corpus: FaultCorpus = await writeFaultCorpus(path.join(dir, 'corpus'), { unreadable: runner.possible });
  const model = writeTinyCnn(dir);
  fs.chmodSync(model, 0o644);
  return { dir, scratch, corpus, model };
})();

// Give the unreadable entries their permissions back so the temp folder can be removed.
after(async () => {
  const { corpus } = await setup;
  for (const p of ['locked', 'bad/locked.jpg']) if (fs.existsSync(path.join(corpus.dir, p))) fs.chmodSync(path.join(corpus.dir, p), 0o755);
});

function assertReasons(skipped: Skip[], corpus: FaultCorpus, prefix = '') {
  const byId = new Map(skipped.map((s) => [s.id, s.reason]));
  for (const b of corpus.bad) {
    const reason = byId.get(prefix + b.id);
    assert.ok(reason !== undefined, `${prefix}${b.id} is reported (got ${JSON.stringify(skipped)})`);
    assert.match(reason, b.reason, `${prefix}${b.id}`);
  }
  assert.equal(skipped.length, corpus.bad.length, `exactly the bad entries are skipped: ${JSON.stringify(skipped)}`);
}

test('index: each bad file is skipped with its real reason; every good image is indexed', async (t) => {
  const { scratch, corpus, model } = await setup;
  if (!runner.possible) t.diagnostic('unreadable file/folder cases left out: running as root and the `nobody` user cannot run the CLI here');
  const out = path.join(scratch, 'corpus.lkx');
  const r = run(['index', corpus.dir, '--model', model, ...TINY_FLAGS, '--out', out, '--json'], scratch);
  assert.equal(r.status, 0, r.stderr);
  const rep = JSON.parse(r.stdout) as { added_ids: string[]; skipped: Skip[] };
  assert.deepEqual([...rep.added_ids].sort(), corpus.good);
  assertReasons(rep.skipped, corpus);
  // the odd formats decode to the same picture: 16-bit and wrongly named PNGs match the 8-bit original
  const s = run(['search', out, '--id', 'good/b.png', '-k', '3', '--exclude-self', '--json'], scratch);
  assert.equal(s.status, 0, s.stderr);
  const hits = JSON.parse(s.stdout).results[0].hits as { id: string; score: number }[];
  const score = (id: string) => hits.find((h) => h.id === id)?.score ?? -1;
  assert.ok(score('good/png-named.jpg') > 0.9999, JSON.stringify(hits));
  assert.ok(score('good/deep16.png') > 0.999, JSON.stringify(hits));
});

test('search with the corpus as a query folder, and compete with it as the gallery, report the same reasons', async () => {
  const { dir, scratch, corpus, model } = await setup;
  const gallery = path.join(dir, 'small');
  fs.mkdirSync(gallery);
  fs.chmodSync(gallery, 0o755);
  fs.writeFileSync(path.join(gallery, 'x.jpg'), await classImage(0, 9));
  fs.writeFileSync(path.join(gallery, 'y.jpg'), await classImage(1, 9));
  const index = path.join(scratch, 'small.lkx');
  assert.equal(run(['index', gallery, '--model', model, ...TINY_FLAGS, '--out', index], scratch).status, 0);
  const s = run(['search', index, corpus.dir, '-k', '1', '--json'], scratch);
  assert.equal(s.status, 0, s.stderr);
  const sr = JSON.parse(s.stdout) as { results: { query: string }[]; skipped: Skip[] };
  assert.deepEqual(sr.results.map((q) => q.query).sort(), corpus.good);
  assertReasons(sr.skipped, corpus, `${corpus.dir}/`);

  const comp = path.join(dir, 'comp');
  fs.mkdirSync(path.join(comp, 'query'), { recursive: true });
  fs.chmodSync(comp, 0o755);
  fs.chmodSync(path.join(comp, 'query'), 0o755);
  fs.writeFileSync(path.join(comp, 'query', 'q.jpg'), await classImage(0, 9));
  fs.writeFileSync(path.join(comp, 'query', 'zero.jpg'), '');
  fs.symlinkSync(corpus.dir, path.join(comp, 'gallery'));
  const sub = path.join(scratch, 'sub.json');
  const c = run(['compete', comp, '--model', model, ...TINY_FLAGS, '-k', '100', '--out', sub, '--json'], scratch);
  assert.equal(c.status, 0, c.stderr);
  const cr = JSON.parse(c.stdout) as { gallery: number; skipped: Skip[] };
  assert.equal(cr.gallery, corpus.good.length);
  assertReasons(cr.skipped.filter((x) => x.id.startsWith('gallery/')), corpus, 'gallery/');
  assert.deepEqual(cr.skipped.filter((x) => x.id.startsWith('query/')), [{ id: 'query/zero.jpg', reason: 'empty file (0 bytes)' }]);
  const written = JSON.parse(fs.readFileSync(sub, 'utf8')) as Record<string, string[]>;
  assert.deepEqual(Object.keys(written), ['q.jpg']);
  assert.equal(written['q.jpg'].length, corpus.good.length, '-k 100 is clamped to the gallery');
});
