/**
 * Oxford5k / Paris6k ground truth folders: for each query NAME the files NAME_query.txt (first
 * token = the query image, e.g. `oxc1_all_souls_000013`, then the box), NAME_good.txt,
 * NAME_ok.txt and NAME_junk.txt (one image name per line, no extension). Image names match gallery
 * ids by their base name without extension (`images/all_souls_000013.jpg` -> `all_souls_000013`).
 */
import fs from 'node:fs';
import path from 'node:path';
import { oxfordMap, type OxfordQuery } from './oxford.ts';

/** One query's ground truth: the query image name and its good/ok/junk lists. */
export interface OxfordTruth {
  id: string;
  image: string;
  good: string[];
  ok: string[];
  junk: string[];
}

function readList(file: string): string[] {
  if (!fs.existsSync(file)) return [];
  return fs
    .readFileSync(file, 'utf8')
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '');
}

/** The image name of a gallery id: base name without extension. */
export function oxfordName(id: string): string {
  return path.basename(id).replace(/\.[^.]+$/, '');
}

/** Read every NAME_query.txt (+ _good/_ok/_junk) in a folder; a query without good or ok images is an error naming the file. */
export function readOxfordTruth(dir: string): OxfordTruth[] {
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw new Error(`${dir}: not a folder of Oxford ground truth files (NAME_query.txt, NAME_good.txt, NAME_ok.txt, NAME_junk.txt)`);
  const names = fs.readdirSync(dir).filter((f) => f.endsWith('_query.txt')).sort();
  if (names.length === 0) throw new Error(`${dir}: no *_query.txt files (Oxford ground truth: NAME_query.txt, NAME_good.txt, NAME_ok.txt, NAME_junk.txt)`);
  return names.map((f) => {
    const id = f.slice(0, -'_query.txt'.length);
    const first = readList(path.join(dir, f))[0]?.split(/\s+/)[0];
    if (!first) throw new Error(`${path.join(dir, f)}: empty query file`);
    const image = first.replace(/^oxc1_/, '');
    const good = readList(path.join(dir, `${id}_good.txt`));
    const ok = readList(path.join(dir, `${id}_ok.txt`));
    const junk = readList(path.join(dir, `${id}_junk.txt`));
    if (good.length + ok.length === 0) throw new Error(`${path.join(dir, `${id}_good.txt`)}: query ${id} has no good or ok images`);
    return { id, image, good, ok, junk };
  });
}

/**
 * Score full rankings (gallery ids, best first, per query id) under the Oxford protocol. The
 * query's own image is removed from its ranking and from its positives (the whole image is the
 * query here, not its box, so it would otherwise rank first for free).
 */
export function scoreOxford(truth: readonly OxfordTruth[], rankings: ReadonlyMap<string, readonly string[]>): { oxford_map: number; ap: Record<string, number> } {
  const queries: OxfordQuery[] = truth.map((t) => {
    const ranking = rankings.get(t.id);
    if (!ranking) throw new Error(`Oxford query ${t.id}: no ranking`);
    const names = ranking.map(oxfordName).filter((n) => n !== t.image);
    return { id: t.id, ranking: names, good: t.good.filter((g) => g !== t.image), ok: t.ok.filter((g) => g !== t.image), junk: t.junk };
  });
  const r = oxfordMap(queries);
  return { oxford_map: r.map, ap: r.ap };
}
