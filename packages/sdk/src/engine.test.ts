import 'fake-indexeddb/auto';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { isSatchelError, policy } from '@satchel/core';
import { openDB } from 'idb';
import { afterEach, describe, expect, it } from 'vitest';
import type { SatchelClient, SatchelOptions } from './client.js';
import { clientFixture } from './client-fixture.testkit.js';
import { FakeLocks } from './fake-server.testkit.js';
import { idbStorage } from './storage/idb.js';
import { DAY, T0 } from './testkit.js';

// The eight ways the sync engine broke its promise ("record offline, and it reaches the server —
// nothing lost, nothing stuck"), one named test each; docs/protocol.md has the state machine they check.

const clients: SatchelClient[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
});

const CATALOGUE = new Map([
  ['film', policy({ rentalDurationSec: 30 * 86_400 })],
  ['film-2', policy({ rentalDurationSec: 30 * 86_400 })],
]);

function setup(overrides: Partial<SatchelOptions> = {}) {
  return clientFixture('engine-test', clients, CATALOGUE, overrides);
}

async function registered(overrides: Partial<SatchelOptions> = {}) {
  const s = setup(overrides);
  await s.client.register(s.server.enrolmentToken, { name: 'Laptop', platform: 'web' });
  const licence = await s.client.requestDownload('film');
  if (!licence.ok) throw new Error(licence.refusal.message);
  return { ...s, licenseId: licence.license.licenseId };
}

/** Settles with the promise's outcome, or with 'pending' if it has not settled within `ms` real time. */
async function within<T>(
  ms: number,
  promise: Promise<T>,
): Promise<{ value: T } | { error: unknown } | 'pending'> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const guard = new Promise<'pending'>((resolve) => {
    timer = setTimeout(() => resolve('pending'), ms);
  });
  try {
    return await Promise.race([
      promise.then(
        (value) => ({ value }),
        (error: unknown) => ({ error }),
      ),
      guard,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Every record of the SDK's IndexedDB database, as a backup of the device's storage would hold them. */
async function dump(name: string): Promise<Record<string, Array<[IDBValidKey, unknown]>>> {
  const db = await openDB(name);
  const out: Record<string, Array<[IDBValidKey, unknown]>> = {};
  for (const store of ['outbox', 'meta']) {
    const keys = await db.getAllKeys(store);
    out[store] = await Promise.all(
      keys.map(async (k) => [k, await db.get(store, k)] as [IDBValidKey, unknown]),
    );
  }
  db.close();
  return out;
}

/** Restores a {@link dump} over the database. */
async function load(name: string, backup: Record<string, Array<[IDBValidKey, unknown]>>): Promise<void> {
  const db = await openDB(name);
  for (const [store, rows] of Object.entries(backup)) {
    await db.clear(store);
    const keyed = store === 'outbox';
    for (const [key, value] of rows) await (keyed ? db.put(store, value) : db.put(store, value, key));
  }
  db.close();
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('the sync engine never gets stuck, never storms, never loses an event', () => {
  it('case 1 — the server forgot the device (restored from a backup): it is refilled from retained events', async () => {
    const s = await registered();
    const deviceId = (await s.client.status()).deviceId ?? '';
    await s.client.downloadCompleted(s.licenseId); // seq 1
    await s.client.sync();
    await s.client.stopPlayback(s.licenseId, 100); // seq 2
    await s.client.stopPlayback(s.licenseId, 200); // seq 3
    await s.client.sync();
    s.server.restoreFromBackup(deviceId, 1);
    await s.client.stopPlayback(s.licenseId, 300); // seq 4
    const result = await s.client.sync();
    expect(result.pending).toBe(0);
    expect(s.server.cursors.get(deviceId)).toBe(4);
    const status = await s.client.status();
    expect(status.recovery).toMatchObject({ kind: 'refilled', fromSeq: 2, toSeq: 3 });
    expect(status.pendingEvents).toBe(0);
  });

  it('case 1 — the server forgot the device and the device no longer holds the events: a server-decided re-base, reported', async () => {
    const s = await registered({ retention: { maxEvents: 0 } });
    const deviceId = (await s.client.status()).deviceId ?? '';
    await s.client.downloadCompleted(s.licenseId); // seq 1
    await s.client.sync();
    await s.client.stopPlayback(s.licenseId, 100); // seq 2
    await s.client.stopPlayback(s.licenseId, 200); // seq 3
    await s.client.sync();
    s.server.restoreFromBackup(deviceId, 1);
    await s.client.stopPlayback(s.licenseId, 300); // seq 4
    const heard: string[] = [];
    s.client.subscribe((change) => heard.push(change.type));
    const result = await s.client.sync();
    expect(result.pending).toBe(0);
    expect(s.server.rebased).toEqual([{ deviceId, fromSeq: 2, toSeq: 3 }]);
    expect(s.server.cursors.get(deviceId)).toBe(4);
    expect(s.server.state.licenses[s.licenseId]?.lastPositionMs).toBe(300);
    expect((await s.client.status()).recovery).toMatchObject({ kind: 'rebased', fromSeq: 2, toSeq: 3 });
    expect(heard).toContain('status');
  });

  it('case 2a — a poison event is refused when recorded: typed error, nothing written', async () => {
    const s = await registered();
    const before = (await s.client.status()).pendingEvents;
    const error = await s.client.downloadCompleted('x'.repeat(1_100_000)).catch((e: unknown) => e);
    expect(isSatchelError(error, 'INVALID_ARGUMENT')).toBe(true);
    await expect(s.client.stopPlayback(s.licenseId, Number.NaN)).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
    });
    expect((await s.client.status()).pendingEvents).toBe(before);
  });

  it('case 2b — a poison event already in the outbox is isolated, acknowledged as rejected, and the queue moves', async () => {
    const s = await registered();
    const storage = idbStorage({ name: s.name });
    await storage.open();
    const deviceId = (await s.client.status()).deviceId ?? '';
    await s.client.downloadCompleted(s.licenseId);
    // As an older SDK could have recorded it: a 1.1 MB licence id makes every batch carrying it too large.
    await storage.append([
      {
        type: 'PlaybackStopped',
        v: 3,
        data: { licenseId: 'x'.repeat(1_100_000), deviceId, at: T0, positionMs: 1 },
        occurredAt: T0,
        trustedAt: T0,
      },
    ]);
    await storage.close();
    await s.client.stopPlayback(s.licenseId, 5000);
    const result = await s.client.sync();
    expect(result.pending).toBe(0);
    expect(result.rejected).toHaveLength(1);
    expect(result.rejected[0]?.code).toBe('INVALID_EVENT');
    const licence = s.server.state.licenses[s.licenseId];
    expect(licence?.status).toBe('downloaded');
    expect(licence?.lastPositionMs).toBe(5000);
  });

  it('case 2c — batch options beyond the protocol limits are capped: 501 events with maxEvents 1000 sync', async () => {
    const s = await registered({ batch: { maxEvents: 1000, maxBytes: 10_000_000 } });
    for (let i = 0; i < 501; i++) await s.client.stopPlayback(s.licenseId, i);
    const result = await s.client.sync();
    expect(result.pending).toBe(0);
    expect(result.acknowledged).toBe(501);
    expect(s.server.requests.filter((r) => r.path.endsWith('/v1/sync')).every((r) => r.events <= 500)).toBe(
      true,
    );
  });

  it('case 4 — a retry storm: Retry-After of 3,000,000 s waits the clamped hint, not 1 ms', async () => {
    const s = await registered();
    let syncs = 0;
    const fetch: typeof globalThis.fetch = async (input, init) => {
      const request = new Request(input, init);
      if (request.url.endsWith('/v1/sync')) {
        syncs++;
        return new Response(JSON.stringify({ error: { code: 'UNAVAILABLE', message: 'down' } }), {
          status: 503,
          headers: { 'content-type': 'application/json', 'retry-after': '3000000' },
        });
      }
      return s.server.fetch(request);
    };
    const client = s.make({ autoSync: true, fetch });
    await sleep(1500);
    const status = await client.status();
    expect(syncs).toBeLessThanOrEqual(2);
    expect(status.syncState).toBe('backoff');
    // Clamped to the documented hour, never past what a timer can hold.
    expect(status.nextSyncAt).toBeGreaterThan(s.clock.now() + 59 * 60_000);
    expect(status.nextSyncAt).toBeLessThanOrEqual(s.clock.now() + 3_600_000 + 5_000);
  });

  it('case 4 — every hint form is clamped: an HTTP date years ahead, a huge retryAfterMs, garbage', async () => {
    for (const answer of [
      { header: new Date(Date.now() + 10 * 365 * DAY).toUTCString() },
      { body: 9_000_000_000_000 },
      { header: 'soon' },
      { header: '-5' },
    ]) {
      const s = await registered();
      let syncs = 0;
      const fetch: typeof globalThis.fetch = async (input, init) => {
        const request = new Request(input, init);
        if (request.url.endsWith('/v1/sync')) {
          syncs++;
          const error: Record<string, unknown> = { code: 'RATE_LIMITED', message: 'slow down' };
          if (answer.body !== undefined) error.retryAfterMs = answer.body;
          return new Response(JSON.stringify({ error }), {
            status: 429,
            headers: {
              'content-type': 'application/json',
              ...(answer.header === undefined ? {} : { 'retry-after': answer.header }),
            },
          });
        }
        return s.server.fetch(request);
      };
      const client = s.make({ autoSync: true, fetch });
      await sleep(600);
      expect(syncs, JSON.stringify(answer)).toBeLessThanOrEqual(2);
      const status = await client.status();
      expect(status.nextSyncAt ?? 0).toBeGreaterThanOrEqual(s.clock.now() + 500);
      expect(status.nextSyncAt ?? Infinity).toBeLessThanOrEqual(s.clock.now() + 3_600_000 + 5_000);
      await client.close();
    }
  });

  it('case 5 — a stalled body: sync() times out, a later sync() settles, close() returns', async () => {
    const s = await registered();
    const stalled: typeof globalThis.fetch = async (input, init) => {
      const request = new Request(input, init);
      if (!request.url.endsWith('/v1/sync')) return s.server.fetch(request);
      const body = new ReadableStream<Uint8Array>({
        start(controller) {
          controller.enqueue(new TextEncoder().encode('{"protocolVersion":1,"results":['));
          // …and nothing more, ever.
        },
      });
      return new Response(body, { status: 200, headers: { 'content-type': 'application/json' } });
    };
    const client = s.make({ fetch: stalled, requestTimeoutMs: 1000 });
    const first = await within(5000, client.sync());
    expect(first).not.toBe('pending');
    expect(first !== 'pending' && 'error' in first && isSatchelError(first.error, 'TIMEOUT')).toBe(true);
    const second = await within(5000, client.sync());
    expect(second).not.toBe('pending');
    expect(await within(5000, client.close())).not.toBe('pending');
  });

  it('case 8 — a 401 asks getToken for a fresh token at once and the sync goes through', async () => {
    const s = await registered();
    const good = `token-${(await s.client.status()).deviceId}`;
    const asked: unknown[] = [];
    const client = s.make({
      getToken: (context?: { refresh: boolean }) => {
        asked.push(context);
        return asked.length === 1 ? 'expired-token' : good;
      },
    });
    await client.stopPlayback(s.licenseId, 1000);
    const result = await within(5000, client.sync());
    expect(result !== 'pending' && 'value' in result && result.value.pending).toBe(0);
    expect(asked).toContainEqual({ refresh: true });
  });

  it('case 8 — background sync recovers from an expired token without waiting for the next period', async () => {
    const s = await registered();
    const good = `token-${(await s.client.status()).deviceId}`;
    let calls = 0;
    const client = s.make({
      autoSync: true,
      pushDelayMs: 10,
      getToken: () => (++calls === 1 ? 'expired-token' : good),
    });
    await client.stopPlayback(s.licenseId, 1000);
    for (let i = 0; i < 50 && (await client.status()).pendingEvents > 0; i++) await sleep(100);
    expect((await client.status()).pendingEvents).toBe(0);
    expect((await client.status()).lastError).toBeNull();
  });

  it('case 3 — a hung leader: a follower takes over background sync and its sync() wait is bounded', async () => {
    const s = await registered();
    const locks = new FakeLocks();
    // A frozen tab: it holds the leader and the sync locks and answers nothing.
    const frozen = new Promise<void>(() => {});
    locks.request(`satchel:${s.name}:leader`, {}, () => frozen).catch(() => undefined);
    locks.request(`satchel:${s.name}:sync`, {}, () => frozen).catch(() => undefined);
    const follower = s.make({ autoSync: true, locks, pushDelayMs: 10, lockTimeoutMs: 500 });
    await follower.stopPlayback(s.licenseId, 1234);
    const explicit = await within(8000, follower.sync());
    expect(explicit).not.toBe('pending');
    for (let i = 0; i < 80 && (await follower.status()).pendingEvents > 0; i++) await sleep(100);
    expect((await follower.status()).pendingEvents).toBe(0);
    expect((await follower.status()).leader).toBe(true);
    expect(s.server.state.licenses[s.licenseId]?.lastPositionMs).toBe(1234);
  });

  it('case 6 — a clock that was once a year ahead: after a sync, trusted time is server time again', async () => {
    const s = await registered();
    await s.client.downloadCompleted(s.licenseId);
    s.clock.set(T0 + 365 * DAY);
    await s.client.startPlayback(s.licenseId);
    s.clock.set(T0 + 60_000);
    await s.client.sync();
    const fresh = await s.client.requestDownload('film-2');
    if (!fresh.ok) throw new Error(fresh.refusal.message);
    await s.client.downloadCompleted(fresh.license.licenseId);
    const decision = await s.client.startPlayback(fresh.license.licenseId);
    expect(decision).toMatchObject({ allowed: true });
    expect(Math.abs(decision.secureNow - (T0 + 60_000))).toBeLessThan(10_000);
  });

  it('case 7 — a lost answer to requestDownload: the retry returns the first outcome, not ALREADY_LICENSED', async () => {
    const s = await registered();
    s.server.faults.push({ kind: 'drop-response' });
    await expect(s.client.requestDownload('film-2')).rejects.toMatchObject({ code: 'NETWORK' });
    const retry = await s.client.requestDownload('film-2');
    expect(retry).toMatchObject({ ok: true });
    const held = Object.values(s.server.state.licenses).filter((l) => l.titleId === 'film-2');
    expect(held).toHaveLength(1);
    expect(retry.ok && retry.license.licenseId).toBe(held[0]?.licenseId);
  });

  it('case 7 — a lost answer to renew: the retry returns the renewal that went through, not a second one', async () => {
    const s = await registered();
    s.server.faults.push({ kind: 'drop-response' });
    await expect(s.client.renew(s.licenseId)).rejects.toMatchObject({ code: 'NETWORK' });
    await s.client.sync();
    const retry = await s.client.renew(s.licenseId);
    expect(retry).toMatchObject({ ok: true, license: { renewals: 1 } });
    expect(s.server.state.licenses[s.licenseId]?.renewals).toBe(1);
    // A later renewal, once the first was answered, is a new one.
    expect(await s.client.renew(s.licenseId)).toMatchObject({ ok: true, license: { renewals: 2 } });
  });

  it('case 7 — a lost answer to register: the retry registers the same device once', async () => {
    const s = setup();
    s.server.faults.push({ kind: 'drop-response' });
    await expect(s.client.register(s.server.enrolmentToken, { name: 'Laptop' })).rejects.toMatchObject({
      code: 'NETWORK',
    });
    const retry = await s.client.register(s.server.enrolmentToken, { name: 'Laptop' });
    expect(Object.keys(s.server.state.devices)).toEqual([retry.deviceId]);
  });

  it('sync() that joins a run in progress resolves only after the events recorded before it were sent', async () => {
    const s = await registered();
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    let started: () => void = () => {};
    const inFlight = new Promise<void>((resolve) => {
      started = resolve;
    });
    let held = true;
    const fetch: typeof globalThis.fetch = async (input, init) => {
      const request = new Request(input, init);
      if (request.url.endsWith('/v1/sync') && held) {
        held = false;
        started();
        await gate;
      }
      return s.server.fetch(request);
    };
    const client = s.make({ fetch });
    await client.stopPlayback(s.licenseId, 100);
    const first = client.sync();
    await inFlight; // the run has read the outbox and sent it
    await client.stopPlayback(s.licenseId, 200);
    const second = client.sync();
    release();
    await first;
    const result = await second;
    expect(result.pending).toBe(0);
    expect((await client.status()).pendingEvents).toBe(0);
    expect(s.server.state.licenses[s.licenseId]?.lastPositionMs).toBe(200);
  });

  it('a background run that failed before registration does not delay the first push after it', async () => {
    const s = setup({ autoSync: true, syncIntervalMs: 60_000, pushDelayMs: 10 });
    for (let i = 0; i < 50 && (await s.client.status()).syncState !== 'backoff'; i++) await sleep(20);
    expect((await s.client.status()).syncState).toBe('backoff');
    await s.client.register(s.server.enrolmentToken, { name: 'Laptop', platform: 'web' });
    const licence = await s.client.requestDownload('film');
    if (!licence.ok) throw new Error(licence.refusal.message);
    await s.client.downloadCompleted(licence.license.licenseId);
    for (let i = 0; i < 50 && (await s.client.status()).pendingEvents > 0; i++) await sleep(100);
    expect((await s.client.status()).pendingEvents).toBe(0);
    expect(s.server.state.licenses[licence.license.licenseId]?.status).toBe('downloaded');
  });

  it('a 429 with Retry-After is honoured, whatever its code: no request before the hint, the events go after it', async () => {
    for (const code of ['RATE_LIMITED', 'EVENT_QUOTA_EXCEEDED']) {
      const s = await registered();
      const syncs: number[] = [];
      const fetch: typeof globalThis.fetch = async (input, init) => {
        const request = new Request(input, init);
        if (request.url.endsWith('/v1/sync')) {
          syncs.push(Date.now());
          if (syncs.length === 1) {
            return new Response(JSON.stringify({ error: { code, message: 'too many events' } }), {
              status: 429,
              headers: { 'content-type': 'application/json', 'retry-after': '2' },
            });
          }
        }
        return s.server.fetch(request);
      };
      const client = s.make({ autoSync: true, fetch, pushDelayMs: 10, random: () => 0 });
      await client.stopPlayback(s.licenseId, 4321);
      for (let i = 0; i < 50 && syncs.length === 0; i++) await sleep(20);
      for (let i = 0; i < 50 && (await client.status()).syncState !== 'backoff'; i++) await sleep(20);
      const status = await client.status();
      expect(status.lastError?.code, code).toBe(code);
      expect(status.nextSyncAt ?? 0).toBeGreaterThanOrEqual(s.clock.now() + 1900);
      for (let i = 0; i < 80 && (await client.status()).pendingEvents > 0; i++) await sleep(100);
      expect((await client.status()).pendingEvents, code).toBe(0);
      expect(syncs.length, code).toBeGreaterThanOrEqual(2);
      expect((syncs[1] ?? 0) - (syncs[0] ?? 0), code).toBeGreaterThanOrEqual(1900);
      await client.close();
    }
  });

  it('device storage restored from an older backup reuses acknowledged seqs: renumbered, nothing lost, reported', async () => {
    const s = await registered();
    const deviceId = (await s.client.status()).deviceId ?? '';
    await s.client.downloadCompleted(s.licenseId); // seq 1
    await s.client.sync();
    // The backup is taken here: seq 1 acknowledged, nothing pending.
    const backup = await dump(s.name);
    await s.client.stopPlayback(s.licenseId, 100); // seq 2
    await s.client.stopPlayback(s.licenseId, 200); // seq 3
    await s.client.sync();
    expect(s.server.cursors.get(deviceId)).toBe(3);
    await s.client.close();
    await load(s.name, backup);
    const restored = s.make();
    await restored.stopPlayback(s.licenseId, 300); // seq 2 again, a new event
    await restored.stopPlayback(s.licenseId, 400); // seq 3 again
    await restored.stopPlayback(s.licenseId, 500); // seq 4
    const storage = idbStorage({ name: s.name });
    const ids = (await storage.pending()).map((e) => e.eventId);
    await storage.close();
    const result = await restored.sync();
    expect(result.pending).toBe(0);
    expect(result.rejected).toEqual([]);
    expect(s.server.cursors.get(deviceId)).toBe(6);
    // Each of the three reached the server once and was applied (seq 4 first, 2 and 3 renumbered 5 and 6).
    expect(ids.map((id) => s.server.processed.get(id))).toEqual([1, 1, 1]);
    expect(ids.filter((id) => s.server.rejected.has(id))).toEqual([]);
    expect((await restored.status()).recovery).toMatchObject({ kind: 'renumbered', fromSeq: 2, toSeq: 4 });
    // And the device records after the server's cursor from now on.
    await restored.stopPlayback(s.licenseId, 600);
    expect(await restored.sync()).toMatchObject({ pending: 0, rejected: [] });
    expect(s.server.cursors.get(deviceId)).toBe(7);
    expect(s.server.state.licenses[s.licenseId]?.lastPositionMs).toBe(600);
  });

  it('a logger hears every transition and every swallowed error (a listener that throws)', async () => {
    const entries: Array<{ level: string; message: string }> = [];
    const s = await registered({
      logger: { log: (level: string, message: string) => entries.push({ level, message }) },
    });
    s.client.subscribe(() => {
      throw new Error('listener bug');
    });
    await s.client.stopPlayback(s.licenseId, 1);
    await s.client.sync();
    await sleep(20);
    expect(entries.some((e) => e.level === 'debug' && /idle --request--> syncing/.test(e.message))).toBe(
      true,
    );
    expect(entries.some((e) => e.level === 'debug' && /syncing --succeeded--> idle/.test(e.message))).toBe(
      true,
    );
    expect(entries.some((e) => e.level === 'warn' && /listener threw/.test(e.message))).toBe(true);
  });

  it('a Node process that created a client exits once the client is idle or closed', async () => {
    const script = fileURLToPath(new URL('./node-exit.fixture.ts', import.meta.url));
    for (const mode of ['idle', 'closed']) {
      const started = Date.now();
      const code = await new Promise<number | null>((resolve, reject) => {
        const child = spawn(process.execPath, ['--import', 'tsx', script, mode], {
          stdio: ['ignore', 'inherit', 'inherit'],
        });
        const killer = setTimeout(() => {
          child.kill('SIGKILL');
          resolve(null);
        }, 20_000);
        child.on('error', reject);
        child.on('exit', (exitCode) => {
          clearTimeout(killer);
          resolve(exitCode);
        });
      });
      expect(code, `${mode}: exited after ${Date.now() - started} ms`).toBe(0);
    }
  }, 45_000);
});
