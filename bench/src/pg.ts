import { readFileSync } from 'node:fs';
import postgres from 'postgres';

/** The PostgreSQL the benchmarks run against (an admin connection: databases are created and dropped). */
export const ADMIN_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export interface BenchDatabase {
  readonly name: string;
  readonly url: string;
  /** Drops the database, closing any connection still open on it. Idempotent. */
  drop(): Promise<void>;
}

const live = new Set<BenchDatabase>();

/** Creates an empty database `satchel_bench_<random>` (dropped by {@link dropAll} on exit or interrupt). */
export async function freshDatabase(tag = ''): Promise<BenchDatabase> {
  const name = `satchel_bench_${tag ? `${tag}_` : ''}${Math.random().toString(36).slice(2, 10)}`;
  const admin = postgres(ADMIN_URL, { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end({ timeout: 2 });
  }
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  let dropped = false;
  const db: BenchDatabase = {
    name,
    url: url.toString(),
    async drop() {
      if (dropped) return;
      dropped = true;
      live.delete(db);
      const a = postgres(ADMIN_URL, { max: 1, onnotice: () => {} });
      try {
        await a.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await a.end({ timeout: 2 });
      }
    },
  };
  live.add(db);
  return db;
}

/** Drops every database this process created and has not dropped yet. */
export async function dropAll(): Promise<void> {
  await Promise.allSettled([...live].map((d) => d.drop()));
}

/** Resolves true when PostgreSQL answers. */
export async function postgresReachable(): Promise<boolean> {
  const sql = postgres(ADMIN_URL, { max: 1, connect_timeout: 3, onnotice: () => {} });
  try {
    await sql`SELECT 1`;
    return true;
  } catch {
    return false;
  } finally {
    await sql.end({ timeout: 1 }).catch(() => {});
  }
}

/** The PostgreSQL server version string. */
export async function postgresVersion(): Promise<string> {
  const sql = postgres(ADMIN_URL, { max: 1, onnotice: () => {} });
  try {
    const rows = await sql<{ v: string }[]>`SELECT current_setting('server_version') AS v`;
    return rows[0]?.v ?? 'unknown';
  } finally {
    await sql.end({ timeout: 1 });
  }
}

function processCpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}

/**
 * CPU seconds used so far by the PostgreSQL backends connected to database `name` (this machine only;
 * other databases on the same server are not counted). Compare two readings taken while the same pool is
 * open.
 */
export async function backendCpuSeconds(name: string): Promise<number> {
  const admin = postgres(ADMIN_URL, { max: 1, onnotice: () => {} });
  try {
    const rows = await admin<{ pid: number }[]>`SELECT pid FROM pg_stat_activity WHERE datname = ${name}`;
    return rows.reduce((sum, r) => sum + processCpuSeconds(r.pid), 0);
  } finally {
    await admin.end({ timeout: 1 });
  }
}
