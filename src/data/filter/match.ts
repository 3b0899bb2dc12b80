/**
 * Matching a parsed filter against one item's fields in memory (docs/filters.md#semantics).
 * The SQL compiler (src/store/pg/filter-sql.ts) gives the same answer for every item; the
 * rules both follow:
 * - a comparison, `in`, `^=` or `contains` on a field the item lacks (or holds with another
 *   type) is false, and `not` of it is true: two-valued logic, never SQL's unknown;
 * - `a != v` is `not (a = v)`, so it is true for items without `a` (like SQL's IS DISTINCT FROM);
 * - strings compare by Unicode code point (SQL: COLLATE "C"), case-sensitively;
 * - dates compare as instants (parseDate), numbers as doubles;
 * - a list field matches `=`/`contains`/`in` when any of its elements equals a value.
 */
import { ID_FIELD, type FieldType, type FieldValue, type Fields, type FilterNode } from '../field-types.ts';
import { parseDate } from '../fields/dates.ts';

type Pred = (fields: Fields, id: string) => boolean;
type Cmp = '=' | '!=' | '<' | '<=' | '>' | '>=';

/** Order two strings by Unicode code point (UTF-16 order differs above U+FFFF), as SQL's COLLATE "C" on UTF-8. */
export function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    // Surrogates (U+D800-DFFF) encode code points above U+FFFF: move them above U+E000-FFFF.
    if (x >= 0xd800 && y >= 0xd800) {
      x += x >= 0xe000 ? -0x800 : 0x2000;
      y += y >= 0xe000 ? -0x800 : 0x2000;
    }
    return x - y;
  }
  return a.length - b.length;
}

function test(cmp: Cmp, c: number): boolean {
  switch (cmp) {
    case '=':
      return c === 0;
    case '!=':
      return c !== 0;
    case '<':
      return c < 0;
    case '<=':
      return c <= 0;
    case '>':
      return c > 0;
    case '>=':
      return c >= 0;
  }
}

/** A function from a stored value to its order against `value` (undefined: not comparable, so false). */
function comparer(type: FieldType, value: string | number | boolean): (v: FieldValue | undefined) => number | undefined {
  switch (type) {
    case 'number':
      return (v) => (typeof v === 'number' ? (v < (value as number) ? -1 : v > (value as number) ? 1 : 0) : undefined);
    case 'boolean':
      return (v) => (typeof v === 'boolean' ? (v === value ? 0 : 1) : undefined);
    case 'date': {
      const t = parseDate(String(value));
      if (t === undefined) throw new Error(`filter: ${JSON.stringify(value)} is not a date`);
      return (v) => {
        const s = typeof v === 'string' ? parseDate(v) : undefined;
        return s === undefined ? undefined : s - t;
      };
    }
    case 'string':
      return (v) => (typeof v === 'string' ? compareCodePoints(v, value as string) : undefined);
    case 'list':
      return (v) => (Array.isArray(v) ? (v.includes(value as string) ? 0 : 1) : undefined);
  }
}

function compile(node: FilterNode): Pred {
  switch (node.op) {
    case 'and': {
      const args = node.args.map(compile);
      return (f, id) => {
        for (const a of args) if (!a(f, id)) return false;
        return true;
      };
    }
    case 'or': {
      const args = node.args.map(compile);
      return (f, id) => {
        for (const a of args) if (a(f, id)) return true;
        return false;
      };
    }
    case 'not': {
      const arg = compile(node.arg);
      return (f, id) => !arg(f, id);
    }
    case 'exists': {
      const name = node.field;
      return name === ID_FIELD ? () => true : (f) => Object.hasOwn(f, name) && f[name] !== undefined;
    }
    case 'prefix': {
      const { field, value } = node;
      if (field === ID_FIELD) return (_f, id) => id.startsWith(value);
      return (f) => {
        const v = f[field];
        return typeof v === 'string' && v.startsWith(value);
      };
    }
    case 'contains': {
      const { field, value } = node;
      return (f) => {
        const v = f[field];
        return Array.isArray(v) && v.includes(value);
      };
    }
    case 'cmp': {
      if (node.type === 'list' && node.cmp !== '=' && node.cmp !== '!=') throw new Error(`filter: "${node.cmp}" is not defined for list field "${node.field}"`);
      const order = comparer(node.type, node.value);
      const { field } = node;
      // != is not(=): true when the field is missing.
      const cmp = node.cmp === '!=' ? '=' : node.cmp;
      const neg = node.cmp === '!=';
      const get = field === ID_FIELD ? (_f: Fields, id: string) => id : (f: Fields) => f[field];
      return (f, id) => {
        const c = order(get(f, id));
        return (c !== undefined && test(cmp, c)) !== neg;
      };
    }
    case 'in': {
      if (node.type === 'string' || node.type === 'number' || node.type === 'boolean' || node.type === 'list') {
        // Exact equality for these types: one Set lookup instead of one comparison per value.
        const set = new Set<unknown>(node.values);
        const { field, type } = node;
        const get = field === ID_FIELD ? (_f: Fields, id: string) => id : (f: Fields) => f[field];
        return (f, id) => {
          const v = get(f, id);
          if (type === 'list') return Array.isArray(v) && v.some((x) => set.has(x));
          return typeof v === type && set.has(v);
        };
      }
      const orders = node.values.map((v) => comparer(node.type, v));
      const { field } = node;
      const get = field === ID_FIELD ? (_f: Fields, id: string) => id : (f: Fields) => f[field];
      return (f, id) => {
        const v = get(f, id);
        for (const o of orders) if (o(v) === 0) return true;
        return false;
      };
    }
  }
}

/** Compile a filter tree once into a fast predicate over an item's fields and id. */
export function compileFilter(node: FilterNode): (fields: Fields, id: string) => boolean {
  return compile(node);
}

/** Whether a filter reads the item's id (callers that must produce the id per row can skip it otherwise). */
export function filterUsesId(node: FilterNode): boolean {
  switch (node.op) {
    case 'and':
    case 'or':
      return node.args.some(filterUsesId);
    case 'not':
      return filterUsesId(node.arg);
    default:
      return node.field === ID_FIELD;
  }
}

/** Whether one item matches a filter (compile once with compileFilter when matching many). */
export function matchesFilter(node: FilterNode, fields: Fields, id: string): boolean {
  return compile(node)(fields, id);
}
