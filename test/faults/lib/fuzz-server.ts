// The HTTP server the fuzz test sends its requests to, in a process of its own (so that generating and
// sending requests and serving them use both cores): `@satchel/server` on DATABASE_URL, signing with
// SATCHEL_TOKEN_SECRET, with a rate limit too high to matter. Prints `READY <port>`.
import { createSatchelServer, openDatabase } from '@satchel/server';
import { pino } from 'pino';

const db = await openDatabase({ databaseUrl: process.env.DATABASE_URL, poolSize: 10 });
const server = await createSatchelServer({
  db,
  tokenSecret: process.env.SATCHEL_TOKEN_SECRET ?? '',
  logger: pino({ level: 'silent' }),
  rateLimit: { burst: 1_000_000_000, perSecond: 1_000_000_000 },
});
const listener = await server.listen(Number(process.env.PORT ?? 0), '127.0.0.1');
process.stdout.write(`READY ${listener.port}\n`);
const stop = () =>
  void listener
    .close()
    .then(() => db.close())
    .finally(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
