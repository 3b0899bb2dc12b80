/**
 * What is known about each item besides its vector: a small JSON object of typed fields
 * (docs/filters.md). Fields never change scores; they restrict searches (`--where`), group
 * results and label them.
 */

/** One field value. Dates are ISO 8601 strings (`2024-05-01` or `2024-05-01T10:00:00Z`) typed `date` in the schema. */
export type FieldValue = string | number | boolean | string[];

/** The fields of one item. */
export type Fields = Record<string, FieldValue>;

/** The type of a field, fixed per index by the first value written (a later value of another type is an error). */
export type FieldType = 'string' | 'number' | 'boolean' | 'date' | 'list';

/** Field name -> type, for an index. */
export type FieldSchema = Record<string, FieldType>;

/** A parsed filter expression (src/data/filter/parse.ts); evaluated in memory or compiled to SQL, never run as code. */
export type FilterNode =
  | { op: 'and' | 'or'; args: FilterNode[] }
  | { op: 'not'; arg: FilterNode }
  | { op: 'exists'; field: string }
  | { op: 'cmp'; field: string; cmp: '=' | '!=' | '<' | '<=' | '>' | '>='; type: FieldType; value: string | number | boolean }
  | { op: 'in'; field: string; type: FieldType; values: (string | number | boolean)[] }
  | { op: 'prefix'; field: string; value: string }
  | { op: 'contains'; field: string; value: string };

/** The built-in field every item has: its id (the path relative to the indexed folder), a string; no user field may take the name. */
export const ID_FIELD = 'id';

/** Words of the filter language (docs/filters.md), any case: not usable as field names or unquoted string values. */
export const FILTER_KEYWORDS: ReadonlySet<string> = new Set(['and', 'or', 'not', 'in', 'between', 'contains', 'exists', 'true', 'false']);
