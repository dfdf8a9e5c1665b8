import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  type ConnectionLimits,
  DEFAULT_CONNECTION_LIMITS,
  DEVELOPMENT_TOKEN_SECRET,
  type Limits,
  productionSecretProblem,
} from '@satchel/server';
import { type CorsOrigins, readCorsOrigins } from './cors.js';

/** The two modes the reference server runs in; `SATCHEL_ENV` must name one of them exactly. */
export const SATCHEL_ENVS = ['development', 'production'] as const;
export type SatchelEnv = (typeof SATCHEL_ENVS)[number];

/** The reference server's settings, from the environment (docs/operations.md lists them). */
export interface Config {
  env: SatchelEnv;
  port: number;
  host: string;
  databaseUrl: string | undefined;
  dataDir: string;
  /** Where the sample media is generated (default `<dataDir>/media`). */
  mediaDir: string;
  tokenSecret: string;
  production: boolean;
  snapshotEvery: number;
  logLevel: string;
  demoAccountId: string;
  /** `SATCHEL_CORS_ORIGINS`: see {@link readCorsOrigins}. */
  corsOrigins: CorsOrigins;
  /** The HTTP listener's connection cap and timeouts (`SATCHEL_MAX_CONNECTIONS`, `SATCHEL_*_TIMEOUT_MS`). */
  connections: Required<ConnectionLimits>;
  /**
   * Bounds on one request's work: `SATCHEL_BODY_TIMEOUT_MS` (time to receive a body once reading starts,
   * ms), `SATCHEL_DEVICE_SYNC_QUEUE` (syncs of one device that may wait behind its running one) and
   * `SATCHEL_DEVICE_SYNC_WAIT_MS` (how long each may wait, ms). Unset ones keep the server's defaults
   * (10 000 ms, 2, 2 000 ms).
   */
  requestBounds: { bodyTimeoutMs?: number; deviceGate: { maxWaiting?: number; waitMs?: number } };
  /** `SATCHEL_RATE_DEVICE`, `SATCHEL_RATE_ACCOUNT`, `SATCHEL_RATE_OPERATOR`, `SATCHEL_EVENT_QUOTA`: see {@link readLimits}. */
  limits: Partial<Limits>;
  /**
   * `SATCHEL_PROJECTIONS` (`on`, the default, or `off`): whether this instance runs the projection runner.
   * Several instances may all run it; a lease per projection lets one at a time run each.
   */
  runProjections: boolean;
}

const LIMIT_VARIABLES = {
  device: 'SATCHEL_RATE_DEVICE',
  account: 'SATCHEL_RATE_ACCOUNT',
  operator: 'SATCHEL_RATE_OPERATOR',
  events: 'SATCHEL_EVENT_QUOTA',
} as const;

/**
 * Reads the request limits and the event quota, each `<points>/<seconds>` (e.g. `SATCHEL_RATE_DEVICE=200/10`:
 * 200 requests per device per 10 s; `SATCHEL_EVENT_QUOTA=10000/3600`). Unset ones keep the server's
 * defaults. Throws for a value not of that form.
 */
export function readLimits(env: NodeJS.ProcessEnv): Partial<Limits> {
  const limits: { -readonly [K in keyof Limits]?: Limits[K] } = {};
  for (const [name, variable] of Object.entries(LIMIT_VARIABLES) as [keyof Limits, string][]) {
    const value = env[variable]?.trim();
    if (!value) continue;
    const m = /^(\d+)\s*\/\s*(\d+)\s*s?$/.exec(value);
    if (!m)
      throw new Error(`${variable} must be <points>/<seconds> (e.g. 200/10), got ${JSON.stringify(value)}`);
    limits[name] = { points: Number(m[1]), windowSec: Number(m[2]) };
  }
  return limits;
}

const CONNECTION_SETTINGS = [
  ['SATCHEL_MAX_CONNECTIONS', 'maxConnections'],
  ['SATCHEL_HEADERS_TIMEOUT_MS', 'headersTimeoutMs'],
  ['SATCHEL_REQUEST_TIMEOUT_MS', 'requestTimeoutMs'],
  ['SATCHEL_KEEP_ALIVE_TIMEOUT_MS', 'keepAliveTimeoutMs'],
] as const;

/** Reads the listener's bounds; each must be a positive integer. Throws naming the variable otherwise. */
export function readConnectionLimits(env: NodeJS.ProcessEnv): Required<ConnectionLimits> {
  const limits = { ...DEFAULT_CONNECTION_LIMITS };
  for (const [name, key] of CONNECTION_SETTINGS) {
    const text = env[name];
    if (text === undefined || text === '') continue;
    const value = Number(text);
    if (!Number.isInteger(value) || value < 1)
      throw new Error(`${name} must be a positive integer, got ${JSON.stringify(text)}`);
    limits[key] = value;
  }
  if (limits.headersTimeoutMs > limits.requestTimeoutMs)
    throw new Error('SATCHEL_HEADERS_TIMEOUT_MS must not exceed SATCHEL_REQUEST_TIMEOUT_MS');
  return limits;
}

/** A whole number of at least `min` from `name`, or undefined when unset. Throws naming the variable. */
function wholeNumber(env: NodeJS.ProcessEnv, name: string, min: number): number | undefined {
  const text = env[name];
  if (text === undefined || text === '') return undefined;
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < min)
    throw new Error(`${name} must be a whole number of at least ${min}, got ${JSON.stringify(text)}`);
  return value;
}

/** Reads the per-request bounds (see {@link Config.requestBounds}). Throws naming a variable that is invalid. */
export function readRequestBounds(env: NodeJS.ProcessEnv): Config['requestBounds'] {
  const bodyTimeoutMs = wholeNumber(env, 'SATCHEL_BODY_TIMEOUT_MS', 1);
  const maxWaiting = wholeNumber(env, 'SATCHEL_DEVICE_SYNC_QUEUE', 0);
  const waitMs = wholeNumber(env, 'SATCHEL_DEVICE_SYNC_WAIT_MS', 1);
  return {
    ...(bodyTimeoutMs === undefined ? {} : { bodyTimeoutMs }),
    deviceGate: {
      ...(maxWaiting === undefined ? {} : { maxWaiting }),
      ...(waitMs === undefined ? {} : { waitMs }),
    },
  };
}

/**
 * Reads `SATCHEL_ENV`: exactly `development` or `production`. Unset is refused too unless
 * `defaultEnv` is given (the CLI, which serves nothing, defaults to development). Throws otherwise.
 */
export function readSatchelEnv(env: NodeJS.ProcessEnv, defaultEnv?: SatchelEnv): SatchelEnv {
  const value = env.SATCHEL_ENV ?? defaultEnv;
  if (value === 'development' || value === 'production') return value;
  throw new Error(
    value === undefined
      ? "SATCHEL_ENV is not set: set it to 'development' or 'production' (pnpm start sets 'development')."
      : `SATCHEL_ENV must be exactly 'development' or 'production', got ${JSON.stringify(value)}: refusing to start.`,
  );
}

/**
 * Reads the configuration. Throws with a readable message when a value is invalid or unsafe: an unknown
 * `SATCHEL_ENV`, or in production a missing, development or guessable `SATCHEL_TOKEN_SECRET`
 * (see `productionSecretProblem`).
 */
export function loadConfig(
  env: NodeJS.ProcessEnv = process.env,
  options: { defaultEnv?: SatchelEnv } = {},
): Config {
  const mode = readSatchelEnv(env, options.defaultEnv);
  const production = mode === 'production';
  if (production) {
    const problem = productionSecretProblem(env.SATCHEL_TOKEN_SECRET);
    if (problem) throw new Error(`SATCHEL_ENV=production: ${problem}; refusing to start.`);
  }
  const tokenSecret = env.SATCHEL_TOKEN_SECRET || DEVELOPMENT_TOKEN_SECRET;
  const port = Number(env.PORT ?? 8787);
  if (!Number.isInteger(port) || port < 0 || port > 65_535)
    throw new Error(`PORT must be a port number, got ${env.PORT}`);
  const snapshotEvery = Number(env.SATCHEL_SNAPSHOT_EVERY ?? 100);
  if (!Number.isInteger(snapshotEvery) || snapshotEvery < 1)
    throw new Error('SATCHEL_SNAPSHOT_EVERY must be a positive integer');
  const projections = env.SATCHEL_PROJECTIONS ?? 'on';
  if (projections !== 'on' && projections !== 'off')
    throw new Error(`SATCHEL_PROJECTIONS must be 'on' or 'off', got ${JSON.stringify(projections)}`);
  const dataDir = env.SATCHEL_DATA_DIR
    ? resolve(env.SATCHEL_DATA_DIR)
    : fileURLToPath(new URL('../../../.satchel-data', import.meta.url));
  return {
    env: mode,
    port,
    host: env.HOST ?? '0.0.0.0',
    databaseUrl: env.DATABASE_URL || undefined,
    dataDir,
    mediaDir: env.SATCHEL_MEDIA_DIR ? resolve(env.SATCHEL_MEDIA_DIR) : resolve(dataDir, 'media'),
    tokenSecret,
    production,
    snapshotEvery,
    logLevel: env.LOG_LEVEL ?? 'info',
    demoAccountId: env.SATCHEL_DEMO_ACCOUNT ?? 'demo',
    corsOrigins: readCorsOrigins(env.SATCHEL_CORS_ORIGINS, production),
    connections: readConnectionLimits(env),
    requestBounds: readRequestBounds(env),
    limits: readLimits(env),
    runProjections: projections === 'on',
  };
}
