import { fileURLToPath } from 'node:url';
import { CURRENT_EVENT_VERSIONS, DEFAULT_PLAN, policy } from '@satchel/core';
import { createSatchelServer, demoCatalogue, postgresDatabase } from '@satchel/server';
import { build } from 'esbuild';
import { pino } from 'pino';
import type { Page } from 'playwright-core';
import { launchChromium, startSite } from '../../packages/sdk/src/browser/harness.testkit.js';
import type { SatchelClient } from '../../packages/sdk/src/index.js';
import { freshDatabase } from './pg.js';
import { startServerProcess } from './server-process.js';
import { round, summarize } from './stats.js';

export interface ClientOptions {
  /** Records timed per contender. */
  records: number;
  /** Events queued, then drained by one `sync()`. */
  drainEvents: number;
  /** Offline playback decisions timed. */
  decisions: number;
  quick: boolean;
  log: (line: string) => void;
}

export interface ClientResult {
  chromium: string;
  records: number;
  /** `stopPlayback` with the default storage (strict durability): resolved = in the outbox, committed. */
  recordP50Ms: number;
  recordP95Ms: number;
  /** One raw IndexedDB `put` in its own transaction, strict durability, awaited to `complete`. */
  rawIdbP50Ms: number;
  rawIdbP95Ms: number;
  recordRatioToRawIdb: number;
  /** The same with relaxed durability on both sides. */
  recordRelaxedP50Ms: number;
  rawIdbRelaxedP50Ms: number;
  /** Raw IndexedDB shaped like an SDK record: a read transaction, then a read-write one (event + seq). */
  rawIdbTwoTxP50Ms: number;
  /** Replicache: `mutate` resolved, then `persist()` resolved (its IndexedDB writes are relaxed). */
  replicacheP50Ms: number;
  replicacheP95Ms: number;
  /** Replicache `mutate` alone (in memory; persisted later by a timer). */
  replicacheMutateOnlyP50Ms: number;
  recordRatioToReplicache: number;
  drainEvents: number;
  /** `sync()` of `drainEvents` queued events to the real server on PostgreSQL. */
  drain10kMs: number;
  /** `POST /v1/sync` requests the server answered for the drain (one per batch). */
  drainRequests: number;
  /** Of the drain, the time the server held a database connection (all batches), and its CPU time. */
  drainServerHoldMs: number;
  drainServerCpuMs: number;
  /** Offline `startPlayback` with a cached snapshot of 100 licences (records PlaybackStarted). */
  decisionP50Ms: number;
  decisionP95Ms: number;
  decisionLicences: number;
}

const SECRET = `bench-client-${Math.random().toString(36).slice(2)}-0123456789`;
const PLAN = { ...DEFAULT_PLAN, planId: 'bench', maxDownloadDevices: 10, maxDownloadsPerDevice: 200 };
const BENCH_TITLES = Array.from({ length: 99 }, (_, i) => ({
  titleId: `bench-title-${String(i).padStart(3, '0')}`,
  name: `Bench title ${i}`,
  policy: policy(),
}));

type Globals = typeof globalThis & {
  Satchel: {
    createSatchel: typeof import('../../packages/sdk/src/index.js').createSatchel;
    idbStorage: typeof import('../../packages/sdk/src/index.js').idbStorage;
  };
  BenchReplicache: {
    ReplicacheImpl: typeof import('replicache/impl').ReplicacheImpl;
    TEST_LICENSE_KEY: string;
  };
  bench: { client: SatchelClient; licenseId: string };
};

let replicacheBundle: Promise<string> | null = null;
function replicachePageScript(): Promise<string> {
  replicacheBundle ??= build({
    absWorkingDir: fileURLToPath(new URL('..', import.meta.url)),
    entryPoints: ['src/browser/replicache-entry.ts'],
    bundle: true,
    format: 'iife',
    platform: 'browser',
    target: 'es2022',
    write: false,
    logLevel: 'error',
  }).then((r) => r.outputFiles[0]?.text ?? '');
  return replicacheBundle;
}

async function openPage(browser: Awaited<ReturnType<typeof launchChromium>>, url: string) {
  const context = await browser.newContext();
  // The functions below run through page.evaluate; the TypeScript loader may name them with a helper.
  await context.addInitScript('globalThis.__name = (f) => f;');
  const page = await context.newPage();
  await page.goto(url);
  await page.waitForFunction(() => 'Satchel' in globalThis);
  return { context, page };
}

/** Registers a device in the page (real server), takes a licence for `quiet-river` and marks it downloaded. */
async function registerInPage(page: Page, baseUrl: string, enrolment: string, name: string) {
  return page.evaluate(
    async ({ baseUrl, enrolment, name }) => {
      const g = globalThis as Globals;
      const client = g.Satchel.createSatchel({
        baseUrl,
        autoSync: false,
        storage: g.Satchel.idbStorage({ name }),
      });
      const reg = await client.register(enrolment, { name, platform: 'web' });
      const grant = await client.requestDownload('quiet-river');
      if (!grant.ok) throw new Error(grant.refusal.message);
      await client.downloadCompleted(grant.license.licenseId);
      g.bench = { client, licenseId: grant.license.licenseId };
      return { deviceId: reg.deviceId };
    },
    { baseUrl, enrolment, name },
  );
}

/**
 * The device side in real Chromium, on the SDK's own benchmark page and browser launcher
 * (packages/sdk/src/browser/harness.testkit.ts), against the real server on PostgreSQL.
 */
export async function benchClient(o: ClientOptions): Promise<ClientResult> {
  const db = await freshDatabase('client');
  const seedDb = postgresDatabase(db.url, { max: 4 });
  let server: Awaited<ReturnType<typeof startServerProcess>> | null = null;
  let site: Awaited<ReturnType<typeof startSite>> | null = null;
  let browser: Awaited<ReturnType<typeof launchChromium>> | null = null;
  try {
    const seed = await createSatchelServer({
      db: seedDb,
      tokenSecret: SECRET,
      logger: pino({ level: 'silent' }),
    });
    await seed.service.catalogue.put([...demoCatalogue(Date.now()), ...BENCH_TITLES]);
    const accounts = ['client-record', 'client-drain'];
    for (const a of accounts) await seed.service.createAccount(a, 'Bench household', PLAN);
    const [recordToken, drainToken] = await Promise.all(
      accounts.map(async (accountId) => (await seed.tokens.mint({ kind: 'account', accountId })).token),
    );
    server = await startServerProcess({ databaseUrl: db.url, tokenSecret: SECRET, poolSize: 10 });
    const baseUrl = `${server.baseUrl}/`;
    site = await startSite(
      async () => new Response('not used: the page talks to the server directly', { status: 404 }),
      undefined,
      { crossOriginIsolated: true },
    );
    browser = await launchChromium();
    const script = await replicachePageScript();

    // Record: Satchel, raw IndexedDB and Replicache, interleaved in one page.
    const rec = await openPage(browser, site.url);
    // Timings of sub-millisecond records need the isolated page's 5 µs clock, not the usual 100 µs steps.
    if (!(await rec.page.evaluate(() => globalThis.crossOriginIsolated)))
      throw new Error('the benchmark page is not cross-origin isolated: performance.now() has 100 µs steps');
    await rec.page.addScriptTag({ content: script });
    const { deviceId } = await registerInPage(rec.page, baseUrl, recordToken ?? '', 'bench-record');
    o.log(`  recording ${o.records} events per contender (interleaved, one page)`);
    const t = await rec.page.evaluate(
      async ({ records }) => {
        const g = globalThis as Globals;
        const { client, licenseId } = g.bench;
        const relaxed = g.Satchel.createSatchel({
          baseUrl: 'http://127.0.0.1:9/',
          autoSync: false,
          deviceId: 'bench-relaxed-device',
          token: 'unused',
          storage: g.Satchel.idbStorage({ name: 'bench-record-relaxed', durability: 'relaxed' }),
          locks: null,
        });
        const raw = await new Promise<IDBDatabase>((resolve, reject) => {
          const req = indexedDB.open('bench-raw', 1);
          req.onupgradeneeded = () => {
            req.result.createObjectStore('outbox', { keyPath: 'seq' });
            req.result.createObjectStore('outbox2', { keyPath: 'seq' });
            req.result.createObjectStore('meta');
          };
          req.onsuccess = () => resolve(req.result);
          req.onerror = () => reject(req.error);
        });
        let rawSeq = 0;
        const rawPut = (durability: 'strict' | 'relaxed') =>
          new Promise<void>((resolve, reject) => {
            const now = Date.now();
            const tx = raw.transaction('outbox', 'readwrite', { durability });
            tx.objectStore('outbox').put({
              eventId: crypto.randomUUID(),
              seq: ++rawSeq,
              type: 'PlaybackStopped',
              v: 1,
              occurredAt: now,
              trustedAt: now,
              data: { licenseId, deviceId: 'raw', at: now, positionMs: rawSeq },
            });
            tx.oncomplete = () => resolve();
            tx.onerror = () => reject(tx.error);
            tx.onabort = () => reject(tx.error);
          });
        // The shape of a record in the SDK: a read transaction (meta), then one read-write transaction
        // that appends the event and advances the sequence number.
        const rawTwoTx = () =>
          new Promise<void>((resolve, reject) => {
            const read = raw.transaction('meta', 'readonly');
            const last = read.objectStore('meta').get('lastSeq');
            read.onerror = () => reject(read.error);
            read.oncomplete = () => {
              const now = Date.now();
              const seq = ((last.result as number | undefined) ?? 0) + 1;
              const write = raw.transaction(['outbox2', 'meta'], 'readwrite', { durability: 'strict' });
              write.objectStore('outbox2').put({
                eventId: crypto.randomUUID(),
                seq,
                type: 'PlaybackStopped',
                v: 1,
                occurredAt: now,
                trustedAt: now,
                data: { licenseId, deviceId: 'raw', at: now, positionMs: seq },
              });
              write.objectStore('meta').put(seq, 'lastSeq');
              write.oncomplete = () => resolve();
              write.onerror = () => reject(write.error);
              write.onabort = () => reject(write.error);
            };
          });
        const { ReplicacheImpl, TEST_LICENSE_KEY } = g.BenchReplicache;
        let repSeq = 0;
        const rep = new ReplicacheImpl(
          {
            name: 'bench-replicache',
            licenseKey: TEST_LICENSE_KEY,
            kvStore: 'idb',
            mutators: {
              record: async (tx: { set(key: string, value: unknown): Promise<void> }, e: { seq: number }) => {
                await tx.set(`outbox/${String(e.seq).padStart(10, '0')}`, e);
              },
            },
          },
          { enableScheduledPersist: false, enableScheduledRefresh: false, enablePullAndPushInOpen: false },
        );
        await rep.clientID;
        const repEvent = () => {
          const now = Date.now();
          const seq = ++repSeq;
          return {
            eventId: crypto.randomUUID(),
            seq,
            type: 'PlaybackStopped',
            v: 1,
            occurredAt: now,
            trustedAt: now,
            data: { licenseId, deviceId: 'replicache', at: now, positionMs: seq },
          };
        };
        const out = {
          satchel: [] as number[],
          raw: [] as number[],
          satchelRelaxed: [] as number[],
          rawRelaxed: [] as number[],
          rawTwoTx: [] as number[],
          rep: [] as number[],
          repMutate: [] as number[],
        };
        const warm = 50;
        for (let i = 0; i < records + warm; i++) {
          const keep = i >= warm;
          let t0 = performance.now();
          await client.stopPlayback(licenseId, i);
          if (keep) out.satchel.push(performance.now() - t0);
          t0 = performance.now();
          await rawPut('strict');
          if (keep) out.raw.push(performance.now() - t0);
          t0 = performance.now();
          await (rep.mutate as unknown as { record(e: unknown): Promise<void> }).record(repEvent());
          const t1 = performance.now();
          await rep.persist();
          if (keep) {
            out.repMutate.push(t1 - t0);
            out.rep.push(performance.now() - t0);
          }
          t0 = performance.now();
          await relaxed.stopPlayback(licenseId, i);
          if (keep) out.satchelRelaxed.push(performance.now() - t0);
          t0 = performance.now();
          await rawPut('relaxed');
          if (keep) out.rawRelaxed.push(performance.now() - t0);
          t0 = performance.now();
          await rawTwoTx();
          if (keep) out.rawTwoTx.push(performance.now() - t0);
        }
        await rep.close();
        await relaxed.close();
        raw.close();
        return out;
      },
      { records: o.records },
    );

    // Offline decision: 100 licences in the cached snapshot, the browser offline.
    for (const t of BENCH_TITLES) {
      const r = await seed.service.requestLicense('client-record', deviceId, { titleId: t.titleId });
      if (r.outcome !== 'granted') throw new Error(`licence for ${t.titleId} refused: ${r.refusal.code}`);
    }
    const licences = await rec.page.evaluate(async () => {
      const g = globalThis as Globals;
      const { client } = g.bench;
      await client.sync();
      for (const l of await client.licenses())
        if (l.status === 'issued') await client.downloadCompleted(l.licenseId);
      const r = await client.sync();
      if (r.rejected.length > 0 || r.pending > 0)
        throw new Error(`sync before the decisions: ${JSON.stringify(r)}`);
      return (await client.licenses()).filter((l) => l.status === 'downloaded').map((l) => l.licenseId);
    });
    if (licences.length !== 100)
      throw new Error(`expected 100 licences in the snapshot, found ${licences.length}`);
    await rec.context.setOffline(true);
    o.log(`  ${o.decisions} offline decisions over ${licences.length} licences`);
    const decisions = await rec.page.evaluate(
      async ({ licences, n }) => {
        const g = globalThis as Globals;
        const out: number[] = [];
        for (let i = 0; i < n + 20; i++) {
          const t0 = performance.now();
          const r = await g.bench.client.startPlayback(licences[i % licences.length] ?? '');
          if (i >= 20) out.push(performance.now() - t0);
          if (!r.allowed) throw new Error(`playback refused: ${r.reason}`);
        }
        return out;
      },
      { licences, n: o.decisions },
    );
    await rec.context.close();

    // Drain: queue the events offline in a fresh page, then one sync() to the real server.
    const drain = await openPage(browser, site.url);
    await registerInPage(drain.page, baseUrl, drainToken ?? '', 'bench-drain');
    o.log(`  queueing ${o.drainEvents} events, then draining them`);
    const queued = await drain.page.evaluate(
      async ({ count, v }) => {
        const g = globalThis as Globals;
        const { client, licenseId } = g.bench;
        await client.sync();
        const deviceId = (await client.status()).deviceId ?? '';
        // Queued through the SDK's storage API (the same outbox, seq and eventId assigned on write) in
        // batches: recording them one by one is measured above and would only make this run longer.
        const outbox = g.Satchel.idbStorage({ name: 'bench-drain' });
        for (let i = 0; i < count; i += 500) {
          const now = Date.now();
          await outbox.append(
            Array.from({ length: Math.min(500, count - i) }, (_, j) => ({
              type: 'PlaybackStopped' as const,
              v,
              occurredAt: now,
              trustedAt: now,
              data: { licenseId, deviceId, at: now, positionMs: i + j },
            })),
          );
        }
        await outbox.close();
        return (await client.status()).pendingEvents;
      },
      { count: o.drainEvents, v: CURRENT_EVENT_VERSIONS.PlaybackStopped },
    );
    const s0 = await server.reading();
    const synced = await drain.page.evaluate(async () => {
      const g = globalThis as Globals;
      const t0 = performance.now();
      const result = await g.bench.client.sync();
      return { ms: performance.now() - t0, result };
    });
    const s1 = await server.reading();
    const d = { pending: queued, ...synced };
    await drain.context.close();
    if (
      d.pending !== o.drainEvents ||
      d.result.acknowledged !== d.pending ||
      d.result.rejected.length > 0 ||
      d.result.pending > 0
    ) {
      throw new Error(
        `drain did not acknowledge every event: ${JSON.stringify({ ...d.result, queued: d.pending, rejected: d.result.rejected.length })}`,
      );
    }

    const s = summarize(t.satchel);
    const r = summarize(t.raw);
    const rep = summarize(t.rep);
    const dec = summarize(decisions);
    return {
      chromium: browser.version(),
      records: o.records,
      recordP50Ms: round(s.p50, 3),
      recordP95Ms: round(s.p95, 3),
      rawIdbP50Ms: round(r.p50, 3),
      rawIdbP95Ms: round(r.p95, 3),
      recordRatioToRawIdb: round(s.p50 / r.p50, 2),
      recordRelaxedP50Ms: round(summarize(t.satchelRelaxed).p50, 3),
      rawIdbRelaxedP50Ms: round(summarize(t.rawRelaxed).p50, 3),
      rawIdbTwoTxP50Ms: round(summarize(t.rawTwoTx).p50, 3),
      replicacheP50Ms: round(rep.p50, 3),
      replicacheP95Ms: round(rep.p95, 3),
      replicacheMutateOnlyP50Ms: round(summarize(t.repMutate).p50, 3),
      recordRatioToReplicache: round(s.p50 / rep.p50, 2),
      drainEvents: d.pending,
      drain10kMs: round(d.ms, 0),
      drainRequests: s1.syncs - s0.syncs,
      drainServerHoldMs: round(s1.connectionMs - s0.connectionMs, 0),
      drainServerCpuMs: round((s1.cpuUs - s0.cpuUs) / 1000, 0),
      decisionP50Ms: round(dec.p50, 3),
      decisionP95Ms: round(dec.p95, 3),
      decisionLicences: licences.length,
    };
  } finally {
    await browser?.close().catch(() => {});
    await site?.close().catch(() => {});
    await server?.stop().catch(() => {});
    await seedDb.close().catch(() => {});
    await db.drop();
  }
}
