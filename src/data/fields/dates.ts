/**
 * Date field values (docs/filters.md#dates): ISO 8601 strings, compared as instants. One parser
 * for the sidecar reader, checkFields, the filter parser and the in-memory matcher, so that all
 * agree on what is a date; the SQL compiler (src/store/pg/filter-sql.ts) mirrors DATE_PATTERN.
 *
 * Accepted: `YYYY-MM-DD` (midnight UTC) and `YYYY-MM-DD[T ]HH:MM[:SS[.fraction]][Z|+HH:MM|-HH:MM]`;
 * a time without a zone is UTC (never the machine's local zone, so results do not depend on
 * where a query runs). Years 0001-9999. Fractions beyond milliseconds are truncated, which is
 * why values are stored canonicalised (canonicalDate).
 */

/** The shapes accepted as dates; groups: year, month, day, hour, minute, second, fraction, zone. */
export const DATE_PATTERN = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:\d{2})?)?$/;

/** Milliseconds since the epoch for an ISO date string, or undefined when it is not a valid date. */
export function parseDate(s: string): number | undefined {
  const m = DATE_PATTERN.exec(s);
  if (!m) return undefined;
  const [y, mo, d, h = 0, mi = 0, sec = 0] = [m[1], m[2], m[3], m[4], m[5], m[6]].map((x) => (x === undefined ? undefined : Number(x))) as number[];
  if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > daysIn(y, mo) || h > 23 || mi > 59 || sec > 59) return undefined;
  const ms = m[7] ? Number(m[7].slice(0, 3).padEnd(3, '0')) : 0;
  let offset = 0;
  if (m[8] && m[8] !== 'Z') {
    const oh = Number(m[8].slice(1, 3));
    const om = Number(m[8].slice(4, 6));
    if (oh > 23 || om > 59) return undefined;
    offset = (m[8][0] === '-' ? -1 : 1) * (oh * 60 + om) * 60_000;
  }
  // setUTCFullYear: Date.UTC would read years 0-99 as 1900-1999.
  const t = new Date(0);
  t.setUTCFullYear(y, mo - 1, d);
  t.setUTCHours(h, mi, sec, ms);
  const out = t.getTime() - offset;
  // A zone offset can push 0001-01-01 or 9999-12-31 out of the four-digit years both JS and SQL print.
  return out < MIN_DATE || out > MAX_DATE ? undefined : out;
}

const MIN_DATE = -62_135_596_800_000; // 0001-01-01T00:00:00.000Z
const MAX_DATE = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

function daysIn(y: number, mo: number): number {
  return mo === 2 ? (y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0) ? 29 : 28) : [4, 6, 9, 11].includes(mo) ? 30 : 31;
}

/**
 * The stored form of a date: `YYYY-MM-DD` stays as written (a calendar day), anything with a
 * time becomes `YYYY-MM-DDTHH:MM:SS.sssZ` (UTC, milliseconds); undefined when not a date.
 */
export function canonicalDate(s: string): string | undefined {
  const t = parseDate(s);
  if (t === undefined) return undefined;
  return s.length === 10 ? s : isoOf(t);
}

/** `YYYY-MM-DDTHH:MM:SS.sssZ` for milliseconds since the epoch. */
export function isoOf(t: number): string {
  return new Date(t).toISOString();
}
