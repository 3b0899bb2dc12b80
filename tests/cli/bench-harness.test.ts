import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';
import { median, markdownTable, table, toMarkdown, type BenchDoc } from '../../bench/harness.ts';

const FIXTURE = path.join(import.meta.dirname, '../fixtures/bench-tiny.ts');

test('median of odd and even lists', () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2.5);
});

test('tables align and escape', () => {
  const t = table([{ a: 'x', b: 1.23456 }, { a: 'longer', b: 123.4 }]).split('\n');
  assert.equal(t.length, 3);
  assert.equal(t[0].indexOf('b'), t[1].indexOf('1.23'));
  assert.match(markdownTable([{ 'a|b': 'c|d' }]), /a\\\|b/);
});

test('a bench on the harness: alternated rounds, pairwise ratios, per-path peak memory, JSON and Markdown', () => {
  const r = spawnSync(process.execPath, ['--import', 'tsx', FIXTURE, '--json', '--rounds', '3', '--min-seconds', '0.02'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const doc = JSON.parse(r.stdout.trim()) as BenchDoc;
  assert.equal(doc.bench, 'tiny');
  assert.match(doc.machine.commit, /^[0-9a-f]{12}|unknown/);
  assert.ok(doc.machine.cores >= 1 && doc.machine.node.startsWith('v'));
  const g = doc.groups[0];
  assert.equal(g.rounds, 3);
  const byName = Object.fromEntries(g.paths.map((p) => [p.name, p]));
  for (const p of g.paths) assert.equal(p.seconds.length, 3);
  // Ratios are taken round by round from that round's two samples (same declared work, so the
  // ratio is the baseline's seconds over the path's), and the reported ratio is their median.
  // No timing expectation: the machine may be shared.
  assert.equal(byName.twice.ratios!.length, 3);
  byName.twice.ratios!.forEach((r, i) => assert.ok(Math.abs(r - byName.once.seconds[i] / byName.twice.seconds[i]) < 1e-9 * r));
  assert.equal(byName.twice.ratio, median(byName.twice.ratios!));
  assert.equal(byName.twice.median, median(byName.twice.seconds));
  assert.ok(byName.twice.throughput! > 0 && Math.abs(byName.twice.throughput! - 2 / byName.twice.median) < 1e-9 * byName.twice.throughput!);
  // Peak memory measured per path in its own process: the 200 MiB path stands out.
  assert.ok(byName.big.peakRssMiB! > byName.once.peakRssMiB! + 150, `big ${byName.big.peakRssMiB} once ${byName.once.peakRssMiB}`);
  assert.ok(g.dataOnlyRssMiB! > 10 && g.dataOnlyRssMiB! < byName.big.peakRssMiB!);
  // Human text went to stderr.
  assert.match(r.stderr, /round 3\/3/);
  const md = toMarkdown(doc);
  assert.match(md, /^## tiny/);
  assert.match(md, /\| sum twice \(same work declared\) \|/);
  assert.match(md, /twice \/ once: \d+\.\d+/);
});
