// Device storage faults (fake-indexeddb): the browser refusing a write for quota (the transaction aborts
// at commit with QuotaExceededError, as Chromium does), the user deleting the database under a running
// client, an upgrade blocked by an old tab that never closes its connection, and a database upgraded by a
// newer SDK. The SDK must report a typed error and recover without losing acknowledged state or
// inventing licences.
import 'fake-indexeddb/auto';
import { isSatchelError } from '@satchel/core';
import {
  createSatchel,
  idbStorage,
  type OutboxEntry,
  type SatchelClient,
  type SatchelStorage,
} from '@satchel/sdk';
import { createSatchelServer, demoCatalogue, pgliteDatabase, type SatchelServer } from '@satchel/server';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { addCounters } from './lib/counters.js';
import { type DeviceRecord, uuidv7, verifyStore } from './lib/devices.js';
import { FAULTS_SECRET, ROOMY_PLAN } from './lib/seed.js';

let server: SatchelServer;
const clients: SatchelClient[] = [];
const serverFetch: typeof fetch = async (input, init) => server.app.fetch(new Request(input, init));

beforeAll(async () => {
  server = await createSatchelServer({
    db: await pgliteDatabase(),
    tokenSecret: FAULTS_SECRET,
    logger: pino({ level: 'silent' }),
    rateLimit: { burst: 100_000, perSecond: 100_000 },
  });
  await server.service.catalogue.put(demoCatalogue(Date.now()));
}, 60_000);

afterAll(async () => {
  await server?.db.close();
});

afterEach(async () => {
  quota.armed = false;
  await Promise.all(clients.splice(0).map((c) => c.close()));
});

// ---- quota injection: every read-write transaction aborts at commit with QuotaExceededError --------

const quota = { armed: false, injected: 0 };
type FakeTx = IDBTransaction & { _state: string; _abort(name: string | null): void };
const pending = new WeakMap<IDBTransaction, number>();
for (const method of ['put', 'add'] as const) {
  const original = IDBObjectStore.prototype[method] as (
    this: IDBObjectStore,
    ...args: unknown[]
  ) => IDBRequest;
  IDBObjectStore.prototype[method] = function (this: IDBObjectStore, ...args: unknown[]) {
    const request = original.apply(this, args);
    if (!quota.armed) return request;
    const tx = this.transaction;
    pending.set(tx, (pending.get(tx) ?? 0) + 1);
    request.addEventListener('success', () => {
      const left = (pending.get(tx) ?? 1) - 1;
      pending.set(tx, left);
      const fake = tx as FakeTx;
      if (left === 0 && quota.armed && fake._state !== 'finished' && fake._state !== 'committing') {
        quota.injected++;
        fake._state = 'active';
        fake._abort('QuotaExceededError');
      }
    });
    return request;
  } as never;
}

// ---- helpers ------------------------------------------------------------------------------------

function recordingStorage(inner: SatchelStorage, recorded: Map<number, OutboxEntry>): SatchelStorage {
  return {
    kind: inner.kind,
    open: () => inner.open(),
    async append(events, patch) {
      const entries = await inner.append(events, patch);
      for (const e of entries) recorded.set(e.seq, e);
      return entries;
    },
    pending: (limit) => inner.pending(limit),
    pendingCount: () => inner.pendingCount(),
    commit: (ackSeq, patch) => inner.commit(ackSeq, patch),
    renumber: (moved, afterSeq) => inner.renumber(moved, afterSeq),
    readMeta: () => inner.readMeta(),
    close: () => inner.close(),
  };
}

async function household() {
  const accountId = `storage-${uuidv7().slice(-8)}`;
  await server.service.createAccount(accountId, 'Storage household', ROOMY_PLAN);
  return { accountId, enrolment: (await server.tokens.mint({ kind: 'account', accountId })).token };
}

function client(name: string, storage: SatchelStorage, extra: { deviceId?: string } = {}): SatchelClient {
  const c = createSatchel({
    baseUrl: 'http://satchel.test/',
    fetch: serverFetch,
    storage,
    autoSync: false,
    locks: null,
    tabGroup: name,
    ...extra,
  });
  clients.push(c);
  return c;
}

async function registeredDevice() {
  const { accountId, enrolment } = await household();
  const name = `storage-${uuidv7()}`;
  const recorded = new Map<number, OutboxEntry>();
  const storage = recordingStorage(idbStorage({ name, blockedTimeoutMs: 300 }), recorded);
  const deviceId = uuidv7();
  const c = client(name, storage, { deviceId });
  await c.register(enrolment, { name: 'Storage device' });
  const grant = await c.requestDownload('quiet-river');
  if (!grant.ok) throw new Error(grant.refusal.code);
  await c.downloadCompleted(grant.license.licenseId);
  return {
    accountId,
    enrolment,
    name,
    deviceId,
    storage,
    recorded,
    client: c,
    licenseId: grant.license.licenseId,
  };
}

async function expectTypedError(promise: Promise<unknown>, code: string) {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error, `expected ${code}`).not.toBeNull();
  expect(
    isSatchelError(error, code),
    `got ${String((error as { code?: unknown })?.code)}: ${String(error)}`,
  ).toBe(true);
}

async function verify(d: Awaited<ReturnType<typeof registeredDevice>>) {
  const record: DeviceRecord = {
    accountId: d.accountId,
    deviceId: d.deviceId,
    ackSeq: (await d.storage.readMeta()).cursor.ackSeq,
    recorded: d.recorded,
    acceptedTwice: 0,
  };
  const verdict = await verifyStore(server.db, [record]);
  addCounters({ acked: verdict.acked, lost: verdict.lost, duplicated: verdict.duplicated });
  expect(verdict.problems).toEqual([]);
  return verdict;
}

const deleteDatabase = (name: string) =>
  new Promise<void>((resolve, reject) => {
    const request = indexedDB.deleteDatabase(name);
    request.onsuccess = () => resolve();
    request.onerror = () => reject(request.error);
  });

// ---- tests --------------------------------------------------------------------------------------

describe('device storage faults', () => {
  it('quota exceeded while recording: a typed error, nothing half-written, recording resumes without a gap', async () => {
    const d = await registeredDevice();
    await d.client.sync();
    const before = await d.storage.readMeta();
    const licencesBefore = await d.client.licenses();

    quota.armed = true;
    await expectTypedError(d.client.startPlayback(d.licenseId), 'STORAGE_QUOTA_EXCEEDED');
    await expectTypedError(d.client.stopPlayback(d.licenseId, 1000), 'STORAGE_QUOTA_EXCEEDED');
    quota.armed = false;
    expect(quota.injected).toBeGreaterThan(0);

    const after = await d.storage.readMeta();
    expect(after.lastSeq).toBe(before.lastSeq);
    expect(await d.storage.pendingCount()).toBe(0);
    expect((await d.client.licenses()).map((l) => [l.licenseId, l.status])).toEqual(
      licencesBefore.map((l) => [l.licenseId, l.status]),
    );

    const played = await d.client.startPlayback(d.licenseId);
    expect(played.allowed).toBe(true);
    expect((await d.storage.pending()).map((e) => e.seq)).toEqual([before.lastSeq + 1]);
    await d.client.sync();
    const verdict = await verify(d);
    expect(verdict.acked).toBe(before.lastSeq + 1);
  });

  it('quota exceeded while storing a sync answer: the server applied the batch, the device resends it, nothing doubles', async () => {
    const d = await registeredDevice();
    for (let i = 0; i < 3; i++) await d.client.startPlayback(d.licenseId, { positionMs: i });
    const ackBefore = (await d.storage.readMeta()).cursor.ackSeq;

    quota.armed = true;
    await expectTypedError(d.client.sync(), 'STORAGE_QUOTA_EXCEEDED');
    quota.armed = false;
    expect((await d.storage.readMeta()).cursor.ackSeq).toBe(ackBefore);
    expect(await d.storage.pendingCount()).toBe(d.recorded.size - ackBefore);

    const result = await d.client.sync();
    expect(result.pending).toBe(0);
    const verdict = await verify(d);
    expect(verdict.duplicated).toBe(0);
    expect(verdict.acked).toBe(d.recorded.size);
  });

  it('database deleted by the user: typed NOT_REGISTERED, no invented licence, acknowledged events stay on the server', async () => {
    const d = await registeredDevice();
    await d.client.startPlayback(d.licenseId);
    await d.client.sync();
    const acked = (await d.storage.readMeta()).cursor.ackSeq;
    await d.client.startPlayback(d.licenseId);

    await deleteDatabase(d.name);

    expect(await d.client.licenses()).toEqual([]);
    expect((await d.client.status()).registered).toBe(false);
    const refused = await d.client.startPlayback(d.licenseId).then(
      () => null,
      (e: unknown) => e,
    );
    expect(isSatchelError(refused, 'NOT_REGISTERED') || isSatchelError(refused, 'NO_SNAPSHOT')).toBe(true);
    await expectTypedError(d.client.sync(), 'NOT_REGISTERED');

    // What the server acknowledged is still there, exactly once.
    const verdict = await verifyStore(server.db, [
      { accountId: d.accountId, deviceId: d.deviceId, ackSeq: acked, recorded: d.recorded, acceptedTwice: 0 },
    ]);
    addCounters({ acked: verdict.acked, lost: verdict.lost, duplicated: verdict.duplicated });
    expect(verdict.problems).toEqual([]);
    const serverSide = await server.service.licenses(d.accountId, d.deviceId);
    expect(serverSide.licenses.map((l) => l.licenseId)).toEqual([d.licenseId]);

    // The player enrols again: a fresh device with the server's snapshot, holding nothing it was not given.
    const again = client(`${d.name}-again`, idbStorage({ name: d.name }));
    const reg = await again.register(d.enrolment, { name: 'Re-enrolled device' });
    expect(reg.deviceId).not.toBe(d.deviceId);
    expect(await again.licenses()).toEqual([]);
    expect((await again.sync()).pending).toBe(0);
  });

  it('upgrade blocked by an old tab: STORAGE_BLOCKED, then the upgrade runs once the tab closes and keeps the outbox', async () => {
    const { accountId, enrolment } = await household();
    const name = `storage-v1-${uuidv7()}`;
    const reg = await server.service.registerDevice(accountId, { deviceId: uuidv7(), name: 'Old device' });
    const { token, expiresAt } = await server.tokens.mint({
      kind: 'device',
      accountId,
      deviceId: reg.deviceId,
    });
    const at = Date.now();
    const oldEvents = [1, 2].map((seq) => ({
      eventId: uuidv7(at),
      seq,
      type: 'ClockRollbackDetected',
      v: 1,
      occurredAt: at,
      trustedAt: at,
      data: { deviceId: reg.deviceId, at, wallClockAt: at - 60_000, behindMs: 60_000 },
    }));
    // An old tab with schema version 1 that ignores versionchange (never closes).
    const oldTab = await new Promise<IDBDatabase>((resolve, reject) => {
      const open = indexedDB.open(name, 1);
      open.onupgradeneeded = () => {
        const db = open.result;
        const outbox = db.createObjectStore('outbox', { keyPath: 'seq' });
        const meta = db.createObjectStore('meta');
        for (const e of oldEvents) outbox.put(e);
        meta.put(
          { deviceId: reg.deviceId, token, tokenExpiresAt: expiresAt, accountId, name: 'Old device' },
          'identity',
        );
        meta.put(2, 'lastSeq');
      };
      open.onsuccess = () => resolve(open.result);
      open.onerror = () => reject(open.error);
    });

    const recorded = new Map<number, OutboxEntry>(oldEvents.map((e) => [e.seq, e as OutboxEntry]));
    const storage = recordingStorage(idbStorage({ name, blockedTimeoutMs: 300 }), recorded);
    const c = client(name, storage);
    await expectTypedError(c.status(), 'STORAGE_BLOCKED');

    oldTab.close();
    const status = await c.status();
    expect(status.registered).toBe(true);
    expect(status.pendingEvents).toBe(2);
    expect((await c.sync()).pending).toBe(0);
    const verdict = await verifyStore(server.db, [
      {
        accountId,
        deviceId: reg.deviceId,
        ackSeq: (await storage.readMeta()).cursor.ackSeq,
        recorded,
        acceptedTwice: 0,
      },
    ]);
    addCounters({ acked: verdict.acked, lost: verdict.lost, duplicated: verdict.duplicated });
    expect(verdict.problems).toEqual([]);
    expect(verdict.acked).toBe(2);
    expect(enrolment).toBeTruthy();
  });

  it('database upgraded by a newer SDK in another tab: STORAGE_VERSION_TOO_NEW, nothing touched', async () => {
    const name = `storage-v9-${uuidv7()}`;
    await new Promise<void>((resolve, reject) => {
      const open = indexedDB.open(name, 9);
      open.onupgradeneeded = () => {
        open.result.createObjectStore('outbox', { keyPath: 'seq' });
        open.result.createObjectStore('meta');
      };
      open.onsuccess = () => {
        open.result.close();
        resolve();
      };
      open.onerror = () => reject(open.error);
    });
    const c = client(name, idbStorage({ name }));
    await expectTypedError(c.status(), 'STORAGE_VERSION_TOO_NEW');
    await expectTypedError(c.startPlayback(uuidv7()), 'STORAGE_VERSION_TOO_NEW');
  });
});
