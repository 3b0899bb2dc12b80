/**
 * The Postgres store (src/store/pg) against the VectorStore contract, on PGlite in-process
 * (pglite:DIR) and over the wire (the `pg` driver) on a real PostgreSQL + pgvector server
 * (LOOKALIKE_PG_URL; pglite-socket only when LOOKALIKE_SKIP_REAL_PG=1).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { openPgStore, type PgStore } from '../../src/store/pg/store.ts';
import { parsePgLocation } from '../../src/store/pg/location.ts';
import { MIGRATIONS } from '../../src/store/pg/tables.ts';
import { searchBrute } from '../../src/store/exact.ts';
import type { StoreItem } from '../../src/store/types.ts';
import { randomUnitRows, wireKind, wireServer, type PgTestServer } from '../helpers/pg.ts';
import { ROOT, tmpDir } from '../helpers/tmp.ts';
import { storeContract } from '../helpers/store-contract.ts';
import { openStore } from '../../src/store/open-store.ts';

const DIM = 16;
const N = 300;
const model = { name: 'tiny', fingerprint: 'fp-tiny', spec: {} as never };
const vecs = randomUnitRows(N, DIM, 7);
// Ids deliberately not in insertion order; two exact duplicates of item 0 to test ties by id.
const ids = Array.from({ length: N }, (_, i) => `img/${String((i * 37) % N).padStart(4, '0')}.jpg`);
vecs.copyWithin(5 * DIM, 0, DIM);
vecs.copyWithin(9 * DIM, 0, DIM);
const items: StoreItem[] = ids.map((id, i) => ({ id, vector: vecs.slice(i * DIM, (i + 1) * DIM), file: { sha256: `sha-${i}`, size: i + 1 }, label: `c${i % 5}` }));

let server: PgTestServer;
const dbDir = path.join(tmpDir('lookalike-pg-'), 'db');
const locations: Record<string, string> = {};

before(async () => {
  server = await wireServer('store_pg');
  locations.pglite = `pglite:${dbDir}`;
  locations.socket = `${server.url}?index=gallery`;
});
after(async () => {
  await server?.stop();
});

// The shared VectorStore contract, through openStore, on both engines (a fresh index name per test).
let fresh = 0;
storeContract('pglite:DIR', { fresh: async () => `pglite:${dbDir}?index=contract_${++fresh}`, open: (loc, o) => openStore(loc, o) });
storeContract(`postgres:// on ${wireKind()}`, { fresh: async () => `${server.url}?index=contract_${++fresh}`, open: (loc, o) => openStore(loc, o) });

function brute(gallery: Float32Array, galleryIds: string[], q: Float32Array, k: number): { id: string; score: number }[][] {
  // searchBrute breaks ties by row: give it rows in id order so ties go by id, as the contract says.
  const order = galleryIds.map((id, i) => [id, i] as const).sort((a, b) => (a[0] < b[0] ? -1 : 1));
  const g = new Float32Array(gallery.length);
  order.forEach(([, i], r) => g.set(gallery.subarray(i * DIM, (i + 1) * DIM), r * DIM));
  const top = searchBrute(g, q, DIM, k);
  return Array.from({ length: q.length / DIM }, (_, qi) => Array.from({ length: top.k }, (_, j) => ({ id: order[top.indices[qi * top.k + j]][0], score: top.scores[qi * top.k + j] })));
}

async function contract(kind: 'pglite' | 'socket') {
  const loc = locations[kind];
  const s: PgStore = await openPgStore(loc, { write: true, create: { dim: DIM, model } });
  try {
    assert.equal(s.kind, kind === 'pglite' ? 'pglite' : 'postgres');
    await s.write({ upsert: items });
    assert.equal(await s.count(), N);
    assert.deepEqual(await s.ids(), [...ids].sort());
    const files = await s.files();
    assert.deepEqual(files.get(ids[3]), { sha256: 'sha-3', size: 4 });
    // Vectors come back bit-exact, in the order asked.
    const got = await s.getVectors([ids[10], ids[2]]);
    assert.deepEqual(Array.from(got.subarray(0, DIM)), Array.from(items[10].vector));
    assert.deepEqual(Array.from(got.subarray(DIM)), Array.from(items[2].vector));
    await assert.rejects(s.getVectors(['nope.jpg']), /no id "nope.jpg"/);
    // scan: every item once, in id order, in bounded blocks.
    const seen: string[] = [];
    for await (const b of s.scan(64)) {
      assert.ok(b.ids.length <= 64);
      assert.equal(b.vectors.length, b.ids.length * DIM);
      seen.push(...b.ids);
    }
    assert.deepEqual(seen, [...ids].sort());
    // Exact search equals brute force, scores included; ties (items 0, 5, 9) by id.
    const q = new Float32Array(4 * DIM);
    for (const [r, i] of [0, 1, 2, 3].entries()) q.set(items[i * 3].vector, r * DIM);
    const want = brute(vecs, ids, q, 10);
    for (const ann of ['off', 'on'] as const) {
      const hits = await s.search(q, { k: 10, ann, ef: 200 });
      assert.deepEqual(hits.map((h) => h.map((x) => x.id)), want.map((w) => w.map((x) => x.id)), `ann ${ann}`);
      hits.forEach((h, qi) => h.forEach((x, j) => assert.equal(x.score, want[qi][j].score)));
      assert.deepEqual(hits[0].slice(0, 3).map((x) => x.id), [ids[0], ids[5], ids[9]].sort());
    }
    // exclude, minScore, k clamped.
    const ex = await s.search(q.subarray(0, DIM), { k: 3, exclude: [[ids[0], ids[5], ids[9]].sort()[0]] });
    assert.equal(ex[0].length, 3);
    assert.ok(!ex[0].some((h) => h.id === [ids[0], ids[5], ids[9]].sort()[0]));
    const high = await s.search(q.subarray(0, DIM), { k: 10, minScore: 0.999 });
    assert.deepEqual(high[0].map((h) => h.id), [ids[0], ids[5], ids[9]].sort());
    const all = await s.search(q.subarray(0, DIM), { k: 10_000, ann: 'off' });
    assert.equal(all[0].length, N);
    // A change is atomic: a failure inside the transaction (a NUL byte Postgres refuses, in the
    // second INSERT chunk, after the delete) leaves the previous state.
    const bad: StoreItem[] = Array.from({ length: 600 }, (_, i) => ({ id: i === 550 ? 'bad\u0000id' : `new/${i}`, vector: items[i % N].vector }));
    await assert.rejects(s.write({ remove: ids.slice(0, 50), upsert: bad }));
    assert.equal(await s.count(), N);
    assert.deepEqual(await s.ids(), [...ids].sort());
    // Upsert replaces, remove deletes.
    await s.write({ upsert: [{ ...items[1], vector: items[2].vector, file: { sha256: 'changed', size: 9 } }], remove: [ids[4]] });
    assert.equal(await s.count(), N - 1);
    assert.equal((await s.files()).get(ids[1])?.sha256, 'changed');
    assert.deepEqual(Array.from(await s.getVectors([ids[1]])), Array.from(items[2].vector));
    // Bad vectors are refused before anything is written.
    await assert.rejects(s.write({ upsert: [{ id: 'x', vector: new Float32Array(DIM + 1) }] }), /17-d vector, index "(main|gallery)" is 16-d/);
    await assert.rejects(s.write({ upsert: [{ id: 'x', vector: new Float32Array(DIM).fill(1) }] }), /not L2-normalised/);
    // A second writer fails at once naming the holder.
    await assert.rejects(openPgStore(loc, { write: true }), /is being written by .*pid \d+/);
    // Readers are not blocked by the writer.
    const reader = await openPgStore(loc);
    assert.equal(await reader.count(), N - 1);
    await reader.close();
    assert.deepEqual((await s.meta()).model, model);
  } finally {
    await s.close();
  }
  // After close the lock is free; the data persists.
  const again = await openPgStore(loc, { write: true });
  assert.equal(await again.count(), N - 1);
  await again.close();
  await assert.rejects(openPgStore(`${loc.split('?')[0]}?index=Bad-Name`), /index name "Bad-Name"/);
}

test('pglite:DIR store keeps the store contract; another process is refused naming the holder', async () => {
  await contract('pglite');
  const s = await openPgStore(locations.pglite);
  const other = spawnSync(process.execPath, ['--import', 'tsx', '-e', `import('./src/store/pg/store.ts').then((m) => m.openPgStore(${JSON.stringify(locations.pglite)})).catch((e) => { console.error(e.message); process.exit(3); })`], { encoding: 'utf8', cwd: ROOT });
  await s.close();
  assert.equal(other.status, 3, other.stderr);
  assert.match(other.stderr, /in use by .*pid \d+ on .*PGlite allows one process at a time/);
  await assert.rejects(openPgStore(`pglite:${dbDir}?index=other`), /no index "other"/);
});

test(`postgres:// store on ${wireKind()} keeps the store contract`, async () => {
  await contract('socket');
  // Migrations are recorded once.
  const mig = await server.query<{ version: number }>('SELECT version FROM lookalike.schema_migrations ORDER BY version');
  assert.deepEqual(mig.rows.map((r) => r.version), MIGRATIONS.map((m) => m.version));
  assert.deepEqual(MIGRATIONS.map((m) => m.version), MIGRATIONS.map((_, i) => i + 1)); // append-only, numbered from 1
  // Readers open beside a writer; a lock left by a dead process is taken over.
  const w = await openPgStore(locations.socket, { write: true });
  const r = await openPgStore(locations.socket);
  assert.equal(await r.count(), N - 1);
  await assert.rejects(r.write({ remove: [ids[0]] }), /read-only/);
  await r.close();
  await w.close();
  const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  await server.query(`INSERT INTO lookalike.locks (index_name, holder, pid, host, token) VALUES ('gallery', 'ghost', $1, $2, 't')`, [Number(dead.stdout), (await import('node:os')).hostname()]);
  const taken = await openPgStore(locations.socket, { write: true });
  await taken.close();
  // Created without a width (as index does before its first batch): empty until the first write fixes it.
  const lazy = await openPgStore(`${server.url}?index=lazy`, { write: true, create: { dim: 0, model } });
  assert.equal(await lazy.count(), 0);
  assert.deepEqual(await lazy.search(items[0].vector, { k: 3 }), []);
  await assert.rejects(lazy.write({ remove: ['x.jpg'] }), /x\.jpg/);
  await lazy.write({ upsert: items.slice(0, 5) });
  assert.equal((await lazy.meta()).dim, DIM);
  assert.equal((await lazy.search(items[0].vector, { k: 1 }))[0][0].id, items[0].id);
  await lazy.close();
});

test('pglite: a missing folder is not created by a reader; a foreign folder is never written into', async () => {
  const d = tmpDir('lookalike-pg-foreign-');
  await assert.rejects(openPgStore(`pglite:${path.join(d, 'missing')}`), /no such database folder/);
  assert.equal(fs.existsSync(path.join(d, 'missing')), false);
  fs.writeFileSync(path.join(d, 'notes.txt'), 'mine');
  await assert.rejects(openPgStore(`pglite:${d}`, { write: true, create: { dim: DIM, model } }), /is not a PGlite database .*refusing/);
  assert.deepEqual(fs.readdirSync(d), ['notes.txt']);
});

test('store locations: index names and URLs are validated', () => {
  assert.equal(parsePgLocation('postgres://u:p@h:5432/db?index=photos').index, 'photos');
  assert.equal(parsePgLocation('postgres://u:p@h:5432/db?index=photos&sslmode=disable').connectionString, 'postgres://u:p@h:5432/db?sslmode=disable');
  assert.equal(parsePgLocation('pglite:./x').index, 'main');
  assert.throws(() => parsePgLocation('pglite:./x?index=a;drop table y'), /index name/);
  assert.throws(() => parsePgLocation('postgres://h/db?index=' + 'a'.repeat(64)), /index name/);
  assert.throws(() => parsePgLocation('pglite:./x?table=y'), /unknown parameter "table"/);
});
