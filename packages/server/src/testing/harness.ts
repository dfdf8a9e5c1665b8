import { CURRENT_EVENT_VERSIONS, type DeviceEventType, type Plan } from '@satchel/core';
import { pino } from 'pino';
import { uuidv7 } from 'uuidv7';
import { demoCatalogue } from '../catalogue.js';
import type { Database } from '../db/database.js';
import type { LicenseProxyOptions } from '../http/license-proxy.js';
import type { Limits } from '../http/limits.js';
import { createSatchelServer, type Listener, type SatchelServer } from '../server.js';

export const TEST_SECRET = 'test-secret-0123456789abcdef';
export const T0 = Date.UTC(2026, 0, 5, 12, 0, 0);

export interface Harness {
  server: SatchelServer;
  clock: { now: number };
  call(
    method: string,
    path: string,
    options?: { token?: string; body?: unknown; raw?: string; headers?: Record<string, string> },
    // biome-ignore lint/suspicious/noExplicitAny: tests inspect JSON answers loosely
  ): Promise<{ status: number; body: any; headers: Headers }>;
  account(plan?: Plan): Promise<{ accountId: string; token: string }>;
  device(accountToken: string, name?: string): Promise<{ deviceId: string; token: string }>;
  /** Closes the HTTP listener, if any. */
  close(): Promise<void>;
}

/** A server on `db` with the demo catalogue, a settable clock and quiet logs. */
export async function harness(
  db: Database,
  options: {
    rateLimit?: { burst: number; perSecond: number };
    limits?: Partial<Limits>;
    snapshotEvery?: number;
    maxBodyBytes?: number;
    licenseProxy?: LicenseProxyOptions;
    /**
     * Call over a real HTTP listener (`server.listen`: the lean `POST /v1/sync` and the Hono app) rather
     * than the Hono app in process.
     */
    http?: boolean;
  } = {},
): Promise<Harness> {
  const clock = { now: T0 };
  const server = await createSatchelServer({
    db,
    tokenSecret: TEST_SECRET,
    logger: pino({ level: 'silent' }),
    now: () => clock.now,
    rateLimit: options.rateLimit ?? { burst: 10_000, perSecond: 10_000 },
    ...(options.limits === undefined ? {} : { limits: options.limits }),
    ...(options.snapshotEvery === undefined ? {} : { snapshotEvery: options.snapshotEvery }),
    ...(options.maxBodyBytes === undefined ? {} : { maxBodyBytes: options.maxBodyBytes }),
    ...(options.licenseProxy === undefined ? {} : { licenseProxy: options.licenseProxy }),
  });
  await server.service.catalogue.put(demoCatalogue(T0));
  const listener: Listener | null = options.http ? await server.listen(0, '127.0.0.1') : null;
  const call: Harness['call'] = async (method, path, o = {}) => {
    const headers: Record<string, string> = { ...o.headers };
    if (o.token) headers.authorization = `Bearer ${o.token}`;
    let body: string | undefined;
    if (o.raw !== undefined) body = o.raw;
    else if (o.body !== undefined) {
      body = JSON.stringify(o.body);
      headers['content-type'] ??= 'application/json';
    }
    const init = { method, headers, ...(body === undefined ? {} : { body }) };
    const res = listener
      ? await fetch(`http://127.0.0.1:${listener.port}${path}`, init)
      : await server.app.request(path, init);
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {}
    return { status: res.status, body: parsed, headers: res.headers };
  };
  return {
    server,
    clock,
    call,
    close: async () => {
      await listener?.close();
    },
    async account(plan) {
      const accountId = `acct-${uuidv7().slice(-12)}`;
      await server.service.createAccount(accountId, 'Test household', plan);
      const { token } = await server.tokens.mint({ kind: 'account', accountId });
      return { accountId, token };
    },
    async device(accountToken, name = 'Test device') {
      const res = await call('POST', '/v1/devices', { token: accountToken, body: { name } });
      if (res.status !== 201) throw new Error(`register failed: ${res.status} ${JSON.stringify(res.body)}`);
      return { deviceId: res.body.deviceId, token: res.body.token };
    },
  };
}

/** A device event envelope as the SDK sends it. */
export function envelope(
  seq: number,
  type: DeviceEventType,
  data: Record<string, unknown>,
  at: number,
  overrides: Record<string, unknown> = {},
) {
  return {
    eventId: uuidv7(),
    seq,
    type,
    v: CURRENT_EVENT_VERSIONS[type],
    occurredAt: at,
    trustedAt: at,
    data: { at, ...data },
    ...overrides,
  };
}

export const syncBody = (deviceId: string, events: unknown[], snapshotVersion: number | null = null) => ({
  protocolVersion: 1,
  deviceId,
  snapshotVersion,
  events,
});
