import 'fake-indexeddb/auto';
import { decide, isSatchelError } from '@satchel/core';
import { PROTOCOL_VERSION, PROTOCOL_VERSION_HEADER } from '@satchel/protocol';
import { createSatchel, idbStorage, type SatchelClient, type SatchelOptions } from '@satchel/sdk';
import { createSatchelServer, demoCatalogue, pgliteDatabase, type SatchelServer } from '@satchel/server';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

const T0 = Date.UTC(2026, 0, 5, 12, 0, 0);
const clock = { now: T0, mono: 0 };
let server: SatchelServer;
let counter = 0;
const clients: SatchelClient[] = [];

beforeAll(async () => {
  const db = await pgliteDatabase();
  server = await createSatchelServer({
    db,
    tokenSecret: 'integration-secret-0123456789abcdef',
    logger: pino({ level: 'silent' }),
    now: () => clock.now,
    rateLimit: { burst: 100_000, perSecond: 100_000 },
  });
  await server.service.catalogue.put(demoCatalogue(T0));
}, 60_000);

afterAll(async () => {
  await server?.db.close();
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
});

/** A fetch into the in-process server, with a switch for "offline" and one for "drop the next answer". */
function network() {
  const state = { online: true, dropNextAnswer: false, requests: 0 };
  const fetch = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    if (!state.online) throw new TypeError('Failed to fetch');
    state.requests++;
    const response = await server.app.fetch(new Request(input, init));
    if (state.dropNextAnswer) {
      state.dropNextAnswer = false;
      await response.arrayBuffer();
      throw new TypeError('network connection was lost');
    }
    return response;
  };
  return { state, fetch };
}

async function device() {
  const accountId = `acct-int-${++counter}-${Date.now().toString(36)}`;
  await server.service.createAccount(accountId, 'Integration household');
  const { token: enrolment } = await server.tokens.mint({ kind: 'account', accountId });
  const net = network();
  const name = `int-${accountId}`;
  const make = (extra: Partial<SatchelOptions> = {}) => {
    const client = createSatchel({
      baseUrl: 'http://satchel.test/',
      fetch: net.fetch,
      clock: { now: () => clock.now, monotonicNow: () => clock.mono },
      storage: idbStorage({ name }),
      autoSync: false,
      locks: null,
      tabGroup: name,
      ...extra,
    });
    clients.push(client);
    return client;
  };
  const client = make();
  const reg = await client.register(enrolment, { name: 'Integration device', platform: 'web' });
  return { accountId, client, net, name, deviceId: reg.deviceId, make };
}

async function downloaded(client: SatchelClient, titleId = 'quiet-river') {
  const grant = await client.requestDownload(titleId);
  if (!grant.ok) throw new Error(grant.refusal.message);
  await client.downloadCompleted(grant.license.licenseId);
  return grant.license.licenseId;
}

async function storedDeviceEvents(accountId: string, type: string) {
  return server.db.query<{ event_id: string }>(
    'SELECT event_id FROM events WHERE account_id = $1 AND type = $2',
    [accountId, type],
  );
}

type Backup = Record<'outbox' | 'meta', Array<[IDBValidKey, unknown]>>;

function idbRequest<T>(request: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

/** The SDK's IndexedDB database as a backup of the device's storage holds it. */
async function backupOf(name: string): Promise<Backup> {
  const db = await idbRequest(indexedDB.open(name));
  const tx = db.transaction(['outbox', 'meta'], 'readonly');
  const rows = async (store: 'outbox' | 'meta') => {
    const keys = await idbRequest(tx.objectStore(store).getAllKeys());
    const values = await idbRequest(tx.objectStore(store).getAll());
    return keys.map((k, i) => [k, values[i]] as [IDBValidKey, unknown]);
  };
  const backup = { outbox: await rows('outbox'), meta: await rows('meta') };
  db.close();
  return backup;
}

/** Puts a {@link backupOf} back over the database. */
async function restore(name: string, backup: Backup): Promise<void> {
  const db = await idbRequest(indexedDB.open(name));
  const tx = db.transaction(['outbox', 'meta'], 'readwrite');
  for (const store of ['outbox', 'meta'] as const) {
    tx.objectStore(store).clear();
    for (const [key, value] of backup[store]) {
      if (store === 'outbox') tx.objectStore(store).put(value);
      else tx.objectStore(store).put(value, key);
    }
  }
  await new Promise<void>((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error);
  });
  db.close();
}

describe('SDK against the real sync server', () => {
  it('records 1,000 events offline and delivers each exactly once when back online', async () => {
    const d = await device();
    const licenseId = await downloaded(d.client);
    await d.client.sync();
    d.net.state.online = false;
    for (let i = 0; i < 1000; i++) await d.client.stopPlayback(licenseId, i);
    expect(await d.client.sync().catch((e: unknown) => isSatchelError(e, 'NETWORK'))).toBe(true);
    expect((await d.client.status()).pendingEvents).toBe(1000);
    d.net.state.online = true;
    const result = await d.client.sync();
    expect(result).toMatchObject({ sent: 1000, acknowledged: 1000, rejected: [], pending: 0 });
    const rows = await storedDeviceEvents(d.accountId, 'PlaybackStopped');
    expect(rows.length).toBe(1000);
    expect(new Set(rows.map((r) => r.event_id)).size).toBe(1000);
    const [license] = await d.client.licenses();
    expect(license?.lastPositionMs).toBe(999);
  }, 120_000);

  it('survives a connection killed mid-batch: the batch is resent and applied once', async () => {
    const d = await device();
    const licenseId = await downloaded(d.client);
    for (let i = 0; i < 10; i++) await d.client.stopPlayback(licenseId, i);
    d.net.state.dropNextAnswer = true;
    expect(await d.client.sync().catch((e: unknown) => isSatchelError(e, 'NETWORK'))).toBe(true);
    expect((await d.client.status()).pendingEvents).toBe(11);
    const result = await d.client.sync();
    expect(result).toMatchObject({ sent: 11, acknowledged: 11, pending: 0 });
    expect((await storedDeviceEvents(d.accountId, 'PlaybackStopped')).length).toBe(10);
    expect((await storedDeviceEvents(d.accountId, 'DownloadCompleted')).length).toBe(1);
  });

  it('answers a replayed batch with duplicates and changes nothing', async () => {
    const d = await device();
    const licenseId = await downloaded(d.client);
    await d.client.stopPlayback(licenseId, 5);
    const storage = idbStorage({ name: d.name });
    const batch = await storage.pending();
    await storage.close();
    await d.client.sync();
    const meta = {
      protocolVersion: PROTOCOL_VERSION,
      deviceId: d.deviceId,
      snapshotVersion: null,
      events: batch,
    };
    const token = `${(await server.tokens.mint({ kind: 'device', accountId: d.accountId, deviceId: d.deviceId })).token}`;
    const replay = await server.app.fetch(
      new Request('http://satchel.test/v1/sync', {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          authorization: `Bearer ${token}`,
          [PROTOCOL_VERSION_HEADER]: String(PROTOCOL_VERSION),
        },
        body: JSON.stringify(meta),
      }),
    );
    const body = (await replay.json()) as { ackSeq: number; results: Array<{ status: string }> };
    expect(replay.status).toBe(200);
    expect(body.ackSeq).toBe(2);
    expect(body.results.map((r) => r.status)).toEqual(['duplicate', 'duplicate']);
    expect((await storedDeviceEvents(d.accountId, 'PlaybackStopped')).length).toBe(1);
  });

  it('shows a refusal by the rules as a typed result', async () => {
    const d = await device();
    await downloaded(d.client, 'quiet-river');
    const again = await d.client.requestDownload('quiet-river');
    expect(again).toMatchObject({ ok: false, refusal: { code: 'ALREADY_LICENSED', titleId: 'quiet-river' } });
  });

  it('shows a licence revoked while the device was offline after the next sync', async () => {
    const d = await device();
    const licenseId = await downloaded(d.client);
    await d.client.sync();
    d.net.state.online = false;
    await server.service.accounts.execute(d.accountId, async (unit) => {
      const decision = decide(unit.state, {
        type: 'RevokeLicense',
        licenseId,
        reason: 'ADMIN',
        now: clock.now,
      });
      if (!decision.ok) throw new Error(decision.rejection.message);
      unit.emit(decision.events);
    });
    expect((await d.client.startPlayback(licenseId)).allowed).toBe(true);
    d.net.state.online = true;
    await d.client.sync();
    const [license] = await d.client.licenses();
    expect(license).toMatchObject({ licenseId, status: 'revoked' });
    expect(await d.client.startPlayback(licenseId)).toMatchObject({ allowed: false, reason: 'REVOKED' });
  });

  it('case 7 — online commands whose answer was lost return the first outcome when retried', async () => {
    const d = await device();
    d.net.state.dropNextAnswer = true;
    await expect(d.client.requestDownload('quiet-river')).rejects.toMatchObject({ code: 'NETWORK' });
    const granted = await d.client.requestDownload('quiet-river');
    if (!granted.ok) throw new Error(`refused: ${granted.refusal.code}`);
    expect((await storedDeviceEvents(d.accountId, 'LicenseIssued')).length).toBe(1);

    const licenseId = granted.license.licenseId;
    d.net.state.dropNextAnswer = true;
    await expect(d.client.renew(licenseId)).rejects.toMatchObject({ code: 'NETWORK' });
    expect(await d.client.renew(licenseId)).toMatchObject({ ok: true, license: { renewals: 1 } });
    expect((await storedDeviceEvents(d.accountId, 'LicenseRenewed')).length).toBe(1);
  });

  it('case 1 — a server restored from a backup re-bases a device that no longer holds the lost events, in the account history', async () => {
    const d = await device();
    const client = d.make({ retention: { maxEvents: 0 } });
    const licenseId = await downloaded(client);
    await client.sync();
    const [cursor] = await server.db.query<{ last_seq: string }>(
      'SELECT last_seq FROM device_cursors WHERE account_id = $1 AND device_id = $2',
      [d.accountId, d.deviceId],
    );
    const kept = Number(cursor?.last_seq);
    await client.stopPlayback(licenseId, 100);
    await client.stopPlayback(licenseId, 200);
    await client.sync();
    // The backup predates the last two events: the server no longer knows them.
    await server.db.query(
      'UPDATE device_cursors SET last_seq = $3 WHERE account_id = $1 AND device_id = $2',
      [d.accountId, d.deviceId, kept],
    );
    await server.db.query(
      'DELETE FROM device_receipts WHERE account_id = $1 AND device_id = $2 AND seq > $3',
      [d.accountId, d.deviceId, kept],
    );
    await client.stopPlayback(licenseId, 300);
    const result = await client.sync();
    expect(result.pending).toBe(0);
    expect((await client.status()).recovery).toMatchObject({
      kind: 'rebased',
      fromSeq: kept + 1,
      toSeq: kept + 2,
    });
    const rebased = await server.db.query<{ data: { fromSeq: number; toSeq: number } }>(
      "SELECT data FROM events WHERE account_id = $1 AND type = 'DeviceHistoryRebased'",
      [d.accountId],
    );
    expect(rebased.map((r) => r.data)).toMatchObject([{ fromSeq: kept + 1, toSeq: kept + 2 }]);
    const [license] = await client.licenses();
    expect(license?.lastPositionMs).toBe(300);
  });

  it('device storage restored from an older backup: the events reusing acknowledged seqs are renumbered and applied, none lost', async () => {
    const d = await device();
    const licenseId = await downloaded(d.client);
    await d.client.sync();
    const backup = await backupOf(d.name);
    await d.client.stopPlayback(licenseId, 100);
    await d.client.stopPlayback(licenseId, 200);
    await d.client.sync();
    await d.client.close();
    await restore(d.name, backup);
    const restored = d.make();
    await restored.stopPlayback(licenseId, 300);
    await restored.stopPlayback(licenseId, 400);
    await restored.stopPlayback(licenseId, 500);
    const result = await restored.sync();
    expect(result).toMatchObject({ pending: 0, rejected: [] });
    expect((await restored.status()).recovery).toMatchObject({ kind: 'renumbered' });
    const stopped = await storedDeviceEvents(d.accountId, 'PlaybackStopped');
    expect(stopped).toHaveLength(5);
    await restored.stopPlayback(licenseId, 600);
    expect(await restored.sync()).toMatchObject({ pending: 0, rejected: [] });
    const [license] = await restored.licenses();
    expect(license?.lastPositionMs).toBe(600);
  });
});
