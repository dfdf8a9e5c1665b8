/**
 * The reference server wiring (`createSatchelServer`) on PostgreSQL, run as a child process so its CPU,
 * memory and profile are its own. The database handle is wrapped to count transactions, statements and
 * the time a connection is held by a transaction (the server code is unchanged).
 *
 * IPC: sends `{ type: 'listening', port }`; answers `stats` with CPU, database counters and the monotonic
 * clock (µs, the clock of `--cpu-prof` samples); answers `stop` with the peak RSS, then exits.
 */
import { createSatchelServer, type Database, postgresDatabase, type Queryable } from '@satchel/server';
import { pino } from 'pino';

const url = process.env.BENCH_DATABASE_URL;
const secret = process.env.BENCH_TOKEN_SECRET;
if (!url || !secret || !process.send) {
  console.error('server-child: BENCH_DATABASE_URL, BENCH_TOKEN_SECRET and an IPC channel are required');
  process.exit(2);
}
const send = (message: unknown) => process.send?.(message);

const counters = { transactions: 0, statements: 0, transactionMs: 0 };
const count = (q: Queryable): Queryable => ({
  query(sql, params) {
    counters.statements++;
    return q.query(sql, params);
  },
});
const inner = postgresDatabase(url, { max: Number(process.env.BENCH_POOL_SIZE ?? 10) });
const db: Database = {
  kind: inner.kind,
  query: count(inner).query,
  async transaction(fn) {
    counters.transactions++;
    // From the moment a connection is held (BEGIN sent) to COMMIT answered: waiting for a free pool
    // connection is not counted.
    let held = 0;
    try {
      return await inner.transaction((tx) => {
        held = performance.now();
        return fn(count(tx));
      });
    } finally {
      if (held > 0) counters.transactionMs += performance.now() - held;
    }
  },
  close: () => inner.close(),
};

const server = await createSatchelServer({
  db,
  tokenSecret: secret,
  logger: pino({ level: process.env.LOG_LEVEL ?? 'warn' }),
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
      ...counters,
    });
    return;
  }
  if (message?.type !== 'stop') return;
  await listening.close();
  await db.close();
  send({ type: 'stopped', maxRssBytes: process.resourceUsage().maxRSS * 1024 });
  process.disconnect?.();
  process.exit(0);
});
