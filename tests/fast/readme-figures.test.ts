import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';

const ROOT = path.resolve(import.meta.dirname, '../..');

/** The README's performance paragraph: the text between the two `<!-- perf -->` markers. */
function perfParagraph(readme: string): string {
  const parts = readme.split('<!-- perf -->');
  assert.equal(parts.length, 3, 'README.md must hold exactly two <!-- perf --> markers around its performance paragraph');
  return parts[1];
}

/** Every number in a text (1,000 and 0.96 and 250 each count as one), without the markdown link targets. */
function numbers(text: string): string[] {
  return [...text.replace(/\]\([^)]*\)/g, ']').matchAll(/\d+(?:[.,]\d+)*/g)].map((m) => m[0]);
}

test('every number in the README performance paragraph appears in docs/benchmarks.md', () => {
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const bench = fs.readFileSync(path.join(ROOT, 'docs/benchmarks.md'), 'utf8');
  const para = perfParagraph(readme);
  assert.match(para, /npm run bench:all/, 'the paragraph names the command that reproduces its figures');
  assert.match(para, /docs\/benchmarks\.md/, 'the paragraph points at docs/benchmarks.md');
  const nums = numbers(para);
  assert.ok(nums.length >= 3, 'the paragraph quotes figures');
  const missing = nums.filter((n) => !bench.includes(n) && !bench.includes(n.replace(/,/g, '')));
  assert.deepEqual(missing, [], `README performance figures not found in docs/benchmarks.md: ${missing.join(', ')}`);
});

test('the figure check catches a figure that is not in the file', () => {
  const para = 'runs at 123.456 GFLOP/s, see docs/benchmarks.md (npm run bench:all)';
  assert.deepEqual(numbers(para), ['123.456']);
  assert.deepEqual(numbers('[x](docs/a1.md) 0.96x, 1,000 queries'), ['0.96', '1,000']);
  assert.throws(() => perfParagraph('no markers'));
});
