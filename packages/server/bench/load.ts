// Load time of one account with 100, 10,000 and 100,000 events, with and without snapshots.
// Usage: pnpm bench:load [--pglite] [--sizes 100,10000,100000] [--runs 7]
import {
  DAY_MS,
  DEFAULT_PLAN,
  DEFAULT_POLICY,
  type DomainEvent,
  FOLD_VERSION,
  fold,
  initialState,
  toVersioned,
} from '@satchel/core';
import { uuidv7 } from 'uuidv7';
import { accountFold } from '../src/accounts.js';
import { EventStore, type NewEvent } from '../src/store/event-store.js';
import { migrate } from '../src/store/migrations.js';
import { benchDatabase, fmt, median } from './common.js';

const args = process.argv.slice(2);
const argValue = (name: string) => {
  const i = args.indexOf(name);
  return i < 0 ? undefined : args[i + 1];
};
const sizes = (argValue('--sizes') ?? '100,10000,100000').split(',').map(Number);
const runs = Number(argValue('--runs') ?? 9);
const eventsPerDay = Number(argValue('--events-per-day') ?? 20);
const SNAPSHOT_EVERY = 100;

/** Two devices downloading, playing and deleting titles, `eventsPerDay` events a day, ending now. */
function history(accountId: string, n: number): DomainEvent[] {
  const step = Math.max(1, Math.floor(DAY_MS / eventsPerDay));
  let t = Date.now() - n * step;
  const at = () => (t += step);
  const events: DomainEvent[] = [
    { type: 'AccountOpened', data: { accountId, plan: DEFAULT_PLAN, at: at() } },
    { type: 'DeviceRegistered', data: { deviceId: 'dev-a', name: 'Laptop', at: at() } },
    { type: 'DeviceRegistered', data: { deviceId: 'dev-b', name: 'Tablet', at: at() } },
  ];
  let i = 0;
  while (events.length < n) {
    const deviceId = i % 2 === 0 ? 'dev-a' : 'dev-b';
    const licenseId = uuidv7();
    const titleId = `title-${i % 50}`;
    events.push({
      type: 'LicenseIssued',
      data: { licenseId, deviceId, titleId, policy: DEFAULT_POLICY, at: at() },
    });
    events.push({ type: 'DownloadCompleted', data: { licenseId, deviceId, at: at() } });
    events.push({ type: 'PlaybackStarted', data: { licenseId, deviceId, at: at(), positionMs: 0 } });
    for (let k = 1; k <= 4; k++) {
      events.push({
        type: 'PlaybackStopped',
        data: { licenseId, deviceId, at: at(), positionMs: k * 600_000 },
      });
    }
    events.push({ type: 'DownloadDeleted', data: { licenseId, deviceId, at: at() } });
    i++;
  }
  return events.slice(0, n);
}

const bench = await benchDatabase(args);
try {
  await migrate(bench.db);
  const store = new EventStore(bench.db, { snapshotEvery: SNAPSHOT_EVERY });
  console.log(
    `Account load benchmark on ${bench.label}; median of ${runs} loads; snapshots every ${SNAPSHOT_EVERY} events; ${eventsPerDay} events a day\n`,
  );
  const seeded: { n: number; accountId: string; seedMs: number; snapshotKb: number; retained: number }[] = [];
  for (const n of sizes) {
    const accountId = `bench-${n}`;
    const events = history(accountId, n);
    const seedStart = performance.now();
    for (let start = 0; start < events.length; start += 5_000) {
      const chunk = events.slice(start, start + 5_000);
      const rows: NewEvent[] = chunk.map((e) => {
        const v = toVersioned(e);
        return { eventId: uuidv7(), type: v.type, schemaVersion: v.v, data: v.data, metadata: {} };
      });
      await store.write(bench.db, accountId, { expectedVersion: start, events: rows });
    }
    // The server snapshots every 100 events: the newest snapshot is up to 99 events behind the head.
    const snapshotAt = n - (n % SNAPSHOT_EVERY === 0 ? 50 : n % SNAPSHOT_EVERY);
    const state = fold(events.slice(0, snapshotAt), initialState(accountId));
    await store.write(bench.db, accountId, {
      expectedVersion: n,
      events: [],
      snapshot: { version: snapshotAt, foldVersion: FOLD_VERSION, state },
    });
    seeded.push({
      n,
      accountId,
      seedMs: performance.now() - seedStart,
      snapshotKb: JSON.stringify(state).length / 1024,
      retained: Object.keys(state.licenses).length,
    });
  }

  const load = async (accountId: string, n: number, useSnapshots: boolean) => {
    const s = performance.now();
    const loaded = await store.load(bench.db, accountId, accountFold, { useSnapshots });
    if (loaded.version !== n) throw new Error(`loaded version ${loaded.version}, expected ${n}`);
    return { ms: performance.now() - s, tail: loaded.tailLength };
  };
  // Warm up (JIT, connections, caches) on every size, then measure the sizes in turn, round after
  // round, so that noise from other work on the machine spreads over all of them alike.
  for (const a of seeded) for (let i = 0; i < 3; i++) await load(a.accountId, a.n, true);
  const samples = new Map(seeded.map((a) => [a.n, { cold: [] as number[], warm: [] as number[], tail: 0 }]));
  for (let r = 0; r < runs; r++) {
    for (const a of seeded) {
      const m = samples.get(a.n);
      if (!m) continue;
      m.cold.push((await load(a.accountId, a.n, false)).ms);
      const warm = await load(a.accountId, a.n, true);
      m.warm.push(warm.ms);
      m.tail = warm.tail;
    }
  }
  const results = seeded.map((a) => {
    const m = samples.get(a.n) ?? { cold: [], warm: [], tail: 0 };
    const row = { n: a.n, cold: median(m.cold), warm: median(m.warm), tail: m.tail };
    console.log(
      `${String(a.n).padStart(7)} events (${(a.n / eventsPerDay).toFixed(0).padStart(5)} days)  seeded in ${(a.seedMs / 1000).toFixed(1).padStart(4)} s  ` +
        `full replay ${fmt(row.cold).padStart(8)} ms  snapshot + ${String(row.tail).padStart(2)}-event tail ${fmt(row.warm).padStart(6)} ms  ` +
        `(snapshot ${a.snapshotKb.toFixed(0)} KB, ${a.retained} licences retained)`,
    );
    return row;
  });
  const first = results[0];
  const last = results.at(-1);
  if (first && last && first !== last) {
    const ratio = last.warm / first.warm;
    console.log(
      `\nratio ${last.n}/${first.n} with snapshots: ${ratio.toFixed(2)} (target <= 2) ${ratio <= 2 ? 'OK' : 'ABOVE TARGET'}`,
    );
    console.log(`ratio ${last.n}/${first.n} without snapshots: ${(last.cold / first.cold).toFixed(1)}`);
  }
} finally {
  await bench.drop();
}
