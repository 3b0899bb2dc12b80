/**
 * Issue 22's done-when: on clothing10, cufs-sketch and att-faces, advise's recommendation never
 * scores below frozen on a test split. Per dataset: a small seeded sample split class-/identity-
 * disjoint into an advise part and a test part; advise runs on the advise part; its printed tune
 * command is run as printed; the pick's head and frozen are scored on the test part.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { readLabels, type LabelRow } from '../../src/data/labels.ts';
import { Rng } from '../../src/util/random.ts';
import { ROOT, tmpDir } from '../helpers/tmp.ts';
import { runCli } from '../helpers/cli.ts';

const SHARED = path.resolve(ROOT, '../shared');
const MODEL = path.join(SHARED, 'models/mobilenet-v3-small-embedder');

/** Copy rows into `dir` with a labels.csv (path,label[,domain][,split]). */
function writePart(src: string, rows: (LabelRow & { split?: string })[], dir: string): void {
  for (const r of rows) fs.cpSync(path.join(src, r.path), path.join(dir, r.path));
  const domain = rows.some((r) => r.domain);
  const split = rows.some((r) => r.split);
  fs.writeFileSync(path.join(dir, 'labels.csv'), [`path,label${domain ? ',domain' : ''}${split ? ',split' : ''}`, ...rows.map((r) => `${r.path},${r.label}${domain ? `,${r.domain}` : ''}${split ? `,${r.split}` : ''}`)].join('\n') + '\n');
}

/** Per dataset: how many classes go to the advise part and to the test part, images per class, and the scoring. */
const CASES = [
  // 10 clothing classes: 6 to advise on, 4 held out; 14 images each.
  { name: 'clothing10', advise: 6, test: 4, per: 14, cross: false },
  // photo -> sketch identities (training/ only: 2 images each): 70 to advise on, 30 held out.
  { name: 'cufs-sketch', advise: 70, test: 30, per: 2, cross: true },
  // 40 face identities: 14 to advise on, 8 held out; 6 images each.
  { name: 'att-faces', advise: 14, test: 8, per: 6, cross: false },
];

for (const c of CASES) {
  test(`${c.name}: advise's pick, run with its printed commands, scores at least frozen on held-out classes`, async (t) => {
    const data = path.join(SHARED, 'datasets', c.name);
    if (!fs.existsSync(data) || !fs.existsSync(MODEL)) return t.skip(`${data} or ${MODEL} missing: this check needs ../shared (CI has it)`);
    const rng = new Rng(22);
    const all = readLabels(path.join(data, 'labels.csv')).filter((r) => !r.split || r.split === 'train' || r.split === 'val' || c.name === 'clothing10');
    const byClass = new Map<string, LabelRow[]>();
    for (const r of all) (byClass.get(r.label) ?? byClass.set(r.label, []).get(r.label)!).push(r);
    const classes = rng.shuffle([...byClass.keys()].sort()).filter((k) => byClass.get(k)!.length >= c.per);
    const pick = (ks: string[]) => ks.flatMap((k) => rng.shuffle([...byClass.get(k)!]).slice(0, c.per)).map(({ split: _s, ...r }) => r);
    const dir = tmpDir(`lookalike-advise-${c.name}-`);
    const adviseDir = path.join(dir, 'advise');
    const testDir = path.join(dir, 'test');
    writePart(data, pick(classes.slice(0, c.advise)), adviseDir);
    // Cross-domain test part: photos query the sketches (split query/gallery), as in the set's own test.
    const testRows = pick(classes.slice(c.advise, c.advise + c.test)).map((r) => ({ ...r, ...(c.cross ? { split: r.domain === 'photo' ? 'query' : 'gallery' } : {}) }));
    writePart(data, testRows, testDir);
    const run = async (args: string[]) => {
      const r = await runCli(args);
      assert.equal(r.status, 0, `${args.join(' ')}\n${r.stderr}`);
      return r.stdout;
    };
    const a = JSON.parse(await run(['advise', adviseDir, '--models', MODEL, '--modes', 'tune,projection', '--epochs', '4', ...(c.cross ? ['--protocol', 'cross-domain'] : []), '--cache', path.join(dir, 'cache'), '--store', path.join(dir, 'store'), '--json'])) as { recommended: { mode: string; margin: number | null; noise: number | null }; commands: string[]; rows: { mode: string; 'mmp@5': number; margin?: number; noise?: number | null }[] };
    t.diagnostic(`${c.name}: ${a.rows.map((r) => `${r.mode} ${r['mmp@5'].toFixed(3)}${r.margin !== undefined ? ` (${r.margin >= 0 ? '+' : ''}${r.margin.toFixed(3)} ± ${r.noise?.toFixed(3)})` : ''}`).join(', ')}; picked ${a.recommended.mode}`);
    const testScore = async (head?: string) => {
      const out = path.join(dir, `t-${head ? 'head' : 'frozen'}.lkx`);
      await run(['index', testDir, '--model', MODEL, ...(head ? ['--head', head] : []), '--out', out, '--json']);
      return JSON.parse(await run(['eval', out, '--labels', path.join(testDir, 'labels.csv'), '--json'])).mean['mmp@5'] as number;
    };
    if (a.recommended.mode === 'frozen') return; // the pick is frozen itself
    const frozen = await testScore();
    const cwd = process.cwd();
    process.chdir(dir);
    try {
      await run(a.commands[0].split(/\s+/).slice(1));
    } finally {
      process.chdir(cwd);
    }
    const tune = a.commands[0].split(/\s+/);
    const tuned = await testScore(path.join(dir, tune[tune.indexOf('--out') + 1]));
    t.diagnostic(`${c.name}: test mmp@5 frozen ${frozen.toFixed(4)}, ${a.recommended.mode} ${tuned.toFixed(4)}`);
    assert.ok(tuned >= frozen, `${c.name}: advise recommended ${a.recommended.mode}, which scores ${tuned} below frozen ${frozen} on the test split`);
  });
}
