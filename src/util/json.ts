/** Reading JSON files with errors that name the file. */
import { readText } from './text.ts';

/** Parse a JSON file (a leading BOM is ignored); a missing, non-UTF-8 or malformed file is an error naming it. */
export function readJson(file: string): unknown {
  const text = readText(file);
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new Error(`${file}: not valid JSON (${(e as Error).message})`);
  }
}

/** Parse a JSON file that must hold an object. */
export function readJsonObject(file: string): Record<string, unknown> {
  const v = readJson(file);
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new Error(`${file}: expected a JSON object`);
  return v as Record<string, unknown>;
}
