/**
 * The guard every FILE writer calls before doing any work (compete --out, search --submission,
 * tune --out, eval --per-query, and every future one). The rule (docs/reliability.md):
 *   - a path that does not exist is written (its parent folders are created);
 *   - an existing path is replaced only when it is a plain file whose content parses as the
 *     writer's own kind (a submission JSON, an ONNX head written by `lookalike tune`, a
 *     per-query CSV written by `lookalike eval`) or that is empty; a folder, a symbolic link,
 *     or any other file is refused: delete it yourself or choose another path;
 *   - the path may not be one of the command's inputs, nor lie inside an input folder.
 * Errors are one line naming the option (a shell shows its flag) and the path. Stale temps of the target left by a dead
 * process are removed (src/util/temp.ts); nothing else is.
 */
import fs from 'node:fs';
import path from 'node:path';
import { modelProto } from './onnx-proto.ts';
import { OptionError } from './options.ts';
import { cleanStaleTemps } from './temp.ts';
import { HEAD_META } from './head-metadata.ts';

/** A kind of file lookalike writes: what to call it and how to recognise one it wrote. */
export interface OutputKind {
  /** What the error calls it, e.g. "a submission JSON". */
  what: string;
  /** True when the bytes are a file of this kind (so replacing it loses nothing foreign). */
  recognise(bytes: Buffer): boolean;
}

function utf8(bytes: Buffer): string | undefined {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes).replace(/^\uFEFF/, '');
  } catch {
    return undefined;
  }
}

/** The kinds of file outputs lookalike writes; a new writer adds its own entry here. */
export const OUTPUT_KINDS = {
  submission: {
    what: 'a submission JSON ({"query": ["gallery id", ...]})',
    recognise(bytes: Buffer): boolean {
      const text = utf8(bytes);
      if (text === undefined) return false;
      try {
        const v: unknown = JSON.parse(text);
        return v !== null && typeof v === 'object' && !Array.isArray(v) && Object.values(v).every((l) => Array.isArray(l) && l.every((x) => typeof x === 'string'));
      } catch {
        return false;
      }
    },
  },
  head: {
    what: 'an ONNX head written by `lookalike tune`',
    recognise(bytes: Buffer): boolean {
      try {
        const m = modelProto().decode(bytes) as unknown as { metadata_props?: { key?: string; value?: string }[] };
        return (m.metadata_props ?? []).some((p) => p.key === HEAD_META.kind && p.value === 'head');
      } catch {
        return false;
      }
    },
  },
  perQueryCsv: {
    what: 'a per-query CSV written by `lookalike eval`',
    recognise(bytes: Buffer): boolean {
      const text = utf8(bytes);
      return text !== undefined && /^query,label,domain,R,skipped(,|\r?\n|$)/.test(text);
    },
  },
  reportHtml: {
    what: 'an HTML report written by `lookalike report`',
    recognise(bytes: Buffer): boolean {
      const text = utf8(bytes);
      return text !== undefined && /^<!doctype html>/i.test(text) && text.includes('<meta name="generator" content="lookalike report">');
    },
  },
  reportMarkdown: {
    what: 'a Markdown summary written by `lookalike report`',
    recognise(bytes: Buffer): boolean {
      const text = utf8(bytes);
      return text !== undefined && /^# [^\n]*\n\n\d+ runs \(\d+ finished[^\n]*; lookalike /.test(text);
    },
  },
  svgChart: {
    what: 'an SVG chart written by `lookalike report` (vega)',
    recognise(bytes: Buffer): boolean {
      const text = utf8(bytes);
      return text !== undefined && /^<svg[\s>]/.test(text) && text.includes('class="marks"');
    },
  },
  mapPicture: {
    what: 'a map picture written by `lookalike map` (.html, .svg or .png)',
    recognise(bytes: Buffer): boolean {
      // PNG: the marker sits in the EXIF chunk; HTML and SVG carry it as text.
      return bytes.includes('lookalike map') && (bytes.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) || /^(<!doctype html>|<svg[\s>])/i.test(utf8(bytes.subarray(0, 64)) ?? ''));
    },
  },
  dedupJson: {
    what: 'a groups JSON written by `lookalike dedup`',
    recognise(bytes: Buffer): boolean {
      const text = utf8(bytes);
      if (text === undefined) return false;
      try {
        const v = JSON.parse(text) as { groups?: unknown; keeperRule?: unknown };
        return v !== null && typeof v === 'object' && Array.isArray(v.groups) && typeof v.keeperRule === 'string';
      } catch {
        return false;
      }
    },
  },
  dedupCsv: {
    what: 'a groups CSV written by `lookalike dedup`',
    recognise(bytes: Buffer): boolean {
      const text = utf8(bytes);
      return text !== undefined && /^group,id,keeper,cosine_to_keeper,bytes(\r?\n|$)/.test(text);
    },
  },
} satisfies Record<string, OutputKind>;

/** What guardOutput needs to know about a writer. */
export interface GuardOptions {
  /** The option that names the file ("out", "submission"); a shell renders it as its flag. */
  option: string;
  /** The kind of file the writer writes. */
  kind: OutputKind;
  /** The command's inputs (files or folders): the output may not be one, nor lie inside one. */
  inputs?: (string | undefined)[];
}

/** realpath of p, or of its nearest existing ancestor joined with the rest (for paths not yet created). */
function realish(p: string): string {
  const abs = path.resolve(p);
  let head = abs;
  const tail: string[] = [];
  for (;;) {
    try {
      return path.join(fs.realpathSync(head), ...tail.reverse());
    } catch {
      const up = path.dirname(head);
      if (up === head) return abs;
      tail.push(path.basename(head));
      head = up;
    }
  }
}

function inside(child: string, parent: string): boolean {
  const rel = path.relative(parent, child);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

/**
 * Refuse, before any work, to write `file` when that would replace something that is not the
 * writer's own kind of output (see the rule at the top of this file). Throws a one-line error
 * naming the option and the path; removes stale lookalike temps of the target.
 */
export function guardOutput(file: string, o: GuardOptions): void {
  const where = `{{${o.option}}} ${file}`;
  if (file === '' || /[\\/]$/.test(file)) throw new OptionError(`${where}: expected a file path, not a folder`);
  const target = realish(file);
  for (const input of o.inputs ?? []) {
    if (!input || !fs.existsSync(input)) continue;
    const real = fs.realpathSync(input);
    if (real === target) throw new OptionError(`${where}: is an input of this command; refusing to overwrite it`);
    if (fs.statSync(real).isDirectory() && inside(target, real)) throw new OptionError(`${where}: lies inside the input folder ${input}; write it elsewhere`);
  }
  // The nearest existing ancestor must be a folder.
  let up = path.dirname(path.resolve(file));
  while (!fs.existsSync(up)) up = path.dirname(up);
  if (!fs.statSync(up).isDirectory()) throw new OptionError(`${where}: ${up} is not a folder`);
  let st: fs.Stats;
  try {
    st = fs.lstatSync(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
      cleanStaleTemps(file);
      return;
    }
    throw new OptionError(`${where}: cannot check it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  if (st.isSymbolicLink()) throw new OptionError(`${where}: is a symbolic link; refusing to replace it (give a plain file path)`);
  if (st.isDirectory()) throw new OptionError(`${where}: is an existing folder; refusing to replace it (give a file path)`);
  if (!st.isFile()) throw new OptionError(`${where}: is not a regular file; refusing to replace it`);
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch (e) {
    throw new OptionError(`${where}: exists and cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); refusing to replace it`);
  }
  // An empty file holds nothing to lose (e.g. one made with `touch`).
  if (bytes.length && !o.kind.recognise(bytes)) {
    throw new OptionError(`${where}: exists and is not ${o.kind.what}; refusing to replace it (delete it yourself or choose another path)`);
  }
  cleanStaleTemps(file);
}
