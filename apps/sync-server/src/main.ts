import {
  createSatchelServer,
  DEVELOPMENT_TOKEN_SECRET,
  demoCatalogue,
  openDatabase,
  type ProjectionRunner,
  type SyncHandler,
  serveFetch,
  startingUpFetch,
} from '@satchel/server';
import { pino } from 'pino';
import { loadConfig } from './config.js';
import { consoleBuilt, withConsole } from './console.js';
import { type DataDirLock, DataDirLockedError, lockDataDir } from './data-dir-lock.js';
import { withDevEnrolment } from './dev-enrolment.js';
import { ensureMedia, type MediaLibrary } from './media/generate.js';
import { withMedia } from './media/serve.js';
import { playerBuilt, withPlayer } from './player.js';
import { testHooksEnabled, withTestHooks } from './test-hooks.js';

const started = performance.now();
let config: ReturnType<typeof loadConfig>;
try {
  config = loadConfig();
} catch (e) {
  console.error(`satchel sync server: ${(e as Error).message}`);
  process.exit(1);
}
const logger = pino({ level: config.logLevel });

// One process per PGlite directory: a lock the kernel frees when this process ends, however it ends.
let lock: DataDirLock | null = null;
if (!config.databaseUrl) {
  try {
    lock = await lockDataDir(config.dataDir);
  } catch (e) {
    if (!(e instanceof DataDirLockedError)) throw e;
    logger.fatal({ dataDir: config.dataDir, owner: e.owner }, e.message);
    console.error(`satchel sync server: ${e.message}`);
    process.exit(1);
  }
}

// Liveness answers at once; the API answers 503 until the database is open and migrated.
let handler: (request: Request) => Response | Promise<Response> = startingUpFetch;
// POST /v1/sync is answered on Node's request and response once the server is up (not with the test
// hooks, which wrap the fetch handler's sync answers).
let leanSync: SyncHandler | undefined;
let listener: Awaited<ReturnType<typeof serveFetch>>;
try {
  listener = await serveFetch((request) => handler(request), config.port, config.host, config.connections, {
    sync: () => leanSync,
  });
} catch (e) {
  logger.fatal({ err: e, port: config.port }, 'cannot listen');
  process.exit(1);
}

// The CLI asks the directory's lock where its server listens (docs/operations.md, "The CLI").
lock?.setUrl(
  `http://${config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host}:${listener.port}`,
);

let db: Awaited<ReturnType<typeof openDatabase>> | undefined;
let runner: ProjectionRunner | undefined;
// Signals are handled from the moment the port is open, so a stop during start-up is graceful too.
let stopping = false;
async function shutdown(signal: string) {
  if (stopping) return;
  stopping = true;
  logger.info({ signal }, 'shutting down: no new connections, finishing requests in flight');
  const force = setTimeout(() => {
    logger.error('shutdown took more than 10 s, exiting');
    process.exit(1);
  }, 10_000);
  force.unref();
  await listener.close();
  // The batch in flight commits (or rolls back) whole; the leases are given up for another instance.
  await runner?.stop();
  await db?.close();
  await lock?.release();
  logger.info('stopped');
  process.exit(0);
}
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));

// The sample media (ffmpeg test patterns, ClearKey-encrypted) is generated in the background the first
// time; until it is ready a /media request and the licence proxy wait for it.
const catalogue = demoCatalogue(Date.now());
// Production generates none: it serves no demo titles.
const media: Promise<MediaLibrary> = config.production
  ? Promise.reject(new Error('no sample media in production'))
  : ensureMedia(
      config.mediaDir,
      catalogue.map((t) => t.titleId),
    );
media.then(
  (library) => logger.info({ dir: library.dir, titles: library.keys.size }, 'sample media ready'),
  (err) => {
    if (!config.production)
      logger.warn({ err }, 'no sample media: is ffmpeg installed? The API runs without it');
  },
);

let server: Awaited<ReturnType<typeof createSatchelServer>>;
let created = false;
try {
  db = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
  server = await createSatchelServer({
    db,
    tokenSecret: config.tokenSecret,
    snapshotEvery: config.snapshotEvery,
    logger,
    limits: config.limits,
    ...config.requestBounds,
    licenseProxy: {
      clearKeys: async (titleId) => {
        const key = (await media.catch(() => null))?.keys.get(titleId);
        return key ? [key] : null;
      },
    },
    corsOrigin: config.corsOrigins === '*' ? '*' : [...config.corsOrigins],
    runProjections: config.runProjections,
  });
  runner = server.projections;
  // Production seeds nothing: the catalogue and the accounts are the operator's.
  if (!config.production) {
    await server.service.catalogue.put(catalogue);
    ({ created } = await server.service.createAccount(config.demoAccountId, 'Demo household'));
  }
} catch (e) {
  logger.fatal({ err: e }, 'cannot open the database');
  await listener.close();
  process.exit(1);
}
const { token } = await server.tokens.mint({ kind: 'account', accountId: config.demoAccountId });
// One-click enrolment from / (development servers only: never with NODE_ENV=production or a real secret).
const devEnrolment = !config.production && config.tokenSecret === DEVELOPMENT_TOKEN_SECRET;
if (!testHooksEnabled()) leanSync = server.sync;
handler = withConsole(
  withPlayer(
    withDevEnrolment(
      withMedia(withTestHooks(server.app.fetch), media),
      { accountId: config.demoAccountId, token },
      devEnrolment,
    ),
  ),
);

const base = `http://localhost:${listener.port}`;
const where = `Satchel sync server (${config.env}) on ${base} (player: ${base}/${playerBuilt() ? '' : ' once built'}, operator console: ${base}/console${consoleBuilt() ? '' : ' once built'}, health: ${base}/healthz, API: ${base}/openapi.json)`;

// What the server runs with, logged once it listens (production adds no demo account).
const listening = {
  env: config.env,
  port: listener.port,
  database: config.databaseUrl ? 'postgresql' : `pglite:${config.dataDir}`,
  corsOrigins: config.corsOrigins === '*' ? '*' : [...config.corsOrigins],
  limits: server.limits.limits,
  limitsStore: server.limits.store,
  projections: config.runProjections ? 'running' : 'off',
  startupMs: Math.round(performance.now() - started),
};
if (config.production) {
  // Production prints no token: operators mint them with 'pnpm satchel token …' (docs/operations.md).
  logger.info(listening, 'satchel sync server listening');
  process.stdout.write(`\n${where}\n`);
} else {
  logger.info(
    { ...listening, demoAccount: config.demoAccountId, demoAccountCreated: created },
    'satchel sync server listening',
  );
  process.stdout.write(
    [
      '',
      where,
      `Operator console token (admin, 12 h): pnpm satchel token operator you@example.com --role admin`,
      `Demo player (opens enrolled in the demo account): ${base}/#enrol=${token}`,
      `Demo account '${config.demoAccountId}' enrolment token (valid 30 days):`,
      `  ${token}`,
      'Register a device and get its token:',
      `  curl -s -X POST ${base}/v1/devices -H 'authorization: Bearer ${token}' \\`,
      `       -H 'content-type: application/json' -d '{"name":"My laptop"}'`,
      `  (or: pnpm satchel token account ${config.demoAccountId}; pnpm satchel token device ${config.demoAccountId} <deviceId>)`,
      '',
    ].join('\n'),
  );
}
