/**
 * Every byte read back is checked (docs/reliability.md): experiment embedding-cache shards carry
 * a checksum verified on read (a bad shard is set aside, reported and embedded again), and
 * experiment embeddings are committed in chunks (a stopped run keeps every finished chunk).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { classImage } from '../../src/data/synthetic.ts';
import { EmbeddingCache } from '../../src/experiments/cache.ts';
import type { DatasetData } from '../../src/experiments/datasets.ts';
import { embedDataset } from '../../src/experiments/embed.ts';
import { loadBackbone } from '../../src/models/load.ts';
import { tmpDir, writeTinyCnn } from '../helpers/tmp.ts';

const tiny = { resize: { mode: 'fixed' as const, height: 32, width: 32 }, crop: null };

async function dataset(dir: string, n: number): Promise<DatasetData> {
  fs.mkdirSync(dir, { recursive: true });
  const items = [];
  for (let i = 0; i < n; i++) {
    const file = path.join(dir, `${i}.jpg`);
    fs.writeFileSync(file, await classImage(i % 3, i));
    items.push({ id: `${i}.jpg`, file });
  }
  return { items } as unknown as DatasetData;
}

test('embedding cache: 200 flipped bytes in a shard fail its checksum; the shard is set aside and reported, and its images are embedded again', async () => {
  const dir = tmpDir();
  const bb = await loadBackbone(writeTinyCnn(dir), { overrides: tiny });
  const d = await dataset(path.join(dir, 'data'), 12);
  const root = path.join(dir, 'cache');
  const first = await embedDataset(d, bb, EmbeddingCache.open(root, bb.fingerprint));
  assert.equal(first.embeddedNow, 12);
  const folder = path.join(root, bb.fingerprint.slice(0, 32));
  const npy = fs.readdirSync(folder).find((f) => f.endsWith('.npy'))!;
  const bytes = fs.readFileSync(path.join(folder, npy));
  for (let i = 0; i < 200; i++) bytes[bytes.length - 1 - i * 3] ^= 0x5a;
  fs.writeFileSync(path.join(folder, npy), bytes);
  const reopened = EmbeddingCache.open(root, bb.fingerprint);
  assert.equal(reopened.size, 0, 'no row of the bad shard is used');
  assert.equal(reopened.corrupt.length, 1);
  assert.match(reopened.corrupt[0].reason, /^checksum mismatch/);
  assert.ok(fs.existsSync(path.join(folder, `${npy}.corrupt`)), 'set aside, not deleted');
  const again = await embedDataset(d, bb, reopened);
  assert.equal(again.embeddedNow, 12);
  assert.deepEqual(again.vectors, first.vectors);
  assert.equal(EmbeddingCache.open(root, bb.fingerprint).corrupt.length, 0, 'reported once');
});

test('experiment embeddings commit in chunks: a run stopped in its third chunk keeps the first two', async () => {
  const dir = tmpDir();
  const bb = await loadBackbone(writeTinyCnn(dir), { overrides: tiny });
  const d = await dataset(path.join(dir, 'data'), 10);
  const root = path.join(dir, 'cache');
  const stop = new Error('stopped');
  await assert.rejects(
    embedDataset(d, bb, EmbeddingCache.open(root, bb.fingerprint), (done) => {
      if (done > 8) throw stop;
    }, 4),
    /stopped/,
  );
  const kept = EmbeddingCache.open(root, bb.fingerprint);
  assert.equal(kept.size, 8, 'two chunks of 4 were committed before the stop');
  const rest = await embedDataset(d, bb, kept, undefined, 4);
  assert.equal(rest.embeddedNow, 2);
  assert.equal(rest.fromCache, 8);
});
