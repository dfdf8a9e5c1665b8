import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dataDirOwner } from './data-dir-lock.js';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const tsx = join(root, 'node_modules/.bin/tsx');
const dataDir = mkdtempSync(join(tmpdir(), 'satchel-cli-'));

function env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const clean = { ...process.env };
  delete clean.DATABASE_URL;
  delete clean.NODE_ENV;
  delete clean.SATCHEL_TOKEN_SECRET;
  delete clean.SATCHEL_SERVER;
  delete clean.SATCHEL_OPERATOR_TOKEN;
  return { ...clean, LOG_LEVEL: 'warn', SATCHEL_ENV: 'development', SATCHEL_DATA_DIR: dataDir, ...extra };
}

/** Runs `pnpm satchel …` as the README does (tsx on the CLI), with stdout piped. */
function satchel(args: string[], extra: Record<string, string> = {}) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(
      tsx,
      ['--tsconfig', 'apps/sync-server/tsconfig.json', 'apps/sync-server/src/cli.ts', ...args],
      {
        cwd: root,
        env: env(extra),
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

let server: ChildProcess | null = null;

afterAll(async () => {
  if (server && server.exitCode === null) {
    const gone = new Promise((r) => server?.once('exit', r));
    server.kill('SIGTERM');
    await gone;
  }
  rmSync(dataDir, { recursive: true, force: true });
});

describe('pnpm satchel', { timeout: 180_000 }, () => {
  beforeAll(async () => {
    // Local mode first: no server runs on the directory yet.
    const created = await satchel(['create-account', 'household-42', 'The', 'Smiths', '--json']);
    expect(created.stderr).toMatch(/on the local database .* \(no server running\)/);
    expect(JSON.parse(created.stdout)).toEqual({ accountId: 'household-42', created: true });

    server = spawn(tsx, ['--tsconfig', 'apps/sync-server/tsconfig.json', 'apps/sync-server/src/main.ts'], {
      cwd: root,
      env: env({ PORT: '0', HOST: '127.0.0.1' }),
      stdio: 'ignore',
    });
    const deadline = Date.now() + 120_000;
    let url = (await dataDirOwner(dataDir))?.url;
    while (!url) {
      if (Date.now() > deadline) throw new Error('the server did not announce its URL');
      await new Promise((r) => setTimeout(r, 250));
      url = (await dataDirOwner(dataDir))?.url;
    }
    while (
      !(await fetch(`${url}/readyz`).then(
        (r) => r.ok,
        () => false,
      ))
    ) {
      if (Date.now() > deadline) throw new Error('the server is not ready');
      await new Promise((r) => setTimeout(r, 250));
    }
  }, 180_000);

  it('speaks to the server running on the embedded database, and says so', async () => {
    const r = await satchel(['accounts', '--json']);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/via server http:\/\/127\.0\.0\.1:\d+ \(pid \d+, owner of /);
    const ids = JSON.parse(r.stdout).accounts.map((a: { accountId: string }) => a.accountId);
    expect(ids).toEqual(['demo', 'household-42']);
  });

  it('versions a policy change, and prints every version', async () => {
    const put = await satchel([
      'put-title',
      'cli-film',
      '--name',
      'CLI film',
      'playbackDurationSec=172800',
      '--json',
    ]);
    expect(JSON.parse(put.stdout).title.version).toBe(1);
    const set = await satchel([
      'set-policy',
      'cli-film',
      'playbackDurationSec=21600',
      'maxDownloadsPerYear=3',
    ]);
    expect(set.stdout).toMatch(/cli-film: version 2, .*playbackDurationSec=21600/);
    const versions = JSON.parse((await satchel(['title-versions', 'cli-film', '--json'])).stdout).versions;
    expect(
      versions.map((v: { version: number; policy: { playbackDurationSec: number } }) => [
        v.version,
        v.policy.playbackDurationSec,
      ]),
    ).toEqual([
      [1, 172800],
      [2, 21600],
    ]);
  });

  it('prints the whole history as JSON, nothing cut', async () => {
    const r = await satchel(['history', 'household-42', '--json']);
    const events = JSON.parse(r.stdout).events;
    expect(events[0]).toMatchObject({
      type: 'AccountOpened',
      data: { accountId: 'household-42', plan: { planId: 'standard' } },
    });
    const text = await satchel(['history', 'household-42']);
    expect(text.stdout).toContain(JSON.stringify(events[0].data));
  });

  it('answers state --at before the account existed without a plan', async () => {
    const r = await satchel(['state', 'household-42', '--at', '2020-01-01T00:00:00Z', '--json']);
    expect(JSON.parse(r.stdout)).toMatchObject({ exists: false, plan: null });
    const text = await satchel(['state', 'household-42', '--at', '2020-01-01T00:00:00Z']);
    expect(text.stdout).toContain('The account did not exist yet.');
    expect(text.stdout).not.toContain('plan');
  });

  it("token device mints for the device's current credential generation, and refuses a deactivated device", async () => {
    const url = (await dataDirOwner(dataDir))?.url ?? '';
    const account = JSON.parse((await satchel(['token', 'account', 'household-42', '--json'])).stdout);
    const post = (path: string, body: unknown) =>
      fetch(`${url}${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${account.token}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      }).then((r) => r.json() as Promise<{ deviceId: string }>);
    const deviceSecret = 'cli-test-device-secret-0123456789abcdefgh';
    const { deviceId } = await post('/v1/devices', { name: 'cli tv', deviceSecret });
    await fetch(`${url}/v1/devices/${deviceId}`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${account.token}` },
    });
    const refused = await satchel(['token', 'device', 'household-42', deviceId]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/DEVICE_DEACTIVATED/);
    await post('/v1/devices', { name: 'cli tv', deviceSecret, deviceId });
    const minted = await satchel(['token', 'device', 'household-42', deviceId, '--json']);
    expect(minted.code).toBe(0);
    const { token, generation } = JSON.parse(minted.stdout);
    expect(generation).toBe(1);
    const licences = await fetch(`${url}/v1/licenses`, { headers: { authorization: `Bearer ${token}` } });
    expect(licences.status).toBe(200);
  });

  it('refuses a change with a support token from the environment, with the typed error', async () => {
    const minted = await satchel([
      'token',
      'operator',
      'helpdesk@example.com',
      '--role',
      'support',
      '--json',
    ]);
    const { token } = JSON.parse(minted.stdout);
    const read = await satchel(['whoami', '--json'], { SATCHEL_OPERATOR_TOKEN: token });
    expect(JSON.parse(read.stdout)).toEqual({ operatorId: 'helpdesk@example.com', role: 'support' });
    const change = await satchel(['set-policy', 'cli-film', 'maxRenewals=1'], {
      SATCHEL_OPERATOR_TOKEN: token,
    });
    expect(change.code).toBe(1);
    expect(change.stderr).toMatch(/satchel: FORBIDDEN: This needs the admin role/);
  });

  it('exits 2 on a policy value that is not of its field, naming it, and changes nothing', async () => {
    for (const value of ['-5', '1.5', '12-01']) {
      const r = await satchel(['set-policy', 'cli-film', `playbackDurationSec=${value}`]);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/playbackDurationSec must be a non-negative integer/);
    }
    const versions = JSON.parse((await satchel(['title-versions', 'cli-film', '--json'])).stdout).versions;
    expect(versions.at(-1).policy.playbackDurationSec).toBe(21600);
  });

  it('exits 2 on an unknown policy key, naming it and the known ones', async () => {
    const r = await satchel(['put-title', 'x-1', '--name', 'X', 'bogusKey=1']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown policy field bogusKey \(known: .*playbackDurationSec/);
    const titles = await satchel(['titles', '--json']);
    expect(titles.stdout).not.toContain('"x-1"');
  });

  it('ends quietly with 0 when the reader closes the pipe', async () => {
    const child = spawn(
      tsx,
      [
        '--tsconfig',
        'apps/sync-server/tsconfig.json',
        'apps/sync-server/src/cli.ts',
        'history',
        'demo',
        '--json',
      ],
      { cwd: root, env: env(), stdio: ['ignore', 'pipe', 'pipe'] },
    );
    // The reader is gone before the CLI writes anything, as `| head -c …` is once it has enough.
    child.stdout.destroy();
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const code = await new Promise((r) => child.on('exit', r));
    expect(stderr).not.toMatch(/EPIPE|Error/);
    expect(code).toBe(0);
  });

  it('exits 2 with the usage on a bad argument', async () => {
    const r = await satchel(['state', 'household-42', '--at', 'yesterday']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/not an instant/);
  });
});
