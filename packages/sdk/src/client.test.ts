import 'fake-indexeddb/auto';
import { isSatchelError, policy } from '@satchel/core';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { SatchelClient, SatchelOptions } from './client.js';
import { clientFixture } from './client-fixture.testkit.js';
import { FakeLocks } from './fake-server.testkit.js';
import { idbStorage } from './storage/idb.js';
import type { SatchelStorage } from './storage/types.js';
import { DAY, T0 } from './testkit.js';

const HOUR = 3_600_000;
let counter = 0;
const clients: SatchelClient[] = [];

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
});

const CATALOGUE = new Map([
  ['short', policy({ rentalDurationSec: 86_400 })],
  [
    'weekly',
    policy({
      rentalDurationSec: 60 * 86_400,
      licenseDurationSec: 60 * 86_400,
      offlineCheckInSec: 7 * 86_400,
    }),
  ],
]);

function setup(overrides: Partial<SatchelOptions> = {}, catalogue = CATALOGUE) {
  return clientFixture('client-test', clients, catalogue, overrides);
}

async function registered(overrides: Partial<SatchelOptions> = {}) {
  const s = setup(overrides);
  await s.client.register(s.server.enrolmentToken, { name: 'Laptop', platform: 'web' });
  return s;
}

async function downloaded(s: Awaited<ReturnType<typeof registered>>, titleId = 'film') {
  const result = await s.client.requestDownload(titleId);
  if (!result.ok) throw new Error(result.refusal.message);
  await s.client.downloadCompleted(result.license.licenseId);
  return result.license.licenseId;
}

describe('createSatchel', () => {
  it('registers the device and stores its identity and first snapshot', async () => {
    const { client, server } = setup();
    expect((await client.status()).registered).toBe(false);
    const reg = await client.register(server.enrolmentToken, { name: 'Laptop' });
    expect(reg.accountId).toBe('account-1');
    const status = await client.status();
    expect(status).toMatchObject({
      registered: true,
      deviceId: reg.deviceId,
      pendingEvents: 0,
      snapshotVersion: 2,
    });
    const again = await client.register(server.enrolmentToken, { name: 'Laptop' }).catch((e: unknown) => e);
    expect(isSatchelError(again, 'ALREADY_REGISTERED')).toBe(true);
  });

  it('registers the same device again when the answer to register() was lost', async () => {
    const { client, server } = setup();
    server.faults.push({ kind: 'drop-response' });
    const lost = await client.register(server.enrolmentToken, { name: 'Laptop' }).catch((e: unknown) => e);
    expect(isSatchelError(lost)).toBe(true);
    expect((await client.status()).registered).toBe(false);
    const reg = await client.register(server.enrolmentToken, { name: 'Laptop' });
    expect(Object.keys(server.state.devices)).toEqual([reg.deviceId]);
    expect((await client.status()).registered).toBe(true);
  });

  it('gives the device credential (id, account, bearer token) once registered, null before', async () => {
    const { client, server } = setup();
    expect(await client.credential()).toBeNull();
    const reg = await client.register(server.enrolmentToken, { name: 'Laptop' });
    const credential = await client.credential();
    expect(credential).toEqual({
      deviceId: reg.deviceId,
      accountId: 'account-1',
      token: `token-${reg.deviceId}`,
    });
  });

  it('gives the token a getToken hook supplies as the credential', async () => {
    const s = await registered({ getToken: () => 'from-the-hook' });
    expect((await s.client.credential())?.token).toBe('from-the-hook');
  });

  it('exposes the stored snapshot: plan, devices and allowances, without pending events applied', async () => {
    const s = await registered();
    const licenseId = await downloaded(s);
    const snapshot = await s.client.snapshot();
    expect(snapshot?.device.name).toBe('Laptop');
    expect(snapshot?.devices.map((d) => d.name)).toEqual(['Laptop']);
    expect(snapshot?.plan.maxDownloadDevices).toBeGreaterThan(0);
    expect(snapshot?.licenses.find((l) => l.licenseId === licenseId)?.status).toBe('issued');
    expect((await s.client.licenses()).find((l) => l.licenseId === licenseId)?.status).toBe('downloaded');
    expect(await setup().client.snapshot()).toBeNull();
  });

  it('rejects device calls before registration with NOT_REGISTERED', async () => {
    const { client } = setup();
    const error = await client.downloadCompleted('x').catch((e: unknown) => e);
    expect(isSatchelError(error, 'NOT_REGISTERED')).toBe(true);
  });

  it('answers a refused download with a typed refusal', async () => {
    const s = await registered();
    const first = await s.client.requestDownload('film');
    expect(first.ok).toBe(true);
    const second = await s.client.requestDownload('film');
    expect(second).toMatchObject({ ok: false, refusal: { code: 'ALREADY_LICENSED', titleId: 'film' } });
  });

  it('decides playback offline and records PlaybackStarted durably', async () => {
    const s = await registered();
    const licenseId = await downloaded(s);
    s.server.online = false;
    const decision = await s.client.startPlayback(licenseId, { positionMs: 0 });
    expect(decision).toMatchObject({ allowed: true, licenseId, clockRollback: null });
    if (decision.allowed) expect(decision.timeLeftMs).toBe(48 * HOUR);
    expect((await s.client.status()).pendingEvents).toBe(2);
    const [license] = await s.client.licenses();
    expect(license).toMatchObject({
      status: 'downloaded',
      firstPlayedAt: T0,
      pendingSync: true,
      expiresAt: T0 + 48 * HOUR,
      expiryReason: 'PLAYBACK_WINDOW',
    });
    s.server.online = true;
    const result = await s.client.sync();
    expect(result).toMatchObject({ sent: 2, acknowledged: 2, rejected: [], pending: 0 });
    expect(s.server.state.licenses[licenseId]?.firstPlayedAt).toBe(T0);
  });

  it('reads a licence whole while a sync commits between its reads: never the old snapshot with an emptied outbox', async () => {
    const inner = idbStorage({ name: `client-test-torn-${++counter}` });
    // A sync of another tab commits right after the first read of each licences() call.
    let commitAfterFirstRead: (() => Promise<unknown>) | null = null;
    const landing = async <T>(read: Promise<T>): Promise<T> => {
      const value = await read;
      const commit = commitAfterFirstRead;
      commitAfterFirstRead = null;
      if (commit) await commit();
      return value;
    };
    const torn: SatchelStorage = {
      kind: 'torn',
      open: () => inner.open(),
      append: (events, patch) => inner.append(events, patch),
      pending: (limit) => landing(inner.pending(limit)),
      pendingCount: () => inner.pendingCount(),
      commit: (ackSeq, patch) => inner.commit(ackSeq, patch),
      renumber: (moved, afterSeq) => inner.renumber(moved, afterSeq),
      readMeta: () => landing(inner.readMeta()),
      close: () => inner.close(),
    };
    const s = await registered({ storage: torn });
    const licenseId = await downloaded(s, 'short');
    expect((await s.client.licenses())[0]).toMatchObject({
      licenseId,
      status: 'downloaded',
      pendingSync: true,
    });
    // The sync acknowledges the download and brings the snapshot that has it, in one transaction.
    commitAfterFirstRead = () => s.client.sync();
    expect((await s.client.licenses())[0]).toMatchObject({
      licenseId,
      status: 'downloaded',
      pendingSync: false,
    });
    expect(commitAfterFirstRead).toBeNull();
  });

  it('records and decides the same through a storage that has no record()', async () => {
    const inner = idbStorage({ name: `client-test-plain-${++counter}` });
    const plain: SatchelStorage = {
      kind: 'plain',
      open: () => inner.open(),
      append: (events, patch) => inner.append(events, patch),
      pending: (limit) => inner.pending(limit),
      pendingCount: () => inner.pendingCount(),
      commit: (ackSeq, patch) => inner.commit(ackSeq, patch),
      renumber: (moved, afterSeq) => inner.renumber(moved, afterSeq),
      readMeta: () => inner.readMeta(),
      close: () => inner.close(),
    };
    const s = await registered({ storage: plain });
    const licenseId = await downloaded(s, 'short');
    s.server.online = false;
    expect(await s.client.startPlayback('no-such-licence')).toMatchObject({
      allowed: false,
      reason: 'LICENSE_NOT_FOUND',
    });
    expect(await s.client.startPlayback(licenseId)).toMatchObject({ allowed: true, expiresAt: T0 + 2 * DAY });
    s.clock.advance(2 * DAY + 1);
    const expired = { allowed: false, reason: 'EXPIRED_PLAYBACK_WINDOW' };
    expect(await s.client.startPlayback(licenseId)).toMatchObject(expired);
    expect(await s.client.startPlayback(licenseId)).toMatchObject(expired);
    const pending = await inner.pending();
    expect(pending.map((e) => [e.seq, e.type])).toEqual([
      [1, 'DownloadCompleted'],
      [2, 'PlaybackStarted'],
      [3, 'LicenseExpiryObserved'],
    ]);
  });

  it('refuses an expired rental offline with the reason and records the observation once', async () => {
    const s = await registered();
    const licenseId = await downloaded(s, 'short');
    await s.client.sync();
    s.clock.advance(DAY + 1);
    const refused = await s.client.startPlayback(licenseId);
    expect(refused).toMatchObject({ allowed: false, reason: 'EXPIRED_RENTAL', expiredAt: T0 + DAY });
    const again = await s.client.startPlayback(licenseId);
    expect(again).toMatchObject({ allowed: false, reason: 'EXPIRED_RENTAL' });
    expect((await s.client.status()).pendingEvents).toBe(1);
  });

  it('requires a check-in after the offline window and plays again after a sync', async () => {
    const s = await registered();
    const licenseId = await downloaded(s, 'weekly');
    await s.client.sync();
    s.server.online = false;
    s.clock.advance(7 * DAY + 1);
    expect(await s.client.startPlayback(licenseId)).toMatchObject({
      allowed: false,
      reason: 'CHECK_IN_REQUIRED',
    });
    expect((await s.client.status()).checkInDeadline).toBe(T0 + 7 * DAY);
    s.server.online = true;
    await s.client.sync();
    expect(await s.client.startPlayback(licenseId)).toMatchObject({ allowed: true });
  });

  it('detects a clock set back, records it, and keeps deciding on trusted time', async () => {
    const s = await registered();
    const licenseId = await downloaded(s, 'short');
    s.clock.advance(20 * HOUR);
    s.clock.set(T0 - 10 * DAY);
    const decision = await s.client.startPlayback(licenseId);
    expect(decision.clockRollback).not.toBeNull();
    expect(decision.secureNow).toBeGreaterThanOrEqual(T0 + 20 * HOUR);
    const result = await s.client.sync();
    expect(result.rejected).toEqual([]);
    expect(s.server.state.clockRollbacks).toBe(1);
  });

  it('sends the outbox in seq order in bounded batches and drops only what was acknowledged', async () => {
    const s = await registered({ batch: { maxEvents: 10 } });
    const licenseId = await downloaded(s);
    for (let i = 0; i < 34; i++) await s.client.stopPlayback(licenseId, i * 1000);
    const result = await s.client.sync();
    expect(result).toMatchObject({ sent: 35, acknowledged: 35, pending: 0 });
    expect(s.server.requests.filter((r) => r.path.endsWith('/v1/sync')).map((r) => r.events)).toEqual([
      10, 10, 10, 5,
    ]);
  });

  it('bounds a batch by bytes', async () => {
    const s = await registered({ batch: { maxBytes: 2000 } });
    const licenseId = await downloaded(s);
    for (let i = 0; i < 19; i++) await s.client.stopPlayback(licenseId, i);
    await s.client.sync();
    const sizes = s.server.requests.filter((r) => r.path.endsWith('/v1/sync')).map((r) => r.events);
    expect(sizes.length).toBeGreaterThan(1);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(20);
  });

  it('never lets a rejected event block the queue', async () => {
    const s = await registered();
    const licenseId = await downloaded(s);
    await s.client.stopPlayback('01890000-0000-7000-8000-0000000000ff', 5);
    await s.client.stopPlayback(licenseId, 10);
    const result = await s.client.sync();
    expect(result.rejected).toEqual([expect.objectContaining({ seq: 2, code: 'LICENSE_NOT_FOUND' })]);
    expect(result.pending).toBe(0);
    expect(s.server.state.licenses[licenseId]?.lastPositionMs).toBe(10);
  });

  it('resends a batch whose answer was lost, and the server applies it once', async () => {
    const s = await registered();
    const licenseId = await downloaded(s);
    await s.client.stopPlayback(licenseId, 1);
    s.server.faults.push({ kind: 'drop-response' });
    const error = await s.client.sync().catch((e: unknown) => e);
    expect(isSatchelError(error, 'NETWORK')).toBe(true);
    expect((await s.client.status()).lastError?.code).toBe('NETWORK');
    expect((await s.client.status()).pendingEvents).toBe(2);
    const result = await s.client.sync();
    expect(result.acknowledged).toBe(2);
    expect([...s.server.processed.values()].every((n) => n === 1)).toBe(true);
    expect((await s.client.status()).lastError).toBeNull();
  });

  it('turns PROTOCOL_VERSION_UNSUPPORTED into an update-required status, and background sync stops', async () => {
    const s = await registered();
    s.server.faults.push({ kind: 'protocol-too-old' });
    const error = await s.client.sync().catch((e: unknown) => e);
    expect(isSatchelError(error, 'UPDATE_REQUIRED')).toBe(true);
    const status = await s.client.status();
    expect(status.updateRequired).toMatchObject({ minProtocolVersion: 2 });
    expect(status.lastError?.code).toBe('PROTOCOL_VERSION_UNSUPPORTED');
  });

  it('schedules the background retry no sooner than the server asked', async () => {
    const s = setup({ autoSync: true, random: () => 0.01 });
    await s.client.register(s.server.enrolmentToken, { name: 'Laptop' });
    // Registration lets background sync run at once; let that run end before the fault goes in.
    await s.client.sync();
    s.server.faults.push({ kind: 'error', code: 'RATE_LIMITED', retryAfterMs: 7000 });
    await s.client.sync().catch(() => undefined);
    await new Promise((r) => setTimeout(r, 50));
    const status = await s.client.status();
    expect(status.lastError?.code).toBe('RATE_LIMITED');
    expect(status.leader).toBe(true);
    expect(status.nextSyncAt).toBeGreaterThanOrEqual(s.clock.now() + 7000);
  });

  it('honours a 429 event quota refusal (Retry-After): waits at least as asked, keeps the outbox, loses nothing', async () => {
    const s = await registered({ autoSync: true, random: () => 0.01 });
    const licenseId = await downloaded(s);
    await s.client.startPlayback(licenseId);
    await s.client.stopPlayback(licenseId, 1_000);
    const pending = (await s.client.status()).pendingEvents;
    expect(pending).toBeGreaterThanOrEqual(3);
    // The server refuses the whole batch: the device's event quota is used up for the next 30 minutes.
    s.server.faults.push({
      kind: 'error',
      code: 'RATE_LIMITED',
      retryAfterMs: 1_800_000,
      retryAfterHeader: '1800',
    });
    const error = await s.client.sync().catch((e: unknown) => e);
    expect(error).toMatchObject({ retryable: true, retryAfterMs: 1_800_000, status: 429 });
    await new Promise((r) => setTimeout(r, 50));
    const waiting = await s.client.status();
    expect(waiting.lastError?.code).toBe('RATE_LIMITED');
    expect(waiting.pendingEvents).toBe(pending);
    expect(waiting.nextSyncAt).toBeGreaterThanOrEqual(s.clock.now() + 1_800_000);
    // Once the window has passed the same events go through, each applied once.
    s.clock.advance(1_800_000);
    const result = await s.client.sync();
    expect(result.acknowledged).toBe(pending);
    expect((await s.client.status()).pendingEvents).toBe(0);
    expect([...s.server.processed.values()].every((n) => n === 1)).toBe(true);
    expect(s.server.state.licenses[licenseId]?.lastPositionMs).toBe(1_000);
  });

  it('times a request out as TIMEOUT (retryable)', async () => {
    const s = await registered();
    const hanging = (_input: RequestInfo | URL, init?: RequestInit) =>
      new Promise<Response>((_resolve, reject) => {
        init?.signal?.addEventListener('abort', () => reject(init.signal?.reason));
      });
    const slow = s.make({ fetch: hanging as typeof fetch, requestTimeoutMs: 50 });
    const error = await slow.sync().catch((e: unknown) => e);
    expect(isSatchelError(error, 'TIMEOUT')).toBe(true);
    expect((error as { retryable?: boolean }).retryable).toBe(true);
  });

  it('reads the backoff hint from Retry-After when the body has none', async () => {
    const s = await registered();
    s.server.faults.push({ kind: 'error', code: 'UNAVAILABLE', retryAfterHeader: '9' });
    const error = await s.client.sync().catch((e: unknown) => e);
    expect(isSatchelError(error, 'SERVER')).toBe(true);
    expect(error).toMatchObject({ retryable: true, retryAfterMs: 9000, status: 503 });
  });

  it('shows a licence revoked while the device was offline after the next sync', async () => {
    const s = await registered();
    const licenseId = await downloaded(s);
    s.server.online = false;
    s.server.revoke(licenseId);
    expect((await s.client.startPlayback(licenseId)).allowed).toBe(true);
    s.server.online = true;
    await s.client.sync();
    const [license] = await s.client.licenses();
    expect(license?.status).toBe('revoked');
    expect(await s.client.startPlayback(licenseId)).toMatchObject({ allowed: false, reason: 'REVOKED' });
  });

  it('tells other clients of the same storage what changed', async () => {
    const s = await registered();
    const other = s.make();
    const seen: string[] = [];
    other.subscribe((c) => seen.push(`${c.source}:${c.type}`));
    await downloaded(s);
    await vi.waitFor(() => {
      expect(seen).toContain('remote:licenses');
      expect(seen).toContain('remote:outbox');
    });
    expect((await other.licenses()).length).toBe(1);
  });

  it('hands background sync to another client when the leader closes', async () => {
    const locks = new FakeLocks();
    const s = await registered({ locks, autoSync: true });
    const second = s.make({ locks, autoSync: true });
    await new Promise((r) => setTimeout(r, 20));
    expect((await s.client.status()).leader).toBe(true);
    expect((await second.status()).leader).toBe(false);
    await s.client.close();
    await new Promise((r) => setTimeout(r, 20));
    expect((await second.status()).leader).toBe(true);
  });

  it('stops background sync for good once an update is required', async () => {
    const s = await registered();
    const background = s.make({ autoSync: true, syncIntervalMs: 10, backoff: { baseMs: 1, maxMs: 5 } });
    s.server.faults.push({ kind: 'protocol-too-old' });
    await new Promise((r) => setTimeout(r, 150));
    const syncs = s.server.requests.filter((r) => r.path.endsWith('/v1/sync')).length;
    expect(syncs).toBe(1);
    expect((await background.status()).updateRequired).not.toBeNull();
    expect((await background.status()).nextSyncAt).toBeNull();
  });

  it('rejects calls after close with CLOSED', async () => {
    const { client } = setup();
    await client.close();
    const error = await client.status().catch((e: unknown) => e);
    expect(isSatchelError(error, 'CLOSED')).toBe(true);
  });
});
