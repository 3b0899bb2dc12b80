/** `compact` verifies each segment before rewriting it and refuses to launder a corrupt one (docs/reliability.md). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { compactIndex } from '../../src/index/maintain.ts';
import { openStore } from '../../src/store/open-store.ts';
import { readManifest, type ManifestV2 } from '../../src/store/folder/manifest.ts';
import { verifyFolder } from '../../src/store/folder/verify.ts';
import { contractMeta, itemsOf, unitVectors } from '../helpers/store-contract.ts';
import { tmpDir } from '../helpers/tmp.ts';

test('compact: a segment with flipped bytes is refused naming it; the corrupt file and the manifest stay, and verify still reports it', async () => {
  const dim = 8;
  const loc = path.join(tmpDir(), 'g.lkx');
  const s = await openStore(loc, { write: true, create: contractMeta(dim) });
  const items = itemsOf(unitVectors(30, dim, 3), dim);
  for (let i = 0; i < 30; i += 10) await s.write({ upsert: items.slice(i, i + 10) });
  await s.close();
  const m = readManifest(loc) as ManifestV2;
  assert.equal(m.segments.length, 3);
  const bad = path.join(loc, m.segments[1].npy.file);
  const bytes = fs.readFileSync(bad);
  for (let i = 0; i < 20; i++) bytes[bytes.length - 1 - i * 7] ^= 0xff;
  fs.writeFileSync(bad, bytes);
  const manifest = fs.readFileSync(path.join(loc, 'manifest.json'));
  await assert.rejects(compactIndex(loc), (e: Error) => {
    assert.ok(e.message.startsWith(`${bad}: checksum mismatch`), e.message);
    assert.match(e.message, /compaction refused so that it is not rewritten under a new checksum/);
    return true;
  });
  assert.deepEqual(fs.readFileSync(path.join(loc, 'manifest.json')), manifest, 'nothing committed');
  assert.ok(fs.existsSync(bad), 'the corrupt segment is kept for inspection');
  const v = await verifyFolder(loc);
  assert.ok(v.problems.some((p) => p.includes('checksum mismatch')), JSON.stringify(v.problems));
  assert.ok(!fs.readdirSync(loc).some((f) => /^seg-000004/.test(f)), 'the aborted merge left no segment behind');
});
