// Starts the sync server in-process on embedded PGlite (in memory) with one account, and prints the URL
// and an enrolment token: a local target for packages/sdk/bench/chromium.ts.
//   pnpm exec tsx test/integration/serve.ts [port]
import { createSatchelServer, demoCatalogue, pgliteDatabase } from '@satchel/server';
import { pino } from 'pino';

const db = await pgliteDatabase();
const server = await createSatchelServer({
  db,
  tokenSecret: 'bench-secret-0123456789abcdef0123',
  logger: pino({ level: 'warn' }),
  rateLimit: { burst: 1_000_000, perSecond: 1_000_000 },
});
await server.service.catalogue.put(demoCatalogue(Date.now()));
await server.service.createAccount('bench-account', 'Bench household', {
  planId: 'bench',
  maxDownloadDevices: 100,
  maxDownloadsPerDevice: 100,
  maxDownloadsPerMonth: null,
});
const { token } = await server.tokens.mint({ kind: 'account', accountId: 'bench-account' });
const { port } = await server.listen(Number(process.argv[2] ?? 8787), '127.0.0.1');
console.log(`SATCHEL_SERVER_URL=http://127.0.0.1:${port}`);
console.log(`SATCHEL_ENROLMENT_TOKEN=${token}`);
