/**
 * The simulation's sync server process: the real `@satchel/server` on PGlite (`SATCHEL_SIM_DATA_DIR`) or
 * PostgreSQL (`DATABASE_URL`), serving HTTP on `SATCHEL_SIM_PORT` with the virtual clock and the operator
 * routes of the harness. Prints `READY <port>` once it accepts connections. Run it on its own
 * (`pnpm simulate:server`) to point several simulations at one server with `--server`.
 */
import { createSatchelServer, openDatabase, serveFetch } from '@satchel/server';
import { harnessFetch, VirtualClock } from './harness.js';

const env = process.env;
const port = Number(env.SATCHEL_SIM_PORT ?? '0');
const secret = env.SATCHEL_SIM_SECRET ?? 'satchel-simulation';
const start = Number(env.SATCHEL_SIM_START ?? Date.UTC(2026, 0, 5));

const db = await openDatabase({
  databaseUrl: env.DATABASE_URL,
  dataDir: env.SATCHEL_SIM_DATA_DIR,
  poolSize: 8,
});
const clock = new VirtualClock(start);
const server = await createSatchelServer({
  db,
  tokenSecret: env.SATCHEL_TOKEN_SECRET ?? 'satchel-simulation-token-secret',
  now: clock.now,
  // Virtual days pass in real seconds: a real-time rate limit would throttle a whole simulated month.
  rateLimit: { burst: 100_000, perSecond: 100_000 },
});
const listener = await serveFetch(harnessFetch(server, clock, secret), port, '127.0.0.1');
process.stdout.write(`READY ${listener.port}\n`);

const stop = () => {
  void listener
    .close()
    .then(() => db.close())
    .finally(() => process.exit(0));
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
if (env.SATCHEL_SIM_EXIT_WITH_PARENT === '1') {
  // Started by a simulation: when it goes away (even killed), its end of stdin closes.
  process.stdin.on('end', () => process.exit(0)).resume();
}
