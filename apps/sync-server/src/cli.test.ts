import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CURRENT_EVENT_VERSIONS } from '@satchel/core';
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
let serverUrl = '';

const uuidv7 = () => {
  const ts = Date.now().toString(16).padStart(12, '0');
  const r = randomBytes(10).toString('hex');
  const variant = ((Number.parseInt(r[3] ?? '0', 16) & 3) | 8).toString(16);
  return `${ts.slice(0, 8)}-${ts.slice(8, 12)}-7${r.slice(0, 3)}-${variant}${r.slice(4, 7)}-${r.slice(7, 19)}`;
};

async function post(path: string, token: string, body: unknown) {
  const r = await fetch(`${serverUrl}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const json = await r.json();
  if (!r.ok) throw new Error(`${path}: ${r.status} ${JSON.stringify(json)}`);
  return json;
}

const HOUR = 3_600_000;

/**
 * Over the public API, as a player would: a device in household-42 downloads paper-moon, plays it, then
 * stops and starts 600 times (a long history, so one account's output is large).
 * Returns the licence and when its first playback started.
 */
async function seedPlayback(): Promise<{ licenseId: string; firstPlayedAt: number; expiresAt: number }> {
  const minted = await satchel(['token', 'account', 'household-42', '--json']);
  const { token } = JSON.parse(minted.stdout);
  const device = await post('/v1/devices', token, { name: 'CLI test laptop' });
  const granted = await post('/v1/licenses', device.token, { titleId: 'paper-moon' });
  expect(granted.outcome).toBe('granted');
  const licenseId: string = granted.license.licenseId;
  // Played right after the grant (device events are never dated before it nor after their receipt).
  const t0: number = granted.license.issuedAt;
  let seq = 0;
  const event = (
    type: 'DownloadCompleted' | 'PlaybackStarted' | 'PlaybackStopped',
    at: number,
    extra = {},
  ) => ({
    eventId: uuidv7(),
    seq: ++seq,
    type,
    v: CURRENT_EVENT_VERSIONS[type],
    occurredAt: at,
    trustedAt: at,
    data: { licenseId, deviceId: device.deviceId, at, ...extra },
  });
  const events = [event('DownloadCompleted', t0 + 1), event('PlaybackStarted', t0 + 2, { positionMs: 0 })];
  for (let i = 1; i <= 600; i++) {
    events.push(event(i % 2 ? 'PlaybackStopped' : 'PlaybackStarted', t0 + 2 + i, { positionMs: i * 1000 }));
  }
  while (Date.now() < t0 + 1000) await new Promise((r) => setTimeout(r, 100));
  for (let i = 0; i < events.length; i += 500) {
    await post('/v1/sync', device.token, {
      protocolVersion: 1,
      deviceId: device.deviceId,
      snapshotVersion: null,
      events: events.slice(i, i + 500),
    });
  }
  // paper-moon plays without a playback window (playbackDurationSec 0): the grant's expiry stands.
  return { licenseId, firstPlayedAt: t0 + 2, expiresAt: granted.license.expiresAt };
}

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
    serverUrl = url.replace(/\/+$/, '');
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

  it('put-title with no policy fields creates a title with the default policy and a studio, and renames it keeping both', async () => {
    const created = await satchel([
      'put-title',
      'bare-film',
      '--name',
      'Bare film',
      '--studio',
      'Harbour Films',
      '--json',
    ]);
    expect(created.code).toBe(0);
    expect(JSON.parse(created.stdout)).toMatchObject({
      created: true,
      title: { version: 1, studio: 'Harbour Films' },
    });
    const renamed = await satchel(['put-title', 'bare-film', '--name', 'Bare film, renamed']);
    expect(renamed.code).toBe(0);
    expect(renamed.stdout).toMatch(/updated bare-film: version 2, studio Harbour Films, /);
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

  it('prints availableUntil as an ISO-8601 UTC instant for people, as epoch ms in --json like every other instant', async () => {
    const until = '2030-01-01T00:00:00.000Z';
    const put = await satchel(['put-title', 'dated-film', '--name', 'Dated film', `availableUntil=${until}`]);
    expect(put.stdout).toContain(`availableUntil=${until}`);
    const [titles, versions, json] = await Promise.all([
      satchel(['titles']),
      satchel(['title-versions', 'dated-film']),
      satchel(['titles', '--json']),
    ]);
    expect(titles.stdout).toMatch(new RegExp(`dated-film .*availableUntil=${until.replace(/\./g, '\\.')}`));
    expect(titles.stdout).toMatch(/night-train .*availableUntil=none/);
    expect(versions.stdout).toContain(`availableUntil=${until}`);
    const title = JSON.parse(json.stdout).titles.find((t: { titleId: string }) => t.titleId === 'dated-film');
    expect(title.policy.availableUntil).toBe(Date.parse(until));
  });

  it('token operator and token account say where they minted and which servers take the token, as the other commands say where they go', async () => {
    const [account, operator, secret] = await Promise.all([
      satchel(['token', 'account', 'household-42', '--json']),
      satchel(['token', 'operator', 'ops@example.com', '--server', 'https://satchel.example.com']),
      satchel(['token', 'account', 'household-42'], {
        SATCHEL_TOKEN_SECRET: 'another-secret-0123456789abcdef',
      }),
    ]);
    expect(account.stderr.split('\n')[0]).toBe(
      'satchel: minted here (no server asked), signed with the public development secret (no SATCHEL_TOKEN_SECRET): a development server on it takes it, a production server never does',
    );
    expect(JSON.parse(account.stdout)).toMatchObject({ accountId: 'household-42' });
    expect(operator.stderr).toMatch(
      /^satchel: minted here \(no server asked, not https:\/\/satchel\.example\.com\), signed with the public development secret/,
    );
    expect(operator.stderr).toMatch(/\nsupport operator ops@example\.com, expires /);
    expect(secret.stderr).toMatch(
      /^satchel: minted here \(no server asked\), signed with SATCHEL_TOKEN_SECRET: a server takes it if it runs with the same secret\n/,
    );
  });

  it('a 401 says to set SATCHEL_OPERATOR_TOKEN, and exits 1', async () => {
    const [signed, given] = await Promise.all([
      satchel(['whoami'], { SATCHEL_TOKEN_SECRET: 'another-secret-0123456789abcdef' }),
      satchel(['accounts'], { SATCHEL_OPERATOR_TOKEN: 'not-a-token' }),
    ]);
    expect(signed.code).toBe(1);
    expect(signed.stderr).toMatch(
      /\nsatchel: UNAUTHENTICATED: Invalid token\nsatchel: SATCHEL_OPERATOR_TOKEN is not set, so the CLI signed its own admin token with SATCHEL_TOKEN_SECRET, which this server does not accept: set SATCHEL_OPERATOR_TOKEN to an operator token of this server/,
    );
    expect(given.code).toBe(1);
    expect(given.stderr).toMatch(
      /\nsatchel: UNAUTHENTICATED: .*\nsatchel: the server refused SATCHEL_OPERATOR_TOKEN: set it to a current operator token of this server/,
    );
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

  describe('studio accounting and what-if', () => {
    let seeded: { licenseId: string; firstPlayedAt: number; expiresAt: number };
    // Under a 24 h playback window the licence would end 24 h after its first playback.
    const shift = () => seeded.expiresAt - (seeded.firstPlayedAt + 24 * HOUR);
    beforeAll(async () => {
      seeded = await seedPlayback();
    }, 120_000);

    it('report: the studio accounting the server keeps, per studio, title and month, with the lag; --json and --csv say the same', async () => {
      const month = new Date().toISOString().slice(0, 7);
      // The server's runner catches up in the background: wait until the report shows it, lag 0.
      let report: {
        rows: { studio: string; titleId: string; month: string; issued: number; accounts: number }[];
        lag: { eventsBehind: number; leaseOwner: string | null }[];
      } | null = null;
      const deadline = Date.now() + 60_000;
      while (Date.now() < deadline) {
        const r = await satchel(['report', '--json']);
        expect(r.code).toBe(0);
        report = JSON.parse(r.stdout);
        if (
          report?.lag.every((l) => l.eventsBehind === 0) &&
          report.rows.some((x) => x.titleId === 'paper-moon')
        )
          break;
        await new Promise((r) => setTimeout(r, 500));
      }
      const row = report?.rows.find((x) => x.titleId === 'paper-moon');
      expect(row).toMatchObject({ month, issued: 1, accounts: 1 });
      expect(report?.lag[0]?.leaseOwner).not.toBeNull();

      const text = await satchel(['report']);
      expect(text.stdout).toMatch(new RegExp(`${row?.studio}\\s+paper-moon\\s+${month}\\s+1\\s`));
      expect(text.stdout).toMatch(
        /Lag\n {2}studio-accounting generation 1 \(live\): 0 events, [\d.]+ s behind/,
      );

      const csv = await satchel(['report', '--csv']);
      expect(csv.code).toBe(0);
      const lines = csv.stdout.trim().split('\n');
      expect(lines[0]).toMatch(/^studio,title_id,month,issued,/);
      expect(lines).toContainEqual(
        expect.stringMatching(new RegExp(`^${row?.studio},paper-moon,${month},1,`)),
      );
      expect(csv.stderr).toMatch(/lag: studio-accounting generation 1 \(live\): 0 events/);
    });

    it('what-if title: a 24 h playback window where there was none reports the played licence expiring earlier, by as much; no progress bar when stderr is piped', async () => {
      const r = await satchel(['what-if', 'title', 'paper-moon', 'playbackDurationSec=86400', '--json']);
      expect(r.code).toBe(0);
      const report = JSON.parse(r.stdout);
      expect(report.totals).toMatchObject({
        accountsAffected: 1,
        expiresEarlier: { licences: 1, maxMs: shift(), totalMs: shift() },
        expiresLater: { licences: 0 },
        refusedGrants: { total: 0 },
      });
      expect(report.accounts).toEqual([
        expect.objectContaining({ accountId: 'household-42', expiresEarlier: 1 }),
      ]);
      // Progress is for terminals: piped, stderr carries the one connection note and nothing else.
      expect(r.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^satchel: via server /)]);
      const text = await satchel(['what-if', 'title', 'paper-moon', 'playbackDurationSec=86400']);
      const h = (shift() / HOUR).toFixed(1);
      expect(text.stdout).toContain(`licences expiring earlier: 1 (${h} h in all, at most ${h} h)`);
      expect(text.stdout).toMatch(new RegExp(`household-42\\s+0\\s+0\\s+0\\s+1\\s+0\\s+-${h} h`));
    });

    it('what-if --account: the two timelines side by side, and the --json answer (over 64 KiB) arrives whole through a pipe', async () => {
      const json = await satchel([
        'what-if',
        'title',
        'paper-moon',
        'playbackDurationSec=86400',
        '--account',
        'household-42',
        '--json',
      ]);
      expect(json.code).toBe(0);
      expect(json.stdout.length).toBeGreaterThan(64 * 1024);
      const detail = JSON.parse(json.stdout);
      expect(detail.expiryChanges).toEqual([
        expect.objectContaining({
          licenseId: seeded.licenseId,
          actualExpiresAt: seeded.expiresAt,
          proposedExpiresAt: seeded.firstPlayedAt + 24 * HOUR,
          deltaMs: -shift(),
        }),
      ]);
      expect(detail.actual.length).toBeGreaterThan(600);
      expect(detail.proposed.length).toBe(detail.actual.length);

      const text = await satchel([
        'what-if',
        'title',
        'paper-moon',
        'playbackDurationSec=86400',
        '--account',
        'household-42',
      ]);
      expect(text.stdout).toContain(`would expire earlier by ${(shift() / HOUR).toFixed(1)} h`);
      expect(text.stdout).toMatch(/actual\s+under the proposed rules/);
      const licence = seeded.licenseId.slice(0, 8);
      expect(text.stdout).toMatch(
        new RegExp(`\\n {3}\\S+Z PlaybackStarted ${licence}\\s+\\S+Z PlaybackStarted ${licence}\\n`),
      );
      // The whole table came through: its last row is the last playback event, on both sides.
      expect(text.stdout.trimEnd().split('\n').at(-1)).toMatch(
        new RegExp(`PlaybackStarted ${licence}\\s+\\S+Z PlaybackStarted ${licence}$`),
      );
    });

    it('what-if prints a proposed availableUntil as an ISO-8601 instant for people, as epoch ms in --json', async () => {
      const until = '2030-01-01T00:00:00.000Z';
      const [text, json] = await Promise.all([
        satchel(['what-if', 'title', 'paper-moon', `availableUntil=${until}`]),
        satchel(['what-if', 'title', 'paper-moon', `availableUntil=${until}`, '--json']),
      ]);
      expect(text.stdout).toContain(`What if: {"titles":{"paper-moon":{"availableUntil":"${until}"}}}`);
      expect(JSON.parse(json.stdout).change).toEqual({
        titles: { 'paper-moon': { availableUntil: Date.parse(until) } },
      });
    });

    it('what-if refuses a title, plan or account that does not exist with NOT_FOUND and exit 1, instead of reporting 0 accounts', async () => {
      const cases = [
        [['what-if', 'title', 'no-such-title', 'playbackDurationSec=86400'], 'No title no-such-title'],
        [
          ['what-if', 'plan', 'no-such-plan', 'maxDownloadDevices=1', '--json'],
          'No plan no-such-plan (no account has been on it)',
        ],
        [
          ['what-if', 'title', 'paper-moon', 'playbackDurationSec=86400', '--accounts', 'household-42,ghost'],
          'No account ghost',
        ],
        [['what-if', 'plan', 'standard', 'maxDownloadDevices=1', '--account', 'ghost'], 'No account ghost'],
      ] as const;
      const runs = await Promise.all(cases.map(([args]) => satchel([...args])));
      for (const [i, r] of runs.entries()) {
        const [args, message] = cases[i] ?? [[], ''];
        expect([args.join(' '), r.code, r.stdout, r.stderr.trim().split('\n').at(-1)]).toEqual([
          args.join(' '),
          1,
          '',
          `satchel: NOT_FOUND: ${message}`,
        ]);
      }
    });

    it('what-if plan: a plan with no download device refuses the grant; an unknown plan field exits 2', async () => {
      const r = await satchel(['what-if', 'plan', 'standard', 'maxDownloadDevices=0', '--json']);
      expect(r.code).toBe(0);
      const report = JSON.parse(r.stdout);
      expect(report.totals.refusedGrants.total).toBeGreaterThanOrEqual(1);
      expect(Object.keys(report.totals.refusedGrants.byCode)).toEqual(['DEVICE_LIMIT']);
      const bad = await satchel(['what-if', 'plan', 'standard', 'devices=1']);
      expect(bad.code).toBe(2);
      expect(bad.stderr).toMatch(/unknown plan field devices/);
    });
  });
});
