import { ErrorResponse } from '@satchel/protocol/schemas';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { Tokens } from '../auth.js';
import type { Database } from '../db/database.js';
import { ConflictRetriesExhaustedError } from '../errors.js';
import { Metrics } from '../metrics.js';
import type { SatchelService } from '../service.js';
import { createApp, READY_DEADLINE_MS } from './app.js';

const tokens = new Tokens('unit-secret-0123456789abcdef');
// The device's credential is current (generation 0, not revoked); every other query finds nothing.
const rows = (text: string) =>
  (text.includes('device_credentials') ? [{ generation: 0, revoked: false }] : []) as never[];
const db: Database = {
  kind: 'pglite',
  query: async (text: string) => rows(text),
  transaction: (fn) => fn({ query: async () => [] }),
  close: async () => {},
};

function appThrowing(error: unknown) {
  const service = {
    sync: async () => {
      throw error;
    },
  } as unknown as SatchelService;
  return createApp({ service, tokens, db, metrics: new Metrics(), logger: pino({ level: 'silent' }) });
}

async function sync(app: ReturnType<typeof createApp>) {
  const { token } = await tokens.mint({ kind: 'device', accountId: 'a1', deviceId: 'd1' });
  return app.request('/v1/sync', {
    method: 'POST',
    headers: {
      authorization: `Bearer ${token}`,
      'content-type': 'application/json',
      'x-request-id': 'rid-1',
    },
    body: JSON.stringify({ protocolVersion: 1, deviceId: 'd1', snapshotVersion: null, events: [] }),
  });
}

describe('HTTP error mapping', () => {
  it('answers exhausted conflict retries with a retryable 503 CONCURRENCY_CONFLICT and Retry-After', async () => {
    const res = await sync(appThrowing(new ConflictRetriesExhaustedError('a1', 8, 400)));
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('1');
    const body = ErrorResponse.parse(await res.json());
    expect(body.error).toMatchObject({ code: 'CONCURRENCY_CONFLICT', retryAfterMs: 400, requestId: 'rid-1' });
  });

  it('hides unexpected errors behind a typed 500 INTERNAL with the request id', async () => {
    const res = await sync(appThrowing(new Error('secret detail')));
    expect(res.status).toBe(500);
    const text = await res.text();
    expect(text).not.toContain('secret detail');
    expect(ErrorResponse.parse(JSON.parse(text)).error).toMatchObject({
      code: 'INTERNAL',
      requestId: 'rid-1',
    });
  });

  it('answers readiness with 503 UNAVAILABLE within its deadline when the database does not answer', async () => {
    const hanging = { query: () => new Promise(() => {}) } as unknown as Database;
    const service = {} as unknown as SatchelService;
    const app = createApp({
      service,
      tokens,
      db: hanging,
      metrics: new Metrics(),
      logger: pino({ level: 'silent' }),
    });
    const started = Date.now();
    const res = await app.request('/readyz');
    expect(res.status).toBe(503);
    expect(ErrorResponse.parse(await res.json()).error.code).toBe('UNAVAILABLE');
    expect(Date.now() - started).toBeLessThan(READY_DEADLINE_MS + 5_000);
  });

  it('answers readiness with 503 UNAVAILABLE when migrations are missing', async () => {
    const res = await appThrowing(null).request('/readyz');
    expect(res.status).toBe(503);
    expect(ErrorResponse.parse(await res.json()).error.code).toBe('UNAVAILABLE');
  });
});
