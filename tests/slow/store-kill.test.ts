/**
 * kill -9 suite for index folders: at every crash point of the folder store (LOOKALIKE_CRASH_AT,
 * a real SIGKILL) and at random moments of a 2,000-image build, the index is always absent, the
 * previous one, or a loadable (partial, resumable) one whose vectors equal an uninterrupted
 * build's; every re-run embeds only what was missing and finishes identical to the reference.
 * Figures go to stderr (kills, images re-embedded per run) for docs/reliability.md.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { cli, ROOT, tmpDir, writeTinyCnn, TINY_FLAGS } from '../helpers/tmp.ts';
import { indexState, maxDiff, writeTinyGallery } from '../helpers/kill.ts';
import { rng } from '../../src/util/random.ts';
import { config } from '../../src/util/config.ts';
import { runCli } from '../helpers/cli.ts';

/** The runs that are not killed go in-process, with the commit size their env would give (LOOKALIKE_COMMIT_ITEMS): only the killed runs need a process. */
async function indexHere(args: string[], commitItems: number) {
  config.indexCommitItems = commitItems;
  return runCli(args);
}

const BIN = path.join(ROOT, 'bin/lookalike.js');

function indexArgs(gallery: string, model: string, out: string, extra: string[] = []): string[] {
  return ['index', gallery, '--model', model, ...TINY_FLAGS, '--out', out, '--json', ...extra];
}

/** Same ids and the same vectors (bit for bit). */
function assertSame(a: Map<string, Float32Array> | undefined, ref: Map<string, Float32Array>, what: string): void {
  assert.ok(a, `${what}: no index`);
  assert.deepEqual([...a.keys()].sort(), [...ref.keys()].sort(), what);
  assert.equal(maxDiff(a, ref), 0, `${what}: vectors differ from the uninterrupted build`);
}

test('kill -9 at every crash point: the index is the previous state or the new one, always loadable; the re-run completes it', async () => {
  const dir = tmpDir();
  const gallery = path.join(dir, 'gallery');
  await writeTinyGallery(gallery, 120, 7);
  const model = writeTinyCnn(dir);
  const env = { LOOKALIKE_COMMIT_ITEMS: '12' };
  const ref = path.join(dir, 'ref.lkx');
  assert.equal((await indexHere(indexArgs(gallery, model, ref), 12)).status, 0);
  const full = (await indexState(ref))!;
  assert.equal(full.size, 120);
  // A first build killed at the n-th commit's crash point keeps the commits before it (or after it, past the rename).
  const points: [string, (n: number) => number][] = [
    ['store:segment#3', () => 24],
    ['store:manifest-tmp#3', () => 24],
    ['store:manifest-renamed#3', () => 36],
    ['store:cleanup#3', () => 36],
    ['compact:written#1', () => 108], // the 9th commit makes 9 > 8 segments: the merge is killed before it is listed
  ];
  for (const [point, kept] of points) {
    const out = path.join(dir, `${point.replace(/[:#]/g, '-')}.lkx`);
    const r = cli(indexArgs(gallery, model, out), { ...env, LOOKALIKE_CRASH_AT: point });
    assert.equal(r.signal, 'SIGKILL', `${point}: ${r.stderr}`);
    const st = await indexState(out);
    assert.equal(st?.size ?? 0, kept(0), point);
    if (st) assert.equal(maxDiff(st, full), 0, point);
    const again = await indexHere(indexArgs(gallery, model, out), 12);
    assert.equal(again.status, 0, again.stderr);
    assert.equal(JSON.parse(again.stdout).embedded, 120 - kept(0), `${point}: the re-run embeds only what was missing`);
    assertSame(await indexState(out), full, point);
    assert.ok(fs.readdirSync(out).every((n) => /^(manifest\.json|seg-\d{6}\.(npy|json|ids)|tomb-\d{6}\.json|ann.*)$/.test(n)), `${point}: stray files ${fs.readdirSync(out)}`);
  }
  // An incremental update (5 removed, 2 changed) killed when its tombstone is written: the previous index stays.
  const out = path.join(dir, 'upd.lkx');
  assert.equal((await indexHere(indexArgs(gallery, model, out), 12)).status, 0);
  const ids = [...full.keys()].sort();
  for (const id of ids.slice(0, 5)) fs.rmSync(path.join(gallery, id));
  fs.copyFileSync(path.join(gallery, ids[10]), path.join(gallery, ids[11]));
  fs.copyFileSync(path.join(gallery, ids[12]), path.join(gallery, ids[13]));
  for (const point of ['store:tombstone', 'store:manifest-tmp']) {
    const r = cli(indexArgs(gallery, model, out), { ...env, LOOKALIKE_CRASH_AT: point });
    assert.equal(r.signal, 'SIGKILL', `${point}: ${r.stderr}`);
    assertSame(await indexState(out), full, `update killed at ${point}`);
  }
  const upd = await indexHere(indexArgs(gallery, model, out), 12);
  assert.equal(upd.status, 0, upd.stderr);
  const u = JSON.parse(upd.stdout);
  assert.deepEqual([u.removed, u.changed, u.embedded], [5, 2, 2]);
  const after = (await indexState(out))!;
  assert.equal(after.size, 115);
  assert.deepEqual([...after.get(ids[11])!], [...full.get(ids[10])!]);
  // --rebuild killed between its two renames: readers and the next writer find the previous index.
  const rb = cli(indexArgs(gallery, model, out, ['--rebuild']), { ...env, LOOKALIKE_CRASH_AT: 'rebuild:swap' });
  assert.equal(rb.signal, 'SIGKILL', rb.stderr);
  assert.ok(!fs.existsSync(out));
  assertSame(await indexState(path.join(dir, '.upd.lkx.lookalike-old')), after, 'backup after a killed swap');
  // (a process: the store's warning goes to the process's stderr)
  const s = cli(['search', out, '--id', ids[20], '-k', '1', '--json']);
  assert.equal(s.status, 0, s.stderr);
  assert.match(s.stderr, /interrupted --rebuild/);
  const fin = await indexHere(indexArgs(gallery, model, out, ['--rebuild']), 12);
  assert.equal(fin.status, 0, fin.stderr);
  assertSame(await indexState(out), after, 'rebuilt');
  assert.deepEqual(fs.readdirSync(dir).filter((n) => n.startsWith('.')), []);
});

test('kill -9 at 8 random moments of a 2,000-image build: always absent or loadable, never losing committed work; each re-run embeds only the rest', async () => {
  const dir = tmpDir();
  const gallery = path.join(dir, 'gallery');
  const N = 2000;
  await writeTinyGallery(gallery, N, 3);
  const model = writeTinyCnn(dir);
  const env = { ...process.env, LOOKALIKE_COMMIT_ITEMS: '100' };
  const ref = path.join(dir, 'ref.lkx');
  /** Run `index` (text mode: its plan line goes to stderr); kill it `killAfter(ms)` after the plan line, if given. */
  const runIndex = (target: string, killAfter?: () => number) =>
    new Promise<{ code: number | null; signal: string | null; err: string; embedMs: number; delay?: number }>((resolve) => {
      const child = spawn(process.execPath, [BIN, ...indexArgs(gallery, model, target).filter((a) => a !== '--json')], { env, stdio: ['ignore', 'ignore', 'pipe'] });
      let err = '';
      let planAt = 0;
      let delay: number | undefined;
      let timer: NodeJS.Timeout | undefined;
      child.stderr.on('data', (d: Buffer) => {
        err += d;
        if (!planAt && /items indexed; \d+ unchanged, embedding/.test(err)) {
          planAt = Date.now();
          if (killAfter) timer = setTimeout(() => child.kill('SIGKILL'), (delay = killAfter()));
        }
      });
      child.on('exit', (code, signal) => {
        clearTimeout(timer);
        resolve({ code, signal, err, embedMs: planAt ? Date.now() - planAt : 0, delay });
      });
    });
  const r0 = await runIndex(ref);
  assert.equal(r0.code, 0, r0.err);
  const tEmbed = r0.embedMs;
  const full = (await indexState(ref))!;
  assert.equal(full.size, N);
  const out = path.join(dir, 'g.lkx');
  const rnd = rng(42);
  const kills = 8;
  const figures: { killedAfterMs?: number; before: number; toEmbed?: number; after: number }[] = [];
  let have = 0;
  // A run killed before its first commit made no progress: the next one is given longer (on a
  // loaded machine a run's start-up weighs more than the reference rate says), so resumption is
  // exercised whatever the load.
  let patience = 1;
  for (let i = 0; i < kills; i++) {
    // Kill at a random moment of the embedding that is left (after the run has planned it).
    const r = await runIndex(out, () => Math.round((0.05 + 0.9 * rnd()) * tEmbed * ((N - have) / N) * patience));
    const st = await indexState(out); // loads, or there is no index yet
    const now = st?.size ?? 0;
    if (st) assert.equal(maxDiff(st, full), 0, `kill ${i}: vectors differ from the uninterrupted build`);
    assert.ok(now >= have, `kill ${i}: ${now} items after the kill, ${have} before: committed work was lost`);
    const plan = /(\d+) items indexed; (\d+) unchanged, embedding (\d+)/.exec(r.err);
    assert.ok(plan, `kill ${i}: no plan line: ${r.err}`);
    assert.equal(Number(plan[1]), have, `kill ${i}: the run saw ${plan[1]} indexed items, ${have} were committed`);
    assert.equal(Number(plan[3]), N - have, `kill ${i}: embeds only what is missing`);
    figures.push({ killedAfterMs: r.delay, before: have, toEmbed: Number(plan[3]), after: now });
    patience = now > have ? 1 : patience * 1.5;
    have = now;
    if (r.signal !== 'SIGKILL') {
      assert.equal(r.code, 0, r.err);
      break; // finished before the kill landed
    }
  }
  const last = await indexHere(indexArgs(gallery, model, out), 100);
  assert.equal(last.status, 0, last.stderr);
  assert.equal(JSON.parse(last.stdout).embedded, N - have);
  assertSame(await indexState(out), full, 'after the kills');
  process.stderr.write(`kill -9 figures: embedding phase of the uninterrupted build ${tEmbed} ms; ${figures.length} runs killed/finished: ${JSON.stringify(figures)}; final run embedded ${N - have}\n`);
  assert.ok(figures.filter((f) => f.after > f.before).length >= 2, 'some kills landed after commits (the suite exercised resumption)');
});
