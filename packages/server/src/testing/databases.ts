import postgres from 'postgres';
import type { Database } from '../db/database.js';
import { pgliteDatabase } from '../db/pglite.js';
import { postgresDatabase } from '../db/postgres.js';

/** The PostgreSQL the `*.pg.test.ts` files use. */
export const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/** Resolves true when PostgreSQL answers at {@link DATABASE_URL}. */
export async function postgresReachable(url = DATABASE_URL): Promise<boolean> {
  const sql = postgres(url, { max: 1, connect_timeout: 3, onnotice: () => {} });
  try {
    await sql`SELECT 1`;
    return true;
  } catch {
    return false;
  } finally {
    await sql.end({ timeout: 1 }).catch(() => {});
  }
}

/**
 * Decides whether a pg test file runs. With CI=true an unreachable PostgreSQL throws (the file fails);
 * otherwise the file is skipped with a message saying how to enable it.
 */
export async function requirePostgres(file: string): Promise<boolean> {
  if (await postgresReachable()) return true;
  const message = `PostgreSQL does not answer at ${DATABASE_URL}.`;
  if (process.env.CI === 'true' || process.env.CI === '1')
    throw new Error(`${message} (CI=true: pg tests are required)`);
  console.warn(
    `[${file}] SKIPPED: ${message} Set DATABASE_URL to a reachable PostgreSQL to run these tests.`,
  );
  return false;
}

export interface FreshDatabase {
  url: string;
  /** Opens a new connection pool on the fresh database (a second "server instance"). */
  open(max?: number): Database;
  /** Drops the database (closes what `open` returned first). */
  drop(): Promise<void>;
}

/** Creates a new empty database `satchel_test_<random>` on the test PostgreSQL. */
export async function freshPostgresDatabase(): Promise<FreshDatabase> {
  const name = `satchel_test_${Math.random().toString(36).slice(2, 10)}`;
  const admin = postgres(DATABASE_URL, { max: 1, onnotice: () => {} });
  await admin.unsafe(`CREATE DATABASE ${name}`);
  const url = new URL(DATABASE_URL);
  url.pathname = `/${name}`;
  const opened: Database[] = [];
  return {
    url: url.toString(),
    open(max) {
      const db = postgresDatabase(url.toString(), max === undefined ? {} : { max });
      opened.push(db);
      return db;
    },
    async drop() {
      await Promise.all(opened.map((d) => d.close().catch(() => {})));
      await admin.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin.end({ timeout: 2 });
    },
  };
}

/** An in-memory PGlite database. */
export function memoryPglite(): Promise<Database> {
  return pgliteDatabase();
}
