import { DAY_MS, HOUR_MS } from '@satchel/core';
import {
  CatalogueResponse,
  ErrorResponse,
  LicenseResponse,
  RegisterDeviceResponse,
  SyncResponse,
} from '@satchel/protocol/schemas';
import { uuidv7 } from 'uuidv7';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../db/database.js';
import { envelope, type Harness, harness, syncBody, T0, TEST_SECRET } from './harness.js';

export interface ApiBackend {
  db: Database;
  teardown(): Promise<void>;
}

/** The HTTP API and merge behaviour every backend must show. */
export function apiContract(
  name: string,
  open: () => Promise<ApiBackend>,
  options: { http?: boolean } = {},
): void {
  const http = options.http === true;
  describe(`sync server API (${name})`, { timeout: 30_000 }, () => {
    let backend: ApiBackend;
    let h: Harness;

    beforeAll(async () => {
      backend = await open();
      h = await harness(backend.db, { snapshotEvery: 20, http });
    }, 120_000);
    afterAll(async () => {
      await h?.close();
      await backend?.teardown();
    });

    const version = async (accountId: string) => (await h.server.service.accountState(accountId)).version;
    const cursorOf = async (accountId: string, deviceId: string) =>
      (await h.server.service.deviceCursors(accountId)).find((c) => c.deviceId === deviceId)?.lastSeq ?? 0;
    const expectError = (res: { status: number; body: unknown }, status: number, code: string) => {
      expect(res.status).toBe(status);
      const parsed = ErrorResponse.safeParse(res.body);
      expect(parsed.success).toBe(true);
      expect(parsed.data?.error.code).toBe(code);
      return parsed.data?.error;
    };

    async function downloaded(title = 'quiet-river') {
      const acct = await h.account();
      const dev = await h.device(acct.token, 'Laptop');
      const lic = await h.call('POST', '/v1/licenses', { token: dev.token, body: { titleId: title } });
      expect(lic.body.outcome).toBe('granted');
      return { acct, dev, licenseId: lic.body.license.licenseId as string };
    }

    it('serves health, readiness, metrics and the OpenAPI document', async () => {
      expect((await h.call('GET', '/healthz')).body).toEqual({ status: 'ok' });
      const ready = (await h.call('GET', '/readyz')).body;
      expect(ready.status).toBe('ready');
      expect(ready.details.projections).toEqual([
        expect.objectContaining({ projection: 'studio-accounting', status: 'live' }),
      ]);
      expect(ready.details.projections[0].eventsBehind).toBeGreaterThanOrEqual(0);
      const metrics = await h.call('GET', '/metrics');
      expect(metrics.body).toContain('# TYPE satchel_http_requests_total counter');
      expect(metrics.body).toContain('satchel_http_request_duration_seconds_bucket');
      expect(metrics.body).toContain('satchel_projection_lag_events{');
      expect(metrics.body).toContain('satchel_projection_lag_seconds{');
      const doc = await h.call('GET', '/openapi.json');
      expect(doc.body.openapi).toBe('3.1.0');
      expect(Object.keys(doc.body.paths)).toContain('/v1/sync');
      expect(metrics.headers.get('x-request-id')).toMatch(/.+/);
    });

    it('echoes a request id and answers unknown routes with a typed 404', async () => {
      const res = await h.call('GET', '/nowhere', { headers: { 'x-request-id': 'req-123' } });
      expect(res.headers.get('x-request-id')).toBe('req-123');
      expectError(res, 404, 'NOT_FOUND');
    });

    it('registers a device with the enrolment token and answers with a device token and snapshot', async () => {
      const acct = await h.account();
      const res = await h.call('POST', '/v1/devices', { token: acct.token, body: { name: 'Living room' } });
      expect(res.status).toBe(201);
      const body = RegisterDeviceResponse.parse(res.body);
      expect(body.snapshot.device).toMatchObject({ name: 'Living room', status: 'active' });
      expect(body.tokenExpiresAt).toBeGreaterThan(Date.now());
      const devices = await h.call('GET', '/v1/devices', { token: body.token });
      expect(devices.body.devices.map((d: { deviceId: string }) => d.deviceId)).toEqual([body.deviceId]);
      expect(body.deviceSecret).toMatch(/^[\w-]{43}$/);
      // The enrolment token alone cannot register a known device id again: only the device's secret can.
      expectError(
        await h.call('POST', '/v1/devices', {
          token: acct.token,
          body: { name: 'Living room', deviceId: body.deviceId },
        }),
        409,
        'DEVICE_ALREADY_REGISTERED',
      );
      const again = await h.call('POST', '/v1/devices', {
        token: acct.token,
        body: { name: 'Living room', deviceId: body.deviceId, deviceSecret: body.deviceSecret },
      });
      expect(again.status).toBe(201);
      expect(again.body.deviceId).toBe(body.deviceId);
      expect(again.body.deviceSecret).toBeUndefined();
      // The same active device again (a retry): both tokens are of its one credential and both work.
      expect((await h.call('GET', '/v1/devices', { token: body.token })).status).toBe(200);
      expect((await h.call('GET', '/v1/devices', { token: again.body.token })).status).toBe(200);
      const dev = await h.device(acct.token);
      expectError(
        await h.call('POST', '/v1/devices', { token: dev.token, body: { name: 'x' } }),
        403,
        'FORBIDDEN',
      );
    });

    it("lists the catalogue with each title's policy to any token of an account, and to no one else", async () => {
      const acct = await h.account();
      const dev = await h.device(acct.token);
      for (const token of [acct.token, dev.token]) {
        const res = await h.call('GET', '/v1/catalogue', { token });
        expect(res.status).toBe(200);
        const { titles } = CatalogueResponse.parse(res.body);
        const nightTrain = titles.find((t) => t.titleId === 'night-train');
        expect(nightTrain?.policy.playbackDurationSec).toBe(172_800);
        expect(titles.map((t) => t.titleId)).toEqual([...titles.map((t) => t.titleId)].sort());
      }
      expectError(await h.call('GET', '/v1/catalogue'), 401, 'UNAUTHENTICATED');
    });

    it('grants a licence for a catalogue title and refuses past the plan with a typed reason (200)', async () => {
      const acct = await h.account();
      const a = await h.device(acct.token, 'A');
      const b = await h.device(acct.token, 'B');
      const c = await h.device(acct.token, 'C');
      const first = await h.call('POST', '/v1/licenses', {
        token: a.token,
        body: { titleId: 'night-train' },
      });
      expect(first.status).toBe(200);
      const granted = LicenseResponse.parse(first.body);
      expect(granted.outcome).toBe('granted');
      if (granted.outcome === 'granted') {
        expect(granted.license.policy.playbackDurationSec).toBe(172_800);
        expect(granted.snapshot.licenses.map((l) => l.licenseId)).toContain(granted.license.licenseId);
      }
      expect(
        (await h.call('POST', '/v1/licenses', { token: b.token, body: { titleId: 'paper-moon' } })).body
          .outcome,
      ).toBe('granted');
      const refused = await h.call('POST', '/v1/licenses', {
        token: c.token,
        body: { titleId: 'paper-moon' },
      });
      expect(refused.status).toBe(200);
      expect(refused.body).toMatchObject({
        outcome: 'refused',
        refusal: { code: 'DEVICE_LIMIT', limit: 2, used: 2 },
      });
      expectError(
        await h.call('POST', '/v1/licenses', { token: c.token, body: { titleId: 'no-such-title' } }),
        404,
        'NOT_FOUND',
      );
    });

    it('counts downloads per year and tells when the next one is possible', async () => {
      const acct = await h.account();
      const dev = await h.device(acct.token);
      for (let i = 0; i < 3; i++) {
        const got = await h.call('POST', '/v1/licenses', {
          token: dev.token,
          body: { titleId: 'harbour-lights' },
        });
        expect(got.body.outcome).toBe('granted');
        const rel = await h.call('POST', `/v1/licenses/${got.body.license.licenseId}/release`, {
          token: dev.token,
        });
        expect(rel.body.outcome).toBe('granted');
      }
      const fourth = await h.call('POST', '/v1/licenses', {
        token: dev.token,
        body: { titleId: 'harbour-lights' },
      });
      expect(fourth.body).toMatchObject({
        outcome: 'refused',
        refusal: { code: 'YEARLY_LIMIT', limit: 3, remaining: 0 },
      });
      expect(fourth.body.refusal.nextAvailableAt).toBeGreaterThan(T0);
      const allowance = fourth.body.snapshot.allowances.find(
        (a: { titleId: string }) => a.titleId === 'harbour-lights',
      );
      expect(allowance).toMatchObject({ limit: 3, used: 3, remaining: 0 });
    });

    it('a replayed registration (the same POST /v1/devices delivered twice) leaves the token the device kept valid', async () => {
      const acct = await h.account();
      const request = {
        token: acct.token,
        body: { name: 'Phone', deviceId: uuidv7(), deviceSecret: 'phone-secret-0123456789abcdefghijklmnopq' },
      };
      const kept = await h.call('POST', '/v1/devices', request);
      const replayed = await h.call('POST', '/v1/devices', request);
      expect([kept.status, replayed.status]).toEqual([201, 201]);
      expect(replayed.body.deviceId).toBe(kept.body.deviceId);
      // The device kept the first answer (the second was lost on the way back): it syncs with it.
      const sync = await h.call('POST', '/v1/sync', {
        token: kept.body.token,
        body: syncBody(kept.body.deviceId, []),
      });
      expect(sync.status).toBe(200);
      expect((await h.call('GET', '/v1/licenses', { token: replayed.body.token })).status).toBe(200);
      // Nothing was appended for the replay: one DeviceRegistered.
      const devices = await h.call('GET', '/v1/devices', { token: acct.token });
      expect(devices.body.devices).toHaveLength(1);
    });

    it('merges a batch: accepted results, ackSeq, server time and the authoritative snapshot', async () => {
      const { acct, dev, licenseId } = await downloaded();
      const before = await version(acct.accountId);
      const events = [
        envelope(1, 'DownloadCompleted', { licenseId, deviceId: dev.deviceId }, T0 + 1000),
        envelope(2, 'PlaybackStarted', { licenseId, deviceId: dev.deviceId, positionMs: 0 }, T0 + 2000),
        envelope(3, 'PlaybackStopped', { licenseId, deviceId: dev.deviceId, positionMs: 60_000 }, T0 + 3000),
      ];
      h.clock.now = T0 + 10_000;
      const res = await h.call('POST', '/v1/sync', {
        token: dev.token,
        body: syncBody(dev.deviceId, events),
      });
      expect(res.status).toBe(200);
      const body = SyncResponse.parse(res.body);
      expect(body.results.map((r) => r.status)).toEqual(['accepted', 'accepted', 'accepted']);
      expect(body.ackSeq).toBe(3);
      expect(body.serverTime).toBe(T0 + 10_000);
      const lic = body.snapshot.licenses.find((l) => l.licenseId === licenseId);
      expect(lic).toMatchObject({ status: 'downloaded', firstPlayedAt: T0 + 2000, lastPositionMs: 60_000 });
      expect(lic?.expiresAt).toBe(T0 + 2000 + 48 * HOUR_MS);
      expect(await version(acct.accountId)).toBe(before + 3);
      const stored = (await h.server.service.history(acct.accountId)).slice(before).map((x) => x.stored);
      expect(stored.map((e) => e.eventId)).toEqual(events.map((e) => e.eventId));
      // The server's instant of receipt is kept: a replay judges the event at it (R25).
      expect(stored[0]?.metadata).toMatchObject({
        deviceId: dev.deviceId,
        seq: 1,
        deviceTime: T0 + 1000,
        receivedAt: T0 + 10_000,
      });
    });

    it('answers a replayed batch with the same acks and changes nothing', async () => {
      const { acct, dev, licenseId } = await downloaded();
      const events = [
        envelope(1, 'DownloadCompleted', { licenseId, deviceId: dev.deviceId }, T0 + 1000),
        envelope(
          2,
          'PlaybackStarted',
          { licenseId: 'no-such-licence', deviceId: dev.deviceId, positionMs: 0 },
          T0 + 2000,
        ),
      ];
      const first = await h.call('POST', '/v1/sync', {
        token: dev.token,
        body: syncBody(dev.deviceId, events),
      });
      const v = await version(acct.accountId);
      const second = await h.call('POST', '/v1/sync', {
        token: dev.token,
        body: syncBody(dev.deviceId, events),
      });
      expect(second.status).toBe(200);
      expect(await version(acct.accountId)).toBe(v);
      expect(second.body.ackSeq).toBe(first.body.ackSeq);
      expect(second.body.results).toEqual([
        { status: 'duplicate', seq: 1, eventId: events[0]?.eventId },
        first.body.results[1],
      ]);
      expect(second.body.snapshot.licenses).toEqual(first.body.snapshot.licenses);
    });

    it('refuses a gap in seq with SEQ_GAP (409), the whole batch, and writes nothing', async () => {
      const { acct, dev, licenseId } = await downloaded();
      const ok = await h.call('POST', '/v1/sync', {
        token: dev.token,
        body: syncBody(dev.deviceId, [
          envelope(1, 'DownloadCompleted', { licenseId, deviceId: dev.deviceId }, T0),
        ]),
      });
      expect(ok.body.ackSeq).toBe(1);
      const v = await version(acct.accountId);
      const gap = await h.call('POST', '/v1/sync', {
        token: dev.token,
        body: syncBody(dev.deviceId, [
          envelope(2, 'PlaybackStarted', { licenseId, deviceId: dev.deviceId, positionMs: 0 }, T0),
          envelope(4, 'PlaybackStopped', { licenseId, deviceId: dev.deviceId, positionMs: 5 }, T0),
        ]),
      });
      const error = expectError(gap, 409, 'SEQ_GAP');
      expect(error).toMatchObject({ details: { expectedSeq: 2, receivedSeq: 4 } });
      expect(await version(acct.accountId)).toBe(v);
      expect(await cursorOf(acct.accountId, dev.deviceId)).toBe(1);
      const late = await h.call('POST', '/v1/sync', {
        token: dev.token,
        body: syncBody(dev.deviceId, [
          envelope(3, 'PlaybackStarted', { licenseId, deviceId: dev.deviceId, positionMs: 0 }, T0),
        ]),
      });
      expectError(late, 409, 'SEQ_GAP');
    });

    it('acknowledges a poisoned event as rejected and applies the events after it', async () => {
      const { dev, licenseId } = await downloaded();
      const events = [
        envelope(1, 'PlaybackStarted', { licenseId, deviceId: dev.deviceId, positionMs: 0 }, T0),
        envelope(2, 'PlaybackStopped', { licenseId, deviceId: dev.deviceId, positionMs: 'oops' }, T0),
        envelope(3, 'DownloadCompleted', { licenseId, deviceId: dev.deviceId }, T0 + 5),
        envelope(4, 'PlaybackStarted', { licenseId, deviceId: dev.deviceId, positionMs: 0 }, T0 + 6),
        envelope(5, 'DownloadDeleted', { licenseId, deviceId: dev.deviceId }, T0 + 7, { v: 99 }),
      ];
      const res = await h.call('POST', '/v1/sync', {
        token: dev.token,
        body: syncBody(dev.deviceId, events),
      });
      expect(res.status).toBe(200);
      expect(res.body.results.map((r: { status: string; code?: string }) => r.code ?? r.status)).toEqual([
        'NOT_DOWNLOADED',
        'INVALID_EVENT',
        'accepted',
        'accepted',
        'UNSUPPORTED_EVENT_VERSION',
      ]);
      expect(res.body.ackSeq).toBe(5);
      const next = await h.call('POST', '/v1/sync', {
        token: dev.token,
        body: syncBody(dev.deviceId, [
          envelope(6, 'PlaybackStopped', { licenseId, deviceId: dev.deviceId, positionMs: 9 }, T0 + 8),
        ]),
      });
      expect(next.body).toMatchObject({ ackSeq: 6, results: [{ status: 'accepted', seq: 6 }] });
    });

    it('never lets a device act as another device or another account', async () => {
      const { acct, dev, licenseId } = await downloaded();
      const other = await h.device(acct.token, 'Other');
      const stranger = await downloaded();
      expectError(
        await h.call('POST', '/v1/sync', { token: other.token, body: syncBody(dev.deviceId, []) }),
        403,
        'FORBIDDEN',
      );
      const mismatch = await h.call('POST', '/v1/sync', {
        token: other.token,
        body: syncBody(other.deviceId, [
          envelope(1, 'DownloadCompleted', { licenseId, deviceId: dev.deviceId }, T0),
        ]),
      });
      expect(mismatch.body.results[0]).toMatchObject({ status: 'rejected', code: 'DEVICE_MISMATCH' });
      const wrongDevice = await h.call('POST', '/v1/sync', {
        token: other.token,
        body: syncBody(other.deviceId, [
          envelope(2, 'DownloadCompleted', { licenseId, deviceId: other.deviceId }, T0),
        ]),
      });
      expect(wrongDevice.body.results[0]).toMatchObject({ status: 'rejected', code: 'WRONG_DEVICE' });
      expectError(
        await h.call('POST', `/v1/licenses/${licenseId}/release`, { token: other.token }),
        404,
        'NOT_FOUND',
      );
      expectError(
        await h.call('POST', `/v1/licenses/${stranger.licenseId}/renew`, { token: dev.token }),
        404,
        'NOT_FOUND',
      );
      expectError(
        await h.call('DELETE', `/v1/devices/${stranger.dev.deviceId}`, { token: acct.token }),
        404,
        'NOT_FOUND',
      );
      expectError(
        await h.call('DELETE', `/v1/devices/${dev.deviceId}`, { token: other.token }),
        403,
        'FORBIDDEN',
      );
      const mine = await h.call('GET', '/v1/licenses', { token: other.token });
      expect(mine.body.licenses).toEqual([]);
      const theirs = await h.call('GET', '/v1/devices', { token: stranger.dev.token });
      expect(theirs.body.devices.map((d: { deviceId: string }) => d.deviceId)).toEqual([
        stranger.dev.deviceId,
      ]);
      const forged = await h.server.tokens.mint({
        kind: 'device',
        accountId: acct.accountId,
        deviceId: stranger.dev.deviceId,
      });
      expectError(
        await h.call('GET', '/v1/licenses', { token: `${forged.token.slice(0, -4)}AAAA` }),
        401,
        'UNAUTHENTICATED',
      );
      // A validly signed token naming a device this account does not have has no credential behind it.
      expectError(
        await h.call('POST', '/v1/sync', { token: forged.token, body: syncBody(stranger.dev.deviceId, []) }),
        401,
        'UNAUTHENTICATED',
      );
    });

    it('refuses missing, expired and foreign tokens', async () => {
      const acct = await h.account();
      expectError(await h.call('GET', '/v1/devices'), 401, 'UNAUTHENTICATED');
      const expired = await h.server.tokens.mint(
        { kind: 'account', accountId: acct.accountId },
        Date.now() - 10 * DAY_MS,
        60,
      );
      expectError(await h.call('GET', '/v1/devices', { token: expired.token }), 401, 'TOKEN_EXPIRED');
      const { Tokens } = await import('../auth.js');
      const foreign = await new Tokens(`${TEST_SECRET}-other`).mint({
        kind: 'account',
        accountId: acct.accountId,
      });
      expectError(await h.call('GET', '/v1/devices', { token: foreign.token }), 401, 'UNAUTHENTICATED');
    });

    it('refuses oversized, malformed and invalid bodies with typed errors and writes nothing', async () => {
      const { acct, dev, licenseId } = await downloaded();
      const v = await version(acct.accountId);
      const huge = syncBody(dev.deviceId, [
        envelope(
          1,
          'DownloadCompleted',
          { licenseId, deviceId: dev.deviceId, pad: 'x'.repeat(1_100_000) },
          T0,
        ),
      ]);
      const big = await h.call('POST', '/v1/sync', { token: dev.token, body: huge });
      expect(expectError(big, 413, 'PAYLOAD_TOO_LARGE')).toMatchObject({
        details: { limitBytes: 1_048_576 },
      });
      expectError(
        await h.call('POST', '/v1/sync', {
          token: dev.token,
          raw: '{"protocolVersion":',
          headers: { 'content-type': 'application/json' },
        }),
        400,
        'BAD_REQUEST',
      );
      const invalid = await h.call('POST', '/v1/sync', {
        token: dev.token,
        body: { protocolVersion: 1, deviceId: dev.deviceId, events: [{ seq: 0 }] },
      });
      const err = expectError(invalid, 400, 'VALIDATION_FAILED');
      expect((err as { details: unknown[] }).details.length).toBeGreaterThan(0);
      expectError(
        await h.call('POST', '/v1/sync', {
          token: dev.token,
          raw: 'hello',
          headers: { 'content-type': 'text/plain' },
        }),
        415,
        'UNSUPPORTED_MEDIA_TYPE',
      );
      expectError(
        await h.call('POST', '/v1/sync', {
          token: dev.token,
          body: syncBody(dev.deviceId, []),
          headers: { 'satchel-protocol-version': '99' },
        }),
        426,
        'PROTOCOL_VERSION_UNSUPPORTED',
      );
      expect(await version(acct.accountId)).toBe(v);
      expect(await cursorOf(acct.accountId, dev.deviceId)).toBe(0);
    });

    it('withdraws a title: held licences are revoked, new requests refused, the catalogue says when', async () => {
      const service = h.server.service;
      const film = await service.catalogue.get('quiet-river');
      expect(film).not.toBeNull();
      if (film === null) return;
      await service.catalogue.put([{ ...film, titleId: 'withdrawn-film', name: 'Withdrawn film' }]);
      const acct = await h.account();
      const dev = await h.device(acct.token);
      const held = await h.call('POST', '/v1/licenses', {
        token: dev.token,
        body: { titleId: 'withdrawn-film' },
      });
      expect(held.body.outcome).toBe('granted');
      const { revoked } = await service.withdrawTitle('withdrawn-film');
      expect(revoked).toBe(1);
      const licenses = await h.call('GET', '/v1/licenses', { token: dev.token });
      expect(
        licenses.body.licenses.find(
          (l: { licenseId: string }) => l.licenseId === held.body.license.licenseId,
        ),
      ).toMatchObject({ status: 'revoked', statusReason: 'TITLE_WITHDRAWN' });
      const again = await h.call('POST', '/v1/licenses', {
        token: dev.token,
        body: { titleId: 'withdrawn-film' },
      });
      expect(again.body).toMatchObject({ outcome: 'refused', refusal: { code: 'TITLE_UNAVAILABLE' } });
      const catalogue = CatalogueResponse.parse(
        (await h.call('GET', '/v1/catalogue', { token: dev.token })).body,
      );
      expect(
        catalogue.titles.find((t) => t.titleId === 'withdrawn-film')?.policy.availableUntil,
      ).not.toBeNull();
      await expect(service.withdrawTitle('no-such-film')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    });

    it('deactivating a device revokes its licences and frees its slot', async () => {
      const acct = await h.account();
      const a = await h.device(acct.token, 'A');
      const b = await h.device(acct.token, 'B');
      const c = await h.device(acct.token, 'C');
      const la = await h.call('POST', '/v1/licenses', { token: a.token, body: { titleId: 'quiet-river' } });
      await h.call('POST', '/v1/licenses', { token: b.token, body: { titleId: 'quiet-river' } });
      expect(
        (await h.call('POST', '/v1/licenses', { token: c.token, body: { titleId: 'quiet-river' } })).body
          .outcome,
      ).toBe('refused');
      const res = await h.call('DELETE', `/v1/devices/${a.deviceId}`, { token: acct.token });
      expect(res.status).toBe(200);
      expect(res.body.devices.find((d: { deviceId: string }) => d.deviceId === a.deviceId).status).toBe(
        'deactivated',
      );
      const all = await h.call('GET', '/v1/licenses', { token: acct.token });
      const revoked = all.body.licenses.find(
        (l: { licenseId: string }) => l.licenseId === la.body.license.licenseId,
      );
      expect(revoked).toMatchObject({ status: 'revoked', statusReason: 'DEVICE_DEACTIVATED' });
      expect(
        (await h.call('POST', '/v1/licenses', { token: c.token, body: { titleId: 'quiet-river' } })).body
          .outcome,
      ).toBe('granted');
      expectError(
        await h.call('POST', '/v1/licenses', { token: a.token, body: { titleId: 'paper-moon' } }),
        403,
        'DEVICE_DEACTIVATED',
      );
      const sync = await h.call('POST', '/v1/sync', { token: a.token, body: syncBody(a.deviceId, []) });
      expect(sync.body.snapshot.device.status).toBe('deactivated');
    });

    it('expires licences before deciding, so expired licences hold no slot', async () => {
      const acct = await h.account();
      const a = await h.device(acct.token, 'A');
      const b = await h.device(acct.token, 'B');
      const c = await h.device(acct.token, 'C');
      h.clock.now = T0;
      const la = await h.call('POST', '/v1/licenses', { token: a.token, body: { titleId: 'quiet-river' } });
      await h.call('POST', '/v1/licenses', { token: b.token, body: { titleId: 'quiet-river' } });
      h.clock.now = T0 + 31 * DAY_MS;
      try {
        const got = await h.call('POST', '/v1/licenses', {
          token: c.token,
          body: { titleId: 'quiet-river' },
        });
        expect(got.body.outcome).toBe('granted');
        const list = await h.call('GET', '/v1/licenses', { token: a.token });
        const expired = list.body.licenses.find(
          (l: { licenseId: string }) => l.licenseId === la.body.license.licenseId,
        );
        expect(expired).toMatchObject({ status: 'expired' });
      } finally {
        h.clock.now = T0;
      }
    });

    it('renews a licence and refuses past maxRenewals', async () => {
      const acct = await h.account();
      const dev = await h.device(acct.token);
      const got = await h.call('POST', '/v1/licenses', {
        token: dev.token,
        body: { titleId: 'harbour-lights' },
      });
      const id = got.body.license.licenseId;
      expect((await h.call('POST', `/v1/licenses/${id}/renew`, { token: dev.token })).body).toMatchObject({
        outcome: 'granted',
        license: { renewals: 1 },
      });
      expect((await h.call('POST', `/v1/licenses/${id}/renew`, { token: dev.token })).body.outcome).toBe(
        'granted',
      );
      const third = await h.call('POST', `/v1/licenses/${id}/renew`, { token: dev.token });
      expect(third.body).toMatchObject({
        outcome: 'refused',
        refusal: { code: 'RENEWAL_LIMIT', limit: 2, used: 2 },
      });
      expectError(
        await h.call('POST', '/v1/licenses/not-a-uuid/renew', { token: dev.token }),
        400,
        'VALIDATION_FAILED',
      );
    });

    it('writes snapshots every N events and loads from them', async () => {
      const { acct, dev, licenseId } = await downloaded();
      const events = [envelope(1, 'DownloadCompleted', { licenseId, deviceId: dev.deviceId }, T0)];
      for (let i = 2; i <= 40; i++) {
        events.push(
          envelope(i, 'PlaybackStopped', { licenseId, deviceId: dev.deviceId, positionMs: i }, T0 + i),
        );
      }
      const res = await h.call('POST', '/v1/sync', {
        token: dev.token,
        body: syncBody(dev.deviceId, events),
      });
      expect(res.body.ackSeq).toBe(40);
      const loaded = await h.server.service.accounts.load(acct.accountId);
      expect(loaded.snapshotHit).toBe(true);
      expect(loaded.tailLength).toBeLessThan(20);
      const full = await h.server.service.accounts.store.load(
        backend.db,
        acct.accountId,
        (await import('../accounts.js')).accountFold,
        {
          useSnapshots: false,
        },
      );
      expect(loaded.state).toEqual(full.state);
      expect(await h.server.metrics.render()).toMatch(/satchel_snapshot_loads_total\{result="hit"\} [1-9]/);
      await backend.db.query('DELETE FROM snapshots WHERE account_id = $1', [acct.accountId]);
      await h.server.service.devices(acct.accountId);
      const rebuilt = await h.server.service.accounts.load(acct.accountId);
      expect(rebuilt).toMatchObject({ snapshotHit: true, tailLength: 0 });
    });

    it('rate-limits each device with 429 and Retry-After', async () => {
      const limited = await harness(backend.db, { rateLimit: { burst: 3, perSecond: 0.5 }, http });
      const acct = await limited.account();
      const dev = await limited.device(acct.token);
      const statuses: number[] = [];
      let last: Awaited<ReturnType<Harness['call']>> | null = null;
      for (let i = 0; i < 4; i++) {
        last = await limited.call('GET', '/v1/licenses', { token: dev.token });
        statuses.push(last.status);
      }
      expect(statuses.slice(0, 2)).toEqual([200, 200]);
      expect(statuses.at(-1)).toBe(429);
      expect(Number(last?.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(last?.body.error).toMatchObject({ code: 'RATE_LIMITED' });
      expect(last?.body.error.retryAfterMs).toBeGreaterThan(0);
      // POST /v1/sync too (answered by the lean handler over HTTP).
      const sync = await limited.call('POST', '/v1/sync', {
        token: dev.token,
        body: syncBody(dev.deviceId, []),
      });
      expect(sync.status).toBe(429);
      expect(Number(sync.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      await limited.close();
    });

    it("counts a licence request's grant against the device's event quota, not the expiries it records first", async () => {
      const q = await harness(backend.db, {
        limits: { events: { points: 500, windowSec: 90 * 86_400 } },
        http,
      });
      const acct = await q.account();
      const dev = await q.device(acct.token);
      const first = await q.call('POST', '/v1/licenses', {
        token: dev.token,
        body: { titleId: 'night-train' },
      });
      expect(first.body.outcome).toBe('granted');
      const licenseId = first.body.license.licenseId;
      const events = Array.from({ length: 498 }, (_, i) =>
        envelope(i + 1, 'PlaybackStopped', { licenseId, deviceId: dev.deviceId, positionMs: i }, T0),
      );
      const synced = await q.call('POST', '/v1/sync', {
        token: dev.token,
        body: syncBody(dev.deviceId, events),
      });
      expect(synced.status).toBe(200);
      // 499 of 500 used. Past the licence's 30 days, the next request records its expiry (the server's
      // event) before the grant (the device's): only the grant is counted, and it fits.
      q.clock.now = T0 + 40 * 86_400_000;
      const second = await q.call('POST', '/v1/licenses', {
        token: dev.token,
        body: { titleId: 'quiet-river' },
      });
      expect(second.status).toBe(200);
      expect(second.body.outcome).toBe('granted');
      const expired = (await q.server.service.accounts.load(acct.accountId)).state.licenses[licenseId];
      expect(expired?.status).toBe('expired');
      const over = await q.call('POST', '/v1/licenses', {
        token: dev.token,
        body: { titleId: 'paper-moon' },
      });
      expect(over.status).toBe(429);
      expect(over.body.error).toMatchObject({
        code: 'RATE_LIMITED',
        details: { scope: 'events', limit: 500 },
      });
      await q.close();
    });

    it('sends CORS headers for browser players', async () => {
      const res = await h.call('OPTIONS', '/v1/sync', {
        headers: { origin: 'http://localhost:5173', 'access-control-request-method': 'POST' },
      });
      expect(res.status).toBeLessThan(300);
      expect(res.headers.get('access-control-allow-origin')).toBe('*');
      const acct = await h.account();
      const dev = await h.device(acct.token);
      const sync = await h.call('POST', '/v1/sync', {
        token: dev.token,
        body: syncBody(dev.deviceId, []),
        headers: { origin: 'http://localhost:5173', 'x-request-id': 'cors-check-1' },
      });
      expect(sync.status).toBe(200);
      expect(sync.headers.get('access-control-allow-origin')).toBe('*');
      expect(sync.headers.get('access-control-expose-headers')).toContain('x-request-id');
      expect(sync.headers.get('x-request-id')).toBe('cors-check-1');
      expect(sync.headers.get('satchel-protocol-version')).toBe('1');
      expect(sync.headers.get('content-type')).toMatch(/^application\/json/);
    });
  });
}
