/**
 * The filter language (docs/filters.md): a small expression over an item's fields, parsed once
 * into a FilterNode tree that is type-checked against the index's field schema. Nothing is ever
 * evaluated as code; the tree is matched in memory (match.ts) or compiled to parameterised SQL
 * (src/store/pg/filter-sql.ts).
 */
import { FILTER_KEYWORDS, ID_FIELD, type FieldSchema, type FieldType, type FilterNode } from '../field-types.ts';
import { didYouMean } from '../../util/text.ts';
import { isoOf, parseDate } from '../fields/dates.ts';
import { parseNumber } from '../fields/number.ts';

/** Longest filter text accepted, in characters. */
export const MAX_FILTER_LENGTH = 4096;
/** Deepest nesting accepted (parentheses and `not`), so a hostile filter cannot exhaust the stack. */
export const MAX_FILTER_DEPTH = 64;

/** A bad filter: the message names the problem and `position`, the 0-based character offset where it is. */
export class FilterError extends Error {
  /** 0-based character offset of the problem in the filter text. */
  readonly position: number;
  constructor(what: string, position: number, hint = '') {
    super(`filter: ${what} at ${position}${hint}`);
    this.name = 'FilterError';
    this.position = position;
  }
}

type Cmp = '=' | '!=' | '<' | '<=' | '>' | '>=';
type Tok =
  | { kind: 'word'; text: string; pos: number }
  | { kind: 'string'; text: string; pos: number }
  | { kind: 'op'; text: Cmp | '^='; pos: number }
  | { kind: 'punct'; text: '(' | ')' | ','; pos: number }
  | { kind: 'end'; text: ''; pos: number };

const WORD_CHAR = /[A-Za-z0-9_.:+\-/]/;

/** Split filter text into tokens; a stray character or an unterminated string is an error at its position. */
function tokenize(text: string): Tok[] {
  const toks: Tok[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
      i++;
    } else if (c === '(' || c === ')' || c === ',') {
      toks.push({ kind: 'punct', text: c, pos: i++ });
    } else if (c === '"' || c === "'") {
      const start = i++;
      let s = '';
      while (i < text.length && text[i] !== c) {
        if (text[i] === '\\' && i + 1 < text.length) i++;
        s += text[i++];
      }
      if (i >= text.length) throw new FilterError(`unterminated string (the ${c} is never closed)`, start);
      i++;
      toks.push({ kind: 'string', text: s, pos: start });
    } else if (c === '=' || c === '<' || c === '>' || c === '!' || c === '^') {
      const two = text.slice(i, i + 2);
      const op = two === '<=' || two === '>=' || two === '!=' || two === '^=' || two === '==' ? two : two === '<>' ? '!=' : c;
      if (op === '!' || op === '^') throw new FilterError(`unexpected "${c}" (did you mean "${c}="?)`, i);
      toks.push({ kind: 'op', text: (op === '==' ? '=' : op) as Cmp | '^=', pos: i });
      i += op.length;
    } else if (WORD_CHAR.test(c)) {
      const start = i;
      while (i < text.length && WORD_CHAR.test(text[i])) i++;
      toks.push({ kind: 'word', text: text.slice(start, i), pos: start });
    } else {
      throw new FilterError(`unexpected character ${JSON.stringify(c)} (quote string values: "like this")`, i);
    }
  }
  toks.push({ kind: 'end', text: '', pos: text.length });
  return toks;
}

/**
 * Parse a filter against the index's field schema (plus the built-in `id`). Every field must be
 * known and every literal must fit the field's type; errors are FilterErrors naming the position.
 */
export function parseFilter(text: string, schema: FieldSchema): FilterNode {
  if (text.length > MAX_FILTER_LENGTH) throw new FilterError(`too long (${text.length} characters, at most ${MAX_FILTER_LENGTH})`, MAX_FILTER_LENGTH);
  const toks = tokenize(text);
  let k = 0;
  const peek = () => toks[k];
  const next = () => toks[k++];
  const isWord = (t: Tok, w: string) => t.kind === 'word' && t.text.toLowerCase() === w;
  const describe = (t: Tok) => (t.kind === 'end' ? 'end of filter' : t.kind === 'string' ? `string ${JSON.stringify(t.text)}` : `"${t.text}"`);
  const expectPunct = (p: '(' | ')', what: string) => {
    const t = next();
    if (t.kind !== 'punct' || t.text !== p) throw new FilterError(`expected "${p}" ${what}, got ${describe(t)}`, t.pos);
  };
  if (peek().kind === 'end') throw new FilterError('empty filter (write e.g. label = "shoes")', 0);

  const fieldType = (t: Tok): { name: string; type: FieldType } => {
    if (t.kind !== 'word' || FILTER_KEYWORDS.has(t.text.toLowerCase())) throw new FilterError(`expected a field name, got ${describe(t)}`, t.pos);
    if (t.text === ID_FIELD) return { name: t.text, type: 'string' };
    const type = Object.hasOwn(schema, t.text) ? schema[t.text] : undefined;
    if (type === undefined) throw new FilterError(`unknown field "${t.text}"`, t.pos, didYouMean(t.text, [ID_FIELD, ...Object.keys(schema)]));
    return { name: t.text, type };
  };

  /** A literal of the field's type: numbers and booleans unquoted, dates quoted or not, strings quoted or as a bare word. */
  const literal = (field: string, type: FieldType): string | number | boolean => {
    const t = next();
    if (t.kind !== 'word' && t.kind !== 'string') throw new FilterError(`expected a value for "${field}", got ${describe(t)}`, t.pos);
    const shown = t.kind === 'string' ? JSON.stringify(t.text) : t.text;
    const wrong = (want: string) => new FilterError(`field "${field}" is ${want}, got ${shown}`, t.pos);
    switch (type) {
      case 'number': {
        const n = t.kind === 'word' ? parseNumber(t.text) : undefined;
        if (n === undefined) throw wrong('a number');
        return n;
      }
      case 'boolean': {
        const w = t.text.toLowerCase();
        if (t.kind !== 'word' || (w !== 'true' && w !== 'false')) throw wrong('a boolean (true or false)');
        return w === 'true';
      }
      case 'date': {
        const ms = parseDate(t.text);
        if (ms === undefined) throw wrong('a date (ISO 8601: 2024-05-01 or 2024-05-01T10:00:00Z)');
        return isoOf(ms);
      }
      default: {
        // string and list: a quoted string, or a bare word that starts like a name and is no keyword.
        if (t.kind === 'word' && (!/^[A-Za-z_]/.test(t.text) || FILTER_KEYWORDS.has(t.text.toLowerCase()))) {
          throw wrong(`${type === 'list' ? 'a list of strings' : 'a string'} (quote it: "${t.text}")`);
        }
        return t.text;
      }
    }
  };

  const comparison = (): FilterNode => {
    const ft = next();
    const { name, type } = fieldType(ft);
    const opTok = next();
    const bad = (what: string) => new FilterError(`${what} for ${type} field "${name}"`, opTok.pos);
    if (opTok.kind === 'op' && opTok.text === '^=') {
      if (type !== 'string') throw bad('"^=" (prefix) works on strings, not');
      return { op: 'prefix', field: name, value: literal(name, 'string') as string };
    }
    if (opTok.kind === 'op') {
      const cmp = opTok.text as Cmp;
      if ((type === 'boolean' || type === 'list') && cmp !== '=' && cmp !== '!=') throw bad(`"${cmp}" is not defined (use = or !=)`);
      const value = literal(name, type);
      if (type === 'list') {
        const has: FilterNode = { op: 'contains', field: name, value: value as string };
        return cmp === '=' ? has : { op: 'not', arg: has };
      }
      return { op: 'cmp', field: name, cmp, type, value };
    }
    if (isWord(opTok, 'contains')) {
      if (type !== 'list') throw bad('"contains" (list membership) works on lists, not');
      return { op: 'contains', field: name, value: literal(name, 'string') as string };
    }
    if (isWord(opTok, 'between')) {
      if (type !== 'number' && type !== 'date' && type !== 'string') throw bad('"between" is not defined');
      const lo = literal(name, type);
      const andTok = next();
      if (!isWord(andTok, 'and')) throw new FilterError(`expected "and" in "between A and B", got ${describe(andTok)}`, andTok.pos);
      const hi = literal(name, type);
      return {
        op: 'and',
        args: [
          { op: 'cmp', field: name, cmp: '>=', type, value: lo },
          { op: 'cmp', field: name, cmp: '<=', type, value: hi },
        ],
      };
    }
    const negated = isWord(opTok, 'not') && isWord(peek(), 'in');
    if (isWord(opTok, 'in') || negated) {
      if (negated) next();
      const open = peek();
      expectPunct('(', 'after "in"');
      const values: (string | number | boolean)[] = [];
      for (;;) {
        values.push(literal(name, type === 'list' ? 'string' : type));
        const t = next();
        if (t.kind === 'punct' && t.text === ')') break;
        if (t.kind === 'end') throw new FilterError('unclosed "("', open.pos);
        if (t.kind !== 'punct' || t.text !== ',') throw new FilterError(`expected "," or ")" in the list, got ${describe(t)}`, t.pos);
      }
      const node: FilterNode = { op: 'in', field: name, type, values };
      return negated ? { op: 'not', arg: node } : node;
    }
    throw new FilterError(`expected an operator after "${name}" (=, !=, <, <=, >, >=, in, between, ^=, contains), got ${describe(opTok)}`, opTok.pos);
  };

  const primary = (depth: number): FilterNode => {
    const t = peek();
    if (depth > MAX_FILTER_DEPTH) throw new FilterError(`nested too deeply (at most ${MAX_FILTER_DEPTH} levels)`, t.pos);
    if (t.kind === 'punct' && t.text === '(') {
      next();
      const inner = or(depth + 1);
      const close = next();
      if (close.kind === 'end') throw new FilterError('unclosed "("', t.pos);
      if (close.kind !== 'punct' || close.text !== ')') throw new FilterError(`expected ")" to close "(" at ${t.pos}, got ${describe(close)}`, close.pos);
      return inner;
    }
    if (isWord(t, 'not')) {
      next();
      return { op: 'not', arg: primary(depth + 1) };
    }
    if (isWord(t, 'exists') && toks[k + 1].kind === 'punct' && toks[k + 1].text === '(') {
      next();
      next();
      const { name } = fieldType(next());
      expectPunct(')', `to close "exists("`);
      return { op: 'exists', field: name };
    }
    if (t.kind === 'punct' && t.text === ')') throw new FilterError('unmatched ")"', t.pos);
    return comparison();
  };

  const and = (depth: number): FilterNode => {
    const args = [primary(depth)];
    while (isWord(peek(), 'and')) {
      next();
      args.push(primary(depth));
    }
    return args.length === 1 ? args[0] : { op: 'and', args };
  };

  const or = (depth: number): FilterNode => {
    const args = [and(depth)];
    while (isWord(peek(), 'or')) {
      next();
      args.push(and(depth));
    }
    return args.length === 1 ? args[0] : { op: 'or', args };
  };

  const tree = or(0);
  const rest = peek();
  if (rest.kind !== 'end') {
    if (rest.kind === 'punct' && rest.text === ')') throw new FilterError('unmatched ")"', rest.pos);
    throw new FilterError(`unexpected ${describe(rest)} (expected "and", "or" or the end)`, rest.pos);
  }
  return tree;
}
