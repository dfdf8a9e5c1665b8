/**
 * The reference server wiring (`createSatchelServer`) on PostgreSQL, run as a child process so its CPU,
 * memory and profile are its own. The database handle is wrapped to count transactions, statements and
 * the time a connection is held by a transaction (the server code is unchanged).
 *
 * IPC: sends `{ type: 'listening', port }`; answers `stats` with CPU, database counters and the monotonic
 * clock (µs, the clock of `--cpu-prof` samples); answers `stop` with the peak RSS, then exits.
 */

import { PerformanceObserver } from 'node:perf_hooks';
import { createSatchelServer, type Database, postgresDatabase, type Queryable } from '@satchel/server';
import { pino } from 'pino';

const url = process.env.BENCH_DATABASE_URL;
const secret = process.env.BENCH_TOKEN_SECRET;
if (!url || !secret || !process.send) {
  console.error('server-child: BENCH_DATABASE_URL, BENCH_TOKEN_SECRET and an IPC channel are required');
  process.exit(2);
}
const send = (message: unknown) => process.send?.(message);

const counters = {
  transactions: 0,
  statements: 0,
  roundTrips: 0,
  transactionMs: 0,
  connectionMs: 0,
  /** Garbage-collection pauses: count, total and longest (ms). */
  gcCount: 0,
  gcMs: 0,
  gcMaxMs: 0,
};
/** The latest statement durations (ms), to tell the database's share of a slow sync. */
const statementMs: number[] = [];
let windowGcMaxMs = 0;
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) {
    counters.gcCount++;
    counters.gcMs += e.duration;
    counters.gcMaxMs = Math.max(counters.gcMaxMs, e.duration);
    windowGcMaxMs = Math.max(windowGcMaxMs, e.duration);
  }
}).observe({ entryTypes: ['gc'] });
/**
 * Counts statements and round trips: a statement sent while another of the same transaction is still
 * in flight is pipelined (postgres.js writes it at once) and costs no round trip of its own.
 */
const count = (q: Queryable, inTransaction: boolean): Queryable => {
  let inflight = 0;
  return {
    async query(sql, params) {
      counters.statements++;
      if (inflight === 0) counters.roundTrips++;
      inflight++;
      const t0 = performance.now();
      try {
        return await q.query(sql, params);
      } finally {
        if (statementMs.length >= 50_000) statementMs.splice(0, 25_000);
        statementMs.push(performance.now() - t0);
        inflight--;
        if (!inTransaction) counters.connectionMs += performance.now() - t0;
      }
    },
  };
};
const inner = postgresDatabase(url, { max: Number(process.env.BENCH_POOL_SIZE ?? 10) });
const db: Database = {
  kind: inner.kind,
  query: (sql, params) => count(inner, false).query(sql, params),
  async transaction(fn) {
    counters.transactions++;
    // BEGIN and COMMIT: one round trip each.
    counters.roundTrips += 2;
    // From the moment a connection is held (BEGIN answered) to COMMIT answered: waiting for a free pool
    // connection is not counted.
    let held = 0;
    try {
      return await inner.transaction((tx) => {
        held = performance.now();
        return fn(count(tx, true));
      });
    } finally {
      if (held > 0) {
        const ms = performance.now() - held;
        counters.transactionMs += ms;
        counters.connectionMs += ms;
      }
    }
  },
  close: () => inner.close(),
};

const server = await createSatchelServer({
  db,
  tokenSecret: secret,
  logger: pino({ level: process.env.LOG_LEVEL ?? 'warn' }),
  // Limits high enough never to refuse the benchmark's load; they are still counted in PostgreSQL on
  // every request, so their cost is in the round trips and statements per sync.
  limits: {
    device: { points: 2_000_000_000, windowSec: 60 },
    account: { points: 2_000_000_000, windowSec: 60 },
    events: { points: 2_000_000_000, windowSec: 60 },
  },
});
const listening = await server.listen(0, '127.0.0.1');
send({ type: 'listening', port: listening.port });

// Never outlive the benchmark that started it.
process.on('disconnect', () => process.exit(0));

process.on('message', async (message: { type?: string }) => {
  if (message?.type === 'stats') {
    const cpu = process.cpuUsage();
    send({
      type: 'stats',
      cpuUs: cpu.user + cpu.system,
      monotonicUs: Number(process.hrtime.bigint() / 1000n),
      syncs: await server.metrics.httpRequests.get({ route: '/v1/sync', method: 'POST', status: '200' }),
      ...counters,
    });
    return;
  }
  if (message?.type === 'statements') {
    // The statement durations and the longest GC pause since the last ask (ms), then forgotten.
    send({ type: 'statements', ms: statementMs.splice(0), gcMaxMs: windowGcMaxMs });
    windowGcMaxMs = 0;
    return;
  }
  if (message?.type !== 'stop') return;
  await listening.close();
  await db.close();
  send({ type: 'stopped', maxRssBytes: process.resourceUsage().maxRSS * 1024 });
  process.disconnect?.();
  process.exit(0);
});
