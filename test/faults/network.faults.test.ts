// The real SDK (IndexedDB via fake-indexeddb) syncing through a fault-injecting TCP proxy: requests
// dropped, answers reset half-way (after the server committed), traffic delayed past the SDK's timeout,
// and requests replayed on a second connection (the server sees the same batch twice, concurrently),
// plus the SDK's own retries. Nothing acknowledged may be lost or applied twice; every device drains.
import 'fake-indexeddb/auto';
import {
  createSatchel,
  idbStorage,
  type OutboxEntry,
  type SatchelClient,
  type SatchelStorage,
} from '@satchel/sdk';
import {
  createSatchelServer,
  type Database,
  demoCatalogue,
  type Listener,
  type SatchelServer,
} from '@satchel/server';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addCounters } from './lib/counters.js';
import { type DeviceRecord, uuidv7, verifyStore } from './lib/devices.js';
import { freshDatabase, openDb } from './lib/pg.js';
import { FaultProxy, type ProxyFaults } from './lib/proxy.js';
import { FAULTS_SECRET, ROOMY_PLAN } from './lib/seed.js';
import { sleep } from './lib/server-process.js';

const FAULTS: ProxyFaults = { drop: 0.05, reset: 0.08, delay: 0.03, delayMs: 2_500, replay: 0.05 };

let pg: Awaited<ReturnType<typeof freshDatabase>>;
let db: Database;
let server: SatchelServer;
let listener: Listener;
let proxy: FaultProxy;

beforeAll(async () => {
  pg = await freshDatabase();
  db = openDb(pg.url, 10);
  server = await createSatchelServer({
    db,
    tokenSecret: FAULTS_SECRET,
    logger: pino({ level: 'silent' }),
    rateLimit: { burst: 100_000, perSecond: 100_000 },
  });
  await server.service.catalogue.put(demoCatalogue(Date.now()));
  listener = await server.listen(0, '127.0.0.1');
  proxy = await FaultProxy.start(listener.port, FAULTS);
}, 60_000);

afterAll(async () => {
  await proxy?.close();
  await listener?.close();
  await db?.close();
  await pg?.drop();
});

interface SimDevice extends DeviceRecord {
  client: SatchelClient;
  storage: SatchelStorage;
  recorded: Map<number, OutboxEntry>;
  syncErrors: Record<string, number>;
}

/** The SDK's storage, noting every entry it appended (seq and eventId) as the device's own record. */
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

async function retry<T>(what: () => Promise<T>, deadlineMs = 60_000): Promise<T> {
  const deadline = Date.now() + deadlineMs;
  for (let attempt = 0; ; attempt++) {
    try {
      return await what();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await sleep(Math.min(500, 20 * 2 ** attempt) * Math.random());
    }
  }
}

async function device(accountId: string, enrolment: string, n: number): Promise<SimDevice> {
  const recorded = new Map<number, OutboxEntry>();
  const deviceId = uuidv7();
  const name = `net-${deviceId}`;
  const storage = recordingStorage(idbStorage({ name }), recorded);
  const sim: SimDevice = {
    accountId,
    deviceId,
    ackSeq: 0,
    recorded,
    acceptedTwice: 0,
    storage,
    syncErrors: {},
    client: null as unknown as SatchelClient,
  };
  const answered = new Map<number, string>();
  // Reads every sync answer the SDK gets, to catch an event accepted twice.
  const fetchSpy: typeof fetch = async (input, init) => {
    const res = await fetch(input, init);
    if (String(input instanceof Request ? input.url : input).endsWith('/v1/sync') && res.status === 200) {
      const body = (await res.clone().json()) as { results: Array<{ seq: number; status: string }> };
      for (const r of body.results) {
        if (r.status === 'accepted' && answered.get(r.seq) === 'accepted') sim.acceptedTwice++;
        if (r.status === 'accepted' || !answered.has(r.seq)) answered.set(r.seq, r.status);
      }
    }
    return res;
  };
  sim.client = createSatchel({
    baseUrl: `${proxy.url}/`,
    deviceId,
    storage,
    fetch: fetchSpy,
    autoSync: false,
    locks: null,
    tabGroup: name,
    requestTimeoutMs: 2_000,
  });
  await retry(() => sim.client.register(enrolment, { name: `network device ${n}`, platform: 'web' }));
  return sim;
}

async function sync(d: SimDevice): Promise<boolean> {
  try {
    await d.client.sync();
    return true;
  } catch (error) {
    const code = (error as { code?: string }).code ?? 'unknown';
    d.syncErrors[code] = (d.syncErrors[code] ?? 0) + 1;
    return false;
  }
}

describe('network faults between the SDK and the server', () => {
  it('loses nothing acknowledged, applies nothing twice and leaves no device stuck', async () => {
    const devices: SimDevice[] = [];
    // Registration goes through every fault, replays included: a retry after a lost answer, or a replayed
    // request, registers the same active device again with its secret, which keeps its credential, so
    // the token the device kept from whichever answer reached it stays valid. Every registration is
    // replayed here, so the case is always exercised.
    proxy.faults = { ...FAULTS, replay: 1 };
    const replayedBefore = proxy.stats.replayed;
    for (let a = 0; a < 2; a++) {
      const accountId = `net-${a}-${uuidv7().slice(-8)}`;
      await server.service.createAccount(accountId, `Network household ${a}`, ROOMY_PLAN);
      const { token } = await server.tokens.mint({ kind: 'account', accountId });
      for (let i = 0; i < 3; i++) devices.push(await device(accountId, token, i));
    }
    expect(proxy.stats.replayed - replayedBefore).toBeGreaterThanOrEqual(6);
    proxy.faults = FAULTS;

    await Promise.all(
      devices.map(async (d) => {
        const grant = await retry(async () => {
          const g = await d.client.requestDownload('quiet-river');
          if (g.ok) return g.license;
          // An earlier attempt was granted but its answer lost: the refusal's snapshot holds that licence.
          const held = (await d.client.licenses()).find((l) => l.titleId === 'quiet-river');
          if (g.refusal.code === 'ALREADY_LICENSED' && held) return held;
          throw new Error(g.refusal.code);
        });
        await d.client.downloadCompleted(grant.licenseId);
        for (let round = 0; round < 25; round++) {
          for (let k = 0; k < 1 + Math.floor(Math.random() * 4); k++) {
            const started = await d.client.startPlayback(grant.licenseId, { positionMs: round * 1000 });
            if (started.allowed) await d.client.stopPlayback(grant.licenseId, round * 1000 + 500);
          }
          await sync(d);
        }
      }),
    );

    const deadline = Date.now() + 90_000;
    await Promise.all(
      devices.map(async (d) => {
        while (Date.now() < deadline && ((await d.storage.pendingCount()) > 0 || !(await sync(d)))) {
          await sync(d);
        }
      }),
    );
    for (const d of devices) d.ackSeq = (await d.storage.readMeta()).cursor.ackSeq;
    const stuck: string[] = [];
    for (const d of devices) {
      const pending = await d.storage.pendingCount();
      if (pending > 0 || d.ackSeq !== d.recorded.size)
        stuck.push(`${d.deviceId}: ${pending} pending, ack ${d.ackSeq}/${d.recorded.size}`);
    }

    const verdict = await verifyStore(db, devices);
    const errors: Record<string, number> = {};
    for (const d of devices)
      for (const [k, v] of Object.entries(d.syncErrors)) errors[k] = (errors[k] ?? 0) + v;
    addCounters({ acked: verdict.acked, lost: verdict.lost, duplicated: verdict.duplicated });
    console.info(
      `network: proxy ${JSON.stringify(proxy.stats)}, ${verdict.acked} acked, failed syncs ${JSON.stringify(errors)}`,
    );
    await Promise.all(devices.map((d) => d.client.close()));

    expect(proxy.stats.dropped + proxy.stats.resets).toBeGreaterThan(5);
    expect(proxy.stats.replayed).toBeGreaterThan(0);
    expect(verdict.problems).toEqual([]);
    expect(verdict.lost).toBe(0);
    expect(verdict.duplicated).toBe(0);
    expect(stuck).toEqual([]);
    expect(verdict.acked).toBeGreaterThan(200);
  }, 240_000);
});
