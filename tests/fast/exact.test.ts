import { test } from 'node:test';
import assert from 'node:assert/strict';
import { searchBrute, searchExact } from '../../src/store/exact.ts';
import { l2normalize } from '../../src/models/pool.ts';
import { gaussian, rng } from '../../src/util/random.ts';

function randomRows(n: number, dim: number, seed: number): Float32Array {
  const g = gaussian(rng(seed));
  return l2normalize(Float32Array.from({ length: n * dim }, g), dim);
}

test('ORT Gemm+TopK search equals a brute-force scan, across gallery and query chunks', async () => {
  const dim = 24;
  const gallery = randomRows(3001, dim, 1);
  const queries = randomRows(70, dim, 2);
  const a = await searchExact(gallery, queries, dim, 15, { chunk: 700, queryChunk: 16 });
  const b = searchBrute(gallery, queries, dim, 15);
  assert.deepEqual([...a.indices], [...b.indices]);
  for (let i = 0; i < a.scores.length; i++) assert.ok(Math.abs(a.scores[i] - b.scores[i]) < 1e-5);
  for (let q = 0; q < 70; q++) for (let j = 1; j < 15; j++) assert.ok(a.scores[q * 15 + j - 1] >= a.scores[q * 15 + j]);
});

test('ties are broken by gallery order, also across chunk boundaries', async () => {
  const dim = 4;
  const gallery = new Float32Array(10 * dim);
  for (let i = 0; i < 10; i++) gallery[i * dim + (i % 2 ? 0 : 1)] = 1; // odd rows = e0, even rows = e1
  const top = await searchExact(gallery, Float32Array.from([1, 0, 0, 0]), dim, 5, { chunk: 3 });
  assert.deepEqual([...top.indices], [1, 3, 5, 7, 9]);
});

test('exclude drops the query row; k larger than the gallery is clamped to it and pads with -1', async () => {
  const dim = 3;
  const gallery = l2normalize(Float32Array.from([1, 0, 0, 0.9, 0.1, 0, 0, 1, 0]), dim);
  const top = await searchExact(gallery, gallery.slice(0, 3), dim, 5, { exclude: Int32Array.from([0]) });
  assert.equal(top.k, 3);
  assert.deepEqual([...top.indices], [1, 2, -1]);
  // memory is queries x min(k, N): k = 1e9 over 3 rows allocates 3 slots per query
  const huge = await searchExact(gallery, gallery, dim, 1e9);
  assert.equal(huge.k, 3);
  assert.equal(huge.indices.length, 9);
  assert.deepEqual([...huge.indices.subarray(0, 3)].sort(), [0, 1, 2]);
  const empty = await searchExact(new Float32Array(0), gallery.slice(0, 3), dim, 2);
  assert.deepEqual([...empty.indices], [-1]);
  await assert.rejects(searchExact(gallery, gallery, dim, 0), /positive integer/);
});
