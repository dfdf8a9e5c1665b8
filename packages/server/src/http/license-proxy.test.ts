import { HOUR_MS } from '@satchel/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../db/database.js';
import { pgliteDatabase } from '../db/pglite.js';
import { envelope, type Harness, harness, syncBody, T0 } from '../testing/harness.js';

const KEY = { keyId: '00112233445566778899aabbccddeeff', key: 'ffeeddccbbaa99887766554433221100' };
const OTHER = { keyId: '0102030405060708090a0b0c0d0e0f10', key: '100f0e0d0c0b0a090807060504030201' };
const b64url = (hex: string) => Buffer.from(hex, 'hex').toString('base64url');
const CLEARKEY = 'org.w3.clearkey';

describe('licence proxy: POST /v1/licenses/{licenseId}/drm/{keySystem}', () => {
  let db: Database;
  let h: Harness;
  const forwarded: { url: string; body: string; headers: Record<string, string> }[] = [];

  beforeAll(async () => {
    db = await pgliteDatabase();
    h = await harness(db, {
      licenseProxy: {
        clearKeys: (titleId) =>
          titleId === 'quiet-river' ? [KEY, OTHER] : titleId === 'night-train' ? [KEY] : null,
        upstreams: {
          'com.widevine.alpha': {
            url: 'https://licensing.example/widevine',
            headers: { 'x-provider': 'satchel' },
          },
        },
        fetch: async (url, init) => {
          forwarded.push({
            url: String(url),
            body: Buffer.from(init?.body as ArrayBuffer).toString('utf8'),
            headers: init?.headers as Record<string, string>,
          });
          return new Response(new Uint8Array([1, 2, 3]), {
            headers: { 'content-type': 'application/octet-stream' },
          });
        },
      },
    });
  }, 120_000);
  afterAll(async () => {
    await db?.close();
  });

  async function licensed(titleId = 'quiet-river') {
    const acct = await h.account();
    const dev = await h.device(acct.token, 'Laptop');
    const lic = await h.call('POST', '/v1/licenses', { token: dev.token, body: { titleId } });
    expect(lic.body.outcome).toBe('granted');
    return { acct, dev, licenseId: lic.body.license.licenseId as string };
  }
  const keyRequest = (token: string, licenseId: string, body?: unknown, keySystem = CLEARKEY) =>
    h.call('POST', `/v1/licenses/${licenseId}/drm/${keySystem}`, {
      token,
      ...(body === undefined ? {} : { body }),
    });

  it('hands the ClearKey keys of a valid licence to its device, in the W3C ClearKey licence format', async () => {
    const { dev, licenseId } = await licensed();
    const all = await keyRequest(dev.token, licenseId);
    expect(all.status).toBe(200);
    expect(all.body).toEqual({
      keys: [
        { kty: 'oct', kid: b64url(KEY.keyId), k: b64url(KEY.key) },
        { kty: 'oct', kid: b64url(OTHER.keyId), k: b64url(OTHER.key) },
      ],
      type: 'temporary',
    });
    const narrowed = await keyRequest(dev.token, licenseId, {
      kids: [b64url(OTHER.keyId)],
      type: 'temporary',
    });
    expect(narrowed.body.keys).toEqual([{ kty: 'oct', kid: b64url(OTHER.keyId), k: b64url(OTHER.key) }]);
    const emptyList = await keyRequest(dev.token, licenseId, { kids: [], type: 'temporary' });
    expect(emptyList.body.keys).toHaveLength(2);
  });

  it('refuses the key to another device of the account, and to the account token', async () => {
    const { acct, licenseId } = await licensed();
    const other = await h.device(acct.token, 'Phone');
    const res = await keyRequest(other.token, licenseId);
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('NOT_FOUND');
    expect(res.body.keys).toBeUndefined();
    expect((await keyRequest(acct.token, licenseId)).status).toBe(403);
  });

  it('refuses the key once the licence is released', async () => {
    const { dev, licenseId } = await licensed();
    await h.call('POST', `/v1/licenses/${licenseId}/release`, { token: dev.token });
    const res = await keyRequest(dev.token, licenseId);
    expect(res.status).toBe(403);
    expect(res.body.error).toMatchObject({ code: 'FORBIDDEN', message: expect.stringContaining('released') });
  });

  it('refuses the key once the licence is revoked (its device deactivated)', async () => {
    const { acct, dev, licenseId } = await licensed();
    await h.call('DELETE', `/v1/devices/${dev.deviceId}`, { token: acct.token });
    const res = await keyRequest(dev.token, licenseId);
    expect([403]).toContain(res.status);
    expect(res.body.keys).toBeUndefined();
  });

  it('refuses the key once the licence has expired at the server clock, whatever the device clock says', async () => {
    const { dev, licenseId } = await licensed('night-train');
    const synced = await h.call('POST', '/v1/sync', {
      token: dev.token,
      body: syncBody(dev.deviceId, [
        envelope(1, 'DownloadCompleted', { licenseId, deviceId: dev.deviceId }, h.clock.now),
        envelope(2, 'PlaybackStarted', { licenseId, deviceId: dev.deviceId, positionMs: 0 }, h.clock.now),
      ]),
    });
    expect(synced.body.results.map((r: { status: string }) => r.status)).toEqual(['accepted', 'accepted']);
    expect((await keyRequest(dev.token, licenseId)).status).toBe(200);
    h.clock.now += 49 * HOUR_MS;
    const res = await keyRequest(dev.token, licenseId);
    expect(res.status).toBe(403);
    expect(res.body.error.message).toContain('expired');
    h.clock.now = T0;
  });

  it('forwards another key system’s challenge to its configured licence server, behind the same gate', async () => {
    const { dev, licenseId } = await licensed();
    const res = await h.server.app.request(`/v1/licenses/${licenseId}/drm/com.widevine.alpha`, {
      method: 'POST',
      headers: { authorization: `Bearer ${dev.token}`, 'content-type': 'application/octet-stream' },
      body: 'challenge',
    });
    expect(res.status).toBe(200);
    expect(new Uint8Array(await res.arrayBuffer())).toEqual(new Uint8Array([1, 2, 3]));
    expect(forwarded.at(-1)).toMatchObject({
      url: 'https://licensing.example/widevine',
      body: 'challenge',
      headers: { 'x-provider': 'satchel' },
    });
    expect((await keyRequest(dev.token, licenseId, undefined, 'com.apple.fps')).status).toBe(404);
    expect((await keyRequest(dev.token, licenseId, undefined, 'com.example.none')).status).toBe(404);
  });

  it('answers a licence’s history to its own device only (the licence timeline)', async () => {
    const { acct, dev, licenseId } = await licensed();
    const res = await h.call('GET', `/v1/licenses/${licenseId}/history`, { token: dev.token });
    expect(res.status).toBe(200);
    expect(res.body.events.map((e: { type: string }) => e.type)).toEqual([
      'DeviceRegistered',
      'LicenseIssued',
    ]);
    const other = await h.device(acct.token, 'Phone');
    expect((await h.call('GET', `/v1/licenses/${licenseId}/history`, { token: other.token })).status).toBe(
      404,
    );
  });
});
