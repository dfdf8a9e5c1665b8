import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEVELOPMENT_TOKEN_SECRET } from '@satchel/server';
import { type CorsOrigins, readCorsOrigins } from './cors.js';

/** The reference server's settings, from the environment (docs/operations.md lists them). */
export interface Config {
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
}

/** Reads the configuration. Throws with a readable message when a value is invalid or unsafe. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const production = env.NODE_ENV === 'production';
  const tokenSecret = env.SATCHEL_TOKEN_SECRET ?? DEVELOPMENT_TOKEN_SECRET;
  if (production && tokenSecret === DEVELOPMENT_TOKEN_SECRET) {
    throw new Error(
      'NODE_ENV=production but SATCHEL_TOKEN_SECRET is not set: refusing to sign tokens with the development secret.',
    );
  }
  const port = Number(env.PORT ?? 8787);
  if (!Number.isInteger(port) || port < 0 || port > 65_535)
    throw new Error(`PORT must be a port number, got ${env.PORT}`);
  const snapshotEvery = Number(env.SATCHEL_SNAPSHOT_EVERY ?? 100);
  if (!Number.isInteger(snapshotEvery) || snapshotEvery < 1)
    throw new Error('SATCHEL_SNAPSHOT_EVERY must be a positive integer');
  const dataDir = env.SATCHEL_DATA_DIR
    ? resolve(env.SATCHEL_DATA_DIR)
    : fileURLToPath(new URL('../../../.satchel-data', import.meta.url));
  return {
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
  };
}

const pidFile = (dataDir: string) => resolve(dataDir, 'server.pid');

/** Creates the PGlite data directory and records this process as its user. */
export function claimDataDir(dataDir: string): string {
  mkdirSync(dataDir, { recursive: true });
  return pidFile(dataDir);
}

/** The pid of a live server using this PGlite data directory, or null. */
export function dataDirOwner(dataDir: string): number | null {
  const file = pidFile(dataDir);
  if (!existsSync(file)) return null;
  const pid = Number(readFileSync(file, 'utf8').trim());
  if (!Number.isInteger(pid) || pid === process.pid) return null;
  try {
    process.kill(pid, 0);
    return pid;
  } catch {
    return null;
  }
}

const urlFile = (dataDir: string) => resolve(dataDir, 'server.url');

/** Records where the server using this PGlite directory listens, so the CLI can speak to it. */
export function recordServerUrl(dataDir: string, url: string): string {
  const file = urlFile(dataDir);
  writeFileSync(file, url);
  return file;
}

/**
 * The running server that owns this PGlite directory, or null when none runs: its pid and, once it
 * listens, its URL.
 */
export function runningServer(dataDir: string): { pid: number; url: string | null } | null {
  const pid = dataDirOwner(dataDir);
  if (pid === null) return null;
  const file = urlFile(dataDir);
  return { pid, url: existsSync(file) ? readFileSync(file, 'utf8').trim() || null : null };
}
