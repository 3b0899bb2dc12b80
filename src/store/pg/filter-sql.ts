/**
 * A parsed filter (src/data/filter/parse.ts) as a parameterised SQL boolean expression over a
 * jsonb fields column and the text id column. Field names and values travel only as $n
 * parameters; column names come from code. Every leaf is two-valued (never NULL, even for a NULL fields column), so
 * `not` and missing fields behave exactly as in src/data/filter/match.ts (docs/filters.md#semantics):
 * equality and list membership use jsonb containment (`@>`, served by a GIN index), order on
 * strings uses COLLATE "C" (code points), numbers compare as jsonb numerics, dates as timestamptz.
 */
import { ID_FIELD, type FieldType, type FilterNode } from '../../data/field-types.ts';

/** The shape of a stored date (src/data/fields/dates.ts DATE_PATTERN) in POSIX regex syntax. */
const DATE_SHAPE = `'^[0-9]{4}-[0-9]{2}-[0-9]{2}([T ][0-9]{2}:[0-9]{2}(:[0-9]{2}([.][0-9]{1,9})?)?(Z|[+-][0-9]{2}:[0-9]{2})?)?$'`;
const COLUMN = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$/;
type Cmp = '=' | '!=' | '<' | '<=' | '>' | '>=';

/**
 * Compile a filter to `{ sql, params }`: `sql` is a boolean expression using $firstParam.. for
 * `params`, true exactly for the rows compileFilter accepts. `fields` and `id` are column names
 * (optionally table-qualified), given by code.
 */
export function filterSql(node: FilterNode, o: { fields: string; id: string; firstParam: number }): { sql: string; params: unknown[] } {
  for (const c of [o.fields, o.id]) if (!COLUMN.test(c)) throw new Error(`filterSql: ${JSON.stringify(c)} is not a column name`);
  const F = o.fields;
  const ID = o.id;
  const params: unknown[] = [];
  const p = (v: unknown, cast: string) => {
    params.push(v);
    return `$${o.firstParam + params.length - 1}::${cast}`;
  };
  const safe = (expr: string) => `COALESCE(${expr}, false)`;
  // Not COALESCE: that would hide `@>` and `?` from the GIN index; `F IS NOT NULL AND` is two-valued and keeps them indexable.
  const contains = (field: string, v: unknown) => `(${F} IS NOT NULL AND ${F} @> ${p(JSON.stringify({ [field]: v }), 'jsonb')})`;

  /** `field <cmp> value` for one value, without the != negation. */
  const leaf = (field: string, type: FieldType, cmp: Exclude<Cmp, '!='>, value: string | number | boolean): string => {
    // Equality is byte equality under any deterministic collation; plain `=` keeps the id index usable.
    if (field === ID_FIELD) return cmp === '=' ? `(${ID} = ${p(String(value), 'text')})` : `(${ID} COLLATE "C" ${cmp} ${p(String(value), 'text')})`;
    if (type === 'list') {
      if (cmp !== '=') throw new Error(`filter: "${cmp}" is not defined for list field "${field}"`);
      return contains(field, [value]);
    }
    if (cmp === '=' && type !== 'date') return contains(field, value);
    const k = p(field, 'text');
    switch (type) {
      case 'number':
        return safe(`jsonb_typeof(${F}->${k}) = 'number' AND (${F}->${k}) ${cmp} ${p(JSON.stringify(value), 'jsonb')}`);
      case 'string':
        return safe(`jsonb_typeof(${F}->${k}) = 'string' AND (${F}->>${k}) COLLATE "C" ${cmp} ${p(value, 'text')}`);
      case 'boolean':
        return safe(`jsonb_typeof(${F}->${k}) = 'boolean' AND (${F}->${k}) ${cmp} ${p(JSON.stringify(value), 'jsonb')}`);
      case 'date': {
        // CASE so the cast runs only on values shaped like dates; a time without a zone is UTC.
        const v = `(${F}->>${k})`;
        const instant = `(${v} || CASE WHEN ${v} ~ '(Z|[+-][0-9]{2}:[0-9]{2})$' THEN '' ELSE 'Z' END)::timestamptz`;
        return safe(`CASE WHEN jsonb_typeof(${F}->${k}) = 'string' AND ${v} ~ ${DATE_SHAPE} THEN ${instant} ${cmp} ${p(value, 'timestamptz')} ELSE false END`);
      }
    }
  };

  const compile = (n: FilterNode): string => {
    switch (n.op) {
      case 'and':
        return n.args.length ? `(${n.args.map(compile).join(' AND ')})` : 'true';
      case 'or':
        return n.args.length ? `(${n.args.map(compile).join(' OR ')})` : 'false';
      case 'not':
        return `(NOT ${compile(n.arg)})`;
      case 'exists':
        return n.field === ID_FIELD ? 'true' : `(${F} IS NOT NULL AND ${F} ? ${p(n.field, 'text')})`;
      case 'contains':
        return contains(n.field, [n.value]);
      case 'prefix':
        if (n.field === ID_FIELD) return `starts_with(${ID}, ${p(n.value, 'text')})`;
        {
          const k = p(n.field, 'text');
          return safe(`jsonb_typeof(${F}->${k}) = 'string' AND starts_with(${F}->>${k}, ${p(n.value, 'text')})`);
        }
      case 'cmp':
        return n.cmp === '!=' ? `(NOT ${leaf(n.field, n.type, '=', n.value)})` : leaf(n.field, n.type, n.cmp, n.value);
      case 'in':
        return n.values.length ? `(${n.values.map((v) => leaf(n.field, n.type, '=', v)).join(' OR ')})` : 'false';
    }
  };
  return { sql: compile(node), params };
}
