import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CURRENT_EVENT_VERSIONS } from '@satchel/core';
import {
  createSatchelServer,
  DEVELOPMENT_TOKEN_SECRET,
  demoCatalogue,
  pgliteDatabase,
} from '@satchel/server';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// `pnpm satchel … | reader`: the CLI exits only once everything it wrote has gone into the pipe, however
// slowly the reader reads (a pipe holds 64 KiB; the rest waits in the CLI's process until then). The
// history here is far larger than what the pipes between the CLI and the reader can hold.

const root = fileURLToPath(new URL('../../..', import.meta.url));
const tsx = join(root, 'node_modules/.bin/tsx');
const dataDir = mkdtempSync(join(tmpdir(), 'satchel-cli-pipe-'));
const ACCOUNT = 'long-history';
const EVENTS = 1_500;

beforeAll(async () => {
  // A history far beyond 64 KiB, written in this process before any CLI runs on the directory.
  const db = await pgliteDatabase(dataDir);
  try {
    const server = await createSatchelServer({
      db,
      tokenSecret: DEVELOPMENT_TOKEN_SECRET,
      logger: pino({ level: 'silent' }),
    });
    await server.service.catalogue.put(demoCatalogue(Date.now()));
    await server.service.createAccount(ACCOUNT, 'A long history');
    const { deviceId } = await server.service.registerDevice(ACCOUNT, { deviceId: randomUUID(), name: 'tv' });
    const granted = await server.service.requestLicense(ACCOUNT, deviceId, { titleId: 'quiet-river' });
    if (granted.outcome !== 'granted') throw new Error('licence refused');
    const at = Date.now();
    // Batches of 500 (the protocol's most per sync).
    for (let first = 1; first <= EVENTS; first += 500) {
      const events = Array.from({ length: Math.min(500, EVENTS - first + 1) }, (_, i) => ({
        eventId: randomUUID(),
        seq: first + i,
        type: 'PlaybackStopped',
        v: CURRENT_EVENT_VERSIONS.PlaybackStopped,
        occurredAt: at,
        trustedAt: at,
        data: { licenseId: granted.license.licenseId, deviceId, at, positionMs: (first + i) * 1000 },
      }));
      await server.service.sync(ACCOUNT, deviceId, {
        protocolVersion: 1,
        deviceId,
        snapshotVersion: null,
        events: events as never,
      });
    }
  } finally {
    await db.close();
  }
}, 120_000);

afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

/** Runs the CLI with stdout piped to a reader that reads nothing for its first 3 s. */
function slowlyRead(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const clean = { ...process.env };
  for (const k of [
    'DATABASE_URL',
    'NODE_ENV',
    'SATCHEL_TOKEN_SECRET',
    'SATCHEL_SERVER',
    'SATCHEL_OPERATOR_TOKEN',
  ])
    delete clean[k];
  const child = spawn(
    tsx,
    ['--tsconfig', 'apps/sync-server/tsconfig.json', 'apps/sync-server/src/cli.ts', ...args],
    {
      cwd: root,
      env: { ...clean, LOG_LEVEL: 'warn', SATCHEL_ENV: 'development', SATCHEL_DATA_DIR: dataDir },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  child.stdout.pause();
  const chunks: Buffer[] = [];
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((r) => child.on('exit', r));
  const read = new Promise<void>((r) => child.stdout.on('end', r));
  setTimeout(() => {
    child.stdout.on('data', (c: Buffer) => chunks.push(c));
    child.stdout.resume();
  }, 3_000);
  return Promise.all([exited, read]).then(([code]) => ({
    code,
    stdout: Buffer.concat(chunks).toString(),
    stderr,
  }));
}

describe('pnpm satchel piped to a slow reader', { timeout: 120_000 }, () => {
  it('prints a history of more than 256 KiB whole with --json', async () => {
    const r = await slowlyRead(['history', ACCOUNT, '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(Buffer.byteLength(r.stdout)).toBeGreaterThan(256 * 1024);
    const { events } = JSON.parse(r.stdout) as { events: Array<{ type: string }> };
    expect(events.filter((e) => e.type === 'PlaybackStopped')).toHaveLength(EVENTS);
  });

  it('prints the same history whole as text, its last event last', async () => {
    const r = await slowlyRead(['history', ACCOUNT]);
    expect(r.code, r.stderr).toBe(0);
    expect(Buffer.byteLength(r.stdout)).toBeGreaterThan(256 * 1024);
    expect(r.stdout.match(/PlaybackStopped/g)).toHaveLength(EVENTS);
    expect(r.stdout).toContain(`"positionMs":${EVENTS * 1000}`);
  });
});
