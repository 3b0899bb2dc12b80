/**
 * `index --rebuild` on the Postgres store: built in a staging index, swapped in by one
 * transaction. Interrupted (a throw in-process, a kill -9 inside the swap) it leaves the old
 * index; completed it replaces it and drops only the table it replaced (another index and a
 * user's table stay). Both run on a real PostgreSQL server (pglite-socket with
 * LOOKALIKE_SKIP_REAL_PG=1).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { buildIndex } from '../../src/index/build.ts';
import { loadBackbone } from '../../src/models/load.ts';
import { openStore } from '../../src/store/open-store.ts';
import { openPgStore } from '../../src/store/pg/store.ts';
import { writeTinyGallery } from '../helpers/kill.ts';
import { runCli, wireKind, wireServer } from '../helpers/pg.ts';
import { TINY_FLAGS, tmpDir, writeTinyCnn } from '../helpers/tmp.ts';

const dir = tmpDir('lookalike-pg-rebuild-');
const overrides = { resize: { mode: 'fixed' as const, height: 32, width: 32 }, crop: null };
const modelA = writeTinyCnn(fs.mkdirSync(path.join(dir, 'a'), { recursive: true }) ?? path.join(dir, 'a'), { seed: 1 });
const modelB = writeTinyCnn(fs.mkdirSync(path.join(dir, 'b'), { recursive: true }) ?? path.join(dir, 'b'), { seed: 2 });

/** Fingerprint, ids and vectors of an index. */
async function state(location: string): Promise<{ fingerprint: string; items: Map<string, string> }> {
  const s = await openStore(location);
  try {
    const items = new Map<string, string>();
    for await (const b of s.scan()) b.ids.forEach((id, i) => items.set(id, Array.from(b.vectors.slice(i * b.dim, (i + 1) * b.dim)).join(',')));
    return { fingerprint: (await s.meta()).model.fingerprint, items };
  } finally {
    await s.close();
  }
}

/** Names of lookalike's indexes and of every table in the database. */
async function inventory(location: string): Promise<{ indexes: string[]; tables: string[]; rebuilds: number }> {
  const s = await openPgStore(location);
  try {
    const indexes = (await s.db.query<{ name: string }>('SELECT name FROM lookalike.indexes ORDER BY name')).map((r) => r.name);
    const tables = (await s.db.query<{ t: string }>(`SELECT schemaname || '.' || tablename AS t FROM pg_tables WHERE schemaname IN ('lookalike', 'public') ORDER BY 1`)).map((r) => r.t);
    const [{ n }] = await s.db.query<{ n: number }>('SELECT count(*)::int AS n FROM lookalike.rebuilds');
    return { indexes, tables, rebuilds: n };
  } finally {
    await s.close();
  }
}

test(`postgres:// on ${wireKind()}: an interrupted --rebuild leaves the old index; the next one resumes and swaps in; nothing else is dropped`, async () => {
  const g = path.join(dir, 'gallery');
  await writeTinyGallery(g, 40);
  // The same SQL runs on PGlite (the store code is one for both drivers); the server answers each
  // of this test's dozen opens in milliseconds where PGlite boots for seconds.
  const server = await wireServer('pg_rebuild_resume');
  const loc = server.url;
  const [a, b] = await Promise.all([modelA, modelB].map((m) => loadBackbone(m, { overrides })));
  try {
    await buildIndex({ folder: g, out: loc, backbone: a });
    await buildIndex({ folder: g, out: `${loc}?index=other`, backbone: a });
    // A user's own table in the same database.
    const s = await openPgStore(loc);
    await s.db.query('CREATE TABLE public.mine (x int)');
    await s.close();
    const before = await state(loc);
    assert.equal(before.items.size, 40);
    assert.equal(before.fingerprint, a.fingerprint);

    // Interrupted after its first commits (a throw): the old index is intact and searchable.
    const stop = new AbortController();
    await assert.rejects(buildIndex({ folder: g, out: loc, backbone: b, rebuild: true, commitItems: 8, batchSize: 8, signal: stop.signal, onProgress: (done) => done >= 24 && stop.abort() }));
    assert.deepEqual(await state(loc), before);
    const mid = await inventory(loc);
    assert.equal(mid.rebuilds, 1);
    assert.equal(mid.indexes.length, 3, JSON.stringify(mid));
    assert.ok(mid.tables.some((t) => /^lookalike\.items_rebuild_[0-9a-f]{12}$/.test(t)), JSON.stringify(mid.tables));

    // The next --rebuild (one file fewer) resumes the staging index and swaps it in.
    fs.rmSync(path.join(g, 'f00/00007.png'));
    const r = await buildIndex({ folder: g, out: loc, backbone: b, rebuild: true, commitItems: 8, batchSize: 8 });
    assert.ok(r.embedded < 39, `resumed: embedded ${r.embedded} of 39`);
    assert.deepEqual(r.removed, ['f00/00007.png']);
    const after = await state(loc);
    assert.equal(after.fingerprint, b.fingerprint);
    assert.deepEqual([...after.items.keys()], [...before.items.keys()].filter((id) => id !== 'f00/00007.png'));
    assert.ok([...after.items].every(([id, v]) => v !== before.items.get(id)), 'every vector is from the new model');
    const s2 = await openStore(loc);
    const hits = await s2.search(await s2.getVectors(['f00/00001.png']), { k: 3, ann: 'on' });
    await s2.close();
    assert.equal(hits[0][0].id, 'f00/00001.png');
    const end = await inventory(loc);
    assert.deepEqual(end, { indexes: ['main', 'other'], tables: ['lookalike.indexes', 'lookalike.items_main', 'lookalike.items_other', 'lookalike.locks', 'lookalike.rebuilds', 'lookalike.schema_migrations', 'lookalike.worker_stats', 'public.mine'], rebuilds: 0 });
    assert.deepEqual((await state(`${loc}?index=other`)).items, before.items);
  } finally {
    await a.dispose();
    await b.dispose();
    await server.stop();
  }
});

test(`postgres:// on ${wireKind()}: kill -9 inside the swap transaction leaves the old index; the re-run replaces it`, async () => {
  const g = path.join(dir, 'gallery-wire');
  await writeTinyGallery(g, 20, 3);
  const server = await wireServer('pg_rebuild');
  try {
    const url = server.url;
    const index = (model: string, extra: string[] = [], env: Record<string, string> = {}) => runCli(['index', g, '--model', model, ...TINY_FLAGS, '--store', url, '--json', ...extra], env);
    assert.equal((await index(modelA)).status, 0);
    const before = await state(url);
    const killed = await index(modelB, ['--rebuild'], { LOOKALIKE_CRASH_AT: 'pg-rebuild:swap' });
    assert.equal(killed.signal, 'SIGKILL', killed.stderr);
    assert.match(killed.stderr, /simulated crash at pg-rebuild:swap/);
    assert.deepEqual(await state(url), before);
    const done = await index(modelB, ['--rebuild']);
    assert.equal(done.status, 0, done.stderr);
    const after = await state(url);
    assert.notEqual(after.fingerprint, before.fingerprint);
    assert.deepEqual([...after.items.keys()], [...before.items.keys()]);
    assert.deepEqual((await inventory(url)).indexes, ['main']);
  } finally {
    await server.stop();
  }
});
