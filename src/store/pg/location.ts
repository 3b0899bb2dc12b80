/**
 * Postgres store locations: `postgres://user:pass@host:5432/db?index=NAME` (a server, through
 * the `pg` driver) or `pglite:DIR?index=NAME` (PGlite in-process, data in DIR). One database
 * holds many indexes; `index` names one (default `main`).
 */
import path from 'node:path';

/** Identifiers users choose (index names) must match this: they become table names. */
export const NAME_PATTERN = /^[a-z_][a-z0-9_]{0,62}$/;

/** The default index name inside a database. */
export const DEFAULT_INDEX = 'main';

/** A parsed Postgres store location. */
export interface PgLocation {
  kind: 'pglite' | 'postgres';
  /** pglite: absolute data folder. */
  dataDir?: string;
  /** postgres: the connection string without lookalike's own parameters. */
  connectionString?: string;
  /** Index name inside the database (validated). */
  index: string;
  /** As the user wrote it. */
  location: string;
}

/** True when a store location is a Postgres one (postgres://, postgresql://, pglite:). */
export function isPgLocation(location: string): boolean {
  return /^(postgres|postgresql):\/\//i.test(location) || /^pglite:/i.test(location);
}

/** Check a user-chosen identifier against NAME_PATTERN; the error names what it is. */
export function checkName(name: string, what: string): string {
  if (!NAME_PATTERN.test(name)) throw new Error(`${what} "${name}": expected lowercase letters, digits and _ (starting with a letter or _), at most 63 characters`);
  return name;
}

/** Parse `postgres://...` or `pglite:DIR`, with an optional `?index=NAME`. */
export function parsePgLocation(location: string): PgLocation {
  if (/^pglite:/i.test(location)) {
    const rest = location.slice('pglite:'.length);
    const q = rest.indexOf('?');
    const dir = q < 0 ? rest : rest.slice(0, q);
    const params = new URLSearchParams(q < 0 ? '' : rest.slice(q + 1));
    for (const k of params.keys()) if (k !== 'index') throw new Error(`${location}: unknown parameter "${k}" (only index=NAME)`);
    if (!dir) throw new Error(`${location}: expected pglite:DIR (a data folder)`);
    return { kind: 'pglite', dataDir: path.resolve(dir.replace(/^\/\/(?=\/)/, '')), index: checkName(params.get('index') ?? DEFAULT_INDEX, `${location}: index name`), location };
  }
  let url: URL;
  try {
    url = new URL(location);
  } catch {
    throw new Error(`${location}: not a valid postgres:// URL`);
  }
  const index = checkName(url.searchParams.get('index') ?? DEFAULT_INDEX, `${location}: index name`);
  url.searchParams.delete('index');
  return { kind: 'postgres', connectionString: url.toString(), index, location };
}

/** The location with the password hidden, for messages and logs. */
export function redact(location: string): string {
  return location.replace(/^(postgres(?:ql)?:\/\/[^:/@]*:)[^@]*@/i, '$1***@');
}

/** The same database with another index name (`?index=NAME`), as a location string. */
export function withIndex(loc: PgLocation, index: string): string {
  checkName(index, 'index name');
  if (loc.kind === 'pglite') return `pglite:${loc.dataDir}?index=${index}`;
  const url = new URL(loc.location);
  url.searchParams.set('index', index);
  return url.toString();
}
