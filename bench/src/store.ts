import { getPostgreSQLEventStore } from '@event-driven-io/emmett-postgresql';
import { EventStore, migrate, type NewEvent, postgresDatabase } from '@satchel/server';
import pg from 'pg';
import { uuidv7 } from 'uuidv7';
import { backendCpuSeconds, freshDatabase } from './pg.js';
import { lanes, round } from './stats.js';

export interface StoreOptions {
  accounts: number;
  concurrency: number;
  batch: number;
  warmupSec: number;
  durationSec: number;
  /** Rounds of both stores, in alternating order (A B, B A, …) to spread drift over both. */
  rounds: number;
  log: (line: string) => void;
}

export interface StoreResult {
  accounts: number;
  concurrency: number;
  batch: number;
  poolSize: number;
  satchelEvents: number;
  satchelSeconds: number;
  satchelEventsPerSec: number;
  emmettEvents: number;
  emmettSeconds: number;
  emmettEventsPerSec: number;
  ratio: number;
  /** Node.js CPU (driver, serialisation) per appended event, µs. */
  satchelClientCpuUsPerEvent: number;
  emmettClientCpuUsPerEvent: number;
  /** CPU of the PostgreSQL backends serving the store, per appended event, µs. */
  satchelPostgresCpuUsPerEvent: number;
  emmettPostgresCpuUsPerEvent: number;
}

/** Both stores use a pool of this size: `pg.Pool`'s default, which Emmett's connection string setup uses. */
const POOL_SIZE = 10;

interface Appender {
  append(accountId: string, expectedVersion: number, events: BenchEvent[]): Promise<void>;
  close(): Promise<void>;
}

interface BenchEvent {
  type: string;
  data: Record<string, unknown>;
  metadata: { deviceId: string; seq: number; deviceTime: number; trustedTime: number };
}

function eventsFor(accountId: string, fromSeq: number, n: number, now: number): BenchEvent[] {
  const deviceId = `${accountId}-device`;
  const licenseId = `${accountId}-licence`;
  return Array.from({ length: n }, (_, i) => {
    const seq = fromSeq + i;
    return {
      type: seq % 2 === 0 ? 'PlaybackStarted' : 'PlaybackStopped',
      data: { licenseId, deviceId, at: now, positionMs: (seq * 1000) % 7_200_000 },
      metadata: { deviceId, seq, deviceTime: now, trustedTime: now },
    };
  });
}

async function satchelAppender(url: string): Promise<Appender> {
  const db = postgresDatabase(url, { max: POOL_SIZE });
  await migrate(db);
  const store = new EventStore(db);
  return {
    async append(accountId, expectedVersion, events) {
      const rows: NewEvent[] = events.map((e) => ({
        eventId: uuidv7(),
        type: e.type,
        schemaVersion: 1,
        data: e.data,
        metadata: e.metadata,
      }));
      await store.write(db, accountId, { expectedVersion, events: rows });
    },
    close: () => db.close(),
  };
}

async function emmettAppender(url: string): Promise<Appender> {
  // Emmett is handed a pg pool the bench owns: it ends it itself, and an idle connection killed when the
  // database is dropped is reported here instead of crashing the run as an unhandled 'error' event
  // (Emmett's own shared pool had no listener, and endAllPools() did not end every pool it made).
  const pool = new pg.Pool({ connectionString: url, max: POOL_SIZE });
  pool.on('error', () => {});
  const store = getPostgreSQLEventStore(url, { connectionOptions: { pooled: true, pool } });
  await store.schema.migrate();
  return {
    async append(accountId, expectedVersion, events) {
      await store.appendToStream(accountId, events, { expectedStreamVersion: BigInt(expectedVersion) });
    },
    async close() {
      await store.close();
      await pool.end();
    },
  };
}

async function measure(
  name: 'satchel' | 'emmett',
  o: StoreOptions,
): Promise<{ events: number; seconds: number; clientCpuSec: number; postgresCpuSec: number }> {
  const db = await freshDatabase(name);
  try {
    const appender = name === 'satchel' ? await satchelAppender(db.url) : await emmettAppender(db.url);
    try {
      const versions = new Array<number>(o.accounts).fill(0);
      const busy = new Array<boolean>(o.accounts).fill(false);
      let cursor = 0;
      const run = async (seconds: number) => {
        let events = 0;
        await lanes(
          o.concurrency,
          async () => {
            let i = cursor++ % o.accounts;
            while (busy[i]) i = cursor++ % o.accounts;
            busy[i] = true;
            const accountId = `account-${String(i).padStart(5, '0')}`;
            const expected = versions[i] ?? 0;
            await appender.append(
              accountId,
              expected,
              eventsFor(accountId, expected + 1, o.batch, Date.now()),
            );
            versions[i] = expected + o.batch;
            busy[i] = false;
            events += o.batch;
            return true;
          },
          performance.now() + seconds * 1000,
        );
        return events;
      };
      await run(o.warmupSec);
      const cpu0 = process.cpuUsage();
      const pg0 = await backendCpuSeconds(db.name);
      const t0 = performance.now();
      const events = await run(o.durationSec);
      const seconds = (performance.now() - t0) / 1000;
      const cpu = process.cpuUsage(cpu0);
      return {
        events,
        seconds,
        clientCpuSec: (cpu.user + cpu.system) / 1e6,
        postgresCpuSec: (await backendCpuSeconds(db.name)) - pg0,
      };
    } finally {
      await appender.close();
    }
  } finally {
    await db.drop();
  }
}

/**
 * Append throughput of Satchel's event store against Emmett's PostgreSQL event store: the same events,
 * appended with an expected stream version, on the same lanes, batch size and pool size, each store in its
 * own fresh database.
 */
export async function benchStore(o: StoreOptions): Promise<StoreResult> {
  const zero = () => ({ events: 0, seconds: 0, clientCpuSec: 0, postgresCpuSec: 0 });
  const total = { satchel: zero(), emmett: zero() };
  for (let r = 0; r < o.rounds; r++) {
    const order = r % 2 === 0 ? (['satchel', 'emmett'] as const) : (['emmett', 'satchel'] as const);
    for (const name of order) {
      o.log(`  round ${r + 1}/${o.rounds}: ${name}, ${o.durationSec} s`);
      const m = await measure(name, o);
      total[name].events += m.events;
      total[name].seconds += m.seconds;
      total[name].clientCpuSec += m.clientCpuSec;
      total[name].postgresCpuSec += m.postgresCpuSec;
      o.log(`    ${round(m.events / m.seconds, 0)} events/s`);
    }
  }
  const s = total.satchel.events / total.satchel.seconds;
  const e = total.emmett.events / total.emmett.seconds;
  return {
    accounts: o.accounts,
    concurrency: o.concurrency,
    batch: o.batch,
    poolSize: POOL_SIZE,
    satchelEvents: total.satchel.events,
    satchelSeconds: round(total.satchel.seconds, 2),
    satchelEventsPerSec: round(s, 0),
    emmettEvents: total.emmett.events,
    emmettSeconds: round(total.emmett.seconds, 2),
    emmettEventsPerSec: round(e, 0),
    ratio: round(s / e, 3),
    satchelClientCpuUsPerEvent: round((1e6 * total.satchel.clientCpuSec) / total.satchel.events, 1),
    emmettClientCpuUsPerEvent: round((1e6 * total.emmett.clientCpuSec) / total.emmett.events, 1),
    satchelPostgresCpuUsPerEvent: round((1e6 * total.satchel.postgresCpuSec) / total.satchel.events, 1),
    emmettPostgresCpuUsPerEvent: round((1e6 * total.emmett.postgresCpuSec) / total.emmett.events, 1),
  };
}
