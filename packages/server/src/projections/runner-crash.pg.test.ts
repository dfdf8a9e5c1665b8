// The projection runner in a child process, killed with SIGKILL at random points while the merge keeps
// writing: after every kill the projection's tables equal a recompute from the events up to its
// checkpoint (nothing lost, nothing counted twice), and it catches up after the last restart.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { policy } from '@satchel/core';
import { build } from 'esbuild';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../db/database.js';
import { createSatchelServer, type SatchelServer } from '../server.js';
import { type FreshDatabase, freshPostgresDatabase, requirePostgres } from '../testing/databases.js';
import { seedHistory } from '../testing/history.js';
import { feedUpTo, readStudio, recomputeStudio } from '../testing/studio-reference.js';
import { STUDIO_ACCOUNTING } from './studio-accounting.js';

const run = await requirePostgres('runner-crash.pg.test.ts');
const root = (p: string) => fileURLToPath(new URL(`../../../../${p}`, import.meta.url));
const KILLS = 22;
const TITLES = ['night-train', 'harbour-lights', 'quiet-river'];

let fresh: FreshDatabase;
let db: Database;
let server: SatchelServer;
let bundle: string;
const clock = { now: Date.UTC(2026, 3, 1, 8) };

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function startChild(batchSize: number): {
  child: ChildProcess;
  batches: () => number;
  exited: Promise<void>;
} {
  const child = spawn(process.execPath, [bundle], {
    env: {
      ...process.env,
      DATABASE_URL: fresh.url,
      INSTANCE_ID: 'crash-runner',
      BATCH_SIZE: String(batchSize),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let batches = 0;
  child.stdout?.on('data', (d: Buffer) => {
    batches += (d.toString().match(/^batch /gm) ?? []).length;
  });
  child.stderr?.on('data', () => {});
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  return { child, batches: () => batches, exited };
}

async function checkpoint(): Promise<{ generation: number; position: number }> {
  const rows = await db.query<{ generation: number; position: string }>(
    `SELECT generation, position FROM projection_checkpoints WHERE projection = $1 AND status = 'live'`,
    [STUDIO_ACCOUNTING],
  );
  return { generation: Number(rows[0]?.generation), position: Number(rows[0]?.position) };
}

describe.skipIf(!run)('projection runner killed under merge load (PostgreSQL)', () => {
  beforeAll(async () => {
    const outfile = root('packages/server/node_modules/.satchel-projection/child.mjs');
    mkdirSync(fileURLToPath(new URL('.', `file://${outfile}`)), { recursive: true });
    await build({
      entryPoints: [root('packages/server/src/testing/projection-child.ts')],
      outfile,
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      packages: 'external',
      tsconfig: root('tsconfig.json'),
      logLevel: 'error',
    });
    bundle = outfile;
    fresh = await freshPostgresDatabase();
    db = fresh.open();
    server = await createSatchelServer({
      db,
      tokenSecret: 'test-secret-0123456789abcdef',
      logger: pino({ level: 'silent' }),
      now: () => clock.now,
    });
    await server.service.catalogue.put(
      TITLES.map((titleId) => ({ titleId, name: titleId, studio: 'Crash', policy: policy() })),
    );
  }, 120_000);
  afterAll(async () => {
    await fresh?.drop();
  });

  it(`${KILLS} SIGKILLs at random points: after each, the projection equals a recompute up to its checkpoint`, async () => {
    let stop = false;
    let wave = 0;
    // Merge load: licence requests, renewals, releases and device syncs on fresh accounts, four at a time.
    const load = Promise.all(
      [0, 1, 2, 3].map(async (lane) => {
        while (!stop) {
          wave += 1;
          await seedHistory(server.service, clock, {
            accounts: 1,
            steps: 15,
            titles: TITLES,
            seed: wave * 10 + lane,
            prefix: `crash-${lane}-${wave}`,
          });
        }
      }),
    );
    const checks: { position: number; events: number }[] = [];
    let mismatches = 0;
    try {
      for (let k = 0; k < KILLS; k++) {
        const c = startChild(5 + Math.floor(Math.random() * 60));
        // Half the kills wait for a batch first; the rest land anywhere, start-up included.
        const until = Date.now() + 100 + Math.random() * 700;
        while (Date.now() < until || (k % 2 === 0 && c.batches() === 0 && Date.now() < until + 20_000)) {
          await sleep(10);
        }
        c.child.kill('SIGKILL');
        await c.exited;
        const { generation, position } = await checkpoint();
        const events = await feedUpTo(server.service.accounts.store, db, position);
        const same =
          JSON.stringify(await readStudio(db, generation)) === JSON.stringify(recomputeStudio(events));
        if (!same) mismatches += 1;
        checks.push({ position, events: events.length });
      }
    } finally {
      stop = true;
      await load;
    }
    expect(mismatches).toBe(0);
    expect(checks).toHaveLength(KILLS);
    // The checkpoint moved between most kills: they landed in different batches, not all at start-up.
    expect(new Set(checks.map((c) => c.position)).size).toBeGreaterThanOrEqual(KILLS / 3);

    // A last start catches up with everything written, and still equals the recompute.
    const last = startChild(200);
    const total = Number(
      (await db.query<{ n: string }>('SELECT max(global_position) AS n FROM events'))[0]?.n,
    );
    for (let i = 0; i < 2400 && (await checkpoint()).position !== total; i++) await sleep(50);
    last.child.kill('SIGKILL');
    await last.exited;
    const { generation, position } = await checkpoint();
    expect(position).toBe(total);
    const events = await feedUpTo(server.service.accounts.store, db, position);
    expect(await readStudio(db, generation)).toEqual(recomputeStudio(events));
  }, 400_000);
});
