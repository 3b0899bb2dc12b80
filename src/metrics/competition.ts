/**
 * The competition's score and files. A submission is JSON `{"query.jpg": ["gallery1.jpg", ...]}`
 * (best first, top 10 count); the truth file has the same shape, listing each query's relevant
 * gallery ids (an empty list = a query without truth, not scored).
 */
import { writeFileAtomic } from '../util/atomic.ts';
import { readText } from '../util/text.ts';
import { hitAt, type Relevance } from './retrieval.ts';

/** Query id -> ranked gallery ids (submission) or relevant gallery ids (truth). */
export type Submission = Record<string, string[]>;

/** The weighted top-k cut-offs and weights: 600 x hit@1 + 300 x hit@5 + 100 x hit@10. */
export const TOPK_WEIGHTS: readonly { k: number; weight: number }[] = [
  { k: 1, weight: 600 },
  { k: 5, weight: 300 },
  { k: 10, weight: 100 },
];

/** The best possible weighted top-k score of one query (and of the mean). */
export const TOPK_MAX = 1000;

/** The competition's per-query score: 600 x hit@1 + 300 x hit@5 + 100 x hit@10 (0..1000). */
export function weightedTopK(rel: Relevance): number {
  let s = 0;
  for (const { k, weight } of TOPK_WEIGHTS) s += weight * hitAt(rel, k);
  return s;
}

/** Keys that occur more than once in the top-level object of valid JSON text (JSON.parse keeps only the last). */
export function duplicateTopLevelKeys(text: string): string[] {
  const seen = new Set<string>();
  const dups = new Set<string>();
  let depth = 0;
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (c === '"') {
      let j = i + 1;
      while (j < text.length && text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      const raw = text.slice(i, j + 1);
      i = j + 1;
      if (depth === 1) {
        let m = i;
        while (m < text.length && /\s/.test(text[m])) m++;
        if (text[m] === ':') {
          const key = JSON.parse(raw) as string;
          if (seen.has(key)) dups.add(key);
          seen.add(key);
        }
      }
      continue;
    }
    if (c === '{' || c === '[') depth++;
    else if (c === '}' || c === ']') depth--;
    i++;
  }
  return [...dups];
}

/**
 * Check the shape of parsed submission/truth data: an object of query id -> array of distinct,
 * non-empty string ids. Errors name the file, the query and the problem.
 */
export function validateSubmission(data: unknown, file = '<submission>', opts: { allowEmpty?: boolean } = {}): Submission {
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    throw new Error(`${file}: expected a JSON object {"query.jpg": ["gallery.jpg", ...]}, got ${Array.isArray(data) ? 'an array' : data === null ? 'null' : typeof data}`);
  }
  const out: Submission = {};
  for (const [query, list] of Object.entries(data as Record<string, unknown>)) {
    if (query === '') throw new Error(`${file}: empty query id`);
    if (!Array.isArray(list)) throw new Error(`${file}: query ${query}: expected an array of gallery ids, got ${typeof list}`);
    if (list.length === 0 && opts.allowEmpty === false) throw new Error(`${file}: query ${query}: empty ranking`);
    const seen = new Set<string>();
    for (let i = 0; i < list.length; i++) {
      const id = list[i];
      if (typeof id !== 'string' || id === '') throw new Error(`${file}: query ${query}: item ${i + 1} is not a non-empty string id (${JSON.stringify(id)})`);
      if (seen.has(id)) throw new Error(`${file}: query ${query}: gallery id ${id} is listed twice (positions ${list.indexOf(id) + 1} and ${i + 1})`);
      seen.add(id);
    }
    out[query] = [...(list as string[])];
  }
  return out;
}

/** Read and validate a JSON object of query id -> id list (a submission or a truth file); duplicate query keys are an error. */
export function readSubmission(file: string): Submission {
  const text = readText(file);
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new Error(`${file}: not valid JSON (${(e as Error).message})`);
  }
  const sub = validateSubmission(data, file);
  const dups = duplicateTopLevelKeys(text);
  if (dups.length) throw new Error(`${file}: query id ${dups[0]} appears more than once${dups.length > 1 ? ` (and ${dups.length - 1} more)` : ''}`);
  return sub;
}

/** Read a truth file (same format as a submission: query id -> relevant gallery ids). */
export function readTruth(file: string): Submission {
  return readSubmission(file);
}

/**
 * Validate and write a submission atomically (temp file + rename), one-space indented like the
 * competition's files. Accepts a plain object or a Map.
 */
export function writeSubmission(file: string, sub: Submission | Map<string, readonly string[]>): void {
  const obj = sub instanceof Map ? Object.fromEntries([...sub].map(([q, l]) => [q, [...l]])) : sub;
  const valid = validateSubmission(obj, file);
  writeFileAtomic(file, JSON.stringify(valid, null, 1) + '\n');
}
