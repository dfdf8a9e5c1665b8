import { request } from 'node:http';
import { uuidv7 } from 'uuidv7';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../db/database.js';
import { pgliteDatabase } from '../db/pglite.js';
import { envelope, type Harness, harness, syncBody, T0 } from '../testing/harness.js';
import type { LimitRefusal } from './limits.js';

const refusal: LimitRefusal = { retryAfterMs: 4_000, details: { scope: 'device', limit: 3, windowSec: 10 } };
const later = <T>(ms: number, f: () => T | Promise<T>): Promise<T> =>
  new Promise<T>((resolve, reject) => setTimeout(() => Promise.resolve().then(f).then(resolve, reject), ms));

// The request limit of POST /v1/sync is counted while the body arrives and the merge reads: whatever ends
// the request first, its answer comes after, or never, without a write or an unhandled rejection.
describe('the lean sync handler with its request limit pending (PGlite over HTTP)', () => {
  let db: Database;
  let h: Harness;
  const unhandled: unknown[] = [];
  const onUnhandled = (e: unknown) => unhandled.push(e);
  beforeAll(async () => {
    process.on('unhandledRejection', onUnhandled);
    db = await pgliteDatabase();
    h = await harness(db, { http: true });
  });
  afterAll(async () => {
    process.off('unhandledRejection', onUnhandled);
    await h?.close();
    await db?.close();
  });

  const setup = async () => {
    const acct = await h.account();
    const dev = await h.device(acct.token);
    const body = () =>
      syncBody(dev.deviceId, [
        envelope(1, 'PlaybackStopped', { licenseId: uuidv7(), deviceId: dev.deviceId, positionMs: 1 }, T0),
      ]);
    const nothingWritten = async () => {
      const cursors = await h.server.service.deviceCursors(acct.accountId);
      expect(cursors.find((c) => c.deviceId === dev.deviceId)?.lastSeq ?? 0).toBe(0);
      expect(await h.server.service.deviceReceipts(acct.accountId, dev.deviceId, [1])).toEqual([]);
    };
    return { acct, dev, body, nothingWritten };
  };
  const withLimiter = async <T>(f: (typeof h.server.limits)['request'], run: () => Promise<T>) => {
    const original = h.server.limits.request;
    h.server.limits.request = f;
    try {
      return await run();
    } finally {
      h.server.limits.request = original;
    }
  };
  const settle = () => new Promise((r) => setTimeout(r, 300));

  it('a refusal known after the read: 429, nothing written', async () => {
    const { dev, body, nothingWritten } = await setup();
    const res = await withLimiter(
      () => later(100, () => refusal),
      () => h.call('POST', '/v1/sync', { token: dev.token, body: body() }),
    );
    expect(res.status).toBe(429);
    await nothingWritten();
    await settle();
    expect(unhandled).toEqual([]);
  });

  it('a limiter that rejects late: an error answer, nothing written, no unhandled rejection', async () => {
    const { dev, body, nothingWritten } = await setup();
    const res = await withLimiter(
      () => later(100, () => Promise.reject(new Error('store and fallback down'))),
      () => h.call('POST', '/v1/sync', { token: dev.token, body: body() }),
    );
    expect(res.status).toBeGreaterThanOrEqual(500);
    await nothingWritten();
    await settle();
    expect(unhandled).toEqual([]);
  });

  it('invalid JSON, the body of another device, a failing read, each with the limiter rejecting later: no write, no unhandled rejection', async () => {
    const { acct, dev, body, nothingWritten } = await setup();
    const rejectLate = () => later(150, () => Promise.reject(new Error('late')));
    const bad = await withLimiter(rejectLate, () =>
      h.call('POST', '/v1/sync', {
        token: dev.token,
        raw: '{"x":',
        headers: { 'content-type': 'application/json' },
      }),
    );
    expect(bad.status).toBe(400);
    const other = await h.device(acct.token, 'other');
    const wrong = await withLimiter(rejectLate, () =>
      h.call('POST', '/v1/sync', { token: other.token, body: body() }),
    );
    expect(wrong.status).toBe(403);
    // A failing read statement.
    // biome-ignore lint/suspicious/noExplicitAny: reaching the private store to make its read fail
    const store = (h.server.service.accounts as any).store;
    const load = store.loadDeviceBatch;
    store.loadDeviceBatch = () => Promise.reject(new Error('read failed'));
    const failed = await withLimiter(rejectLate, () =>
      h.call('POST', '/v1/sync', { token: dev.token, body: body() }),
    );
    store.loadDeviceBatch = load;
    expect(failed.status).toBe(500);
    await nothingWritten();
    await new Promise((r) => setTimeout(r, 400));
    expect(unhandled).toEqual([]);
  });

  it('a body that fails part-way (client gone) while the limiter is pending, then rejects or refuses', async () => {
    const { dev } = await setup();
    const listener = await h.server.listen(0, '127.0.0.1');
    const partial = () =>
      new Promise<void>((resolve) => {
        const req = request({
          host: '127.0.0.1',
          port: listener.port,
          method: 'POST',
          path: '/v1/sync',
          headers: {
            authorization: `Bearer ${dev.token}`,
            'content-type': 'application/json',
            'content-length': '100000',
          },
        });
        req.on('error', () => resolve());
        req.write('{"protocolVersion":1,');
        setTimeout(() => {
          req.destroy();
          resolve();
        }, 50);
      });
    await withLimiter(() => later(200, () => Promise.reject(new Error('late'))), partial);
    await withLimiter(() => later(200, () => refusal), partial);
    // Refused at once, the body never completes.
    await withLimiter(() => Promise.resolve(refusal), partial);
    await new Promise((r) => setTimeout(r, 500));
    await listener.close();
    expect(unhandled).toEqual([]);
  });
});
