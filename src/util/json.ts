/** Reading JSON files with errors that name the file. */
import fs from 'node:fs';

/** Parse a JSON file (a leading BOM is ignored); a missing or malformed file is an error naming it. */
export function readJson(file: string): unknown {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new Error(`${file}: ${err.code === 'ENOENT' ? 'no such file' : err.message}`);
  }
  try {
    return JSON.parse(text.replace(/^\uFEFF/, ''));
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
