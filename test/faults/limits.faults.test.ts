// Red-team cases 6 (limits multiply) and 7 (no event quota) against the server on the real PostgreSQL,
// with its default limits: 200 requests per device and 600 per account per 10 s, 10,000 events per
// device per hour, 10 registered devices per account (R26).
import { CURRENT_EVENT_VERSIONS } from '@satchel/core';
import { createSatchelServer, DEFAULT_LIMITS, demoCatalogue, type SatchelServer } from '@satchel/server';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uuidv7 } from './lib/devices.js';
import { freshDatabase, openDb } from './lib/pg.js';
import { FAULTS_SECRET, ROOMY_PLAN } from './lib/seed.js';

let fresh: Awaited<ReturnType<typeof freshDatabase>>;
let server: SatchelServer;

// biome-ignore lint/suspicious/noExplicitAny: answers are inspected loosely
type Answer = { status: number; body: any };

const call = (method: string, path: string, token: string, body?: unknown): Promise<Answer> =>
  callOn(server, method, path, token, body);

async function callOn(
  on: SatchelServer,
  method: string,
  path: string,
  token: string,
  body?: unknown,
): Promise<Answer> {
  const headers: Record<string, string> = { authorization: `Bearer ${token}` };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await on.app.request(path, {
    method,
    headers,
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {}
  return { status: res.status, body: parsed };
}

async function account(plan = ROOMY_PLAN): Promise<{ accountId: string; token: string }> {
  const accountId = `limits-${uuidv7().slice(-12)}`;
  await server.service.createAccount(accountId, 'Limits household', plan);
  return { accountId, token: (await server.tokens.mint({ kind: 'account', accountId })).token };
}

beforeAll(async () => {
  fresh = await freshDatabase(undefined, 'satchel_limits');
  server = await createSatchelServer({
    db: openDb(fresh.url, 10),
    tokenSecret: FAULTS_SECRET,
    logger: pino({ level: 'silent' }),
  });
  await server.service.catalogue.put(demoCatalogue(Date.now()));
}, 120_000);
afterAll(async () => {
  await server?.db.close();
  await fresh?.drop();
});

describe('case 6: limits do not multiply', () => {
  it('an account registering 40 devices in a burst gets its plan’s 10; the rest are refused 403 DEVICE_LIMIT_REACHED', async () => {
    const { maxRegisteredDevices: _roomy, ...defaultPlan } = ROOMY_PLAN;
    const acct = await account(defaultPlan);
    const answers = await Promise.all(
      Array.from({ length: 40 }, (_, i) => call('POST', '/v1/devices', acct.token, { name: `d${i}` })),
    );
    expect(answers.filter((a) => a.status === 201)).toHaveLength(10);
    const refused = answers.filter((a) => a.status === 403);
    expect(refused).toHaveLength(30);
    expect(refused[0]?.body.error).toMatchObject({ code: 'DEVICE_LIMIT_REACHED', details: { limit: 10 } });
  });

  it('40 devices × 70 requests of one account: the account limit holds, not 40 × the device limit', async () => {
    // The default account limit counted over 5 minutes instead of 10 s, so the whole run (tens of
    // seconds on a loaded machine) falls in one window and the count is exact.
    const longWindow = await createSatchelServer({
      db: server.db,
      tokenSecret: FAULTS_SECRET,
      logger: pino({ level: 'silent' }),
      limits: { account: { points: DEFAULT_LIMITS.account.points, windowSec: 300 } },
    });
    const call = (method: string, path: string, token: string, body?: unknown) =>
      callOn(longWindow, method, path, token, body);
    const acct = await account();
    const tokens: string[] = [];
    for (let i = 0; i < 40; i++) {
      const res = await call('POST', '/v1/devices', acct.token, { name: `d${i}` });
      expect(res.status).toBe(201);
      tokens.push(res.body.token);
    }
    const statuses: number[] = [];
    const requests = tokens.flatMap((t) => Array.from({ length: 70 }, () => t));
    for (let i = 0; i < requests.length; i += 20) {
      const wave = requests.slice(i, i + 20).map((t) => call('GET', '/v1/licenses', t));
      for (const a of await Promise.all(wave)) statuses.push(a.status);
    }
    const ok = statuses.filter((s) => s === 200).length;
    // The 40 registrations were requests of the account too.
    expect(ok).toBe(DEFAULT_LIMITS.account.points - 40);
    expect(statuses.filter((s) => s === 429).length).toBe(40 * 70 - ok);
  }, 120_000);
});

describe('case 7: events per device are bounded', () => {
  it('one device pushing 52,500 PlaybackStopped events in 10 s, inside its rate limit, stores at most its quota', async () => {
    const acct = await account();
    const dev = await call('POST', '/v1/devices', acct.token, { name: 'flooder' });
    const { deviceId, token } = dev.body;
    const licence = await call('POST', '/v1/licenses', token, { titleId: 'night-train' });
    expect(licence.status).toBe(200);
    const licenseId = licence.body.license.licenseId;
    let seq = 1;
    let accepted = 0;
    const refusals: Answer[] = [];
    const started = Date.now();
    const batch = (n: number) => {
      const at = Date.now();
      return Array.from({ length: n }, (_, i) => ({
        eventId: uuidv7(at),
        seq: seq + i,
        type: 'PlaybackStopped',
        v: CURRENT_EVENT_VERSIONS.PlaybackStopped,
        occurredAt: at,
        trustedAt: at,
        data: { licenseId, deviceId, at, positionMs: i },
      }));
    };
    const sync = (events: unknown[]) =>
      call('POST', '/v1/sync', token, { protocolVersion: 1, deviceId, snapshotVersion: null, events });
    // 105 batches of 500: 105 requests, well inside 200 per 10 s.
    for (let b = 0; b < 105 && Date.now() - started < 60_000; b++) {
      const res = await sync(batch(500));
      if (res.status === 200) {
        seq += 500;
        accepted += res.body.results.filter((r: { status: string }) => r.status !== 'duplicate').length;
      } else refusals.push(res);
    }
    const quota = DEFAULT_LIMITS.events.points;
    // The licence's grant was the device's first counted event: every batch that fit was stored.
    expect(accepted).toBe(Math.floor((quota - 1) / 500) * 500);
    expect(refusals.length).toBeGreaterThanOrEqual(105 - quota / 500);
    expect(refusals.every((r) => r.status === 429)).toBe(true);
    expect(refusals[0]?.body.error).toMatchObject({
      code: 'RATE_LIMITED',
      details: { scope: 'events', limit: quota, windowSec: DEFAULT_LIMITS.events.windowSec },
    });
    expect(refusals[0]?.body.error.retryAfterMs).toBeGreaterThan(60_000);
    const stored = await server.db.query<{ n: string }>(
      'SELECT count(*) AS n FROM device_receipts WHERE account_id = $1 AND device_id = $2',
      [acct.accountId, deviceId],
    );
    expect(Number(stored[0]?.n)).toBe(accepted);
    // Counted exactly: what is left of the quota is still accepted, one more event is not.
    const left = quota - 1 - accepted;
    const rest = await sync(batch(left));
    expect(rest.status).toBe(200);
    expect(rest.body.results.filter((r: { status: string }) => r.status === 'accepted')).toHaveLength(left);
    seq += left;
    expect((await sync(batch(1))).status).toBe(429);
    // A licence request records a grant or a refusal: it counts too, and is refused once the quota is spent.
    const more = await call('POST', '/v1/licenses', token, { titleId: 'harbour-lights' });
    expect(more.status).toBe(429);
    expect(more.body.error.details.scope).toBe('events');
  }, 180_000);
});
