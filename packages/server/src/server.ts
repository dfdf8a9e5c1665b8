import {
  createServer,
  type IncomingMessage,
  type RequestListener,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { createAdaptorServer } from '@hono/node-server';
import { protocolError } from '@satchel/protocol';
import type { Hono } from 'hono';
import type { Logger } from 'pino';
import { pino } from 'pino';
import { AccountRepository } from './accounts.js';
import { type TokenOptions, Tokens } from './auth.js';
import { Catalogue } from './catalogue.js';
import type { Database } from './db/database.js';
import { pgliteDatabase } from './db/pglite.js';
import { postgresDatabase } from './db/postgres.js';
import { createApi } from './http/app.js';
import {
  applyConnectionLimits,
  type ConnectionLimits,
  DEFAULT_CONNECTION_LIMITS,
  httpServerOptions,
} from './http/connections.js';
import type { LicenseProxyOptions } from './http/license-proxy.js';
import { type Limits, RequestLimits, resolveLimits } from './http/limits.js';
import { Metrics } from './metrics.js';
import { ProjectionRunner } from './projections/runner.js';
import { studioAccounting } from './projections/studio-accounting.js';
import { SatchelService } from './service.js';
import { EventStore } from './store/event-store.js';
import { migrate } from './store/migrations.js';

/** Where the server keeps its state: PostgreSQL at `databaseUrl`, else PGlite in `dataDir` (in memory without one). */
export interface DatabaseConfig {
  databaseUrl?: string | undefined;
  dataDir?: string | undefined;
  /** PostgreSQL pool size (default 10). */
  poolSize?: number | undefined;
}

/** Opens the configured database (nothing is migrated yet). */
export async function openDatabase(config: DatabaseConfig): Promise<Database> {
  if (config.databaseUrl) {
    return postgresDatabase(
      config.databaseUrl,
      config.poolSize === undefined ? {} : { max: config.poolSize },
    );
  }
  return pgliteDatabase(config.dataDir);
}

export interface SatchelServerConfig {
  /** An open database (migrated at start-up). */
  db: Database;
  /** HS256 signing secret for tokens. */
  tokenSecret: string;
  tokens?: TokenOptions;
  /** Snapshot every N events (default 100). */
  snapshotEvery?: number;
  logger?: Logger;
  now?: () => number;
  maxBodyBytes?: number;
  /** Time to receive a request body once reading starts, ms (default 10 000). */
  bodyTimeoutMs?: number;
  /** Syncs of one device waiting behind the running one, and how long each may wait (defaults 2 and 2 000 ms). */
  deviceGate?: { maxWaiting?: number; waitMs?: number };
  /** The older form of the per-device request limit (see `resolveLimits`); `limits` overrides it. */
  rateLimit?: { burst: number; perSecond: number };
  /**
   * Request limits per device, account and operator, and the event quota per device (default
   * `DEFAULT_LIMITS`). Shared by every instance on one PostgreSQL; in memory on PGlite.
   */
  limits?: Partial<Limits>;
  corsOrigin?: string | string[];
  /** The licence proxy's key sources (see {@link LicenseProxyOptions}). */
  licenseProxy?: LicenseProxyOptions;
  /**
   * Run the projections (studio accounting) in this instance's background (default false). Several
   * instances may all run them: each projection runs in one instance at a time (a lease per projection).
   */
  runProjections?: boolean;
}

/** A wired server: the HTTP app and the pieces behind it. */
export interface SatchelServer {
  readonly app: Hono;
  /**
   * The lean `POST /v1/sync` handler on Node's request and response (see `Api.sync`); {@link listen}
   * routes that request to it and everything else to {@link app}. Pass it to {@link serveFetch} to serve a
   * wrapped fetch handler with the same lean path.
   */
  readonly sync: SyncHandler;
  readonly service: SatchelService;
  readonly tokens: Tokens;
  readonly metrics: Metrics;
  readonly db: Database;
  readonly logger: Logger;
  /** The request limits and event quotas (shared in PostgreSQL, or this process's on PGlite). */
  readonly limits: RequestLimits;
  /** The projection runner (started when `runProjections` is set; otherwise idle, usable for lag and rebuilds). */
  readonly projections: ProjectionRunner;
  /**
   * Listens on `port` (0 = any free port) with `limits` (defaults: {@link DEFAULT_CONNECTION_LIMITS}).
   * Resolves with the bound port once accepting connections; rejects when the port cannot be bound
   * (e.g. EADDRINUSE).
   */
  listen(port: number, hostname?: string, limits?: ConnectionLimits): Promise<Listener>;
}

/**
 * Migrates the database (under an advisory lock; safe with several instances starting together) and
 * wires the store, the service and the HTTP app. Throws when the migrations fail, or a `RangeError` for
 * invalid limits.
 */
export async function createSatchelServer(config: SatchelServerConfig): Promise<SatchelServer> {
  const logger = config.logger ?? pino({ level: process.env.LOG_LEVEL ?? 'info' });
  const applied = await migrate(config.db);
  if (applied.length > 0) logger.info({ applied }, 'migrations applied');
  const metrics = new Metrics();
  const store = new EventStore(
    config.db,
    config.snapshotEvery === undefined ? {} : { snapshotEvery: config.snapshotEvery },
  );
  const accounts = new AccountRepository(store, { metrics });
  const catalogue = new Catalogue(config.db);
  const resolved = resolveLimits(config.rateLimit, config.limits);
  const service = new SatchelService(accounts, {
    catalogue,
    metrics,
    eventQuota: resolved.events,
    ...(config.now ? { now: config.now } : {}),
  });
  const tokens = new Tokens(config.tokenSecret, config.tokens);
  const projections = new ProjectionRunner(config.db, store, [studioAccounting()], {
    metrics,
    onError: (err) => logger.error({ err }, 'projection batch failed'),
  });
  await projections.ensure();
  if (config.runProjections) projections.start();
  const limits = new RequestLimits(config.db, resolved);
  const api = createApi({
    service,
    tokens,
    db: config.db,
    metrics,
    logger,
    ...(config.maxBodyBytes === undefined ? {} : { maxBodyBytes: config.maxBodyBytes }),
    requestLimits: limits,
    ...(config.bodyTimeoutMs === undefined ? {} : { bodyTimeoutMs: config.bodyTimeoutMs }),
    ...(config.deviceGate === undefined ? {} : { deviceGate: config.deviceGate }),
    ...(config.corsOrigin === undefined ? {} : { corsOrigin: config.corsOrigin }),
    ...(config.licenseProxy === undefined ? {} : { licenseProxy: config.licenseProxy }),
    projections,
  });
  const app = api.app as unknown as Hono;
  return {
    app,
    sync: api.sync,
    service,
    tokens,
    metrics,
    db: config.db,
    logger,
    limits,
    projections,
    listen: (port, hostname = '0.0.0.0', limits = {}) =>
      serveFetch(app.fetch, port, hostname, limits, { sync: () => api.sync }),
  };
}

/** A bound HTTP listener. */
export interface Listener {
  readonly port: number;
  /** Stops accepting connections and resolves when the requests in flight have been answered. */
  close(): Promise<void>;
}

/** Answers one request on Node's request and response; resolves once answered, never rejects. */
export type SyncHandler = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

/**
 * `POST /v1/sync` (origin-form, with or without a query) goes to the handler `sync()` returns, everything
 * else (and that request too while `sync()` returns undefined) to `rest`.
 */
export function withLeanSync(rest: RequestListener, sync: () => SyncHandler | undefined): RequestListener {
  return (req, res) => {
    const url = req.url ?? '';
    if (req.method === 'POST' && (url === '/v1/sync' || url.startsWith('/v1/sync?'))) {
      const lean = sync();
      if (lean) {
        // The handler answers every error itself; should writing the answer throw, the connection is
        // dropped rather than the process.
        lean(req, res).catch(() => res.destroy());
        return;
      }
    }
    rest(req, res);
  };
}

/**
 * Serves a fetch handler on Node's HTTP server; with `sync` (returning a server's
 * {@link SatchelServer.sync}, or undefined while there is none), `POST /v1/sync` is answered by it on
 * Node's request and response, before any web-stream adaptation.
 * `limits` bound the connections (each unset one takes its default from {@link DEFAULT_CONNECTION_LIMITS}).
 * Resolves once accepting connections; rejects when the port cannot be bound (e.g. EADDRINUSE).
 */
export function serveFetch(
  fetch: (request: Request) => Response | Promise<Response>,
  port: number,
  hostname = '0.0.0.0',
  limits: ConnectionLimits = {},
  options: { sync?: (() => SyncHandler | undefined) | undefined } = {},
): Promise<Listener> {
  const bounds = { ...DEFAULT_CONNECTION_LIMITS, ...definedOnly(limits) };
  const sync = options.sync;
  return new Promise((resolve, reject) => {
    const server = createAdaptorServer({
      fetch,
      hostname,
      serverOptions: httpServerOptions(bounds),
      ...(sync
        ? {
            createServer: ((serverOptions: object, listener: RequestListener) =>
              createServer(serverOptions, withLeanSync(listener, sync))) as typeof createServer,
          }
        : {}),
    }) as Server;
    applyConnectionLimits(server, bounds);
    server.once('error', reject);
    // A long accept queue: connections arriving while the event loop is busy wait in the kernel instead
    // of having their handshake dropped (a dropped one is retried by the client only after 1 s, 3 s, …).
    server.listen(port, hostname, LISTEN_BACKLOG, () => {
      server.off('error', reject);
      resolve({
        port: (server.address() as AddressInfo).port,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            server.closeIdleConnections();
          }),
      });
    });
  });
}

/** Pending connections the kernel queues for accept (Linux caps it at net.core.somaxconn). */
const LISTEN_BACKLOG = 4096;

const definedOnly = <T extends object>(o: T): Partial<T> =>
  Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;

/**
 * What a process answers while its database is still opening: `/healthz` is alive, everything else is
 * `503 UNAVAILABLE` with a retry hint.
 */
export function startingUpFetch(request: Request): Response {
  const headers = { 'content-type': 'application/json', 'retry-after': '1' };
  if (new URL(request.url).pathname === '/healthz') {
    return new Response(JSON.stringify({ status: 'ok' }), { status: 200, headers });
  }
  const error = protocolError('UNAVAILABLE', 'The server is starting');
  return new Response(JSON.stringify({ error }), { status: 503, headers });
}
