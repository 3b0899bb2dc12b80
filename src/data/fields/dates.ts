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
  const y = +m[1];
  const mo = +m[2];
  const d = +m[3];
  const h = m[4] === undefined ? 0 : +m[4];
  const mi = m[5] === undefined ? 0 : +m[5];
  const sec = m[6] === undefined ? 0 : +m[6];
  if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > daysIn(y, mo) || h > 23 || mi > 59 || sec > 59) return undefined;
  const ms = m[7] ? +m[7].slice(0, 3).padEnd(3, '0') : 0;
  let offset = 0;
  const z = m[8];
  if (z && z !== 'Z') {
    const oh = +z.slice(1, 3);
    const om = +z.slice(4, 6);
    if (oh > 23 || om > 59) return undefined;
    offset = (z[0] === '-' ? -1 : 1) * (oh * 60 + om) * 60_000;
  }
  let t: number;
  if (y >= 100) t = Date.UTC(y, mo - 1, d, h, mi, sec, ms);
  else {
    // Date.UTC reads years 0-99 as 1900-1999.
    const dt = new Date(0);
    dt.setUTCFullYear(y, mo - 1, d);
    dt.setUTCHours(h, mi, sec, ms);
    t = dt.getTime();
  }
  const out = t - offset;
  // A zone offset can push 0001-01-01 or 9999-12-31 out of the four-digit years both JS and SQL print.
  return out < MIN_DATE || out > MAX_DATE ? undefined : out;
}

const MIN_DATE = -62_135_596_800_000; // 0001-01-01T00:00:00.000Z
const MAX_DATE = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

const DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function daysIn(y: number, mo: number): number {
  return mo === 2 && y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0) ? 29 : DAYS[mo - 1];
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
