import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEVELOPMENT_TOKEN_SECRET, openDatabase, Tokens } from '@satchel/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const ADMIN_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const name = `satchel_test_${Math.random().toString(36).slice(2, 10)}`;
const url = new URL(ADMIN_URL);
url.pathname = `/${name}`;
const dataDir = mkdtempSync(join(tmpdir(), 'satchel-instances-'));

async function reachable(): Promise<boolean> {
  try {
    const db = await openDatabase({ databaseUrl: ADMIN_URL, poolSize: 1 });
    try {
      await db.query('SELECT 1');
      return true;
    } finally {
      await db.close();
    }
  } catch {
    if (process.env.CI === 'true' || process.env.CI === '1')
      throw new Error(`PostgreSQL does not answer at ${ADMIN_URL} (CI=true: pg tests are required)`);
    console.warn(`[main.pg.test.ts] SKIPPED: PostgreSQL does not answer at ${ADMIN_URL}.`);
    return false;
  }
}
const run = await reachable();

const freePort = () =>
  new Promise<number>((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });

type Readiness = {
  details?: {
    runner?: { instanceId: string; running: boolean };
    projections: { projection: string; eventsBehind: number; leaseOwner: string | null }[] | null;
  };
};

class Instance {
  child!: ChildProcess;
  port = 0;
  exited!: Promise<number | null>;
  async start(): Promise<void> {
    this.port = await freePort();
    const env = { ...process.env };
    delete env.NODE_ENV;
    delete env.SATCHEL_TOKEN_SECRET;
    // Node with tsx as a loader, so SIGTERM reaches the server itself (see main.test.ts).
    this.child = spawn(process.execPath, ['--import', 'tsx', 'apps/sync-server/src/main.ts'], {
      cwd: root,
      env: {
        ...env,
        TSX_TSCONFIG_PATH: 'apps/sync-server/tsconfig.json',
        SATCHEL_ENV: 'development',
        DATABASE_URL: url.toString(),
        PORT: String(this.port),
        HOST: '127.0.0.1',
        SATCHEL_DATA_DIR: dataDir,
        SATCHEL_MEDIA_DIR: '/dev/null/no-media',
        LOG_LEVEL: 'warn',
      },
      stdio: 'ignore',
    });
    this.exited = new Promise((r) => this.child.once('exit', (code) => r(code)));
  }
  async readyz(): Promise<Readiness | null> {
    return fetch(`http://127.0.0.1:${this.port}/readyz`).then(
      async (r) => (r.ok ? ((await r.json()) as Readiness) : null),
      () => null,
    );
  }
  async stop(): Promise<number | null> {
    if (this.child.exitCode === null) this.child.kill('SIGTERM');
    return this.exited;
  }
}

async function until<T>(what: string, probe: () => Promise<T | null | undefined | false>, ms = 90_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

const a = new Instance();
const b = new Instance();

describe.skipIf(!run)('reference servers side by side on one PostgreSQL', { timeout: 240_000 }, () => {
  beforeAll(async () => {
    const admin = await openDatabase({ databaseUrl: ADMIN_URL, poolSize: 1 });
    await admin.query(`CREATE DATABASE ${name}`);
    await admin.close();
    await a.start();
    await b.start();
  }, 60_000);
  afterAll(async () => {
    await Promise.all([a.stop(), b.stop()].map((p) => p.catch(() => null)));
    const admin = await openDatabase({ databaseUrl: ADMIN_URL, poolSize: 1 });
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('both run the runner, exactly one holds the studio accounting, and the other takes over when it stops', async () => {
    // Both caught up, and both see the same single lease holder: one of the two.
    const [ra, rb] = await until('both instances caught up under one lease', async () => {
      const [x, y] = await Promise.all([a.readyz(), b.readyz()]);
      const px = x?.details?.projections?.[0];
      const py = y?.details?.projections?.[0];
      if (!px || !py || px.eventsBehind !== 0 || !px.leaseOwner || px.leaseOwner !== py.leaseOwner)
        return null;
      return [x, y] as const;
    });
    const ids = [ra.details?.runner?.instanceId, rb.details?.runner?.instanceId];
    expect(ra.details?.runner?.running && rb.details?.runner?.running).toBe(true);
    expect(ids[0]).not.toBe(ids[1]);
    const holder = ra.details?.projections?.[0]?.leaseOwner;
    expect(ids).toContain(holder);
    const [stopped, survivor] = holder === ids[0] ? [a, b] : [b, a];
    const survivorId = holder === ids[0] ? ids[1] : ids[0];

    expect(await stopped.stop()).toBe(0);
    // New events after the holder stopped: the survivor takes the lease (given up, not lapsed) and catches up.
    const { token } = await new Tokens(DEVELOPMENT_TOKEN_SECRET).mint({
      kind: 'operator',
      operatorId: 'ops@example.com',
      role: 'admin',
    });
    const created = await fetch(`http://127.0.0.1:${survivor.port}/v1/admin/accounts`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ accountId: 'after-the-handover', name: 'After the handover' }),
    });
    expect(created.ok).toBe(true);
    const after = await until('the survivor to run the studio accounting', async () => {
      const p = (await survivor.readyz())?.details?.projections?.[0];
      return p && p.leaseOwner === survivorId && p.eventsBehind === 0 ? p : null;
    });
    expect(after.leaseOwner).toBe(survivorId);
  });
});
