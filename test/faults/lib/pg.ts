import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Database, postgresDatabase, type Queryable } from '@satchel/server';

/** The shared PostgreSQL the fault tests create their scratch databases on (never restarted by them). */
export const ADMIN_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/** A new empty database on `adminUrl`; `drop()` removes it. */
export async function freshDatabase(
  adminUrl = ADMIN_URL,
  prefix = 'satchel_faults',
): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `${prefix}_${Math.random().toString(36).slice(2, 10)}`;
  const admin = postgresDatabase(adminUrl, { max: 1 });
  await admin.query(`CREATE DATABASE ${name}`);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => {});
      await admin.close();
    },
  };
}

/**
 * Row count and an md5 of every row (in a stable order) of every table of the public schema but the
 * request limiter's counters (`rate_limits`: every request counts there, refused or not, by design), and
 * without `device_cursors.last_sync_at`: two equal fingerprints mean no data was inserted, updated or
 * deleted in between.
 */
export async function fingerprint(q: Queryable): Promise<Record<string, { rows: number; md5: string }>> {
  const tables = await q.query<{ table_name: string }>(
    `SELECT table_name FROM information_schema.tables
     WHERE table_schema = 'public' AND table_type = 'BASE TABLE' AND table_name <> 'rate_limits'
     ORDER BY table_name`,
  );
  const out: Record<string, { rows: number; md5: string }> = {};
  for (const { table_name } of tables) {
    // When a device last synced is touched by a sync whose events are all refused (it did sync); its
    // cursor (last_seq) must not move.
    const row = table_name === 'device_cursors' ? `(to_jsonb(t) - 'last_sync_at')::text` : 't::text';
    const rows = await q.query<{ n: string | number; h: string | null }>(
      `SELECT count(*) AS n, md5(coalesce(string_agg(${row}, E'\\n' ORDER BY ${row}), '')) AS h FROM "${table_name}" t`,
    );
    out[table_name] = { rows: Number(rows[0]?.n ?? 0), md5: rows[0]?.h ?? '' };
  }
  return out;
}

/** A free TCP port on 127.0.0.1 (free when asked; bind it soon). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

function pgBinDir(): string {
  try {
    return execFileSync('pg_config', ['--bindir'], { encoding: 'utf8' }).trim();
  } catch {
    const root = '/usr/lib/postgresql';
    const versions = existsSync(root) ? readdirSync(root).sort((a, b) => Number(b) - Number(a)) : [];
    if (versions[0] === undefined)
      throw new Error('No PostgreSQL binaries found (pg_config or /usr/lib/postgresql)');
    return join(root, versions[0], 'bin');
  }
}

/**
 * A PostgreSQL cluster of the test's own, in a temporary directory on a free port, that the test may stop
 * and start at will (the shared cluster on 5432 is never touched). As root, the server runs as `postgres`
 * (PostgreSQL refuses to run as root).
 */
export class ScratchCluster {
  readonly dir: string;
  readonly port: number;
  private readonly bin = pgBinDir();
  private readonly asRoot = process.getuid?.() === 0;

  private constructor(dir: string, port: number) {
    this.dir = dir;
    this.port = port;
  }

  /** Creates (initdb) and starts a cluster. */
  static async create(): Promise<ScratchCluster> {
    const dir = mkdtempSync(join(tmpdir(), 'satchel-faults-pg-'));
    const cluster = new ScratchCluster(dir, await freePort());
    if (cluster.asRoot) {
      const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
      const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
      chownSync(dir, uid, gid);
      chmodSync(dir, 0o700);
    }
    cluster.run('initdb', ['-D', cluster.dataDir, '-A', 'trust', '-U', 'postgres', '--no-sync']);
    cluster.start();
    return cluster;
  }

  get dataDir(): string {
    return join(this.dir, 'data');
  }

  get url(): string {
    return `postgres://postgres@127.0.0.1:${this.port}/postgres`;
  }

  private run(tool: string, args: string[]): string {
    const path = join(this.bin, tool);
    const [cmd, argv] = this.asRoot ? ['runuser', ['-u', 'postgres', '--', path, ...args]] : [path, args];
    return execFileSync(cmd, argv, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000 });
  }

  /** Starts the server and waits until it accepts connections. */
  start(): void {
    this.run('pg_ctl', [
      '-D',
      this.dataDir,
      '-o',
      `-p ${this.port} -k ${this.dir} -c listen_addresses=127.0.0.1 -c max_connections=60`,
      '-l',
      join(this.dir, 'log'),
      '-w',
      '-t',
      '60',
      'start',
    ]);
  }

  /** Stops the server: `immediate` is a crash (no checkpoint, recovery on the next start), `fast` a clean stop. */
  stop(mode: 'immediate' | 'fast' = 'immediate'): void {
    this.run('pg_ctl', ['-D', this.dataDir, '-m', mode, '-w', '-t', '60', 'stop']);
  }

  /** Stops the server (if running) and removes the directory. */
  destroy(): void {
    try {
      this.stop('immediate');
    } catch {}
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Opens `url` as the server would (a small pool). */
export function openDb(url: string, max = 2): Database {
  return postgresDatabase(url, { max });
}
