import postgres from 'postgres';
import type { Database, Queryable } from './database.js';

export interface PostgresOptions {
  /** Pool size (default 10). */
  max?: number;
}

/**
 * Connects to PostgreSQL at `url`. Connections open lazily: the first query fails if the server
 * does not answer.
 *
 * Statements with parameters are prepared once per connection and then run in one round trip
 * (named prepared statements, which need a session per client: behind PgBouncer in transaction mode,
 * set its `max_prepared_statements`, or add `?prepare=false` to `url` to turn them off).
 */
export function postgresDatabase(url: string, options: PostgresOptions = {}): Database {
  const sql = postgres(url, {
    max: options.max ?? 10,
    onnotice: () => {},
    connect_timeout: 5,
    idle_timeout: 30,
  });
  const wrap = (s: postgres.Sql | postgres.TransactionSql): Queryable => ({
    async query<Row>(text: string, params: readonly unknown[] = []) {
      const rows = await s.unsafe(text, params as postgres.ParameterOrJSON<never>[], { prepare: true });
      return [...rows] as Row[];
    },
  });
  const root = wrap(sql);
  return {
    kind: 'postgres',
    query: root.query,
    async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
      return (await sql.begin((tx) => fn(wrap(tx)))) as T;
    },
    async close() {
      await sql.end({ timeout: 5 });
    },
  };
}
