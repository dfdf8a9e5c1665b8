import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { SyncResponse } from '@satchel/protocol';
import {
  ERROR_CODES,
  MAX_SYNC_BATCH_EVENTS,
  MAX_SYNC_BODY_BYTES,
  negotiateProtocolVersion,
  PROTOCOL_VERSION,
  PROTOCOL_VERSION_HEADER,
  type ProtocolError,
  type ProtocolErrorCode,
  protocolError,
  REQUEST_ID_HEADER,
  toValidationIssues,
} from '@satchel/protocol';
import { openApiDocument } from '@satchel/protocol/openapi';
import {
  Id,
  isSyncRequest,
  LicenseRequest,
  RebaseRequest,
  RegisterDeviceRequest,
  SyncRequest,
} from '@satchel/protocol/schemas';
import { type Context, Hono } from 'hono';
import { cors } from 'hono/cors';
import { matchedRoutes } from 'hono/route';
import type { Logger } from 'pino';
import { pino } from 'pino';
import { AdminService } from '../admin.js';
import type { MemberPrincipal, Principal, Tokens } from '../auth.js';
import { credentialStatus } from '../credentials.js';
import { type Database, dbError } from '../db/database.js';
import { isConflictRetriesExhaustedError, isEventQuotaExceededError, ServerError } from '../errors.js';
import type { Metrics } from '../metrics.js';
import type { ProjectionRunner } from '../projections/runner.js';
import type { SatchelService } from '../service.js';
import { migrationsCurrent } from '../store/migrations.js';
import { adminRoutes } from './admin-routes.js';
import {
  type BodyBounds,
  DEFAULT_BODY_TIMEOUT_MS,
  parseJsonBody,
  readNodeBody,
  readWebBody,
  refuseDeclaredLength,
  requireJson,
} from './body.js';
import { DeviceGate } from './device-gate.js';
import { licenseHistory } from './license-history.js';
import { type LicenseProxyOptions, licenseProxy } from './license-proxy.js';
import { type LimitRefusal, type Limits, RequestLimits, resolveLimits } from './limits.js';
import { fail, HttpError, readJson, validate } from './request.js';

/** How long `/readyz` waits for the database before answering 503 (ms). */
export const READY_DEADLINE_MS = 3_000;

export interface AppOptions {
  service: SatchelService;
  tokens: Tokens;
  db: Database;
  metrics: Metrics;
  logger?: Logger;
  /** Largest accepted body in bytes (default: the protocol's MAX_SYNC_BODY_BYTES). */
  maxBodyBytes?: number;
  /** Time to receive a body once reading starts, ms (default {@link DEFAULT_BODY_TIMEOUT_MS}). */
  bodyTimeoutMs?: number;
  /** Syncs of one device in flight at once on this instance (see {@link DeviceGate}; default one running, two waiting up to 2 s). */
  deviceGate?: { maxWaiting?: number; waitMs?: number };
  /**
   * The older form of the request limit: `burst` requests per device per `burst / perSecond` seconds
   * (see {@link resolveLimits}). `limits` overrides it.
   */
  rateLimit?: { burst: number; perSecond: number };
  /**
   * Request limits per device, account and operator (default {@link DEFAULT_LIMITS}). `events` is validated
   * here but counted by the service's write: pass the same quota as the service's `eventQuota`
   * (`createSatchelServer` does).
   */
  limits?: Partial<Limits>;
  /** The counters to use (default: new ones on `db` from `rateLimit` and `limits`). */
  requestLimits?: RequestLimits;
  /** CORS origins allowed (default `*`: browser players on any origin). */
  corsOrigin?: string | string[];
  /** Where `POST /v1/licenses/{licenseId}/drm/{keySystem}` finds content keys or licence servers (default: none). */
  licenseProxy?: LicenseProxyOptions;
  /** The projection runner: its lag is shown in `/readyz` details, and the admin API reports from it. */
  projections?: ProjectionRunner;
}

export type Env = {
  Variables: { requestId: string; log: Logger; principal: Principal; bodyBounds: BodyBounds };
};

/** The HTTP API: the Hono app, and the lean Node handler of `POST /v1/sync` that shares its checks. */
export interface Api {
  readonly app: Hono<Env>;
  /**
   * Answers `POST /v1/sync` on Node's request and response directly (no web-stream adaptation), with the
   * same authentication, bounds, validation, typed errors, headers, metrics and logs as the Hono route.
   * Resolves once the answer was written; never rejects.
   */
  readonly sync: (req: IncomingMessage, res: ServerResponse) => Promise<void>;
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: NUL is exactly what this refuses.
const UNSTORABLE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const storableText = (text: string): boolean => !UNSTORABLE.test(text);

// Losing the database (refused or dropped connection, server shutting down or starting) is retryable.
const DATABASE_GONE = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'CONNECTION_CLOSED',
  'CONNECTION_ENDED',
  'CONNECTION_DESTROYED',
  'CONNECT_TIMEOUT',
  '57P01',
  '57P02',
  '57P03',
  '53300',
]);
const databaseGone = (e: unknown): boolean => {
  const code = dbError(e)?.code;
  return code !== undefined && (DATABASE_GONE.has(code) || code.startsWith('08'));
};

function toProtocolError(
  e: unknown,
): { status: number; error: ProtocolError; headers: Record<string, string> } | null {
  if (e instanceof HttpError) return { status: e.status, error: e.body, headers: e.headers };
  if (isConflictRetriesExhaustedError(e)) {
    const error = protocolError('CONCURRENCY_CONFLICT', e.message, { retryAfterMs: e.retryAfterMs });
    return {
      status: 503,
      error,
      headers: { 'retry-after': String(Math.max(1, Math.ceil(e.retryAfterMs / 1000))) },
    };
  }
  if (isEventQuotaExceededError(e)) {
    return refusal({
      retryAfterMs: e.retryAfterMs,
      details: { scope: 'events', limit: e.limit, windowSec: e.windowSec },
    });
  }
  if (e instanceof ServerError) {
    const code = e.code as ProtocolErrorCode;
    if (code === 'SEQ_GAP') {
      const g = e as ServerError & { expectedSeq: number; receivedSeq: number };
      return {
        status: 409,
        error: protocolError('SEQ_GAP', e.message, {
          details: { expectedSeq: g.expectedSeq, receivedSeq: g.receivedSeq },
        }),
        headers: {},
      };
    }
    if (code === 'DEVICE_LIMIT_REACHED') {
      const limit = (e as ServerError & { limit?: number }).limit ?? 0;
      return {
        status: 403,
        error: protocolError('DEVICE_LIMIT_REACHED', e.message, { details: { limit } }),
        headers: {},
      };
    }
    if (
      code === 'UNAUTHENTICATED' ||
      code === 'TOKEN_EXPIRED' ||
      code === 'FORBIDDEN' ||
      code === 'DEVICE_DEACTIVATED' ||
      code === 'NOT_FOUND' ||
      code === 'DEVICE_ALREADY_REGISTERED' ||
      code === 'VALIDATION_FAILED'
    ) {
      return { status: ERROR_CODES[code].status, error: protocolError(code, e.message), headers: {} };
    }
  }
  if (databaseGone(e)) {
    return {
      status: 503,
      error: protocolError('UNAVAILABLE', 'The database is unavailable'),
      headers: { 'retry-after': '1' },
    };
  }
  return null;
}

/** `429 RATE_LIMITED`, its `Retry-After` (whole seconds) and which limit refused. */
const refusal = (
  r: LimitRefusal,
): { status: number; error: ProtocolError; headers: Record<string, string> } => ({
  status: 429,
  error: protocolError(
    'RATE_LIMITED',
    r.details.scope === 'events' ? 'The event quota of this device is used up' : 'Too many requests',
    { retryAfterMs: r.retryAfterMs, details: r.details },
  ),
  headers: { 'retry-after': String(Math.max(1, Math.ceil(r.retryAfterMs / 1000))) },
});

/** Ends the request with {@link refusal}'s answer. */
const refuse = (r: LimitRefusal): never => {
  const { error, headers } = refusal(r);
  return fail(error, headers);
};

/**
 * A sync request with more events than the protocol allows is refused before the schema walks them
 * (`VALIDATION_FAILED` on `events`, as the schema would say).
 */
export function refuseOversizedBatch(body: unknown): void {
  const events = (body as { events?: unknown } | null)?.events;
  if (Array.isArray(events) && events.length > MAX_SYNC_BATCH_EVENTS) {
    fail(
      protocolError('VALIDATION_FAILED', `A sync carries at most ${MAX_SYNC_BATCH_EVENTS} events`, {
        details: [
          {
            path: ['events'],
            message: `Too big: expected at most ${MAX_SYNC_BATCH_EVENTS} events, got ${events.length}`,
            code: 'too_big',
          },
        ],
      }),
    );
  }
}

const isSyncRoute = (method: string, path: string) => method === 'POST' && path === '/v1/sync';

/**
 * Builds the HTTP API (Hono). Stateless apart from per-process metrics: any number of instances can
 * serve the same database, and on PostgreSQL they share the request limits and event quotas (see
 * {@link RequestLimits}). Throws a `RangeError` for invalid limits.
 */
export function createApp(options: AppOptions): Hono<Env> {
  return createApi(options).app;
}

/** Builds the HTTP API: the Hono app and the lean `POST /v1/sync` handler (see {@link Api}). */
export function createApi(options: AppOptions): Api {
  const { service, tokens, db, metrics } = options;
  const logger = options.logger ?? pino({ level: 'info' });
  const maxBody = options.maxBodyBytes ?? MAX_SYNC_BODY_BYTES;
  const limiter =
    options.requestLimits ?? new RequestLimits(db, resolveLimits(options.rateLimit, options.limits));
  const bodyBounds: BodyBounds = {
    maxBytes: maxBody,
    timeoutMs: options.bodyTimeoutMs ?? DEFAULT_BODY_TIMEOUT_MS,
  };
  const gate = new DeviceGate(options.deviceGate);
  const corsOrigin = options.corsOrigin ?? '*';
  const exposeHeaders = [REQUEST_ID_HEADER, 'retry-after'];
  const app = new Hono<Env>();

  /** The principal of a request from its headers: the protocol version header and the bearer token. */
  const identify = async (header: (name: string) => string | undefined): Promise<Principal> => {
    const announced = header(PROTOCOL_VERSION_HEADER);
    if (announced !== undefined) {
      const n = negotiateProtocolVersion(/^\d+$/.test(announced.trim()) ? Number(announced) : Number.NaN);
      if (!n.ok) fail(n.error);
    }
    const auth = header('authorization') ?? '';
    const m = /^Bearer\s+(\S+)$/i.exec(auth);
    if (!m?.[1]) fail(protocolError('UNAUTHENTICATED', 'A bearer token is required'));
    return tokens.verify(m?.[1] ?? '');
  };

  /**
   * Authenticates a request from its headers alone (nothing of the body is read): the protocol version
   * header, the bearer token, the device credential (every route but POST /v1/sync, which checks it in
   * its own read statement), the principal's rate limit. Throws {@link HttpError} or the token's error.
   */
  const authenticate = async (
    header: (name: string) => string | undefined,
    method: string,
    path: string,
  ): Promise<Principal> => {
    const principal = await identify(header);
    // A device token's credential is checked on every request, so a deactivation or a newer registration
    // takes effect at once: POST /v1/sync checks it in its own read statement (service.sync), every other
    // route with one primary-key read here. A deactivated device's token is refused everywhere but
    // POST /v1/sync, whose answer is how the device learns it was deactivated: every event refused (R8),
    // nothing appended, its own final snapshot (licences revoked, no other device listed).
    // The request is counted against its limits alongside that read (one round trip of latency).
    const [status, limited] = await Promise.all([
      principal.kind === 'device' && !isSyncRoute(method, path)
        ? credentialStatus(db, principal.accountId, principal.deviceId, principal.generation ?? 0)
        : null,
      limiter.request(principal),
    ]);
    if (status === 'revoked') fail(protocolError('DEVICE_DEACTIVATED', 'This device was deactivated'));
    if (status === 'superseded' || status === 'unknown')
      fail(protocolError('UNAUTHENTICATED', 'This token has been revoked'));
    if (limited) refuse(limited);
    return principal;
  };

  /**
   * The sync itself, once authenticated and parsed: the device check, version negotiation, the merge.
   * `admitted` (the request limit's answer) is awaited by the merge once its read has answered.
   */
  const syncParsed = async (
    p: Extract<Principal, { kind: 'device' }>,
    raw: unknown,
    requestId: string,
    admitted?: Promise<void>,
  ): Promise<SyncResponse> => {
    refuseOversizedBatch(raw);
    // The fast check walks the envelope once; only a body it doubts is walked by the schema (which also
    // says what is wrong). Event payloads are validated once, by the domain, in the merge.
    const body = isSyncRequest(raw) ? raw : validate(SyncRequest, raw);
    if (body.deviceId !== p.deviceId) fail(protocolError('FORBIDDEN', 'The token belongs to another device'));
    const n = negotiateProtocolVersion(body.protocolVersion);
    if (!n.ok) fail(n.error);
    // The event quota is counted by the merge's own write (service.eventQuota): what is stored, once.
    return service.sync(p.accountId, p.deviceId, body, requestId, {
      generation: p.generation ?? 0,
      ...(admitted ? { admitted } : {}),
    });
  };

  app.use('*', async (c, next) => {
    const incoming = c.req.header(REQUEST_ID_HEADER);
    const requestId = incoming && /^[\w.:-]{1,128}$/.test(incoming) ? incoming : randomUUID();
    const log = logger.child({ requestId });
    c.set('requestId', requestId);
    c.set('log', log);
    const started = performance.now();
    await next();
    // A body still arriving when the answer is ready (the request was refused on its headers, or its
    // body part-way) is not waited for: the answer goes at once and the connection closes after it (the
    // listener's lingering close reads and drops what the client still sends). A body that has arrived
    // unread is dropped by Node and the connection kept.
    const nodeRequest = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
    if (nodeRequest !== undefined && !nodeRequest.complete) c.header('connection', 'close');
    c.header(REQUEST_ID_HEADER, requestId);
    const route =
      matchedRoutes(c)
        .filter((r) => r.method !== 'ALL')
        .at(-1)?.path ?? 'unmatched';
    const seconds = (performance.now() - started) / 1000;
    metrics.httpRequests.inc({ route, method: c.req.method, status: String(c.res.status) });
    metrics.httpDuration.observe({ route, method: c.req.method }, seconds);
    if (route !== '/healthz' && route !== '/metrics') {
      log.info(
        { method: c.req.method, route, status: c.res.status, ms: Math.round(seconds * 1000) },
        'request',
      );
    }
  });
  app.use('*', cors({ origin: corsOrigin, exposeHeaders, maxAge: 600 }));

  app.onError((e, c) => {
    const mapped = toProtocolError(e);
    const requestId = c.get('requestId');
    if (!mapped) {
      c.get('log')?.error({ err: e }, 'unhandled error');
      const error = protocolError('INTERNAL', 'Internal error', { requestId });
      return c.json({ error }, 500, { [REQUEST_ID_HEADER]: requestId });
    }
    if (mapped.status >= 500) c.get('log')?.warn({ code: mapped.error.code }, mapped.error.message);
    return c.json({ error: { ...mapped.error, requestId } }, mapped.status as 400, {
      ...mapped.headers,
      [REQUEST_ID_HEADER]: requestId,
    });
  });
  app.notFound((c) =>
    c.json({ error: protocolError('NOT_FOUND', 'No such route', { requestId: c.get('requestId') }) }, 404),
  );

  app.get('/healthz', (c) => c.json({ status: 'ok' as const }));
  app.get('/readyz', async (c) => {
    try {
      // A probe answers promptly: a database that does not answer within the deadline (a pool waiting on
      // connections to a server that is down) is not ready, rather than a probe that hangs.
      let timer: ReturnType<typeof setTimeout> | undefined;
      const deadline = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error('readiness deadline')), READY_DEADLINE_MS);
      });
      const current = await Promise.race([
        db.query('SELECT 1').then(() => migrationsCurrent(db)),
        deadline,
      ]).finally(() => clearTimeout(timer));
      if (current) {
        if (!options.projections) return c.json({ status: 'ready' as const });
        // Projections lagging is reported, not a reason to take the instance out of rotation.
        const runner = options.projections;
        const projections = await runner.lag().catch(() => null);
        return c.json({
          status: 'ready' as const,
          details: { runner: { instanceId: runner.instanceId, running: runner.running }, projections },
        });
      }
      fail(protocolError('UNAVAILABLE', 'Migrations are not applied'));
    } catch (e) {
      if (e instanceof HttpError) throw e;
      fail(protocolError('UNAVAILABLE', 'The database does not answer'));
    }
    return c.body(null, 500);
  });
  app.get('/metrics', async (c) =>
    c.text(await metrics.render(), 200, { 'content-type': metrics.contentType }),
  );
  let openapi: unknown = null;
  app.get('/openapi.json', (c) => {
    openapi ??= openApiDocument();
    return c.json(openapi as object);
  });

  const v1 = new Hono<Env>();
  v1.use('*', async (c, next) => {
    const principal = await authenticate((name) => c.req.header(name), c.req.method, c.req.path);
    // A declared length over the limit is refused from the header; reads stream within the bounds.
    refuseDeclaredLength(c.req.header('content-length'), bodyBounds.maxBytes);
    c.set('bodyBounds', bodyBounds);
    c.set('principal', principal);
    c.set('log', c.get('log').child(principal));
    await next();
    c.header(PROTOCOL_VERSION_HEADER, String(PROTOCOL_VERSION));
  });

  const device = (c: Context<Env>) => {
    const p = c.get('principal');
    if (p.kind !== 'device') fail(protocolError('FORBIDDEN', 'This endpoint needs a device token'));
    return p as Extract<Principal, { kind: 'device' }>;
  };
  const account = (c: Context<Env>) => {
    const p = c.get('principal');
    if (p.kind !== 'account') fail(protocolError('FORBIDDEN', "This endpoint needs the account's token"));
    return p as Extract<Principal, { kind: 'account' }>;
  };
  // Device and account routes speak for one account: an operator uses /v1/admin instead.
  const member = (c: Context<Env>): MemberPrincipal => {
    const p = c.get('principal');
    if (p.kind === 'operator') fail(protocolError('FORBIDDEN', 'Operators use the /v1/admin API'));
    return p as MemberPrincipal;
  };

  v1.post('/sync', async (c) => {
    const p = device(c);
    const release = await gate.enter(`${p.accountId}:${p.deviceId}`);
    try {
      requireJson(c.req.header('content-type'));
      const raw = parseJsonBody(await readWebBody(c.req.raw, bodyBounds));
      return c.json(await syncParsed(p, raw, c.get('requestId')));
    } finally {
      release();
    }
  });

  v1.post('/sync/rebase', async (c) => {
    const p = device(c);
    const release = await gate.enter(`${p.accountId}:${p.deviceId}`);
    try {
      const body = await readJson(c, RebaseRequest);
      if (body.deviceId !== p.deviceId)
        fail(protocolError('FORBIDDEN', 'The token belongs to another device'));
      const n = negotiateProtocolVersion(body.protocolVersion);
      if (!n.ok) fail(n.error);
      return c.json(await service.rebaseDevice(p.accountId, p.deviceId, body, c.get('requestId')));
    } finally {
      release();
    }
  });

  v1.post('/devices', async (c) => {
    const p = account(c);
    const body = await readJson(c, RegisterDeviceRequest);
    // The name is stored in a jsonb event: PostgreSQL refuses NUL and unpaired surrogates there.
    if (!storableText(body.name)) {
      fail(
        protocolError('VALIDATION_FAILED', 'The device name contains characters that cannot be stored', {
          details: [{ path: ['name'], message: 'NUL or an unpaired surrogate', code: 'invalid_format' }],
        }),
      );
    }
    const { deviceId, snapshot, generation, generatedSecret } = await service.registerDevice(p.accountId, {
      deviceId: body.deviceId,
      name: body.name,
      deviceSecret: body.deviceSecret,
    });
    const { token, expiresAt } = await tokens.mint({
      kind: 'device',
      accountId: p.accountId,
      deviceId,
      generation,
    });
    return c.json(
      {
        deviceId,
        token,
        tokenExpiresAt: expiresAt,
        snapshot,
        ...(generatedSecret === undefined ? {} : { deviceSecret: generatedSecret }),
      },
      201,
    );
  });
  v1.get('/devices', async (c) => {
    const p = member(c);
    return c.json({ devices: await service.devices(p.accountId) });
  });
  v1.delete('/devices/:deviceId', async (c) => {
    const p = member(c);
    const target = c.req.param('deviceId') ?? '';
    const valid = Id.safeParse(target);
    if (!valid.success) {
      fail(
        protocolError('VALIDATION_FAILED', 'deviceId is not a valid identifier', {
          details: toValidationIssues(
            valid.error.issues.map((i) => ({ ...i, path: ['deviceId', ...i.path] })),
          ),
        }),
      );
    }
    if (p.kind === 'device' && p.deviceId !== target) {
      fail(protocolError('FORBIDDEN', 'A device may deactivate only itself; use the account token'));
    }
    return c.json({ devices: await service.deactivateDevice(p.accountId, target) });
  });

  v1.get('/catalogue', async (c) => {
    const titles = [...(await service.catalogue.titles()).values()];
    return c.json({ titles: titles.map(({ titleId, name, policy }) => ({ titleId, name, policy })) });
  });

  v1.post('/licenses', async (c) => {
    const p = device(c);
    const body = await readJson(c, LicenseRequest);
    // What it records (a grant or a refusal) counts towards the event quota, in the service's write.
    return c.json(await service.requestLicense(p.accountId, p.deviceId, body));
  });
  v1.get('/licenses', async (c) => {
    const p = member(c);
    return c.json(await service.licenses(p.accountId, p.kind === 'device' ? p.deviceId : undefined));
  });
  const licenseId = (c: Context<Env>) => {
    const id = c.req.param('licenseId') ?? '';
    if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(id)) {
      fail(
        protocolError('VALIDATION_FAILED', 'licenseId must be a lowercase UUID', {
          details: [
            { path: ['licenseId'], message: 'Expected a lowercase canonical UUID', code: 'invalid_format' },
          ],
        }),
      );
    }
    return id;
  };
  v1.post('/licenses/:licenseId/renew', async (c) => {
    const p = device(c);
    // The body is optional (the licence is in the path); its `fromRenewal` makes a retry idempotent.
    // Read within the bounds; a body that is not JSON is no body.
    const bytes = await readWebBody(c.req.raw, bodyBounds);
    let body: { fromRenewal?: unknown } | null = null;
    try {
      body = parseJsonBody(bytes) as { fromRenewal?: unknown } | null;
    } catch {}
    const from = body?.fromRenewal;
    const fromRenewal = Number.isSafeInteger(from) && (from as number) >= 0 ? (from as number) : undefined;
    const id = licenseId(c);
    return c.json(await service.renewLicense(p.accountId, p.deviceId, id, fromRenewal));
  });
  v1.post('/licenses/:licenseId/release', async (c) => {
    const p = device(c);
    return c.json(await service.releaseLicense(p.accountId, p.deviceId, licenseId(c)));
  });

  const admin = new AdminService(service);
  v1.route('/admin', adminRoutes({ admin, tokens, projections: options.projections }));
  const history = licenseHistory(service, admin);
  v1.get('/licenses/:licenseId/history', async (c) => c.json(await history(device(c), licenseId(c))));
  const proxy = licenseProxy(service, options.licenseProxy ?? {}, logger);
  v1.post('/licenses/:licenseId/drm/:keySystem', async (c) =>
    proxy(device(c), licenseId(c), c.req.param('keySystem') ?? '', c.req.raw, () =>
      readWebBody(c.req.raw, bodyBounds),
    ),
  );

  app.route('/v1', v1);

  const corsHeaders = (origin: string | undefined): Record<string, string> => {
    const headers: Record<string, string> = { 'access-control-expose-headers': exposeHeaders.join(',') };
    if (corsOrigin === '*') headers['access-control-allow-origin'] = '*';
    else {
      const allowed =
        typeof corsOrigin === 'string' ? corsOrigin === origin : corsOrigin.includes(origin ?? '');
      if (allowed && origin) headers['access-control-allow-origin'] = origin;
      headers.vary = 'Origin';
    }
    return headers;
  };

  const sync = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const started = performance.now();
    const header = (name: string) => {
      const v = req.headers[name];
      return Array.isArray(v) ? v.join(', ') : v;
    };
    const incoming = header(REQUEST_ID_HEADER);
    const requestId = incoming && /^[\w.:-]{1,128}$/.test(incoming) ? incoming : randomUUID();
    let log: Logger | undefined;
    let who: Principal | undefined;
    const logOf = () => {
      log ??= logger.child(who ? { requestId, ...who } : { requestId });
      return log;
    };
    let status = 200;
    let payload: string;
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      ...corsHeaders(header('origin')),
    };
    let release: (() => void) | undefined;
    try {
      const p = await identify(header);
      if (p.kind !== 'device') fail(protocolError('FORBIDDEN', 'This endpoint needs a device token'));
      const principal = p as Extract<Principal, { kind: 'device' }>;
      who = principal;
      // The request is counted while its body arrives and the merge's read runs: one round trip fewer.
      // A refusal known before the body is complete (a key already over its limit is refused from memory)
      // answers at once; one known later is thrown by the merge after its read, before anything is written.
      const limited = limiter.request(principal);
      limited.catch(() => undefined);
      release = await gate.enter(`${principal.accountId}:${principal.deviceId}`);
      requireJson(header('content-type'));
      const body = readNodeBody(req, bodyBounds);
      const early = await Promise.race([limited, body.then(() => null)]);
      if (early) refuse(early);
      const raw = parseJsonBody(await body);
      const admitted = limited.then((refused) => {
        if (refused) refuse(refused);
      });
      // Awaited by the merge after its read; until then, a refusal is not an unhandled rejection.
      admitted.catch(() => undefined);
      payload = JSON.stringify(await syncParsed(principal, raw, requestId, admitted));
      headers[PROTOCOL_VERSION_HEADER] = String(PROTOCOL_VERSION);
    } catch (e) {
      const mapped = toProtocolError(e);
      if (!mapped) {
        logOf().error({ err: e }, 'unhandled error');
        status = 500;
        payload = JSON.stringify({ error: protocolError('INTERNAL', 'Internal error', { requestId }) });
      } else {
        if (mapped.status >= 500) logOf().warn({ code: mapped.error.code }, mapped.error.message);
        status = mapped.status;
        Object.assign(headers, mapped.headers);
        payload = JSON.stringify({ error: { ...mapped.error, requestId } });
      }
    } finally {
      release?.();
    }
    // A body left unread (refused on the headers, or part-way) is not waited for: close after the answer.
    if (!req.complete) headers.connection = 'close';
    headers[REQUEST_ID_HEADER] = requestId;
    headers['content-length'] = String(Buffer.byteLength(payload));
    if (!res.headersSent && !res.destroyed) {
      res.writeHead(status, headers);
      res.end(payload);
    }
    const seconds = (performance.now() - started) / 1000;
    metrics.httpRequests.inc({ route: '/v1/sync', method: 'POST', status: String(status) });
    metrics.httpDuration.observe({ route: '/v1/sync', method: 'POST' }, seconds);
    if (logger.isLevelEnabled('info')) {
      logOf().info({ method: 'POST', route: '/v1/sync', status, ms: Math.round(seconds * 1000) }, 'request');
    }
  };

  return { app, sync };
}
