/**
 * Projections: the runner against the merge, in the same run.
 *
 * - live: the merge (the real service, in this process, `lanes` accounts at a time: licence requests,
 *   renewals, releases and device syncs) runs for `seconds` while a projection runner (its own pool) keeps
 *   the studio accounting; the merge's appended events/s beside the runner's processed events/s, the lag at
 *   the end, and each event's visibility delay (its transaction's start to the batch that processed it
 *   committing).
 * - stall: the same, while another connection holds a transaction open for `stallSeconds`: the feed
 *   cannot pass it (docs/operations.md, "Projections"), so the lag grows by about that long.
 * - catch-up: a rebuild of the same store from position 0, events/s.
 *
 * `benchProjectionScale` (`--only=scale`, not in the default run): 1,000,000 events over 10,000 accounts
 * written straight to the store, then a rebuild and a what-if over every account, with progress and the
 * peak RSS of each phase.
 */
import {
  type Command,
  CURRENT_EVENT_VERSIONS,
  DAY_MS,
  DEFAULT_PLAN,
  type DomainEvent,
  decide,
  decideDeviceEvent,
  fold,
  HOUR_MS,
  initialState,
  policy,
} from '@satchel/core';
import {
  createSatchelServer,
  EventStore,
  ProjectionRunner,
  postgresDatabase,
  type SatchelService,
  type StoredEvent,
  studioAccounting,
  whatIf,
} from '@satchel/server';
import cliProgress from 'cli-progress';
import { pino } from 'pino';
import postgres from 'postgres';
import { uuidv7 } from 'uuidv7';
import { freshDatabase } from './pg.js';
import { round, summarize } from './stats.js';

export interface ProjectionsResult {
  lanes: number;
  seconds: number;
  /** Events the merge appended per second during the live window. */
  mergeEventsPerSec: number;
  /** Events the runner processed per second during the same window. */
  liveEventsPerSec: number;
  /** Events not yet processed when the window closed, and after 2 s more. */
  lagAtEndEvents: number;
  lagAfter2sEvents: number;
  visibilityP50Ms: number;
  visibilityP99Ms: number;
  visibilityMaxMs: number;
  /** The open transaction's duration, and the lag the runner showed during it. */
  stallHoldSeconds: number;
  stallMaxSecondsBehind: number;
  stallVisibilityMaxMs: number;
  /** A rebuild from position 0 of everything written: events, seconds, events/s. */
  catchUpEvents: number;
  catchUpSeconds: number;
  catchUpEventsPerSec: number;
  /** Catch-up events/s over the merge's events/s in this run (≥ 1: the runner keeps up at full rate). */
  catchUpToMerge: number;
}

const TITLES = ['night-train', 'harbour-lights', 'quiet-river', 'paper-moon', 'short-film'];

/** One account's traffic through the service until `until()` says stop: each step one licence operation or sync. */
async function traffic(service: SatchelService, accountId: string, stop: () => boolean, now: () => number) {
  await service.createAccount(accountId, accountId);
  const devices: { deviceId: string; seq: number }[] = [];
  for (let d = 0; d < 2; d++) {
    const { deviceId } = await service.registerDevice(accountId, { name: `device ${d}` });
    devices.push({ deviceId, seq: 0 });
  }
  const held: { licenseId: string; device: (typeof devices)[number]; state: 0 | 1 | 2 }[] = [];
  const sync = (
    device: (typeof devices)[number],
    type: 'DownloadCompleted' | 'PlaybackStarted' | 'DownloadDeleted',
    licenseId: string,
  ) => {
    device.seq += 1;
    const at = now();
    return service.sync(accountId, device.deviceId, {
      protocolVersion: 1,
      deviceId: device.deviceId,
      snapshotVersion: null,
      events: [
        {
          eventId: uuidv7(),
          seq: device.seq,
          type,
          v: CURRENT_EVENT_VERSIONS[type],
          occurredAt: at,
          trustedAt: at,
          data: (type === 'PlaybackStarted'
            ? { licenseId, deviceId: device.deviceId, at, positionMs: 0 }
            : { licenseId, deviceId: device.deviceId, at }) as never,
        },
      ],
    });
  };
  let i = 0;
  while (!stop()) {
    i += 1;
    const h = held[i % Math.max(1, held.length)];
    if (!h || held.length < 2) {
      const device = devices[i % 2] as (typeof devices)[number];
      const r = await service.requestLicense(accountId, device.deviceId, {
        titleId: TITLES[i % TITLES.length] ?? 'x',
      });
      if (r.outcome === 'granted') held.push({ licenseId: r.license.licenseId, device, state: 0 });
    } else if (h.state === 0) {
      await sync(h.device, 'DownloadCompleted', h.licenseId);
      h.state = 1;
    } else if (h.state === 1) {
      await sync(h.device, 'PlaybackStarted', h.licenseId);
      h.state = 2;
    } else if (i % 3 === 0) {
      await service.renewLicense(accountId, h.device.deviceId, h.licenseId);
      h.state = 0;
    } else {
      await sync(h.device, 'DownloadDeleted', h.licenseId);
      held.splice(held.indexOf(h), 1);
    }
  }
}

export async function benchProjections(o: {
  lanes: number;
  seconds: number;
  stallSeconds: number;
  log: (line: string) => void;
}): Promise<ProjectionsResult> {
  const bench = await freshDatabase('projections');
  const db = postgresDatabase(bench.url, { max: o.lanes + 2 });
  const runnerDb = postgresDatabase(bench.url, { max: 2 });
  const holder = postgres(bench.url, { max: 1, onnotice: () => {} });
  try {
    const server = await createSatchelServer({
      db,
      tokenSecret: 'bench-secret-0123456789abcdef',
      logger: pino({ level: 'silent' }),
    });
    await server.service.catalogue.put(
      TITLES.map((titleId) => ({ titleId, name: titleId, studio: 'Bench', policy: policy() })),
    );
    const store = new EventStore(runnerDb);
    const delays: number[] = [];
    let stallDelays: number[] | null = null;
    let pending: StoredEvent[] = [];
    const projection = studioAccounting();
    const measured = {
      ...projection,
      async apply(
        tx: Parameters<typeof projection.apply>[0],
        events: readonly StoredEvent[],
        generation: number,
      ) {
        pending = [...events];
        await projection.apply(tx, events, generation);
      },
    };
    let processed = 0;
    const runner = new ProjectionRunner(runnerDb, store, [measured], {
      batchSize: 1000,
      idleMs: 20,
      onBatch: (_p, _g, n) => {
        processed += n;
        const t = Date.now();
        for (const e of pending) (stallDelays ?? delays).push(t - e.recordedAt);
        pending = [];
      },
    });
    await runner.catchUp();
    runner.start();

    // Live: the merge at full rate with the runner beside it.
    let stop = false;
    const appendedBefore = Number((await db.query<{ n: string }>('SELECT count(*) AS n FROM events'))[0]?.n);
    const t0 = performance.now();
    const lanesDone = Promise.all(
      Array.from({ length: o.lanes }, (_, lane) =>
        traffic(server.service, `bench-${lane}`, () => stop, Date.now),
      ),
    );
    const processedAt0 = processed;
    await new Promise((r) => setTimeout(r, o.seconds * 1000));
    const liveSeconds = (performance.now() - t0) / 1000;
    const appended =
      Number((await db.query<{ n: string }>('SELECT count(*) AS n FROM events'))[0]?.n) - appendedBefore;
    const liveProcessed = processed - processedAt0;
    const lagAtEnd = (await runner.lag())[0]?.eventsBehind ?? 0;
    o.log(
      `  live: merge ${round(appended / liveSeconds, 0)} events/s, runner ${round(liveProcessed / liveSeconds, 0)} events/s, lag ${lagAtEnd} events`,
    );

    // Stall: an open transaction elsewhere holds the feed back.
    stallDelays = [];
    let maxBehind = 0;
    const reserved = await holder.reserve();
    await reserved.unsafe('BEGIN');
    await reserved.unsafe('SELECT pg_current_xact_id()');
    const holdUntil = performance.now() + o.stallSeconds * 1000;
    while (performance.now() < holdUntil) {
      await new Promise((r) => setTimeout(r, 200));
      maxBehind = Math.max(maxBehind, (await runner.lag())[0]?.secondsBehind ?? 0);
    }
    await reserved.unsafe('COMMIT');
    reserved.release();
    await new Promise((r) => setTimeout(r, 1000));
    maxBehind = Math.max(maxBehind, (await runner.lag())[0]?.secondsBehind ?? 0);
    const stall = summarize(stallDelays);
    stallDelays = null;
    o.log(
      `  stall: a transaction open ${o.stallSeconds} s → lag up to ${round(maxBehind, 2)} s, visibility max ${round(stall.max, 0)} ms`,
    );

    stop = true;
    await lanesDone;
    await new Promise((r) => setTimeout(r, 2000));
    const lagAfter = (await runner.lag())[0]?.eventsBehind ?? 0;
    await runner.stop();
    const visibility = summarize(delays);

    // Catch-up: a rebuild of everything from position 0.
    const total = Number((await db.query<{ n: string }>('SELECT count(*) AS n FROM events'))[0]?.n);
    const rebuild = new ProjectionRunner(runnerDb, store, [projection], { batchSize: 2000 });
    await rebuild.rebuild(projection.name);
    const c0 = performance.now();
    const rebuilt = await rebuild.catchUp();
    const catchUpSeconds = (performance.now() - c0) / 1000;
    await rebuild.stop();
    const mergeEventsPerSec = appended / liveSeconds;
    const catchUpEventsPerSec = rebuilt / catchUpSeconds;
    o.log(
      `  catch-up: ${rebuilt} of ${total} events in ${round(catchUpSeconds, 1)} s = ${round(catchUpEventsPerSec, 0)} events/s`,
    );
    return {
      lanes: o.lanes,
      seconds: round(liveSeconds, 1),
      mergeEventsPerSec: round(mergeEventsPerSec, 0),
      liveEventsPerSec: round(liveProcessed / liveSeconds, 0),
      lagAtEndEvents: lagAtEnd,
      lagAfter2sEvents: lagAfter,
      visibilityP50Ms: round(visibility.p50, 0),
      visibilityP99Ms: round(visibility.p99, 0),
      visibilityMaxMs: round(visibility.max, 0),
      stallHoldSeconds: o.stallSeconds,
      stallMaxSecondsBehind: round(maxBehind, 2),
      stallVisibilityMaxMs: round(stall.max, 0),
      catchUpEvents: rebuilt,
      catchUpSeconds: round(catchUpSeconds, 2),
      catchUpEventsPerSec: round(catchUpEventsPerSec, 0),
      catchUpToMerge: round(catchUpEventsPerSec / mergeEventsPerSec, 2),
    };
  } finally {
    await holder.end({ timeout: 2 }).catch(() => {});
    await runnerDb.close().catch(() => {});
    await db.close().catch(() => {});
    await bench.drop();
  }
}

export interface ScaleResult {
  accounts: number;
  events: number;
  writeSeconds: number;
  rebuildSeconds: number;
  rebuildEventsPerSec: number;
  rebuildPeakRssMiB: number;
  whatIfAccounts: number;
  whatIfSeconds: number;
  whatIfAccountsPerSec: number;
  whatIfPeakRssMiB: number;
  whatIfRefusedGrants: number;
  whatIfExpiresEarlier: number;
}

/** Samples the resident set size every 100 ms; `stop()` returns the peak in MiB. */
function rssPeak(): { stop(): number } {
  let peak = process.memoryUsage().rss;
  const t = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 100);
  return {
    stop() {
      clearInterval(t);
      peak = Math.max(peak, process.memoryUsage().rss);
      return round(peak / 2 ** 20, 0);
    },
  };
}

function bar(label: string, total: number): cliProgress.SingleBar {
  const b = new cliProgress.SingleBar(
    {
      format: `  ${label} [{bar}] {percentage}% {value}/{total} {eta_formatted} left`,
      stream: process.stderr,
      noTTYOutput: true,
      notTTYSchedule: 5000,
      hideCursor: true,
    },
    cliProgress.Presets.shades_classic,
  );
  b.start(total, 0);
  return b;
}

/** One account's history, decided by core on a virtual clock: about `target` events. */
function accountHistory(
  accountId: string,
  target: number,
  start: number,
  seed: number,
): { event: DomainEvent }[] {
  let state = initialState(accountId);
  const out: { event: DomainEvent }[] = [];
  let now = start;
  let n = seed;
  const next = () => {
    n = (n * 1103515245 + 12345) % 2147483648;
    return n / 2147483648;
  };
  const apply = (events: readonly DomainEvent[]) => {
    state = fold(events, state);
    for (const event of events) out.push({ event });
  };
  const run = (c: Command) => {
    const d = decide(state, c);
    if (d.ok) apply(d.events);
    return d;
  };
  run({ type: 'OpenAccount', accountId, plan: DEFAULT_PLAN, now });
  const devices = ['d1', 'd2', 'd3'].map((d) => `${accountId}-${d}`);
  for (const deviceId of devices) run({ type: 'RegisterDevice', deviceId, name: deviceId, now });
  const live: { licenseId: string; deviceId: string; step: number }[] = [];
  let k = 0;
  while (out.length < target) {
    now += Math.floor(next() * 20 * HOUR_MS);
    const ex = decide(state, { type: 'ExpireLicenses', now });
    if (ex.ok) apply(ex.events);
    const h = live[Math.floor(next() * live.length)];
    if (!h || next() < 0.3) {
      const deviceId = devices[Math.floor(next() * 2)] as string;
      const licenseId = `${accountId}-l${k++}`;
      const d = run({
        type: 'IssueLicense',
        licenseId,
        deviceId,
        titleId: TITLES[Math.floor(next() * TITLES.length)] as string,
        policy: policy({ playbackDurationSec: 48 * 3600 }),
        now,
      });
      if (d.ok) live.push({ licenseId, deviceId, step: 0 });
      continue;
    }
    const device = (type: 'DownloadCompleted' | 'PlaybackStarted' | 'DownloadDeleted') => {
      const data =
        type === 'PlaybackStarted'
          ? { licenseId: h.licenseId, deviceId: h.deviceId, at: now, positionMs: 0 }
          : { licenseId: h.licenseId, deviceId: h.deviceId, at: now };
      const d = decideDeviceEvent(state, { type, data } as never, { deviceId: h.deviceId, receivedAt: now });
      if (d.ok) apply(d.events);
    };
    if (h.step === 0) device('DownloadCompleted');
    else if (h.step === 1) device('PlaybackStarted');
    else if (h.step === 2 && next() < 0.3) {
      run({ type: 'RenewLicense', licenseId: h.licenseId, deviceId: h.deviceId, now });
      h.step = -1;
    } else {
      device('DownloadDeleted');
      live.splice(live.indexOf(h), 1);
    }
    h.step += 1;
  }
  return out;
}

export async function benchProjectionScale(o: {
  accounts: number;
  eventsPerAccount: number;
  log: (line: string) => void;
}): Promise<ScaleResult> {
  const bench = await freshDatabase('scale');
  const db = postgresDatabase(bench.url, { max: 4 });
  try {
    await createSatchelServer({
      db,
      tokenSecret: 'bench-secret-0123456789abcdef',
      logger: pino({ level: 'silent' }),
    });
    const start = Date.UTC(2026, 0, 1);
    const w0 = performance.now();
    const writing = bar('write', o.accounts);
    let events = 0;
    const CHUNK = 50;
    for (let a = 0; a < o.accounts; a += CHUNK) {
      const rows: unknown[] = [];
      for (let i = a; i < Math.min(o.accounts, a + CHUNK); i++) {
        const accountId = `scale-${String(i).padStart(6, '0')}`;
        const history = accountHistory(accountId, o.eventsPerAccount, start + (i % 97) * DAY_MS, i + 1);
        history.forEach(({ event }, v) => {
          rows.push({
            account_id: accountId,
            stream_version: v + 1,
            event_id: uuidv7(),
            type: event.type,
            schema_version: CURRENT_EVENT_VERSIONS[event.type],
            data: event.data,
            recorded_at: new Date(event.data.at).toISOString(),
          });
        });
      }
      events += rows.length;
      await db.query(
        `INSERT INTO events (account_id, stream_version, event_id, type, schema_version, data, recorded_at)
         SELECT r.account_id, r.stream_version, r.event_id, r.type, r.schema_version, r.data, r.recorded_at
         FROM jsonb_to_recordset($1::text::jsonb) AS r(account_id text, stream_version bigint, event_id uuid, type text,
           schema_version int, data jsonb, recorded_at timestamptz)`,
        [JSON.stringify(rows)],
      );
      writing.update(Math.min(o.accounts, a + CHUNK));
    }
    writing.stop();
    const writeSeconds = (performance.now() - w0) / 1000;
    o.log(`  wrote ${events} events over ${o.accounts} accounts in ${round(writeSeconds, 1)} s`);

    const store = new EventStore(db);
    const rebuilding = bar('rebuild', events);
    const r0 = performance.now();
    const rssR = rssPeak();
    let done = 0;
    const progressRunner = new ProjectionRunner(db, store, [studioAccounting()], {
      batchSize: 5000,
      onBatch: (_p, _g, n) => {
        done += n;
        rebuilding.update(done);
      },
    });
    // A fresh projection from position 0: what a rebuild's new generation does.
    const rebuilt = await progressRunner.catchUp();
    const rebuildSeconds = (performance.now() - r0) / 1000;
    const rebuildPeak = rssR.stop();
    rebuilding.stop();
    await progressRunner.stop();
    o.log(`  rebuild: ${rebuilt} events in ${round(rebuildSeconds, 1)} s, peak RSS ${rebuildPeak} MiB`);

    const change = {
      plans: { standard: { maxDownloadDevices: 1 } },
      titles: { 'night-train': { playbackDurationSec: 24 * 3600 } },
    };
    const w1 = performance.now();
    const rssW = rssPeak();
    let whatIfBar: cliProgress.SingleBar | null = null;
    const report = await whatIf(db, change, {
      chunk: 100,
      detailLimit: 100,
      onProgress: (d, total) => {
        whatIfBar ??= bar('what-if', total);
        whatIfBar.update(d);
      },
    });
    (whatIfBar as cliProgress.SingleBar | null)?.stop();
    const whatIfSeconds = (performance.now() - w1) / 1000;
    const whatIfPeak = rssW.stop();
    o.log(
      `  what-if: ${report.totals.accountsScanned} accounts in ${round(whatIfSeconds, 1)} s, peak RSS ${whatIfPeak} MiB; ${report.totals.refusedGrants.total} grants refused, ${report.totals.expiresEarlier.licences} licences earlier`,
    );
    return {
      accounts: o.accounts,
      events,
      writeSeconds: round(writeSeconds, 1),
      rebuildSeconds: round(rebuildSeconds, 1),
      rebuildEventsPerSec: round(rebuilt / rebuildSeconds, 0),
      rebuildPeakRssMiB: rebuildPeak,
      whatIfAccounts: report.totals.accountsScanned,
      whatIfSeconds: round(whatIfSeconds, 1),
      whatIfAccountsPerSec: round(report.totals.accountsScanned / whatIfSeconds, 0),
      whatIfPeakRssMiB: whatIfPeak,
      whatIfRefusedGrants: report.totals.refusedGrants.total,
      whatIfExpiresEarlier: report.totals.expiresEarlier.licences,
    };
  } finally {
    await db.close().catch(() => {});
    await bench.drop();
  }
}
