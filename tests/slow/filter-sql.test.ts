/**
 * Filters compiled to SQL (src/store/pg/filter-sql.ts) on a real PGlite database give exactly
 * the rows compileFilter accepts, in a session whose time zone is not UTC, and user text stays
 * data (injection attempts match as plain strings and the table survives).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { PGlite } from '@electric-sql/pglite';
import { parseFilter } from '../../src/data/filter/parse.ts';
import { compileFilter } from '../../src/data/filter/match.ts';
import { filterSql } from '../../src/store/pg/filter-sql.ts';
import { RANDOM_SCHEMA, randomFilter, randomItems, rng } from '../helpers/filters.ts';

const items = randomItems(300, 3);
let db: PGlite;

before(async () => {
  db = await PGlite.create();
  await db.exec(`CREATE TABLE t (id text PRIMARY KEY, fields jsonb NOT NULL DEFAULT '{}'); CREATE INDEX t_fields ON t USING gin (fields); SET TimeZone = 'America/New_York';`);
  await db.query('INSERT INTO t (id, fields) SELECT id, fields FROM jsonb_to_recordset($1::jsonb) AS x(id text, fields jsonb)', [JSON.stringify(items)]);
});
after(async () => {
  await db?.close();
});

/** Ids matched by SQL (with a leading unrelated parameter, so firstParam is honoured) and by compileFilter. */
async function both(where: string): Promise<{ sql: string[]; mem: string[] }> {
  const node = parseFilter(where, RANDOM_SCHEMA);
  const c = filterSql(node, { fields: 't.fields', id: 't.id', firstParam: 2 });
  const rows = await db.query<{ id: string }>(`SELECT t.id FROM t WHERE t.id <> $1 AND ${c.sql} ORDER BY t.id COLLATE "C"`, ['no such id', ...c.params]);
  const m = compileFilter(node);
  const mem = items.filter((it) => m(it.fields, it.id)).map((it) => it.id).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return { sql: rows.rows.map((r) => r.id), mem };
}

test('50 random filters: SQL gives exactly the rows compileFilter accepts', async () => {
  const r = rng(17);
  let nonTrivial = 0;
  for (let i = 0; i < 50; i++) {
    const where = randomFilter(r);
    const { sql, mem } = await both(where);
    assert.deepEqual(sql, mem, where);
    if (mem.length > 0 && mem.length < items.length) nonTrivial++;
  }
  assert.ok(nonTrivial >= 25, `only ${nonTrivial} filters kept some but not all rows`);
});

test('every operator, including missing fields, list membership, dates as instants and code point order', async () => {
  for (const where of [
    'price != 1',
    'not price > 1',
    'price >= 1e21',
    'price = 0.30000000000000004',
    'taken = 2024-01-01',
    'taken != "2024-01-01T01:00:00+01:00"',
    'taken < 2024-01-01T00:00:00.001Z',
    'exists(tags) and not tags = a',
    'tags in (a, d)',
    'color > "Red"',
    'color <= "ｚ"',
    'color >= "𝒳ray"',
    'folder ^= "shoes/"',
    'folder ^= ""',
    'id ^= "shoes"',
    'id >= "shoes/red/"',
    'sale != false',
    'not exists(price) or price < 0',
  ]) {
    const { sql, mem } = await both(where);
    assert.deepEqual(sql, mem, where);
  }
});

test('injection attempts stay plain data', async () => {
  const { sql, mem } = await both(`name = "x'); drop table t; --"`);
  assert.ok(mem.length > 0);
  assert.deepEqual(sql, mem);
  const evil = await both(`name ^= "'; DELETE FROM t; --" or color = "\\"; DROP TABLE t; --" or name = 'a"b'`);
  assert.deepEqual(evil.sql, evil.mem);
  assert.ok(evil.mem.length > 0);
  const c = filterSql(parseFilter(`name = "x'); drop table t; --"`, RANDOM_SCHEMA), { fields: 'fields', id: 'id', firstParam: 1 });
  assert.doesNotMatch(c.sql, /drop/i);
  assert.equal((await db.query<{ n: number }>('SELECT count(*)::int AS n FROM t')).rows[0].n, items.length);
  assert.throws(() => filterSql({ op: 'exists', field: 'x' }, { fields: 'fields; drop table t', id: 'id', firstParam: 1 }), /not a column name/);
});

test('equality, list membership, in and exists can use a GIN index on the fields column', async () => {
  await db.exec('SET enable_seqscan = off');
  try {
    for (const where of ['color = "red"', 'tags contains "a"', 'sale = true and price = 1', 'color in ("red", "green") or tags = b', 'exists(taken)']) {
      const c = filterSql(parseFilter(where, RANDOM_SCHEMA), { fields: 'fields', id: 'id', firstParam: 1 });
      const plan = (await db.query<{ 'QUERY PLAN': string }>(`EXPLAIN SELECT id FROM t WHERE ${c.sql}`, c.params)).rows.map((r) => r['QUERY PLAN']).join('\n');
      assert.match(plan, /Bitmap Index Scan on t_fields/, `${where}\n${plan}`);
    }
  } finally {
    await db.exec('RESET enable_seqscan');
  }
});

test('a NULL fields column is an item without fields: comparisons false, their negations true', async () => {
  await db.exec(`CREATE TABLE n (id text, fields jsonb); INSERT INTO n VALUES ('a.jpg', NULL)`);
  for (const [where, want] of [
    ['color = "red"', false],
    ['not color = "red"', true],
    ['not exists(color)', true],
    ['not tags contains "a"', true],
    ['not price < 1', true],
    ['not taken < 2024-01-01', true],
    ['not name ^= "x"', true],
    ['exists(id)', true],
  ] as const) {
    const c = filterSql(parseFilter(where, RANDOM_SCHEMA), { fields: 'fields', id: 'id', firstParam: 1 });
    const rows = (await db.query<{ m: boolean }>(`SELECT (${c.sql}) AS m FROM n`, c.params)).rows;
    assert.equal(rows[0].m, want, where);
  }
});
