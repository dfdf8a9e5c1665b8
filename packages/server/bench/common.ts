import postgres from 'postgres';
import type { Database } from '../src/db/database.js';
import { pgliteDatabase } from '../src/db/pglite.js';
import { postgresDatabase } from '../src/db/postgres.js';

const DEFAULT_URL = 'postgres://postgres@127.0.0.1:5432/postgres';

/**
 * A fresh database for a benchmark: a new PostgreSQL database `satchel_bench_<random>` on
 * DATABASE_URL (default: local PostgreSQL), dropped at the end; PGlite in memory with `--pglite`
 * or when PostgreSQL does not answer.
 */
export async function benchDatabase(
  args: readonly string[],
): Promise<{ db: Database; label: string; drop(): Promise<void> }> {
  const url = process.env.DATABASE_URL ?? DEFAULT_URL;
  if (!args.includes('--pglite')) {
    const admin = postgres(url, { max: 1, connect_timeout: 3, onnotice: () => {} });
    try {
      await admin`SELECT 1`;
      const name = `satchel_bench_${Math.random().toString(36).slice(2, 8)}`;
      await admin.unsafe(`CREATE DATABASE ${name}`);
      const target = new URL(url);
      target.pathname = `/${name}`;
      const db = postgresDatabase(target.toString(), { max: 20 });
      const version = await db.query<{ v: string }>("SELECT current_setting('server_version') AS v");
      return {
        db,
        label: `PostgreSQL ${version[0]?.v ?? ''} (${target.host})`,
        async drop() {
          await db.close();
          await admin.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
          await admin.end();
        },
      };
    } catch (e) {
      await admin.end({ timeout: 1 }).catch(() => {});
      console.warn(`PostgreSQL at ${url} does not answer (${(e as Error).message}); using PGlite in memory.`);
    }
  }
  const db = await pgliteDatabase();
  return { db, label: 'PGlite (in memory)', drop: () => db.close() };
}

export const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? Number.NaN;
};

export const fmt = (ms: number): string => (ms < 10 ? ms.toFixed(2) : ms.toFixed(1));
