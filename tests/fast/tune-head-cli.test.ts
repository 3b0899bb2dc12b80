import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { writeClassFolders } from '../../src/data/synthetic.ts';
import { loadIndex } from '../../src/index/whole-index.ts';
import { runCli } from '../helpers/cli.ts';
import { tmpDir, writeTinyCnn, TINY_FLAGS } from '../helpers/tmp.ts';

test('tune --train DIR embeds class folders on the fly; index/search/eval accept the head and refuse a mismatch', async () => {
  const dir = tmpDir();
  const train = path.join(dir, 'train');
  await writeClassFolders(train, 5, 6, 2);
  const model = writeTinyCnn(dir);
  const head = path.join(dir, 'head.onnx');
  const t = (await runCli(['tune', '--train', train, '--model', model, ...TINY_FLAGS, '--epochs', '3', '--out', head]));
  assert.equal(t.status, 0, t.stderr);
  assert.match(t.stdout + t.stderr, /trainable parameters: \d+/);
  assert.ok(fs.existsSync(head));

  const out = path.join(dir, 'g.lkx');
  const idx = (await runCli(['index', train, '--model', model, ...TINY_FLAGS, '--head', head, '--out', out]));
  assert.equal(idx.status, 0, idx.stderr);
  const index = await loadIndex(out);
  assert.equal(index.manifest.head?.file, path.resolve(head));
  // search without flags reuses the manifest's model and head
  const s = (await runCli(['search', out, path.join(train, 'class02/000.jpg'), '-k', '1', '--json']));
  assert.equal(s.status, 0, s.stderr);
  assert.equal(JSON.parse(s.stdout).results[0].hits[0].id, 'class02/000.jpg');
  // adding without the head to a head-built index is refused
  const mixed = (await runCli(['index', train, '--model', model, ...TINY_FLAGS, '--out', out]));
  assert.equal(mixed.status, 1);
  assert.match(mixed.stderr, /different model or head \(index: .*head .*head\.onnx [0-9a-f]{12}; now: .*head none\)/);
  const ev = (await runCli(['eval', out, '--labels', path.join(train, 'labels.csv'), '--json']));
  assert.equal(ev.status, 0, ev.stderr);
  assert.ok(JSON.parse(ev.stdout).mean['precision@1'] >= 0);
});
