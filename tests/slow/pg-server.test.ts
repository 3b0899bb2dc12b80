/**
 * What only a real PostgreSQL server shows (many backends, restarts, terminated sessions, real
 * concurrency), each a finding of issue 23: the writer-lock race on a missing lock row, a
 * connection lost inside a transaction, a server restart mid-index and mid-search, a rebuild
 * with another model under a running serve, per-query SQL in leave-one-out eval, and sessions
 * left open. Runs on LOOKALIKE_PG_URL (a fresh database per file) and a private cluster for the
 * restart; skipped only with LOOKALIKE_SKIP_REAL_PG=1.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { openPgStore } from '../../src/store/pg/store.ts';
import { takeWriterLock } from '../../src/store/pg/lock.ts';
import { openStore } from '../../src/store/open-store.ts';
import { writeClassFolders } from '../../src/data/synthetic.ts';
import { listFolder } from '../../src/data/images.ts';
import { freshRealDb, otherSessions, privateServer, randomUnitRows, realPgSkip, runCli, startCli, type PgTestServer } from '../helpers/pg.ts';
import { writeTinyGallery } from '../helpers/kill.ts';
import { startServeProc } from '../helpers/serve-proc.ts';
import { ROOT, TINY_FLAGS, tmpDir, writeTinyCnn } from '../helpers/tmp.ts';

const skip = realPgSkip();
const dir = tmpDir('lookalike-pg-server-');
const model = { name: 'tiny', fingerprint: 'fp-tiny', spec: {} as never };
let server: PgTestServer;

before(async () => {
  if (!skip) server = await freshRealDb('pg_server');
});
after(async () => server?.stop());

const at = (index: string) => `${server.url}?index=${index}`;
/** A stack trace in stderr: an unhandled error, where a one-line message was due. */
const stackTrace = /\n\s+at .+\(.+:\d+:\d+\)/;

test('lock: 20 of 20 trials of 3 writers taking the lock of an index with no lock row at the same moment: exactly one, the others name it', { skip }, async () => {
  const loc = at('race');
  await (await openPgStore(loc, { create: { dim: 8, model } })).close();
  // Three connected stores (each its own pool), so the three lock transactions really run at once.
  const stores = await Promise.all([0, 1, 2].map(() => openPgStore(loc)));
  try {
    for (let t = 0; t < 20; t++) {
      const tries = await Promise.allSettled(stores.map((s) => takeWriterLock(s.db, s.index, loc)));
      const won = tries.filter((r) => r.status === 'fulfilled');
      assert.equal(won.length, 1, `trial ${t}: ${won.length} writers`);
      for (const r of tries) if (r.status === 'rejected') assert.match(String(r.reason.message), /is being written by .*pid \d+/);
      for (const r of won) await r.value.release();
    }
  } finally {
    for (const s of stores) await s.close();
  }
});

test('lock: two processes started together on an index with no lock row: exactly one writer', { skip }, async () => {
  const code = (loc: string, go: number) => `import('./src/store/pg/store.ts').then(async (m) => { await new Promise((r) => setTimeout(r, ${go} - Date.now())); const s = await m.openPgStore(${JSON.stringify(loc)}, { write: true, create: { dim: 8, model: { name: 't', fingerprint: 'f', spec: {} } } }); await new Promise((r) => setTimeout(r, 1500)); await s.close(); }).catch((e) => { console.error(e.message); process.exit(3); })`;
  for (let t = 0; t < 1; t++) {
    const loc = at(`race2_${t}`);
    const go = Date.now() + 2500;
    const runs = await Promise.all([0, 1].map(() => new Promise<{ status: number | null; stderr: string }>((resolve) => {
      const c = spawn(process.execPath, ['--import', 'tsx', '-e', code(loc, go)], { cwd: ROOT });
      let stderr = '';
      c.stderr.on('data', (d) => (stderr += d));
      c.on('close', (status) => resolve({ status, stderr }));
    })));
    assert.deepEqual(runs.map((r) => r.status).sort(), [0, 3], JSON.stringify(runs));
    assert.match(runs.find((r) => r.status === 3)!.stderr, /is being written by .*pid \d+/);
  }
});

test('a backend terminated inside a transaction: a one-line error for that call, no crash, the store keeps working', { skip }, async () => {
  const s = await openPgStore(at('terminated'), { write: true, create: { dim: 8, model } });
  try {
    const v = randomUnitRows(4, 8, 3);
    await s.write({ upsert: [0, 1, 2, 3].map((i) => ({ id: `i${i}`, vector: v.slice(i * 8, i * 8 + 8) })) });
    const slow = s.db.transaction((tx) => tx.query('SELECT pg_sleep(30)')).then(
      () => new Error('the transaction was not interrupted'),
      (e: Error) => e,
    );
    for (let i = 0; i < 100; i++) {
      const { rows } = await server.query<{ n: number }>(`SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'SELECT pg_sleep(30)%' AND pid <> pg_backend_pid()`);
      if (rows[0].n) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    // Without an 'error' listener on the checked-out client this ends the process instead.
    assert.match((await slow).message, /terminating connection|Connection terminated/);
    assert.equal(await s.count(), 4);
    const hits = await s.search(v.slice(0, 8), { k: 2, ann: 'off' });
    assert.equal(hits[0][0].id, 'i0');
  } finally {
    await s.close();
  }
});

test('server restart mid-index and under a search load: no crash, nothing lost, the re-run (if any) finishes', { skip }, async () => {
  const pg = await privateServer('restart');
  try {
    const g = path.join(dir, 'restart-gallery');
    const ids = await writeTinyGallery(g, 120, 5);
    const cnn = writeTinyCnn(fs.mkdirSync(path.join(dir, 'restart-model'), { recursive: true }) ?? path.join(dir, 'restart-model'));
    const url = `${pg.url}?index=restart`;
    const args = ['index', g, '--model', cnn, ...TINY_FLAGS, '--store', url, '--json'];
    // A reader beside the writer, searching throughout (serve under load does the same).
    const seed = await openStore(url, { write: true, create: { dim: 16, model } }).catch(() => undefined);
    await seed?.close();
    const run = startCli(args, { LOOKALIKE_COMMIT_ITEMS: '8', LOOKALIKE_BATCH: '4' });
    const probe = await openPgStore(url);
    let stored = 0;
    for (let i = 0; i < 600 && run.child.exitCode === null; i++) {
      stored = await probe.count().catch(() => 0);
      if (stored >= 16) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(stored >= 16 && run.child.exitCode === null, `index wrote ${stored} before exiting: ${run.stderr()}`);
    const reader = await openPgStore(url);
    const q = (await reader.getVectors([ids[0]])).slice();
    let stop = false;
    const load = (async () => {
      const errors: string[] = [];
      let ok = 0;
      while (!stop) {
        try {
          await reader.search(q, { k: 3, ann: 'off' });
          ok++;
        } catch (e) {
          errors.push((e as Error).message);
        }
      }
      return { ok, errors };
    })();
    pg.restart();
    const first = await run.done;
    stop = true;
    const { ok, errors } = await load;
    await reader.close();
    await probe.close();
    assert.ok(ok > 0, 'searches ran');
    // Searches are retried across the restart; one that is not gets one line, never a crash.
    for (const e of errors) assert.equal(e.split('\n').length, 1, e);
    assert.doesNotMatch(first.stderr, stackTrace, first.stderr);
    if (first.status !== 0) {
      assert.equal(first.stderr.trim().split('\n').filter((l) => /error|lost/i.test(l)).length, 1, first.stderr);
      assert.match(first.stderr, /lost the connection to the Postgres server/);
      const again = await runCli(args);
      assert.equal(again.status, 0, again.stderr);
    }
    const s = await openPgStore(url);
    try {
      assert.deepEqual(await s.ids(), [...ids].sort());
    } finally {
      await s.close();
    }
  } finally {
    pg.stop();
  }
});

test('a --rebuild with another model (other width) under a running serve: searches get a clear 409, never pgvector\'s "different vector dimensions"', { skip }, async () => {
  const g = path.join(dir, 'rebuild-gallery');
  await writeTinyGallery(g, 12, 7);
  const a = writeTinyCnn(fs.mkdirSync(path.join(dir, 'm16'), { recursive: true }) ?? path.join(dir, 'm16'), { seed: 1 });
  const b = writeTinyCnn(fs.mkdirSync(path.join(dir, 'm24'), { recursive: true }) ?? path.join(dir, 'm24'), { seed: 2, dim: 24 });
  const url = at('swap');
  assert.equal((await runCli(['index', g, '--model', a, ...TINY_FLAGS, '--store', url])).status, 0);
  const srv = await startServeProc(['--store', url]);
  try {
    const base = srv.url;
    const search = () => fetch(`${base}/search?id=${encodeURIComponent('f00/00001.png')}&k=3`);
    assert.equal((await search()).status, 200);
    const rb = await runCli(['index', g, '--model', b, ...TINY_FLAGS, '--store', url, '--rebuild']);
    assert.equal(rb.status, 0, rb.stderr);
    const r = await search();
    const body = await r.text();
    assert.equal(r.status, 409, body);
    assert.match(body, /rebuilt with another model since it was opened .*reopen it/);
    assert.doesNotMatch(body, /different vector dimensions/);
  } finally {
    await srv.stop();
  }
  // A reader opened after the rebuild searches the new vectors.
  const s = await openStore(url);
  try {
    assert.equal((await s.meta()).dim, 24);
    const hits = await s.search(await s.getVectors(['f00/00001.png']), { k: 1, ann: 'off' });
    assert.equal(hits[0][0].id, 'f00/00001.png');
  } finally {
    await s.close();
  }
});

test('leave-one-out eval on a pg store reads the table a few times, not once per query (and equals the folder store)', { skip }, async () => {
  const g = path.join(dir, 'eval-gallery');
  await writeClassFolders(g, 6, 10, 0);
  const n = listFolder(g).images.length;
  const labels = path.join(dir, 'eval-labels.csv');
  fs.writeFileSync(labels, 'path,label\n' + listFolder(g).images.map((id) => `${id},${id.split('/')[0]}`).join('\n') + '\n');
  const cnn = writeTinyCnn(fs.mkdirSync(path.join(dir, 'eval-model'), { recursive: true }) ?? path.join(dir, 'eval-model'));
  const url = at('evalloo');
  const lkx = path.join(dir, 'eval.lkx');
  for (const s of [url, lkx]) assert.equal((await runCli(['index', g, '--model', cnn, ...TINY_FLAGS, '--store', s])).status, 0);
  const scans = async () => (await server.query<{ n: number }>(`SELECT (coalesce(seq_scan, 0) + coalesce(idx_scan, 0))::int AS n FROM pg_stat_user_tables WHERE relname = 'items_evalloo'`)).rows[0].n;
  // Table statistics reach pg_stat_user_tables when a session reports them (at most every second).
  const settle = () => new Promise((r) => setTimeout(r, 1200));
  await settle();
  const before = await scans();
  const [pe, fe] = await Promise.all([url, lkx].map((s) => runCli(['eval', '--store', s, '--labels', labels, '--json'])));
  assert.equal(pe.status, 0, pe.stderr);
  await settle();
  const used = (await scans()) - before;
  assert.ok(used < n / 4, `eval of ${n} queries scanned the items table ${used} times`);
  const [p, f] = [JSON.parse(pe.stdout), JSON.parse(fe.stdout)];
  assert.equal(p.queries_scored, n);
  for (const [m, v] of Object.entries(f.mean as Record<string, number>)) assert.ok(Math.abs(p.mean[m] - v) < 1e-6, `${m}: ${p.mean[m]} vs ${v}`);
});

test('1,000 searches (50 at a time) use at most the pool\'s 4 sessions; none is left after close', { skip }, async () => {
  const s = await openPgStore(at('pool'), { write: true, create: { dim: 32, model } });
  const v = randomUnitRows(200, 32, 11);
  await s.write({ upsert: Array.from({ length: 200 }, (_, i) => ({ id: `p${String(i).padStart(3, '0')}`, vector: v.slice(i * 32, (i + 1) * 32) })) });
  let peak = 0;
  for (let round = 0; round < 20; round++) {
    await Promise.all(Array.from({ length: 50 }, (_, j) => s.search(v.slice(((round * 50 + j) % 200) * 32, ((round * 50 + j) % 200) * 32 + 32), { k: 5, ann: round % 2 ? 'on' : 'off' })));
    peak = Math.max(peak, (await otherSessions(server)).length);
  }
  assert.ok(peak >= 1 && peak <= 4, `peak ${peak} sessions`);
  await s.close();
  // A closed session leaves pg_stat_activity when its backend has read the Terminate message.
  let left = await otherSessions(server);
  for (let i = 0; i < 40 && left.length; i++) {
    await new Promise((r) => setTimeout(r, 50));
    left = await otherSessions(server);
  }
  assert.deepEqual(left, []);
  // The storage of vectors: inline (PLAIN), so exact scans and HNSW builds read no TOAST.
  const { rows } = await server.query<{ s: string }>(`SELECT attstorage AS s FROM pg_attribute WHERE attrelid = 'lookalike.items_pool'::regclass AND attname = 'embedding'`);
  assert.equal(rows[0].s, 'p');
});

test('a bulk first load goes in by COPY into the bare table, atomically; the HNSW index is built once at close; searches equal brute force throughout', { skip }, async () => {
  const loc = at('bulk');
  const n = 1200;
  const dim = 24;
  const v = randomUnitRows(n, dim, 21);
  const items = Array.from({ length: n }, (_, i) => ({ id: `b/${String(i).padStart(5, '0')}.jpg`, vector: v.slice(i * dim, (i + 1) * dim), file: { sha256: `h${i}`, size: i + 1 }, label: `c${i % 3}`, path: `/x/${i}.jpg`, fields: { n: i, tag: `t${i % 4}` } }));
  const hnsw = async () => (await server.query<{ r: string | null }>(`SELECT to_regclass('lookalike.items_bulk_hnsw')::text AS r`)).rows[0].r;
  const s = await openPgStore(loc, { write: true, create: { dim, model } });
  try {
    assert.equal(await hnsw(), 'lookalike.items_bulk_hnsw');
    // A bad row (a NUL byte Postgres refuses) fails the whole COPY: nothing is loaded.
    await assert.rejects(s.write({ upsert: items.map((it, i) => (i === 900 ? { ...it, id: 'bad\u0000id' } : it)) }));
    assert.equal(await s.count(), 0);
    await s.write({ upsert: items.slice(0, 1000) });
    assert.equal(await hnsw(), null, 'the load went into the bare table');
    await s.write({ upsert: items.slice(1000) }); // later writes insert (upsert) as usual
    assert.equal(await s.count(), n);
    assert.deepEqual((await s.files()).get(items[7].id), { sha256: 'h7', size: 8 });
    assert.deepEqual(Array.from(await s.getVectors([items[5].id])), Array.from(items[5].vector));
    const { rows } = await server.query<{ label: string; path: string }>(`SELECT label, path FROM lookalike.items_bulk WHERE id = $1`, [items[4].id]);
    assert.deepEqual(rows[0], { label: 'c1', path: '/x/4.jpg' });
    assert.deepEqual((await s.items([items[6].id]))[0].fields, { n: 6, tag: 't2' });
    assert.deepEqual((await s.select({ op: 'cmp', field: 'tag', cmp: '=', type: 'string', value: 't1' })).length, 300);
    const q = v.slice(3 * dim, 4 * dim);
    assert.equal((await s.search(q, { k: 1, ann: 'on' }))[0][0].id, items[3].id);
  } finally {
    await s.close();
  }
  assert.equal(await hnsw(), 'lookalike.items_bulk_hnsw', 'built at close');
  const r = await openPgStore(loc);
  try {
    const q = v.slice(0, 4 * dim);
    const exact = await r.search(q, { k: 10, ann: 'off' });
    const ann = await r.search(q, { k: 10, ann: 'on', ef: 400 });
    assert.deepEqual(ann.map((h) => h.map((x) => x.id)), exact.map((h) => h.map((x) => x.id)));
    assert.deepEqual(exact.map((h) => h[0].id), items.slice(0, 4).map((it) => it.id));
  } finally {
    await r.close();
  }
});
