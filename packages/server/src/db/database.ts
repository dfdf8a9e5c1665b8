/** Something that runs SQL with positional parameters (`$1`, `$2`, …). */
export interface Queryable {
  /**
   * Runs one statement and returns its rows.
   * Throws the driver's error; unique violations carry `code === '23505'` and the constraint name.
   * On PostgreSQL a statement with parameters is prepared once per connection and kept: keep `sql`
   * fixed and pass what varies in `params` (a list as one JSON parameter, not a longer text).
   */
  query<Row = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<Row[]>;
}

/**
 * The one interface the server uses to reach its database, implemented for PostgreSQL
 * (`postgres` driver) and embedded PGlite.
 */
export interface Database extends Queryable {
  /** `postgres` for a server, `pglite` for the embedded engine (one connection, transactions serialised). */
  readonly kind: 'postgres' | 'pglite';
  /**
   * Runs `fn` in one transaction: committed when the promise resolves, rolled back when it rejects
   * (the rejection is rethrown).
   */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  /** Closes every connection. The instance cannot be used afterwards. */
  close(): Promise<void>;
}

export interface DbError {
  code: string;
  constraint: string | undefined;
}

/** Reads the SQLSTATE and constraint of a driver error from either backend, or null. */
export function dbError(e: unknown): DbError | null {
  if (typeof e !== 'object' || e === null) return null;
  const r = e as Record<string, unknown>;
  if (typeof r.code !== 'string') return null;
  const constraint =
    typeof r.constraint_name === 'string'
      ? r.constraint_name
      : typeof r.constraint === 'string'
        ? r.constraint
        : undefined;
  return { code: r.code, constraint };
}
