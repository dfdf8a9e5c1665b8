// Security properties of the sync server (unit tier: in-process on PGlite, one real HTTP listener for the
// rate limiter, one child process for the production start-up check). Every route of the app is found
// by enumerating it, so a new route is tested (or fails this file) without anyone remembering to.
import { spawn, spawnSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CURRENT_EVENT_VERSIONS } from '@satchel/core';
import { MAX_SYNC_BATCH_EVENTS, MAX_SYNC_BODY_BYTES } from '@satchel/protocol';
import { ErrorResponse, SyncRequest } from '@satchel/protocol/schemas';
import {
  createSatchelServer,
  DEVELOPMENT_TOKEN_SECRET,
  demoCatalogue,
  estimatedEntropyBits,
  pgliteDatabase,
  productionSecretProblem,
  type SatchelServer,
  Tokens,
} from '@satchel/server';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { withTestHooks } from '../../apps/sync-server/src/test-hooks.js';
import { uuidv7 } from './lib/devices.js';
import { FAULTS_SECRET, ROOMY_PLAN } from './lib/seed.js';
import { buildSyncServer, sleep } from './lib/server-process.js';
import { forgedTokens } from './lib/tokens.js';

let server: SatchelServer;
/** Every answer this file received, to check afterwards that no secret leaked into any of them. */
const seen: Array<{ route: string; text: string; registration: boolean }> = [];

interface Answer {
  status: number;
  text: string;
  // biome-ignore lint/suspicious/noExplicitAny: answers are inspected loosely
  body: any;
  headers: Headers;
}

async function call(
  method: string,
  path: string,
  o: { token?: string; body?: unknown; raw?: string; headers?: Record<string, string> } = {},
): Promise<Answer> {
  const headers: Record<string, string> = { ...o.headers };
  if (o.token !== undefined) headers.authorization = `Bearer ${o.token}`;
  let body: string | undefined = o.raw;
  if (body === undefined && o.body !== undefined) {
    body = JSON.stringify(o.body);
    headers['content-type'] ??= 'application/json';
  }
  const res = await server.app.request(path, { method, headers, ...(body === undefined ? {} : { body }) });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {}
  seen.push({
    route: `${method} ${path}`,
    text: `${text}\n${[...res.headers].map(([k, v]) => `${k}: ${v}`).join('\n')}`,
    registration: method === 'POST' && path === '/v1/devices' && res.status === 201,
  });
  return { status: res.status, text, body: parsed, headers: res.headers };
}

function expectError(res: Answer, status: number, code?: string) {
  expect(res.status, res.text.slice(0, 300)).toBe(status);
  const parsed = ErrorResponse.safeParse(res.body);
  expect(parsed.success, res.text.slice(0, 300)).toBe(true);
  if (code) expect(parsed.data?.error.code).toBe(code);
}

interface Household {
  accountId: string;
  accountToken: string;
  devices: Array<{ deviceId: string; token: string; licenseId: string }>;
}

async function household(devices = 2): Promise<Household> {
  const accountId = `sec-${uuidv7().slice(-12)}`;
  await server.service.createAccount(accountId, 'Security household', ROOMY_PLAN);
  const accountToken = (await server.tokens.mint({ kind: 'account', accountId })).token;
  const out: Household = { accountId, accountToken, devices: [] };
  for (let i = 0; i < devices; i++) {
    const reg = await call('POST', '/v1/devices', { token: accountToken, body: { name: `device ${i}` } });
    expect(reg.status).toBe(201);
    const lic = await call('POST', '/v1/licenses', {
      token: reg.body.token,
      body: { titleId: 'quiet-river' },
    });
    expect(lic.body.outcome).toBe('granted');
    out.devices.push({
      deviceId: reg.body.deviceId,
      token: reg.body.token,
      licenseId: lic.body.license.licenseId,
    });
  }
  return out;
}

const b64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

const streamVersion = async (accountId: string) => (await server.service.accountState(accountId)).version;

function event(seq: number, deviceId: string, at = Date.now(), overrides: Record<string, unknown> = {}) {
  return {
    eventId: uuidv7(at),
    seq,
    type: 'ClockRollbackDetected',
    v: CURRENT_EVENT_VERSIONS.ClockRollbackDetected,
    occurredAt: at,
    trustedAt: at,
    data: { deviceId, at, wallClockAt: at - 60_000, behindMs: 60_000 },
    ...overrides,
  };
}
const syncBody = (deviceId: string, events: unknown[]) => ({
  protocolVersion: 1,
  deviceId,
  snapshotVersion: null,
  events,
});

/** A request for each route of the app, acting on `target`'s resources. Throws for a route it does not know. */
function requestFor(method: string, path: string, target: Household): { path: string; body?: unknown } {
  const d = target.devices[0];
  if (!d) throw new Error('no device');
  const concrete = path
    .replace(':deviceId', d.deviceId)
    .replace(':licenseId', d.licenseId)
    .replace(':accountId', target.accountId)
    .replace(':titleId', 'night-train')
    .replace(':name', 'studio-accounting')
    .replace(':keySystem', 'com.widevine.alpha');
  if (/:\w+/.test(concrete)) throw new Error(`no request template for the parameters of ${method} ${path}`);
  if (method === 'POST' && path === '/v1/sync')
    return { path: concrete, body: syncBody(d.deviceId, [event(1, d.deviceId)]) };
  if (method === 'POST' && path === '/v1/devices')
    return { path: concrete, body: { deviceId: d.deviceId, name: 'hijack' } };
  if (method === 'POST' && path === '/v1/licenses')
    return { path: concrete, body: { titleId: 'night-train', licenseId: uuidv7() } };
  return { path: concrete, ...(method === 'POST' ? { body: {} } : {}) };
}

let a: Household;
let b: Household;
let routes: Array<{ method: string; path: string }>;

beforeAll(async () => {
  server = await createSatchelServer({
    db: await pgliteDatabase(),
    tokenSecret: FAULTS_SECRET,
    logger: pino({ level: 'silent' }),
    rateLimit: { burst: 100_000, perSecond: 100_000 },
  });
  await server.service.catalogue.put(demoCatalogue(Date.now()));
  a = await household(2);
  b = await household(1);
  const unique = new Map<string, { method: string; path: string }>();
  for (const r of server.app.routes) {
    if (r.method === 'ALL' || !r.path.startsWith('/v1/')) continue;
    unique.set(`${r.method} ${r.path}`, { method: r.method, path: r.path });
  }
  routes = [...unique.values()];
}, 60_000);

afterAll(async () => {
  await server?.db.close();
});

describe('tokens', () => {
  it('finds the API routes to test', () => {
    expect(routes.map((r) => `${r.method} ${r.path}`).sort()).toEqual(
      expect.arrayContaining([
        'POST /v1/sync',
        'POST /v1/devices',
        'GET /v1/licenses',
        'DELETE /v1/devices/:deviceId',
      ]),
    );
  });

  it('refuses a missing, forged, tampered, expired or wrongly signed token on every route (401)', async () => {
    const d = a.devices[0];
    if (!d) throw new Error('no device');
    const forged = {
      ...(await forgedTokens(server.tokens, {
        kind: 'device',
        accountId: a.accountId,
        deviceId: d.deviceId,
      })),
      ...Object.fromEntries(
        Object.entries(await forgedTokens(server.tokens, { kind: 'account', accountId: a.accountId })).map(
          ([k, v]) => [`account-${k}`, v],
        ),
      ),
    };
    const version = await streamVersion(a.accountId);
    for (const r of routes) {
      const req = requestFor(r.method, r.path, a);
      expectError(await call(r.method, req.path, { body: req.body }), 401, 'UNAUTHENTICATED');
      for (const [name, token] of Object.entries(forged)) {
        const res = await call(r.method, req.path, { token, body: req.body });
        expectError(res, 401, name.endsWith('expired') ? 'TOKEN_EXPIRED' : 'UNAUTHENTICATED');
        expect(res.text).not.toContain(token || '\u0000');
      }
    }
    expect(await streamVersion(a.accountId)).toBe(version);
  });

  it('mints tokens that expire: a token past its expiry is refused, one before it works', async () => {
    const d = a.devices[0];
    if (!d) throw new Error('no device');
    const principal = { kind: 'device' as const, accountId: a.accountId, deviceId: d.deviceId };
    const short = await server.tokens.mint(principal, Date.now() - 61_000, 60);
    expectError(await call('GET', '/v1/licenses', { token: short.token }), 401, 'TOKEN_EXPIRED');
    const fresh = await server.tokens.mint(principal, Date.now(), 60);
    expect((await call('GET', '/v1/licenses', { token: fresh.token })).status).toBe(200);
    expect(fresh.expiresAt).toBeLessThanOrEqual(Date.now() + 61_000);
  });
});

describe('isolation between devices and accounts', () => {
  it("no route lets another account's device or account token act on, or read, this account", async () => {
    const outsiders = { device: b.devices[0]?.token ?? '', account: b.accountToken };
    const before = await streamVersion(a.accountId);
    const aIds = [...a.devices.flatMap((d) => [d.licenseId]), a.accountId];
    for (const r of routes) {
      for (const [kind, token] of Object.entries(outsiders)) {
        const req = requestFor(r.method, r.path, a);
        const res = await call(r.method, req.path, { token, body: req.body });
        expect(res.status, `${kind} token: ${r.method} ${r.path} → ${res.status}`).toBeLessThan(500);
        if (res.status < 300) {
          for (const id of aIds)
            expect(res.text, `${kind} token read ${id} through ${r.method} ${r.path}`).not.toContain(id);
        }
      }
    }
    expect(await streamVersion(a.accountId)).toBe(before);
    const devices = await server.service.devices(a.accountId);
    expect(devices.every((d) => d.status === 'active')).toBe(true);
    const licences = await server.service.licenses(a.accountId);
    expect(licences.licenses.every((l) => l.status === 'issued')).toBe(true);
  });

  it('a device cannot push events for another device, nor renew, release, deactivate or read its licences', async () => {
    const [d1, d2] = a.devices;
    if (!d1 || !d2) throw new Error('no devices');
    const before = await streamVersion(a.accountId);
    expectError(
      await call('POST', '/v1/sync', {
        token: d1.token,
        body: syncBody(d2.deviceId, [event(1, d2.deviceId)]),
      }),
      403,
      'FORBIDDEN',
    );
    const mismatch = await call('POST', '/v1/sync', {
      token: d1.token,
      body: syncBody(d1.deviceId, [
        event(1, d2.deviceId),
        {
          ...event(2, d2.deviceId),
          type: 'DownloadDeleted',
          v: 1,
          data: { licenseId: d2.licenseId, deviceId: d2.deviceId, at: Date.now() },
        },
      ]),
    });
    expect(mismatch.status).toBe(200);
    expect(mismatch.body.results.map((r: { code: string }) => r.code)).toEqual([
      'DEVICE_MISMATCH',
      'DEVICE_MISMATCH',
    ]);
    const own = await call('POST', '/v1/sync', {
      token: d1.token,
      body: syncBody(d1.deviceId, [
        {
          ...event(3, d1.deviceId),
          type: 'DownloadDeleted',
          v: 1,
          data: { licenseId: d2.licenseId, deviceId: d1.deviceId, at: Date.now() },
        },
      ]),
    });
    expect(own.body.results[0].status).toBe('rejected');
    for (const action of ['renew', 'release']) {
      expectError(
        await call('POST', `/v1/licenses/${d2.licenseId}/${action}`, { token: d1.token, body: {} }),
        404,
        'NOT_FOUND',
      );
    }
    expectError(await call('DELETE', `/v1/devices/${d2.deviceId}`, { token: d1.token }), 403, 'FORBIDDEN');
    const mine = await call('GET', '/v1/licenses', { token: d1.token });
    expect(mine.body.licenses.map((l: { licenseId: string }) => l.licenseId)).toEqual([d1.licenseId]);
    expect(mine.text).not.toContain(d2.licenseId);
    const licences = await server.service.licenses(a.accountId, d2.deviceId);
    expect(licences.licenses.map((l) => l.status)).toEqual(['issued']);
    expect(await streamVersion(a.accountId)).toBeLessThanOrEqual(before + 2);
  });

  it('a replayed batch and a copied device database change nothing; forged server events are refused', async () => {
    const h = await household(1);
    const d = h.devices[0];
    if (!d) throw new Error('no device');
    const batch = syncBody(d.deviceId, [event(1, d.deviceId), event(2, d.deviceId)]);
    expect((await call('POST', '/v1/sync', { token: d.token, body: batch })).status).toBe(200);
    const version = await streamVersion(h.accountId);
    const replay = await call('POST', '/v1/sync', { token: d.token, body: batch });
    expect(replay.body.results.map((r: { status: string }) => r.status)).toEqual(['duplicate', 'duplicate']);
    // A copy of the device's IndexedDB, used elsewhere, reuses the seqs with new events.
    const clone = await call('POST', '/v1/sync', {
      token: d.token,
      body: syncBody(d.deviceId, [event(1, d.deviceId), event(2, d.deviceId)]),
    });
    expect(clone.body.results.map((r: { code: string }) => r.code)).toEqual([
      'EVENT_ID_REUSED',
      'EVENT_ID_REUSED',
    ]);
    const forged = await call('POST', '/v1/sync', {
      token: d.token,
      body: syncBody(d.deviceId, [
        {
          ...event(3, d.deviceId),
          type: 'LicenseIssued',
          data: { licenseId: uuidv7(), deviceId: d.deviceId, titleId: 'x', at: Date.now() },
        },
      ]),
    });
    expectError(forged, 400, 'VALIDATION_FAILED');
    expect(await streamVersion(h.accountId)).toBe(version);
  });

  it("clock tampering: a device instant in the far future is clamped to the server's time when stored", async () => {
    const h = await household(1);
    const d = h.devices[0];
    if (!d) throw new Error('no device');
    const future = Date.UTC(2100, 0, 1);
    const res = await call('POST', '/v1/sync', {
      token: d.token,
      body: syncBody(d.deviceId, [event(1, d.deviceId, future)]),
    });
    expect(res.body.results[0].status).toBe('accepted');
    const history = await server.service.accounts.history(h.accountId);
    const stored = history.find((e) => e.stored.type === 'ClockRollbackDetected');
    expect((stored?.stored.data as { at: number } | undefined)?.at).toBeLessThanOrEqual(Date.now());
  });

  it('a deactivated device can no longer get licences or have its events applied', async () => {
    const h = await household(1);
    const d = h.devices[0];
    if (!d) throw new Error('no device');
    expect((await call('DELETE', `/v1/devices/${d.deviceId}`, { token: h.accountToken })).status).toBe(200);
    expectError(
      await call('POST', '/v1/licenses', { token: d.token, body: { titleId: 'quiet-river' } }),
      403,
      'DEVICE_DEACTIVATED',
    );
    const version = await streamVersion(h.accountId);
    const later = Date.now() + 1000;
    const res = await call('POST', '/v1/sync', {
      token: d.token,
      body: syncBody(d.deviceId, [
        {
          ...event(1, d.deviceId, later),
          type: 'PlaybackStarted',
          v: 1,
          data: { licenseId: d.licenseId, deviceId: d.deviceId, at: later, positionMs: 0 },
        },
      ]),
    });
    expect(res.status < 300 ? res.body.results[0].status : 'refused').not.toBe('accepted');
    expect(await streamVersion(h.accountId)).toBeLessThanOrEqual(version);
  });
});

describe('device credentials: revocation, takeover, expiry', () => {
  const playback = (
    deviceId: string,
    licenseId: string,
    seq: number,
    at: number,
    type = 'PlaybackStarted',
  ) => ({
    ...event(seq, deviceId, at),
    type,
    v: CURRENT_EVENT_VERSIONS[type as keyof typeof CURRENT_EVENT_VERSIONS],
    data:
      type === 'LicenseExpiryObserved'
        ? { licenseId, deviceId, at, reason: 'LICENSE_DURATION' }
        : { licenseId, deviceId, at, positionMs: 0 },
  });

  it('a deactivated device: back-dated events are all refused and nothing is appended; its token reads nothing', async () => {
    const h = await household(2);
    const [d, other] = h.devices;
    if (!d || !other) throw new Error('no device');
    const before = Date.now() - 60_000;
    // Downloaded, so that a back-dated PlaybackStarted would otherwise be judged on its own date.
    const done = await call('POST', '/v1/sync', {
      token: d.token,
      body: syncBody(d.deviceId, [
        {
          ...event(1, d.deviceId, before),
          type: 'DownloadCompleted',
          v: 1,
          data: { licenseId: d.licenseId, deviceId: d.deviceId, at: before },
        },
      ]),
    });
    expect(done.body.results[0].status).toBe('accepted');
    expect((await call('DELETE', `/v1/devices/${d.deviceId}`, { token: h.accountToken })).status).toBe(200);
    const version = await streamVersion(h.accountId);
    const res = await call('POST', '/v1/sync', {
      token: d.token,
      body: syncBody(d.deviceId, [
        playback(d.deviceId, d.licenseId, 2, before),
        playback(d.deviceId, d.licenseId, 3, before + 1, 'PlaybackStopped'),
        playback(d.deviceId, d.licenseId, 4, before + 2, 'LicenseExpiryObserved'),
        event(5, d.deviceId, before + 3),
      ]),
    });
    expect(res.status).toBe(200);
    expect(res.body.results.map((r: { code: string }) => r.code)).toEqual(
      Array(4).fill('DEVICE_DEACTIVATED'),
    );
    expect(res.body.snapshot.device.status).toBe('deactivated');
    expect(res.body.snapshot.devices.map((x: { deviceId: string }) => x.deviceId)).toEqual([d.deviceId]);
    expect(res.text).not.toContain(other.deviceId);
    expect(await streamVersion(h.accountId)).toBe(version);
    for (const path of ['/v1/devices', '/v1/licenses', '/v1/catalogue']) {
      expectError(await call('GET', path, { token: d.token }), 403, 'DEVICE_DEACTIVATED');
    }
    expectError(
      await call('POST', `/v1/licenses/${d.licenseId}/release`, { token: d.token, body: {} }),
      403,
      'DEVICE_DEACTIVATED',
    );
    // The other device and the account are untouched.
    expect((await call('GET', '/v1/licenses', { token: other.token })).status).toBe(200);
  });

  it('the enrolment token alone cannot take over an active device: 409, and the victim keeps working', async () => {
    const h = await household(1);
    const victim = h.devices[0];
    if (!victim) throw new Error('no device');
    const version = await streamVersion(h.accountId);
    for (const deviceSecret of [undefined, 'x'.repeat(43)]) {
      const res = await call('POST', '/v1/devices', {
        token: h.accountToken,
        body: { deviceId: victim.deviceId, name: 'attacker', ...(deviceSecret ? { deviceSecret } : {}) },
      });
      expectError(res, 409, 'DEVICE_ALREADY_REGISTERED');
      expect(res.text).not.toMatch(/eyJ[\w-]+\.[\w-]+\.[\w-]+/);
    }
    expect(await streamVersion(h.accountId)).toBe(version);
    const own = await call('POST', '/v1/sync', {
      token: victim.token,
      body: syncBody(victim.deviceId, [event(1, victim.deviceId)]),
    });
    expect(own.body.results[0].status).toBe('accepted');
    const licences = await server.service.licenses(h.accountId, victim.deviceId);
    expect(licences.licenses.map((l) => l.status)).toEqual(['issued']);
  });

  it("the device's own secret registers it again: while active its tokens go on working (a replayed registration), after a deactivation every older token stops", async () => {
    const h = await household(0);
    const deviceSecret = 'S3cr3t-of-this-device-only_0123456789abcdefXYZ';
    const first = await call('POST', '/v1/devices', {
      token: h.accountToken,
      body: { name: 'tv', deviceSecret },
    });
    expect(first.status).toBe(201);
    expect(first.body.deviceSecret).toBeUndefined();
    const again = await call('POST', '/v1/devices', {
      token: h.accountToken,
      body: { name: 'tv', deviceSecret, deviceId: first.body.deviceId },
    });
    expect(again.status).toBe(201);
    // The same device, still active, proving its secret again: the token it kept is not superseded.
    expect((await call('GET', '/v1/licenses', { token: first.body.token })).status).toBe(200);
    expect((await call('GET', '/v1/licenses', { token: again.body.token })).status).toBe(200);
    // Deactivated, then back with its secret: a new token works, the one from before deactivation does not.
    await call('DELETE', `/v1/devices/${first.body.deviceId}`, { token: h.accountToken });
    expectError(
      await call('POST', '/v1/devices', {
        token: h.accountToken,
        body: { name: 'tv', deviceId: first.body.deviceId },
      }),
      409,
      'DEVICE_ALREADY_REGISTERED',
    );
    const back = await call('POST', '/v1/devices', {
      token: h.accountToken,
      body: { name: 'tv', deviceSecret, deviceId: first.body.deviceId },
    });
    expect(back.status).toBe(201);
    expect(back.body.snapshot.device.status).toBe('active');
    expectError(await call('GET', '/v1/licenses', { token: again.body.token }), 401, 'UNAUTHENTICATED');
    expectError(await call('GET', '/v1/licenses', { token: first.body.token }), 401, 'UNAUTHENTICATED');
    // POST /v1/sync checks the credential in its own read statement: a superseded token appends nothing.
    const before = await streamVersion(h.accountId);
    expectError(
      await call('POST', '/v1/sync', {
        token: first.body.token,
        body: syncBody(first.body.deviceId, [event(1, first.body.deviceId)]),
      }),
      401,
      'UNAUTHENTICATED',
    );
    expect(await streamVersion(h.accountId)).toBe(before);
    expect((await call('GET', '/v1/licenses', { token: back.body.token })).status).toBe(200);
    const hash = await server.db.query<{ secret_hash: Uint8Array }>(
      'SELECT secret_hash FROM device_credentials WHERE account_id = $1',
      [h.accountId],
    );
    expect(Buffer.from(hash[0]?.secret_hash ?? []).toString('utf8')).not.toContain(deviceSecret);
    expect(Buffer.from(hash[0]?.secret_hash ?? []).length).toBe(32);
  });

  it('a correctly signed token without exp (or iat) is refused', async () => {
    const d = a.devices[0];
    if (!d) throw new Error('no device');
    const now = Math.floor(Date.now() / 1000);
    const sign = (claims: Record<string, unknown>) => {
      const head = `${b64url({ alg: 'HS256', typ: 'JWT' })}.${b64url(claims)}`;
      return `${head}.${createHmac('sha256', FAULTS_SECRET).update(head).digest('base64url')}`;
    };
    const claims = {
      kind: 'device',
      acc: a.accountId,
      gen: 0,
      iss: 'satchel',
      aud: 'satchel-sync',
      sub: d.deviceId,
    };
    const noExp = sign({ ...claims, iat: now });
    const noIat = sign({ ...claims, exp: now + 3600 });
    const both = sign({ ...claims, iat: now, exp: now + 3600 });
    expectError(await call('GET', '/v1/licenses', { token: noExp }), 401, 'UNAUTHENTICATED');
    expectError(await call('GET', '/v1/licenses', { token: noIat }), 401, 'UNAUTHENTICATED');
    expect((await call('GET', '/v1/licenses', { token: both })).status).toBe(200);
  });

  it("an account registers at most its plan's active devices: 403 DEVICE_LIMIT_REACHED with the limit", async () => {
    const accountId = `cap-${uuidv7().slice(-12)}`;
    await server.service.createAccount(accountId, 'Capped', { ...ROOMY_PLAN, maxRegisteredDevices: 3 });
    const token = (await server.tokens.mint({ kind: 'account', accountId })).token;
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await call('POST', '/v1/devices', { token, body: { name: `d${i}` } });
      expect(r.status).toBe(201);
      ids.push(r.body.deviceId);
    }
    const refused = await call('POST', '/v1/devices', { token, body: { name: 'one too many' } });
    expectError(refused, 403, 'DEVICE_LIMIT_REACHED');
    expect(refused.body.error.details).toEqual({ limit: 3 });
    await call('DELETE', `/v1/devices/${ids[0]}`, { token });
    expect((await call('POST', '/v1/devices', { token, body: { name: 'replacement' } })).status).toBe(201);
  });
});

describe('hostile strings (SQL is parameterised)', () => {
  const hostile = [
    "'; DROP TABLE events; --",
    "Robert'); DROP TABLE device_receipts;--",
    '" OR "1"="1',
    'a\u0000b',
    '\u0000',
    '\ud800',
    '💥 Ünïcödé ☃ 日本語',
    '\\x00\\',
    '$1',
    "'' || pg_sleep(5) || ''",
    'x'.repeat(100),
  ];

  it('stores or refuses them in every field, never with a 5xx, and every table survives', async () => {
    const h = await household(1);
    const d = h.devices[0];
    if (!d) throw new Error('no device');
    let seq = 1;
    for (const s of hostile) {
      const reg = await call('POST', '/v1/devices', { token: h.accountToken, body: { name: s } });
      expect(reg.status, `device name ${JSON.stringify(s)}: ${reg.text.slice(0, 200)}`).toBeLessThan(500);
      const regId = await call('POST', '/v1/devices', {
        token: h.accountToken,
        body: { name: 'ok', deviceId: s },
      });
      expectError(regId, 400, 'VALIDATION_FAILED');
      const title = await call('POST', '/v1/licenses', { token: d.token, body: { titleId: s } });
      expect(title.status).toBeGreaterThanOrEqual(400);
      expect(title.status).toBeLessThan(500);
      const path = `/v1/licenses/${encodeURIComponent(s.replace(/[\ud800-\udfff]/g, '?'))}/renew`;
      expect((await call('POST', path, { token: d.token, body: {} })).status).toBeLessThan(500);
      const at = Date.now();
      const res = await call('POST', '/v1/sync', {
        token: d.token,
        headers: { 'x-request-id': s.replace(/[^\x20-\x7e]/g, '?') },
        body: syncBody(d.deviceId, [
          {
            ...event(seq, d.deviceId),
            type: 'PlaybackStopped',
            v: CURRENT_EVENT_VERSIONS.PlaybackStopped,
            data: { licenseId: s, deviceId: d.deviceId, at, positionMs: 1, [s]: s },
          },
          event(seq + 1, d.deviceId, at, {
            data: { deviceId: d.deviceId, at, wallClockAt: at, behindMs: 1, note: s, [s]: s },
          }),
        ]),
      });
      expect(res.status, `sync with ${JSON.stringify(s)}: ${res.text.slice(0, 200)}`).toBe(200);
      seq += 2;
    }
    for (const table of [
      'events',
      'device_receipts',
      'device_cursors',
      'snapshots',
      'accounts',
      'catalogue_titles',
    ]) {
      const rows = await server.db.query<{ n: number | string }>(`SELECT count(*) AS n FROM ${table}`);
      expect(Number(rows[0]?.n), table).toBeGreaterThanOrEqual(table === 'snapshots' ? 0 : 1);
    }
    const receipts = await server.db.query<{ n: number | string }>(
      'SELECT count(*) AS n FROM device_receipts WHERE account_id = $1',
      [h.accountId],
    );
    expect(Number(receipts[0]?.n)).toBe(seq - 1);
    const devices = await call('GET', '/v1/devices', { token: h.accountToken });
    expect(devices.status).toBe(200);
  });
});

describe('rate limits', () => {
  it('hold under a flood from one device without starving another', async () => {
    const limited = await createSatchelServer({
      db: server.db,
      tokenSecret: FAULTS_SECRET,
      logger: pino({ level: 'silent' }),
      rateLimit: { burst: 20, perSecond: 10 },
    });
    const listener = await limited.listen(0, '127.0.0.1');
    const base = `http://127.0.0.1:${listener.port}`;
    // Another account's device: the flooder's own account shares one limit (per account) with it.
    const [flooder, other] = [a.devices[0], b.devices[0]];
    if (!flooder || !other) throw new Error('no devices');
    try {
      const get = async (token: string) => {
        const t = performance.now();
        const res = await fetch(`${base}/v1/licenses`, { headers: { authorization: `Bearer ${token}` } });
        const text = await res.text();
        return {
          status: res.status,
          text,
          retryAfter: res.headers.get('retry-after'),
          ms: performance.now() - t,
        };
      };
      const floodStarted = performance.now();
      const flood = Promise.all(Array.from({ length: 300 }, () => get(flooder.token)));
      const polite: Array<Awaited<ReturnType<typeof get>>> = [];
      for (let i = 0; i < 8; i++) {
        polite.push(await get(other.token));
        await new Promise((r) => setTimeout(r, 25));
      }
      const flooded = await flood;
      const seconds = (performance.now() - floodStarted) / 1000;
      const refused = flooded.filter((r) => r.status === 429);
      expect(refused.length).toBeGreaterThan(150);
      // At most the burst plus what refilled while the flood lasted.
      expect(flooded.filter((r) => r.status === 200).length).toBeLessThanOrEqual(
        20 + Math.ceil(seconds * 10) + 1,
      );
      for (const r of refused.slice(0, 5)) {
        const error = ErrorResponse.parse(JSON.parse(r.text)).error;
        expect(error.code).toBe('RATE_LIMITED');
        expect(error.retryAfterMs).toBeGreaterThan(0);
        expect(Number(r.retryAfter)).toBeGreaterThanOrEqual(1);
      }
      expect(polite.map((r) => r.status)).toEqual(Array(8).fill(200));
    } finally {
      await listener.close();
    }
  }, 30_000);
});

describe('bounded work per request', () => {
  /** A raw HTTP/1.1 exchange: sends `head` (and `body` bytes, if any), collects the answer until `until`. */
  function rawRequest(
    port: number,
    head: string,
    body = '',
    { waitMs = 8_000 } = {},
  ): Promise<{ text: string; ms: number; closed: boolean }> {
    return new Promise((resolve, reject) => {
      const t0 = performance.now();
      const socket = connect(port, '127.0.0.1');
      let text = '';
      let closed = false;
      const finish = () => {
        clearTimeout(timer);
        resolve({ text, ms: performance.now() - t0, closed });
        socket.destroy();
      };
      const timer = setTimeout(finish, waitMs);
      socket.on('error', (e) => (text ? finish() : reject(e)));
      socket.on('data', (chunk) => {
        text += chunk.toString('utf8');
        // The whole answer: headers and a body of its Content-Length.
        const [headers, rest = ''] = text.split('\r\n\r\n');
        const length = Number(/content-length:\s*(\d+)/i.exec(headers ?? '')?.[1] ?? Number.NaN);
        if (Buffer.byteLength(rest) >= length) {
          // Give the server a moment to close (when it says it will), then report.
          setTimeout(finish, /connection: close/i.test(headers ?? '') ? 300 : 0);
        }
      });
      socket.on('close', () => {
        closed = true;
      });
      socket.write(head + body);
    });
  }
  const head = (path: string, headers: Record<string, string>) =>
    `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n${Object.entries(headers)
      .map(([k, v]) => `${k}: ${v}\r\n`)
      .join('')}\r\n`;

  it('a 1 MiB body of nested arrays is refused on every route that reads a body without being parsed', async () => {
    const hostile = '['.repeat(524_287);
    const d = a.devices[0];
    if (!d) throw new Error('no device');
    const parse = vi.spyOn(JSON, 'parse');
    try {
      const targets: Array<[string, string]> = [
        ['/v1/sync', d.token],
        ['/v1/sync/rebase', d.token],
        ['/v1/licenses', d.token],
        ['/v1/devices', a.accountToken],
      ];
      for (const [path, token] of targets) {
        const t0 = performance.now();
        const res = await call('POST', path, {
          token,
          raw: hostile,
          headers: { 'content-type': 'application/json' },
        });
        expectError(res, 400, 'BAD_REQUEST');
        expect(res.body.error.message, path).toMatch(/deeper than \d+ levels/);
        expect(performance.now() - t0, path).toBeLessThan(5_000);
      }
      const parsedHostile = parse.mock.calls.filter(
        ([text]) => typeof text === 'string' && text.length > 1000,
      );
      expect(parsedHostile.map(([text]) => String(text).slice(0, 20))).toEqual([]);
    } finally {
      parse.mockRestore();
    }
  });

  it('a sync with more events than the protocol allows is refused before the schema walks them', async () => {
    const d = a.devices[0];
    if (!d) throw new Error('no device');
    const walk = vi.spyOn(SyncRequest, 'safeParse');
    try {
      const res = await call('POST', '/v1/sync', {
        token: d.token,
        body: syncBody(
          d.deviceId,
          Array.from({ length: MAX_SYNC_BATCH_EVENTS + 1 }, () => ({})),
        ),
      });
      expectError(res, 400, 'VALIDATION_FAILED');
      expect(res.body.error.details[0].path).toEqual(['events']);
      expect(walk).not.toHaveBeenCalled();
    } finally {
      walk.mockRestore();
    }
  });

  it('an unauthenticated POST gets its 401 at once, without waiting for the body it declared', async () => {
    const listener = await server.listen(0, '127.0.0.1');
    try {
      for (const path of ['/v1/sync', '/v1/licenses']) {
        // 5 of 100 declared bytes, and no more: the answer must not wait for the other 95.
        const res = await rawRequest(
          listener.port,
          head(path, { 'content-type': 'application/json', 'content-length': '100' }),
          '{"pro',
        );
        expect(res.text, path).toMatch(/^HTTP\/1\.1 401/);
        expect(res.text, path).toContain('UNAUTHENTICATED');
        expect(res.text, path).toMatch(/connection: close/i);
        expect(res.ms, path).toBeLessThan(5_000);
      }
    } finally {
      await listener.close();
    }
  }, 30_000);

  it('a body that stops arriving is answered 408 REQUEST_TIMEOUT within the time limit, and the connection closed', async () => {
    const slow = await createSatchelServer({
      db: server.db,
      tokenSecret: FAULTS_SECRET,
      logger: pino({ level: 'silent' }),
      rateLimit: { burst: 100_000, perSecond: 100_000 },
      bodyTimeoutMs: 400,
    });
    const listener = await slow.listen(0, '127.0.0.1');
    const d = a.devices[0];
    if (!d) throw new Error('no device');
    try {
      for (const path of ['/v1/sync', '/v1/licenses']) {
        const res = await rawRequest(
          listener.port,
          head(path, {
            authorization: `Bearer ${d.token}`,
            'content-type': 'application/json',
            'content-length': '100',
          }),
          '{"pro',
        );
        expect(res.text, path).toMatch(/^HTTP\/1\.1 408/);
        expect(res.text, path).toContain('REQUEST_TIMEOUT');
        expect(res.text, path).toMatch(/connection: close/i);
        expect(res.ms, path).toBeLessThan(6_000);
      }
    } finally {
      await listener.close();
    }
  }, 30_000);

  it('a declared Content-Length over the limit is refused from the header (413), before any body', async () => {
    const listener = await server.listen(0, '127.0.0.1');
    const d = a.devices[0];
    if (!d) throw new Error('no device');
    try {
      for (const path of ['/v1/sync', '/v1/licenses']) {
        const res = await rawRequest(
          listener.port,
          head(path, {
            authorization: `Bearer ${d.token}`,
            'content-type': 'application/json',
            'content-length': String(MAX_SYNC_BODY_BYTES + 1),
          }),
        );
        expect(res.text, path).toMatch(/^HTTP\/1\.1 413/);
        expect(res.text, path).toContain('PAYLOAD_TOO_LARGE');
        expect(res.ms, path).toBeLessThan(5_000);
      }
    } finally {
      await listener.close();
    }
  }, 30_000);

  it('one device syncing on many connections at once: one merge runs, two wait their turn, the rest get 429 with Retry-After', async () => {
    const h = await household(1);
    const d = h.devices[0];
    if (!d) throw new Error('no device');
    // The token is verified (and cached) first, so that every request reaches the gate together.
    expect((await call('GET', '/v1/licenses', { token: d.token })).status).toBe(200);
    const body = syncBody(d.deviceId, [event(1, d.deviceId)]);
    const answers = await Promise.all(
      Array.from({ length: 6 }, () => call('POST', '/v1/sync', { token: d.token, body })),
    );
    const statuses = answers.map((r) => r.status).sort();
    expect(statuses).toEqual([200, 200, 200, 429, 429, 429]);
    for (const r of answers.filter((x) => x.status === 429)) {
      expectError(r, 429, 'RATE_LIMITED');
      expect(Number(r.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    }
    // The ones that ran, ran one after another: one accepted, the others answered as duplicates.
    const results = answers.filter((r) => r.status === 200).map((r) => r.body.results[0].status);
    expect(results.sort()).toEqual(['accepted', 'duplicate', 'duplicate']);
  });
});

describe('secrets', () => {
  it('no answer echoed the signing secret, and no token appeared except a new device its own', () => {
    const deviceTokens = [...a.devices, ...b.devices].map((d) => d.token);
    const accountTokens = [a.accountToken, b.accountToken];
    expect(seen.length).toBeGreaterThan(100);
    for (const s of seen) {
      expect(s.text, s.route).not.toContain(FAULTS_SECRET);
      for (const t of accountTokens) expect(s.text, s.route).not.toContain(t);
      if (s.registration) continue;
      for (const t of deviceTokens) expect(s.text, `${s.route} echoed a device token`).not.toContain(t);
    }
  });

  it('test hooks are inert in production', () => {
    const fetch = (_: Request) => new Response('x');
    expect(withTestHooks(fetch, { SATCHEL_TEST_HOOKS: '1', NODE_ENV: 'production' })).toBe(fetch);
    expect(withTestHooks(fetch, { SATCHEL_TEST_HOOKS: '1', SATCHEL_ENV: 'production' })).toBe(fetch);
    expect(withTestHooks(fetch, { SATCHEL_TEST_HOOKS: '1', SATCHEL_ENV: 'development' })).not.toBe(fetch);
    expect(withTestHooks(fetch, {})).toBe(fetch);
  });

  it('the reference server refuses to start in production with the development or a weak signing key', async () => {
    const bundle = await buildSyncServer();
    const dataDir = mkdtempSync(join(tmpdir(), 'satchel-sec-'));
    try {
      const run = (env: Record<string, string>) => {
        const { SATCHEL_TOKEN_SECRET: _, SATCHEL_ENV: __, NODE_ENV: ___, ...rest } = process.env;
        return spawnSync(process.execPath, [bundle], {
          env: {
            ...rest,
            SATCHEL_ENV: 'production',
            PORT: '0',
            HOST: '127.0.0.1',
            SATCHEL_DATA_DIR: dataDir,
            LOG_LEVEL: 'fatal',
            ...env,
          },
          encoding: 'utf8',
          timeout: 30_000,
        });
      };
      const unset = run({});
      expect(unset.status).toBe(1);
      expect(unset.stderr).toContain('SATCHEL_TOKEN_SECRET');
      for (const weak of [
        DEVELOPMENT_TOKEN_SECRET,
        'short',
        'a'.repeat(16),
        'a'.repeat(64),
        'passwordpasswordpasswordpassword',
        '0123456789abcdef0123456789abcdef',
      ]) {
        const refused = run({ SATCHEL_TOKEN_SECRET: weak });
        expect(refused.status, weak).toBe(1);
        expect(refused.stderr, weak).toContain('SATCHEL_TOKEN_SECRET');
      }
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 60_000);
});

describe('fail closed: SATCHEL_ENV and production mode', () => {
  const strong = 'q8V1xN3kZr7TbW2mYc5LpJ0hGf4Ds9Ae6Ku-Io_PzQw';

  function start(env: Record<string, string | undefined>, dataDir: string) {
    return buildSyncServer().then((bundle) => {
      const { SATCHEL_TOKEN_SECRET: _, SATCHEL_ENV: __, NODE_ENV: ___, ...rest } = process.env;
      const merged: Record<string, string> = {
        ...(rest as Record<string, string>),
        PORT: '0',
        HOST: '127.0.0.1',
        SATCHEL_DATA_DIR: dataDir,
        LOG_LEVEL: 'info',
      };
      for (const [k, v] of Object.entries(env)) if (v !== undefined) merged[k] = v;
      return spawnSync(process.execPath, [bundle], { env: merged, encoding: 'utf8', timeout: 30_000 });
    });
  }

  it.each([
    ['unset', undefined],
    ['Production', 'Production'],
    ['prod', 'prod'],
    ['production with a trailing space', 'production '],
    ['test', 'test'],
    ['empty', ''],
  ])(
    'refuses to start when SATCHEL_ENV is %s, whatever NODE_ENV says',
    async (_name, value) => {
      const dataDir = mkdtempSync(join(tmpdir(), 'satchel-env-'));
      try {
        for (const NODE_ENV of [undefined, 'production']) {
          const res = await start({ SATCHEL_ENV: value, NODE_ENV, SATCHEL_TOKEN_SECRET: strong }, dataDir);
          expect(res.status, res.stderr).toBe(1);
          expect(res.stderr).toContain('SATCHEL_ENV');
        }
      } finally {
        rmSync(dataDir, { recursive: true, force: true });
      }
    },
    60_000,
  );

  it('the production secret check: length and estimated entropy, not the development secret', () => {
    expect(productionSecretProblem(strong)).toBeNull();
    expect(productionSecretProblem(undefined)).toContain('not set');
    expect(productionSecretProblem(DEVELOPMENT_TOKEN_SECRET)).toContain('development');
    expect(productionSecretProblem('a'.repeat(16))).toContain('fewer than');
    expect(productionSecretProblem('a'.repeat(100))).toContain('guessable');
    expect(estimatedEntropyBits('a'.repeat(100))).toBe(0);
    expect(estimatedEntropyBits(strong)).toBeGreaterThan(128);
  });

  it('production seeds nothing and prints no token', async () => {
    const bundle = await buildSyncServer();
    const dataDir = mkdtempSync(join(tmpdir(), 'satchel-prod-'));
    const { SATCHEL_TOKEN_SECRET: _, SATCHEL_ENV: __, NODE_ENV: ___, ...rest } = process.env;
    const child = spawn(process.execPath, [bundle], {
      env: {
        ...rest,
        SATCHEL_ENV: 'production',
        SATCHEL_TOKEN_SECRET: strong,
        PORT: '0',
        HOST: '127.0.0.1',
        SATCHEL_DATA_DIR: dataDir,
        LOG_LEVEL: 'info',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    try {
      const deadline = Date.now() + 45_000;
      const address = () => /on (http:\/\/localhost:\d+) /.exec(output)?.[1];
      while (!address() && Date.now() < deadline) await sleep(100);
      expect(output).toContain('listening');
      expect(output).toContain('(production)');
      expect(output).not.toMatch(/eyJ[\w-]+\.[\w-]+\.[\w-]+/);
      expect(output.toLowerCase()).not.toContain('enrolment token');
      // What an operator of the running server sees: no account and no title. Asked over the admin
      // API while it runs, so the answer does not depend on how the embedded database is shut down.
      const { token } = await new Tokens(strong).mint({
        kind: 'operator',
        operatorId: 'sec@example.com',
        role: 'support',
      });
      const get = async (path: string) => {
        const res = await fetch(`${address()}${path}`, { headers: { authorization: `Bearer ${token}` } });
        expect(res.status).toBe(200);
        return (await res.json()) as Record<string, unknown>;
      };
      expect((await get('/v1/admin/accounts')).accounts).toEqual([]);
      expect((await get('/v1/admin/catalogue')).titles).toEqual([]);
    } finally {
      child.kill('SIGTERM');
      await exited;
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 90_000);
});
