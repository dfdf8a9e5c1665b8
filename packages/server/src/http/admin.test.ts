import { DAY_MS, HOUR_MS } from '@satchel/core';
import { openApiDocument } from '@satchel/protocol/openapi';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pgliteDatabase } from '../db/pglite.js';
import { envelope, type Harness, harness, syncBody, T0 } from '../testing/harness.js';

let h: Harness;
let close: () => Promise<void>;
const tokens: Record<'support' | 'admin' | 'device' | 'account' | 'tampered', string> = {
  support: '',
  admin: '',
  device: '',
  account: '',
  tampered: '',
};
let fixture: { accountId: string; deviceId: string };

beforeAll(async () => {
  const db = await pgliteDatabase();
  close = () => db.close();
  h = await harness(db);
  const mint = (role: 'support' | 'admin') =>
    h.server.tokens.mint({ kind: 'operator', operatorId: `${role}@example.com`, role });
  tokens.support = (await mint('support')).token;
  tokens.admin = (await mint('admin')).token;
  // A valid admin token with one character of its signature changed.
  const last = tokens.admin.at(-2) === 'A' ? 'B' : 'A';
  tokens.tampered = `${tokens.admin.slice(0, -2)}${last}${tokens.admin.slice(-1)}`;
  const account = await h.account();
  const device = await h.device(account.token, 'Laptop');
  tokens.account = account.token;
  tokens.device = device.token;
  fixture = { accountId: account.accountId, deviceId: device.deviceId };
}, 120_000);
afterAll(async () => close());

const admin = (method: string, path: string, body?: unknown) =>
  h.call(method, path, { token: tokens.admin, ...(body === undefined ? {} : { body }) });

/** Every admin route, with a request that succeeds for an admin. Writes last; deactivation at the very end. */
function routes() {
  const a = fixture.accountId;
  const plan = {
    planId: 'family',
    maxDownloadDevices: 4,
    maxDownloadsPerDevice: 100,
    maxDownloadsPerMonth: null,
  };
  return [
    { method: 'GET', path: '/v1/admin/whoami' },
    { method: 'GET', path: '/v1/admin/catalogue' },
    { method: 'GET', path: '/v1/admin/catalogue/night-train/versions' },
    { method: 'GET', path: '/v1/admin/accounts?q=acct' },
    { method: 'GET', path: `/v1/admin/accounts/${a}` },
    { method: 'GET', path: `/v1/admin/accounts/${a}/devices` },
    { method: 'GET', path: `/v1/admin/accounts/${a}/history?all=true` },
    { method: 'GET', path: `/v1/admin/accounts/${a}/state?at=${T0}` },
    { method: 'GET', path: '/v1/admin/reports/studios?from=2026-01&to=2026-02' },
    { method: 'GET', path: '/v1/admin/projections' },
    {
      method: 'POST',
      path: '/v1/admin/what-if',
      body: { titles: { 'night-train': { playbackDurationSec: 86400 } } },
    },
    {
      method: 'POST',
      path: `/v1/admin/what-if/accounts/${a}`,
      body: { plans: { standard: { maxDownloadDevices: 1 } } },
    },
    { method: 'POST', path: '/v1/admin/projections/studio-accounting/rebuild' },
    { method: 'POST', path: '/v1/admin/tokens', body: { operatorId: 'new@example.com', role: 'support' } },
    { method: 'PUT', path: '/v1/admin/catalogue/matrix-film', body: { name: 'Matrix film' } },
    { method: 'PATCH', path: '/v1/admin/catalogue/matrix-film', body: { policy: { maxRenewals: 1 } } },
    { method: 'POST', path: '/v1/admin/catalogue/matrix-film/withdraw', body: {} },
    { method: 'POST', path: '/v1/admin/accounts', body: { accountId: 'matrix-account', name: 'Matrix' } },
    { method: 'PUT', path: `/v1/admin/accounts/${a}/plan`, body: { plan } },
    { method: 'POST', path: `/v1/admin/accounts/${a}/devices/${fixture.deviceId}/token`, body: {} },
    { method: 'POST', path: `/v1/admin/accounts/${a}/devices/${fixture.deviceId}/deactivate` },
  ] as const;
}

describe('admin API: every route × role × token', () => {
  it('lists every admin route in the OpenAPI document', () => {
    const doc = openApiDocument();
    const documented = Object.entries(doc.paths)
      .filter(([path]) => path.startsWith('/v1/admin'))
      .flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`));
    const served = h.server.app.routes
      .filter((r) => r.path.startsWith('/v1/admin/') && r.method !== 'ALL')
      .map((r) => `${r.method} ${r.path.replace(/:(\w+)/g, '{$1}')}`);
    expect(new Set(served)).toEqual(new Set(documented));
    const tested = routes().map((r) => `${r.method} ${r.path.split('?')[0]}`);
    expect(tested).toHaveLength(new Set(served).size);
  });

  it('refuses device, account and tampered tokens on every route, and support on every change', async () => {
    for (const route of routes()) {
      const body = 'body' in route ? { body: route.body } : {};
      for (const kind of ['device', 'account'] as const) {
        const res = await h.call(route.method, route.path, { token: tokens[kind], ...body });
        expect([route.method, route.path, kind, res.status, res.body.error?.code]).toEqual([
          route.method,
          route.path,
          kind,
          403,
          'FORBIDDEN',
        ]);
      }
      const tampered = await h.call(route.method, route.path, { token: tokens.tampered, ...body });
      expect([route.path, tampered.status, tampered.body.error?.code]).toEqual([
        route.path,
        401,
        'UNAUTHENTICATED',
      ]);
      const none = await h.call(route.method, route.path, body);
      expect([route.path, none.status]).toEqual([route.path, 401]);
      const support = await h.call(route.method, route.path, { token: tokens.support, ...body });
      if (route.method === 'GET') expect([route.path, support.status]).toEqual([route.path, 200]);
      else
        expect([route.path, support.status, support.body.error?.code]).toEqual([
          route.path,
          403,
          'FORBIDDEN',
        ]);
    }
  });

  it('lets an admin do everything', async () => {
    for (const route of routes()) {
      const res = await admin(route.method, route.path, 'body' in route ? route.body : undefined);
      expect([route.method, route.path, res.status < 300, res.body.error]).toEqual([
        route.method,
        route.path,
        true,
        undefined,
      ]);
    }
  });

  it('refuses operator tokens on the device and account routes', async () => {
    for (const [method, path] of [
      ['GET', '/v1/devices'],
      ['GET', '/v1/licenses'],
      ['POST', '/v1/licenses'],
      ['POST', '/v1/sync'],
    ] as const) {
      const res = await h.call(method, path, {
        token: tokens.admin,
        ...(method === 'GET' ? {} : { body: {} }),
      });
      expect([path, res.status]).toEqual([path, 403]);
    }
  });
});

describe('admin API: operator tasks', () => {
  it("mints a device token of the device's current credential generation, and none for a deactivated device", async () => {
    const account = await h.account();
    const deviceSecret = 'admin-test-device-secret-0123456789abcdef';
    const first = await h.call('POST', '/v1/devices', {
      token: account.token,
      body: { name: 'tv', deviceSecret },
    });
    const { deviceId } = first.body;
    const path = `/v1/admin/accounts/${account.accountId}/devices/${deviceId}/token`;
    // Deactivated, then registered again with its secret: generation 1; a generation-0 token is refused.
    await h.call('DELETE', `/v1/devices/${deviceId}`, { token: account.token });
    expect((await admin('POST', path, {})).body.error).toMatchObject({ code: 'DEVICE_DEACTIVATED' });
    const back = await h.call('POST', '/v1/devices', {
      token: account.token,
      body: { name: 'tv', deviceSecret, deviceId },
    });
    expect(back.status).toBe(201);
    const minted = await admin('POST', path, { ttlSec: 3600 });
    expect(minted.status).toBe(201);
    expect(minted.body).toMatchObject({ accountId: account.accountId, deviceId, generation: 1 });
    expect(minted.body.expiresAt).toBeLessThanOrEqual(Date.now() + 3600_000 + 5_000);
    expect((await h.call('GET', '/v1/licenses', { token: minted.body.token })).status).toBe(200);
    const generationZero = await h.server.tokens.mint({
      kind: 'device',
      accountId: account.accountId,
      deviceId,
    });
    expect((await h.call('GET', '/v1/licenses', { token: generationZero.token })).status).toBe(401);
    const unknown = await admin(
      'POST',
      `/v1/admin/accounts/${account.accountId}/devices/no-such-device/token`,
      {},
    );
    expect(unknown.status).toBe(404);
  });

  it('versions a policy change: licences keep the version they were issued under, recorded in LicenseIssued', async () => {
    const created = await admin('PUT', '/v1/admin/catalogue/versioned', {
      name: 'Versioned',
      policy: { playbackDurationSec: 48 * 3600 },
    });
    expect(created.status).toBe(201);
    expect(created.body.title.version).toBe(1);
    const account = await h.account();
    const first = await h.device(account.token, 'One');
    const granted = await h.call('POST', '/v1/licenses', {
      token: first.token,
      body: { titleId: 'versioned' },
    });
    expect(granted.body.outcome).toBe('granted');

    const changed = await admin('PATCH', '/v1/admin/catalogue/versioned', {
      policy: { playbackDurationSec: 6 * 3600 },
    });
    expect(changed.body.title).toMatchObject({ version: 2, policy: { playbackDurationSec: 6 * 3600 } });
    h.server.service.catalogue.invalidate();
    const second = await h.device(account.token, 'Two');
    await h.call('POST', '/v1/licenses', { token: second.token, body: { titleId: 'versioned' } });

    const state = await admin('GET', `/v1/admin/accounts/${account.accountId}/state?at=${h.clock.now}`);
    const byDevice = Object.fromEntries(
      state.body.licenses.map((l: { deviceId: string }) => [l.deviceId, l]),
    );
    expect(byDevice[first.deviceId]).toMatchObject({
      policyVersion: 1,
      policy: { playbackDurationSec: 48 * 3600 },
    });
    expect(byDevice[second.deviceId]).toMatchObject({
      policyVersion: 2,
      policy: { playbackDurationSec: 6 * 3600 },
    });
    const issued = await admin('GET', `/v1/admin/accounts/${account.accountId}/history?type=LicenseIssued`);
    expect(issued.body.events.map((e: { data: { policyVersion: number } }) => e.data.policyVersion)).toEqual([
      1, 2,
    ]);

    const versions = await admin('GET', '/v1/admin/catalogue/versioned/versions');
    expect(
      versions.body.versions.map((v: { version: number; changedBy: string }) => [v.version, v.changedBy]),
    ).toEqual([
      [1, 'admin@example.com'],
      [2, 'admin@example.com'],
    ]);
  });

  it("sets a title's studio when it is created and changes it later; an omitted studio is kept", async () => {
    const created = await admin('PUT', '/v1/admin/catalogue/owned', {
      name: 'Owned',
      studio: 'Harbour Films',
    });
    expect(created.status).toBe(201);
    expect(created.body.title.studio).toBe('Harbour Films');
    const renamed = await admin('PATCH', '/v1/admin/catalogue/owned', { name: 'Owned, renamed' });
    expect(renamed.body.title).toMatchObject({ name: 'Owned, renamed', studio: 'Harbour Films' });
    const moved = await admin('PATCH', '/v1/admin/catalogue/owned', { studio: 'Northlight Pictures' });
    expect(moved.status).toBe(200);
    expect(moved.body.title).toMatchObject({ studio: 'Northlight Pictures', version: 3 });
    const unowned = await admin('PUT', '/v1/admin/catalogue/unowned', { name: 'Unowned' });
    expect(unowned.body.title.studio).toBe('unassigned');
    const listed = await admin('GET', '/v1/admin/catalogue');
    const byId = Object.fromEntries(
      listed.body.titles.map((t: { titleId: string; studio: string }) => [t.titleId, t.studio]),
    );
    expect(byId).toMatchObject({ owned: 'Northlight Pictures', unowned: 'unassigned' });
    const empty = await admin('PATCH', '/v1/admin/catalogue/owned', { studio: '' });
    expect(empty.status).toBe(400);
  });

  it('records the operator who withdrew a title in its policy version, as for a policy change', async () => {
    await admin('PUT', '/v1/admin/catalogue/withdrawn-by', { name: 'Withdrawn by' });
    const at = h.clock.now + DAY_MS;
    const withdrawn = await admin('POST', '/v1/admin/catalogue/withdrawn-by/withdraw', { at });
    expect(withdrawn.status).toBe(200);
    const versions = await admin('GET', '/v1/admin/catalogue/withdrawn-by/versions');
    expect(
      versions.body.versions.map(
        (v: { version: number; changedBy: string | null; policy: { availableUntil: number | null } }) => [
          v.version,
          v.changedBy,
          v.policy.availableUntil,
        ],
      ),
    ).toEqual([
      [1, 'admin@example.com', null],
      [2, 'admin@example.com', at],
    ]);
  });

  it('refuses an invalid policy and an unknown title or account with typed errors', async () => {
    const bad = await admin('PATCH', '/v1/admin/catalogue/night-train', {
      policy: { licenseDurationSec: 0 },
    });
    expect([bad.status, bad.body.error.code]).toEqual([400, 'VALIDATION_FAILED']);
    const empty = await admin('PATCH', '/v1/admin/catalogue/night-train', {});
    expect([empty.status, empty.body.error.code]).toEqual([400, 'VALIDATION_FAILED']);
    const unknown = await admin('PATCH', '/v1/admin/catalogue/no-such-title', { name: 'x' });
    expect([unknown.status, unknown.body.error.code]).toEqual([404, 'NOT_FOUND']);
    const account = await admin('GET', '/v1/admin/accounts/no-such-account/state');
    expect([account.status, account.body.error.code]).toEqual([404, 'NOT_FOUND']);
    const at = await admin('GET', `/v1/admin/accounts/${fixture.accountId}/state?at=yesterday`);
    expect([at.status, at.body.error.code]).toEqual([400, 'VALIDATION_FAILED']);
  });

  it('refuses a what-if naming a title, plan or account that does not exist with 404 NOT_FOUND, as the other routes do, streamed or not', async () => {
    const longer = { playbackDurationSec: 86400 };
    const cases = [
      [{ titles: { 'no-such-title': longer } }, 'No title no-such-title'],
      [{ plans: { 'no-such-plan': { maxDownloadDevices: 1 } } }, 'No plan no-such-plan'],
      [
        { titles: { 'night-train': longer }, accountIds: [fixture.accountId, 'ghost-1', 'ghost-2'] },
        'No accounts ghost-1, ghost-2',
      ],
    ] as const;
    for (const [body, message] of cases) {
      for (const accept of ['application/json', 'application/x-ndjson']) {
        const res = await h.call('POST', '/v1/admin/what-if', {
          token: tokens.admin,
          body,
          headers: { accept },
        });
        expect([accept, res.status, res.body.error?.code, res.body.error?.message]).toEqual([
          accept,
          404,
          'NOT_FOUND',
          expect.stringContaining(message),
        ]);
      }
    }
    const account = await admin('POST', '/v1/admin/what-if/accounts/no-such-account', {
      plans: { standard: { maxDownloadDevices: 1 } },
    });
    expect([account.status, account.body.error?.code, account.body.error?.message]).toEqual([
      404,
      'NOT_FOUND',
      'No account no-such-account',
    ]);
    const title = await admin('POST', `/v1/admin/what-if/accounts/${fixture.accountId}`, {
      titles: { 'no-such-title': longer },
    });
    expect([title.status, title.body.error?.code]).toEqual([404, 'NOT_FOUND']);
    const known = await admin('POST', '/v1/admin/what-if', {
      titles: { 'night-train': longer },
      plans: { standard: { maxDownloadDevices: 1 } },
      accountIds: [fixture.accountId],
    });
    expect([known.status, known.body.totals?.accountsScanned]).toEqual([200, 1]);
  });

  it('resolves a plan downgrade with LIMIT_CONFLICT revocations, readable in the history', async () => {
    const account = await h.account();
    const one = await h.device(account.token, 'One');
    const two = await h.device(account.token, 'Two');
    await h.call('POST', '/v1/licenses', { token: one.token, body: { titleId: 'quiet-river' } });
    h.clock.now += 1000;
    const later = await h.call('POST', '/v1/licenses', {
      token: two.token,
      body: { titleId: 'quiet-river' },
    });
    const plan = {
      planId: 'solo',
      maxDownloadDevices: 1,
      maxDownloadsPerDevice: 100,
      maxDownloadsPerMonth: null,
    };
    const res = await admin('PUT', `/v1/admin/accounts/${account.accountId}/plan`, { plan });
    expect(res.body).toEqual({ plan, revoked: [later.body.license.licenseId] });
    const revoked = await admin(
      'GET',
      `/v1/admin/accounts/${account.accountId}/history?type=LicenseRevoked&device=${two.deviceId}`,
    );
    expect(revoked.body.events.map((e: { data: { reason: string } }) => e.data.reason)).toEqual([
      'LIMIT_CONFLICT',
    ]);
  });

  it('pages and filters the history without cutting anything', async () => {
    const a = fixture.accountId;
    const whole = await admin('GET', `/v1/admin/accounts/${a}/history?all=true`);
    const n = whole.body.events.length;
    expect(n).toBeGreaterThan(3);
    const pages: unknown[] = [];
    let after = 0;
    for (;;) {
      const page = await admin('GET', `/v1/admin/accounts/${a}/history?limit=2&after=${after}`);
      pages.push(...page.body.events);
      if (page.body.next === null) break;
      after = page.body.next;
    }
    expect(pages).toEqual(whole.body.events);
    const types = await admin('GET', `/v1/admin/accounts/${a}/history?type=DeviceRegistered,AccountOpened`);
    expect(types.body.events.map((e: { type: string }) => e.type)).toEqual([
      'AccountOpened',
      'DeviceRegistered',
    ]);
    const window = await admin('GET', `/v1/admin/accounts/${a}/history?from=${T0 + 1}`);
    expect(window.body.events.every((e: { at: number }) => e.at >= T0 + 1)).toBe(true);
  });

  it('explains the state at an instant: before the account existed, and a playback window that ended offline', async () => {
    const account = await h.account();
    const before = await admin('GET', `/v1/admin/accounts/${account.accountId}/state?at=${h.clock.now - 1}`);
    expect(before.body).toMatchObject({ exists: false, plan: null, licenses: [] });

    const device = await h.device(account.token);
    const granted = await h.call('POST', '/v1/licenses', {
      token: device.token,
      body: { titleId: 'night-train' },
    });
    const licenseId = granted.body.license.licenseId;
    const start = h.clock.now;
    const events = [
      envelope(1, 'DownloadCompleted', { licenseId, deviceId: device.deviceId }, start + HOUR_MS),
      envelope(
        2,
        'PlaybackStarted',
        { licenseId, deviceId: device.deviceId, positionMs: 0 },
        start + 2 * HOUR_MS,
      ),
      envelope(
        3,
        'LicenseExpiryObserved',
        { licenseId, deviceId: device.deviceId, reason: 'PLAYBACK_WINDOW' },
        start + 50 * HOUR_MS,
      ),
    ];
    h.clock.now = start + 3 * DAY_MS;
    const synced = await h.call('POST', '/v1/sync', {
      token: device.token,
      body: syncBody(device.deviceId, events),
    });
    expect(synced.status).toBe(200);

    const at = new Date(start + 51 * HOUR_MS).toISOString();
    const state = await admin('GET', `/v1/admin/accounts/${account.accountId}/state?at=${at}`);
    const l = state.body.licenses[0];
    expect(l).toMatchObject({
      status: 'expired',
      statusReason: 'PLAYBACK_WINDOW',
      playable: false,
      bound: 'PLAYBACK_WINDOW',
    });
    expect(l.rule).toMatch(/playback window: 48 h/);
    // The server records LicenseExpired at its next expiry pass; until then the rules' verdict is pending.
    expect(l.pending).toBe(true);
    expect(l.setBy.map((r: { type: string }) => r.type)).toEqual([
      'LicenseIssued',
      'PlaybackStarted',
      'LicenseExpiryObserved',
    ]);
    expect(state.body.devices[0].lastSyncAt).toBeNull();
    const later = await admin(
      'GET',
      `/v1/admin/accounts/${account.accountId}/state?at=${start + 4 * DAY_MS}`,
    );
    expect(later.body.devices[0]).toMatchObject({ lastSyncAt: start + 3 * DAY_MS });
  });

  it('searches accounts by id or name, paged', async () => {
    const created = await admin('POST', '/v1/admin/accounts', { accountId: 'smiths-42', name: 'The Smiths' });
    expect(created.status).toBe(201);
    const again = await admin('POST', '/v1/admin/accounts', { accountId: 'smiths-42', name: 'The Smiths' });
    expect([again.status, again.body.created]).toEqual([200, false]);
    const byName = await admin('GET', '/v1/admin/accounts?q=smiths');
    expect(byName.body.accounts.map((x: { accountId: string }) => x.accountId)).toEqual(['smiths-42']);
    const first = await admin('GET', '/v1/admin/accounts?limit=1');
    expect(first.body.accounts).toHaveLength(1);
    const second = await admin('GET', `/v1/admin/accounts?limit=1&after=${first.body.next}`);
    expect(second.body.accounts[0].accountId > first.body.accounts[0].accountId).toBe(true);
  });

  it('mints operator tokens for an admin; a minted support token reads', async () => {
    const minted = await admin('POST', '/v1/admin/tokens', {
      operatorId: 'helpdesk@example.com',
      role: 'support',
    });
    expect(minted.status).toBe(201);
    const me = await h.call('GET', '/v1/admin/whoami', { token: minted.body.token });
    expect(me.body).toEqual({ operatorId: 'helpdesk@example.com', role: 'support' });
  });
});
