import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { autoThreshold, DEDUP_FALLBACK, findDuplicates, groupsCsv, pairScores } from '../../src/index/dedup.ts';
import { writeNearDuplicates } from '../../src/data/near-duplicates.ts';
import { classImage } from '../../src/data/synthetic.ts';
import { openStore } from '../../src/store/open-store.ts';
import { contractMeta } from '../helpers/store-contract.ts';
import { Rng } from '../../src/util/random.ts';
import { runCli } from '../helpers/cli.ts';
import { tmpDir, writeTinyCnn, SHARED, TINY_FLAGS } from '../helpers/tmp.ts';

function unit(v: number[]): Float32Array {
  const n = Math.hypot(...v);
  return Float32Array.from(v, (x) => x / n);
}

test('autoThreshold: a gap between near-duplicates and distinct items; fallback without two populations', () => {
  const rng = new Rng(5);
  const distinct = Array.from({ length: 200 }, () => 1 - 10 ** (-0.4 + 0.1 * rng.normal()));
  const dups = Array.from({ length: 20 }, () => 1 - 10 ** (-2.2 + 0.2 * rng.normal()));
  const r = autoThreshold([...distinct, ...dups]);
  assert.ok(r.threshold > Math.max(...distinct) && r.threshold < Math.min(...dups), `${r.threshold}: ${r.rule}`);
  assert.match(r.rule, /Otsu/);
  const flat = autoThreshold(distinct);
  assert.equal(flat.threshold, DEDUP_FALLBACK);
  assert.match(flat.rule, /fallback/);
  assert.equal(autoThreshold([0.5, 0.6]).threshold, DEDUP_FALLBACK);
});

test('findDuplicates: pairs above T joined through chains, keeper = largest file then first id; CSV and pair scores', async () => {
  const dim = 8;
  const rng = new Rng(3);
  const base = Array.from({ length: 6 }, () => Array.from({ length: dim }, () => rng.normal()));
  const near = (v: number[], e: number) => unit(v.map((x) => x + e * rng.normal()));
  const items = [
    { id: 'a/1.jpg', vector: near(base[0], 0), file: { sha256: 'x', size: 100 } },
    { id: 'a/2.jpg', vector: near(base[0], 0.02), file: { sha256: 'y', size: 300 } },
    { id: 'a/3,odd.jpg', vector: near(base[0], 0.03), file: { sha256: 'z', size: 300 } },
    { id: 'b/1.jpg', vector: near(base[1], 0) },
    { id: 'b/2.jpg', vector: near(base[1], 0) },
    ...base.slice(2).map((v, i) => ({ id: `single/${i}.jpg`, vector: unit(v) })),
  ];
  const loc = path.join(tmpDir(), 'd.lkx');
  const w = await openStore(loc, { write: true, create: contractMeta(dim) });
  await w.write({ upsert: items });
  await w.close();
  const s = await openStore(loc);
  const r = await findDuplicates(s, { threshold: 0.99, neighbours: 3, ann: 'off' });
  assert.equal(r.items, 9);
  assert.deepEqual(r.groups.map((g) => g.members.map((m) => m.id).sort()), [['a/1.jpg', 'a/2.jpg', 'a/3,odd.jpg'], ['b/1.jpg', 'b/2.jpg']]);
  assert.equal(r.groups[0].keeper, 'a/2.jpg', 'largest file; tie with a/3,odd.jpg broken by id');
  assert.equal(r.groups[0].members[0].id, 'a/2.jpg');
  assert.equal(r.groups[1].keeper, 'b/1.jpg', 'no sizes: first id');
  assert.ok(r.groups[1].members.every((m) => Math.abs(m.score - 1) < 1e-6));
  const same = await findDuplicates(s, { threshold: 0.99, neighbours: 3, ann: 'on' });
  assert.deepEqual(same.groups, r.groups, 'ANN and exact self-joins give the same groups');
  const csv = groupsCsv(r).trim().split('\n');
  assert.equal(csv[0], 'group,id,keeper,cosine_to_keeper,bytes');
  assert.ok(csv.includes('1,"a/3,odd.jpg",no,' + r.groups[0].members.find((m) => m.id === 'a/3,odd.jpg')!.score.toFixed(6) + ',300'));
  const truth = new Map([['a/1.jpg', 'a'], ['a/2.jpg', 'a'], ['a/3,odd.jpg', 'a'], ['b/1.jpg', 'b'], ['b/2.jpg', 'b'], ['single/0.jpg', 'a']]);
  assert.deepEqual(pairScores(r.groups, truth), { precision: 1, recall: 4 / 7, predictedPairs: 4, truePairs: 7 });
  await assert.rejects(findDuplicates(s, { threshold: 1.5 }), /^OptionError: threshold 1.5: expected a cosine/);
  await s.close();
});

/** Source images: coco-mini from ../shared when present, else generated ones. */
async function sources(count: number): Promise<{ images: Buffer[]; from: string }> {
  const coco = path.join(SHARED, 'datasets/coco-mini/images');
  if (fs.existsSync(coco)) {
    const files = fs.readdirSync(coco).filter((f) => f.endsWith('.jpg')).sort().slice(0, count);
    return { images: files.map((f) => fs.readFileSync(path.join(coco, f))), from: 'coco-mini' };
  }
  return { images: await Promise.all(Array.from({ length: count }, (_, i) => classImage(i % 12, 100 + i, 128))), from: 'generated' };
}

test('lookalike dedup on generated near-duplicates (JPEG q30, resized, cropped 5%, recoloured): precision and recall of the groups', async (t) => {
  const dir = tmpDir();
  const gallery = path.join(dir, 'photos');
  const src = await sources(36);
  const truth = await writeNearDuplicates(gallery, src.images, 12);
  // The tiny random CNN sees 32x32 pixels: it separates edited copies of varied photos only in
  // part (measured: precision 1.0, recall 0.66 on coco-mini; recall 0.25 on the generated shapes).
  const models: [string, string, string[], number, number][] = [['tiny', writeTinyCnn(dir), TINY_FLAGS, 0.9, src.from === 'coco-mini' ? 0.5 : 0.2]];
  const mobilenet = path.join(SHARED, 'models/mobilenet-v2-imagenet');
  if (fs.existsSync(mobilenet)) models.push(['mobilenet-v2-imagenet', mobilenet, [], 0.95, 0.9]);
  else t.diagnostic(`${mobilenet} absent: only the tiny model runs`);
  for (const [name, model, flags, minP, minR] of models) {
    const index = path.join(dir, `${name}.lkx`);
    const ix = (await runCli(['index', gallery, '--model', model, ...flags, '--out', index]));
    assert.equal(ix.status, 0, ix.stderr);
    const jsonOut = path.join(dir, `${name}-groups.json`);
    const r = (await runCli(['dedup', index, '--threshold', 'auto', '--out', jsonOut]));
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /groups of near-duplicates/);
    const res = JSON.parse(fs.readFileSync(jsonOut, 'utf8'));
    const sc = pairScores(res.groups, truth);
    t.diagnostic(`${name} on ${src.from} (12 images x 5 versions + 24 distinct): threshold ${res.threshold.toFixed(4)}, ${res.groups.length} groups, pair precision ${sc.precision.toFixed(3)}, recall ${sc.recall.toFixed(3)}`);
    assert.ok(sc.precision >= minP, `${name}: precision ${sc.precision}`);
    assert.ok(sc.recall >= minR, `${name}: recall ${sc.recall}`);
    // every group names its keeper first, the keeper is the largest file of the group
    for (const g of res.groups) {
      assert.equal(g.members[0].id, g.keeper);
      assert.ok(g.members.every((m: { size: number }) => m.size <= g.members[0].size));
    }
    // CSV output, ANN self-join gives the same groups
    const csvOut = path.join(dir, `${name}-groups.csv`);
    const c = (await runCli(['dedup', index, '--threshold', String(res.threshold), '--out', csvOut, '--ann', 'on', '--json']));
    assert.equal(c.status, 0, c.stderr);
    assert.equal(JSON.parse(c.stdout).groups, res.groups.length);
    const rows = fs.readFileSync(csvOut, 'utf8').trim().split('\n');
    assert.equal(rows.length - 1, res.groups.reduce((s: number, g: { members: unknown[] }) => s + g.members.length, 0));
  }
  const bad = (await runCli(['dedup', path.join(dir, 'tiny.lkx'), '--threshold', 'high']));
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /--threshold high: not a number/);
  const inside = (await runCli(['dedup', path.join(dir, 'tiny.lkx'), '--threshold', '0.9', '--out', path.join(dir, 'tiny.lkx', 'g.json')]));
  assert.match(inside.stderr, /lies inside the input folder/);
  // an existing file that is not a dedup output is never replaced
  const foreign = path.join(dir, 'notes.csv');
  fs.writeFileSync(foreign, 'my,own,data\n');
  const refused = (await runCli(['dedup', path.join(dir, 'tiny.lkx'), '--threshold', '0.9', '--out', foreign]));
  assert.equal(refused.status, 1);
  assert.equal(fs.readFileSync(foreign, 'utf8'), 'my,own,data\n');
});
