/** The database handle every Postgres file uses: statements and transactions (PGlite or a server). */

/** Anything that runs a parameterised statement. */
export interface Sql {
  query<T = Record<string, unknown>>(text: string, params?: unknown[]): Promise<T[]>;
  /** `COPY ... FROM STDIN (FORMAT binary)` with this data (a server's transactions only; PGlite has none). */
  copyIn?(text: string, data: Buffer): Promise<void>;
}

/** A database handle: statements, transactions, close. */
export interface Db extends Sql {
  readonly kind: 'pglite' | 'postgres';
  /** Run fn inside BEGIN..COMMIT on one connection; ROLLBACK when it throws. */
  transaction<T>(fn: (tx: Sql) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}
