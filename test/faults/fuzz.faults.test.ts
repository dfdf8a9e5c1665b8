// Bad input, generated with fast-check and sent over real HTTP (keep-alive, modest concurrency) to the
// server on a real PostgreSQL: malformed JSON, wrong types, huge strings, deep nesting, unknown event
// types, timestamps out of range, negative/skipped/duplicate seqs, duplicate eventIds in one batch,
// invalid UTF-8, 10 MB bodies, bad tokens and headers, on every route; bodies nested up to 524 287 deep
// (1 MiB), bodies just over the limit, slow bodies, back-dated events from a deactivated device's token,
// re-registrations of active devices with no, a wrong or the right secret under the wrong token, and
// tokens without exp, iat or sub. Every answer must be a 4xx with a typed ErrorResponse whose code maps to
// that status (a deactivated device's sync: a 200 refusing every event, typed); none may hang; the
// database must be unchanged (so nothing lost, nothing doubled).

import { Agent, request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';
import { CURRENT_EVENT_VERSIONS } from '@satchel/core';
import { DEVICE_EVENT_TYPES, ERROR_CODES } from '@satchel/protocol';
import { ErrorResponse, LicenseRequest, RegisterDeviceRequest, SyncRequest } from '@satchel/protocol/schemas';
import { createSatchelServer, type Database, type SatchelServer } from '@satchel/server';
import fc from 'fast-check';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addCounters } from './lib/counters.js';
import { uuidv7 } from './lib/devices.js';
import { fingerprint, freePort, freshDatabase, openDb } from './lib/pg.js';
import { FAULTS_SECRET, ROOMY_PLAN } from './lib/seed.js';
import { bundle, ServerProcess } from './lib/server-process.js';
import { forgedTokens } from './lib/tokens.js';

const TOTAL = Number(process.env.SATCHEL_FUZZ_REQUESTS ?? 100_000);
const CONCURRENCY = 12;
const SEED = Number(process.env.SATCHEL_FUZZ_SEED ?? Date.now() % 1_000_000);

type Body = Record<string, unknown>;

interface Fuzzed {
  family: string;
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string | Uint8Array;
}

let pg: Awaited<ReturnType<typeof freshDatabase>>;
let db: Database;
let server: SatchelServer;
let child: ServerProcess;
let base: string;
const ctx = {
  accountA: '',
  accountB: '',
  d1: '',
  d2: '',
  e1: '',
  licenseD1: '',
  cursorD1: 0,
  tokenD1: '',
  tokenD2: '',
  tokenE1: '',
  tokenA: '',
  bad: {} as Record<string, string>,
  /** d1's device secret (generated at its registration). */
  d1Secret: '',
  /** A device of account A deactivated after it got a licence, its token from before, and when. */
  x: '',
  tokenX: '',
  licenseX: '',
  deactivatedAt: 0,
  /** The back-dated batch x sent once after its deactivation (seqs 1–5, all refused; x's cursor is 5). */
  xEvents: [] as Array<Record<string, unknown>>,
  /** Devices the well-formed sync bodies are spread over: one device's syncs queue on its cursor row. */
  fuzzDevices: [] as Array<{ deviceId: string; token: string; cursor: number }>,
};
const FUZZ_DEVICES = 16;
const MIB = 1024 * 1024;

beforeAll(async () => {
  pg = await freshDatabase();
  db = openDb(pg.url, 10);
  server = await createSatchelServer({
    db,
    tokenSecret: FAULTS_SECRET,
    logger: pino({ level: 'silent' }),
  });
  const { demoCatalogue } = await import('@satchel/server');
  await server.service.catalogue.put(demoCatalogue(Date.now()));
  ctx.accountA = `fuzz-a-${uuidv7().slice(-8)}`;
  ctx.accountB = `fuzz-b-${uuidv7().slice(-8)}`;
  await server.service.createAccount(ctx.accountA, 'Fuzz A', ROOMY_PLAN);
  await server.service.createAccount(ctx.accountB, 'Fuzz B', ROOMY_PLAN);
  const registeredD1 = await server.service.registerDevice(ctx.accountA, { deviceId: uuidv7(), name: 'd1' });
  ctx.d1 = registeredD1.deviceId;
  ctx.d1Secret = registeredD1.generatedSecret ?? '';
  ctx.d2 = (await server.service.registerDevice(ctx.accountA, { deviceId: uuidv7(), name: 'd2' })).deviceId;
  ctx.e1 = (await server.service.registerDevice(ctx.accountB, { deviceId: uuidv7(), name: 'e1' })).deviceId;
  const mint = async (accountId: string, deviceId: string) =>
    (await server.tokens.mint({ kind: 'device', accountId, deviceId })).token;
  ctx.tokenD1 = await mint(ctx.accountA, ctx.d1);
  ctx.tokenD2 = await mint(ctx.accountA, ctx.d2);
  ctx.tokenE1 = await mint(ctx.accountB, ctx.e1);
  ctx.tokenA = (await server.tokens.mint({ kind: 'account', accountId: ctx.accountA })).token;
  ctx.bad = await forgedTokens(
    server.tokens,
    { kind: 'device', accountId: ctx.accountA, deviceId: ctx.d1 },
    FAULTS_SECRET,
  );
  ctx.x = (await server.service.registerDevice(ctx.accountA, { deviceId: uuidv7(), name: 'x' })).deviceId;
  ctx.tokenX = await mint(ctx.accountA, ctx.x);
  const grantedX = await server.service.requestLicense(ctx.accountA, ctx.x, { titleId: 'quiet-river' });
  if (grantedX.outcome !== 'granted') throw new Error('seed licence of x refused');
  ctx.licenseX = grantedX.license.licenseId;
  ctx.deactivatedAt = Date.now();
  await server.service.deactivateDevice(ctx.accountA, ctx.x);
  // Its back-dated events are refused and acknowledged as refused (the receipts written here, before the
  // fuzz's fingerprint): the fuzz replays them and sends others in their seqs and beyond.
  ctx.xEvents = [
    'PlaybackStarted',
    'PlaybackStopped',
    'LicenseExpiryObserved',
    'ClockRollbackDetected',
    'PlaybackStarted',
  ].map((type, i) => backDated(type, i + 1, 60_000 * (i + 1)));
  const refused = await server.service.sync(ctx.accountA, ctx.x, {
    protocolVersion: 1,
    deviceId: ctx.x,
    snapshotVersion: null,
    events: ctx.xEvents as SyncRequest['events'],
  });
  if (!refused.results.every((r) => r.status === 'rejected' && r.code === 'DEVICE_DEACTIVATED'))
    throw new Error(`a deactivated device's events were not all refused: ${JSON.stringify(refused.results)}`);
  const granted = await server.service.requestLicense(ctx.accountA, ctx.d1, { titleId: 'quiet-river' });
  if (granted.outcome !== 'granted') throw new Error('seed licence refused');
  ctx.licenseD1 = granted.license.licenseId;
  const now = Date.now();
  const events = [1, 2, 3].map((seq) => validEvent(seq, now));
  await server.service.sync(ctx.accountA, ctx.d1, {
    protocolVersion: 1,
    deviceId: ctx.d1,
    snapshotVersion: null,
    events: events as SyncRequest['events'],
  });
  ctx.cursorD1 = 3;
  ctx.fuzzDevices.push({ deviceId: ctx.d1, token: ctx.tokenD1, cursor: ctx.cursorD1 });
  for (let i = 1; i < FUZZ_DEVICES; i++) {
    const { deviceId } = await server.service.registerDevice(ctx.accountA, {
      deviceId: uuidv7(),
      name: `fuzz ${i}`,
    });
    ctx.fuzzDevices.push({ deviceId, token: await mint(ctx.accountA, deviceId), cursor: 0 });
  }
  // The server under test runs in its own process with a rate limit too high to matter (100 000 requests
  // in a minute or two; the limiter itself is tested in security.test.ts).
  child = new ServerProcess({
    bundle: await bundle(fileURLToPath(new URL('./lib/fuzz-server.ts', import.meta.url)), 'fuzz-server.mjs'),
    port: await freePort(),
    env: { DATABASE_URL: pg.url, SATCHEL_TOKEN_SECRET: FAULTS_SECRET },
  });
  await child.start();
  base = child.url;
}, 120_000);

afterAll(async () => {
  await child?.kill('SIGTERM');
  await db?.close();
  await pg?.drop();
});

function validEvent(seq: number, at: number, deviceId = ctx.d1): Record<string, unknown> {
  return seq % 2 === 0
    ? {
        eventId: uuidv7(at),
        seq,
        type: 'PlaybackStopped',
        v: CURRENT_EVENT_VERSIONS.PlaybackStopped,
        occurredAt: at,
        trustedAt: at,
        data: { licenseId: ctx.licenseD1, deviceId, at, positionMs: seq * 1000 },
      }
    : {
        eventId: uuidv7(at),
        seq,
        type: 'ClockRollbackDetected',
        v: 1,
        occurredAt: at,
        trustedAt: at,
        data: { deviceId, at, wallClockAt: at - 10_000, behindMs: 10_000 },
      };
}

/** An event of the deactivated device x, dated `back` ms before its deactivation. */
function backDated(type: string, seq: number, back: number): Record<string, unknown> {
  const at = ctx.deactivatedAt - back;
  const data =
    type === 'ClockRollbackDetected'
      ? { deviceId: ctx.x, at, wallClockAt: at - 10_000, behindMs: 10_000 }
      : type === 'LicenseExpiryObserved'
        ? { licenseId: ctx.licenseX, deviceId: ctx.x, at, reason: 'RENTAL' }
        : { licenseId: ctx.licenseX, deviceId: ctx.x, at, positionMs: 1000 };
  return {
    eventId: uuidv7(at),
    seq,
    type,
    v: CURRENT_EVENT_VERSIONS[type as keyof typeof CURRENT_EVENT_VERSIONS],
    occurredAt: at,
    trustedAt: at,
    data,
  };
}

const json = { 'content-type': 'application/json' };
const auth = (token: string) => ({ authorization: `Bearer ${token}` });

// ---- generators -------------------------------------------------------------------------------------

const hostileString = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.constantFrom(
    "'; DROP TABLE events; --",
    '" OR 1=1 --',
    '\u0000',
    'a\u0000b',
    '\ud800',
    '\udfff\ud800',
    '💥'.repeat(50),
    '../../etc/passwd',
    '%00',
    `\${7*7}`,
    '<script>alert(1)</script>',
    '__proto__',
    'constructor',
  ),
  fc
    .oneof(
      { arbitrary: fc.integer({ min: 129, max: 5_000 }), weight: 9 },
      { arbitrary: fc.integer({ min: 5_000, max: 200_000 }), weight: 1 },
    )
    .map((n) => 'x'.repeat(n)),
);
const anyJson = fc.oneof(
  { depthSize: 'small' },
  fc.jsonValue({ maxDepth: 3 }),
  hostileString,
  fc.constantFrom(null, true, -1, 0, 1.5, -0, 1e308, -1e308, Number.MAX_SAFE_INTEGER + 2, [], {}),
);
const deep = (depth: number, leaf: unknown): unknown => {
  let v = leaf;
  for (let i = 0; i < depth; i++) v = i % 2 === 0 ? { a: v } : [v];
  return v;
};
const badInstant = fc.oneof(
  fc.integer({ max: -1 }),
  fc.constantFrom(8.64e15 + 1, 1e300, -1e300, 1.5, '2026-01-01T00:00:00Z', null),
  fc.double({ noNaN: true }).filter((d) => !Number.isInteger(d) || d < 0 || d > 8.64e15),
);
const edgeInstant = fc.constantFrom(0, 1, 8.64e15, Date.UTC(1970, 0, 1), Date.UTC(9999, 0, 1));
const badSeq = fc.oneof(
  fc.integer({ max: 0 }),
  fc.constantFrom(1.5, -1, '1', null, Number.MAX_SAFE_INTEGER + 2),
);

/** One mutation of a valid sync body; may or may not leave it schema-valid (see `neverWrites`). */
const syncMutation: fc.Arbitrary<(body: Record<string, unknown>) => void> = fc.oneof(
  anyJson.map((v) => (b: Body) => {
    b.protocolVersion = v;
  }),
  anyJson.map((v) => (b: Body) => {
    b.deviceId = v;
  }),
  anyJson.map((v) => (b: Body) => {
    b.snapshotVersion = v;
  }),
  anyJson.map((v) => (b: Body) => {
    b.events = v;
  }),
  fc
    .constantFrom('protocolVersion', 'deviceId', 'snapshotVersion', 'events')
    .map((k) => (b: Body) => void delete b[k]),
  fc.constantFrom(ctx).map(() => (b: Body) => {
    b.deviceId = ctx.d2;
  }),
  fc.constantFrom(ctx).map(() => (b: Body) => {
    b.deviceId = ctx.e1;
  }),
  fc
    .tuple(
      fc.nat(),
      fc.constantFrom('eventId', 'seq', 'type', 'v', 'occurredAt', 'trustedAt', 'data'),
      anyJson,
    )
    .map(([i, k, v]) => (b: Body) => {
      const events = b.events as Record<string, unknown>[];
      const e = events[i % events.length];
      if (e) e[k] = v;
    }),
  fc.tuple(fc.nat(), fc.string({ minLength: 1, maxLength: 30 })).map(([i, type]) => (b: Body) => {
    const e = (b.events as Record<string, unknown>[])[i % (b.events as unknown[]).length];
    if (e) e.type = (DEVICE_EVENT_TYPES as readonly string[]).includes(type) ? `${type}X` : type;
  }),
  fc
    .tuple(fc.nat(), fc.constantFrom('occurredAt', 'trustedAt'), fc.oneof(badInstant, edgeInstant))
    .map(([i, k, v]) => (b: Body) => {
      const e = (b.events as Record<string, unknown>[])[i % (b.events as unknown[]).length];
      if (e) e[k] = v;
    }),
  fc.tuple(fc.nat(), edgeInstant).map(([i, v]) => (b: Body) => {
    const e = (b.events as Array<{ data: Record<string, unknown> }>)[i % (b.events as unknown[]).length];
    if (e) e.data.at = v;
  }),
  fc.tuple(fc.nat(), badSeq).map(([i, v]) => (b: Body) => {
    const e = (b.events as Record<string, unknown>[])[i % (b.events as unknown[]).length];
    if (e) e.seq = v;
  }),
  fc.constant((b: Record<string, unknown>) => {
    const events = b.events as Array<Record<string, unknown>>;
    if (events.length > 1 && events[0] && events[1]) events[1].eventId = events[0].eventId;
  }),
  fc.constant((b: Record<string, unknown>) => {
    const events = b.events as Array<Record<string, unknown>>;
    if (events.length > 1 && events[0] && events[1]) events[1].seq = events[0].seq;
  }),
  fc.constant((b: Record<string, unknown>) => void (b.events as unknown[]).reverse()),
  fc.integer({ min: 501, max: 700 }).map((n) => (b: Body) => {
    const template = validEvent(ctx.cursorD1 + 2, Date.now());
    b.events = Array.from({ length: n }, (_, i) => ({ ...template, seq: ctx.cursorD1 + 2 + i }));
  }),
  fc.tuple(fc.nat(), fc.integer({ min: 2, max: 3000 })).map(([i, depth]) => (b: Body) => {
    const e = (b.events as Array<{ data: Record<string, unknown> }>)[i % (b.events as unknown[]).length];
    if (e) e.data.nested = deep(depth, 'leaf');
  }),
  fc.tuple(fc.nat(), hostileString, hostileString).map(([i, k, v]) => (b: Body) => {
    const e = (b.events as Array<{ data: Record<string, unknown> }>)[i % (b.events as unknown[]).length];
    if (e) {
      e.data[k] = v;
      e.data.licenseId = v;
    }
  }),
  fc.tuple(fc.nat(), fc.integer({ min: 2, max: 1000 })).map(([i, v]) => (b: Body) => {
    const e = (b.events as Record<string, unknown>[])[i % (b.events as unknown[]).length];
    if (e) e.v = v;
  }),
);

/**
 * Makes sure a body the schema accepts still cannot write: its first seq is pushed past the device's
 * cursor + 1 (a gap, refused whole), and an empty batch gets one such event.
 */
function neverWrites(body: Record<string, unknown>, skip: number, cursor: number): string {
  const text = JSON.stringify(body);
  const parsed = SyncRequest.safeParse(JSON.parse(text));
  if (!parsed.success) return text;
  const events = body.events as Array<Record<string, unknown>>;
  if (events.length === 0) events.push(validEvent(cursor + 2 + skip, Date.now()));
  const first = Number(events[0]?.seq);
  const shift = cursor + 2 + skip - first;
  for (const e of events) e.seq = Number(e.seq) + shift;
  return JSON.stringify(body);
}

const syncFuzz: fc.Arbitrary<Fuzzed> = fc
  .tuple(
    fc.nat({ max: FUZZ_DEVICES - 1 }),
    fc.integer({ min: 0, max: 6 }),
    fc.array(syncMutation, { minLength: 0, maxLength: 3 }),
    fc.nat({ max: 1000 }),
  )
  .map(([d, n, mutations, skip]) => {
    const device = ctx.fuzzDevices[d] ?? { deviceId: ctx.d1, token: ctx.tokenD1, cursor: ctx.cursorD1 };
    const at = Date.now();
    const fresh = (): Record<string, unknown> => ({
      protocolVersion: 1,
      deviceId: device.deviceId,
      snapshotVersion: null,
      events: Array.from({ length: n }, (_, i) => validEvent(device.cursor + 1 + i, at, device.deviceId)),
    });
    const body = fresh();
    for (const m of mutations) {
      try {
        m(body);
      } catch {}
    }
    let text: string;
    try {
      text = Array.isArray(body.events) ? neverWrites(body, skip, device.cursor) : JSON.stringify(body);
    } catch {
      // The mutations made the body refer to itself, which no JSON text (so no device) can send: the
      // unmutated batch goes instead, still made unable to write.
      text = neverWrites(fresh(), skip, device.cursor);
    }
    return {
      family: 'sync-body',
      method: 'POST',
      path: '/v1/sync',
      headers: { ...json, ...auth(device.token) },
      body: text,
    };
  });

const gapBody = () => {
  const at = Date.now();
  return {
    protocolVersion: 1,
    deviceId: ctx.d1,
    snapshotVersion: null,
    events: [validEvent(ctx.cursorD1 + 5, at), validEvent(ctx.cursorD1 + 6, at)],
  };
};

const malformedJson: fc.Arbitrary<Fuzzed> = fc
  .oneof(
    fc.nat().map((cut) => {
      const text = JSON.stringify(gapBody());
      return text.slice(0, cut % text.length);
    }),
    fc.string({ maxLength: 200 }).filter((s) => {
      try {
        JSON.parse(s);
        return false;
      } catch {
        return true;
      }
    }),
    fc.constantFrom(
      'null',
      '[]',
      '42',
      '"x"',
      'true',
      '{}',
      '{"events":[',
      '\ufeff{}',
      '{"a":1,}',
      "{'a':1}",
    ),
    fc.integer({ min: 1000, max: 200_000 }).map((n) => `${'['.repeat(n)}${']'.repeat(n)}`),
    fc.integer({ min: 1000, max: 100_000 }).map((n) => `${'{"a":'.repeat(n)}1${'}'.repeat(n)}`),
  )
  .map((body) => ({
    family: 'malformed-json',
    method: 'POST',
    path: '/v1/sync',
    headers: { ...json, ...auth(ctx.tokenD1) },
    body,
  }));

const invalidUtf8: fc.Arbitrary<Fuzzed> = fc
  .tuple(
    fc.array(
      fc.tuple(
        fc.nat(),
        fc.constantFrom(
          [0xff],
          [0xc3, 0x28],
          [0xed, 0xa0, 0x80],
          [0xf8, 0x88, 0x80, 0x80, 0x80],
          [0x80],
          [0xe2, 0x82],
        ),
      ),
      {
        minLength: 1,
        maxLength: 4,
      },
    ),
  )
  .map(([inserts]) => {
    let bytes = Buffer.from(JSON.stringify(gapBody()));
    for (const [at, insert] of inserts) {
      const i = at % bytes.length;
      bytes = Buffer.concat([bytes.subarray(0, i), Buffer.from(insert), bytes.subarray(i)]);
    }
    return {
      family: 'invalid-utf8',
      method: 'POST',
      path: '/v1/sync',
      headers: { ...json, ...auth(ctx.tokenD1) },
      body: new Uint8Array(bytes),
    };
  });

const headerFuzz: fc.Arbitrary<Fuzzed> = fc
  .tuple(
    fc.oneof(
      fc.constantFrom<Record<string, string>>(
        {},
        { 'content-type': 'text/plain' },
        { 'content-type': 'application/xml' },
        { 'content-type': 'multipart/form-data' },
      ),
      fc.constant(json),
    ),
    fc.oneof(
      fc
        .constantFrom(
          'expired',
          'tamperedPayload',
          'tamperedSignature',
          'otherSecret',
          'algNone',
          'wrongAudience',
          'garbage',
          'empty',
          'noExp',
          'noIat',
          'noSub',
        )
        .map((k) => ({ authorization: `Bearer ${ctx.bad[k] ?? ''}` })),
      fc.constantFrom<Record<string, string>>(
        {},
        { authorization: 'Basic dXNlcjpwYXNz' },
        { authorization: 'Bearer' },
      ),
      fc.constant(null),
    ),
    fc.oneof(
      fc.constant({}),
      fc.constantFrom('0', '999', 'abc', '-1', '1.5', '').map((v) => ({ 'satchel-protocol-version': v })),
    ),
    fc.constantFrom('bad-auth', 'other-principal'),
  )
  .map(([type, authHeader, version, kind]) => {
    const body = JSON.stringify(gapBody());
    if (kind === 'other-principal' || authHeader === null) {
      // A valid body with a token that may not push it: another account's device, or the account token.
      const token = kind === 'other-principal' ? ctx.tokenE1 : ctx.tokenA;
      return {
        family: 'headers',
        method: 'POST',
        path: '/v1/sync',
        headers: { ...json, ...version, ...auth(token) },
        body,
      };
    }
    const hasCredentials = Object.keys(authHeader).length > 0 || Object.keys(version).length > 0;
    const headers = { ...type, ...authHeader, ...version };
    if (!hasCredentials) Object.assign(headers, auth(ctx.bad.expired ?? ''));
    return { family: 'headers', method: 'POST', path: '/v1/sync', headers, body };
  });

const registerFuzz: fc.Arbitrary<Fuzzed> = fc
  .tuple(
    fc.record({
      deviceId: fc.option(fc.oneof(fc.uuid(), hostileString), { nil: undefined }),
      name: fc.oneof(hostileString, fc.constantFrom('')),
      platform: fc.option(fc.oneof(fc.constantFrom('web', 'tv'), hostileString), { nil: undefined }),
    }),
    fc.boolean(),
  )
  .map(([body, deviceToken]) => {
    const text = JSON.stringify(body);
    const parsed = RegisterDeviceRequest.safeParse(JSON.parse(text));
    // A body the schema accepts would register a device: send it with a device token (403) instead.
    const token = deviceToken || parsed.success ? ctx.tokenD1 : ctx.tokenA;
    return {
      family: 'register',
      method: 'POST',
      path: '/v1/devices',
      headers: { ...json, ...auth(token) },
      body: text,
    };
  });

const licenseFuzz: fc.Arbitrary<Fuzzed> = fc
  .record({
    titleId: fc.oneof(hostileString, fc.stringMatching(/^[A-Za-z0-9._:-]{1,20}$/)),
    licenseId: fc.option(fc.oneof(fc.uuid(), fc.constant(uuidv7()), hostileString), { nil: undefined }),
  })
  .map((body) => {
    const parsed = LicenseRequest.safeParse(JSON.parse(JSON.stringify(body)));
    // Only titles that are not in the catalogue: a known one would be granted.
    if (parsed.success) body.titleId = `no-such-${String(body.titleId).slice(0, 40)}`;
    return {
      family: 'licenses',
      method: 'POST',
      path: '/v1/licenses',
      headers: { ...json, ...auth(ctx.tokenD1) },
      body: JSON.stringify(body),
    };
  });

const percentEncode = (s: string) =>
  [...Buffer.from(s, 'utf8')].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('');

const pathFuzz: fc.Arbitrary<Fuzzed> = fc
  .tuple(
    fc.oneof(
      fc.uuid(),
      fc.constant(uuidv7()),
      hostileString.map((s) => percentEncode(s.slice(0, 300))),
    ),
    fc.constantFrom(
      'renew',
      'release',
      'delete-own-token',
      'delete-account-token',
      'unknown-route',
      'wrong-method',
      'get-bad-token',
    ),
  )
  .map(([id, kind]) => {
    const h = { ...json, ...auth(ctx.tokenD1) };
    switch (kind) {
      case 'renew':
      case 'release':
        return {
          family: 'paths',
          method: 'POST',
          path: `/v1/licenses/${id}/${kind}`,
          headers: h,
          body: '{}',
        };
      case 'delete-own-token':
        return { family: 'paths', method: 'DELETE', path: `/v1/devices/${id}`, headers: h };
      case 'delete-account-token':
        return {
          family: 'paths',
          method: 'DELETE',
          path: `/v1/devices/${id}`,
          headers: { ...json, ...auth(ctx.tokenA) },
        };
      case 'unknown-route':
        return { family: 'paths', method: 'POST', path: `/v1/${id}`, headers: h, body: '{}' };
      case 'wrong-method':
        return {
          family: 'paths',
          method: 'PUT',
          path: '/v1/sync',
          headers: h,
          body: JSON.stringify(gapBody()),
        };
      default:
        return {
          family: 'paths',
          method: 'GET',
          path: id.length % 2 ? '/v1/licenses' : '/v1/devices',
          headers: auth(ctx.bad.tamperedSignature ?? ''),
        };
    }
  });

/** Bodies nested deep, up to 1 MiB of `[` and `]` (524 287 levels), on the routes that read a body. */
const deepNesting: fc.Arbitrary<Fuzzed> = fc
  .tuple(
    fc.oneof(
      { arbitrary: fc.integer({ min: 64, max: 20_000 }), weight: 30 },
      { arbitrary: fc.constant(MIB / 2 - 1), weight: 1 },
    ),
    fc.constantFrom('arrays', 'objects', 'in-event'),
    fc.constantFrom('/v1/sync', '/v1/licenses', '/v1/devices'),
  )
  .map(([depth, shape, path]) => {
    let body: string;
    if (shape === 'arrays') body = `${'['.repeat(depth)}${']'.repeat(depth)}`;
    else if (shape === 'objects') {
      const n = Math.min(depth, Math.floor(MIB / 6) - 2);
      body = `${'{"a":'.repeat(n)}1${'}'.repeat(n)}`;
    } else {
      const n = Math.min(depth, Math.floor(MIB / 2) - 400);
      const event = JSON.stringify(validEvent(ctx.cursorD1 + 2, Date.now())).replace(
        '"positionMs":',
        `"nested":${'['.repeat(n)}${']'.repeat(n)},"positionMs":`,
      );
      body = `{"protocolVersion":1,"deviceId":"${ctx.d1}","snapshotVersion":null,"events":[${event}]}`;
    }
    const token = path === '/v1/devices' ? ctx.tokenA : ctx.tokenD1;
    return { family: 'deep-nesting', method: 'POST', path, headers: { ...json, ...auth(token) }, body };
  });

/** Bodies a little over the limit, announced and sent whole on a keep-alive connection: 413. */
const oversized: fc.Arbitrary<Fuzzed> = fc.integer({ min: 1, max: 64 * 1024 }).map((over) => ({
  family: 'oversized',
  method: 'POST',
  path: '/v1/sync',
  headers: { ...json, ...auth(ctx.tokenD1) },
  body: `{"protocolVersion":1,"deviceId":"${ctx.d1}","snapshotVersion":null,"events":[],"pad":"${'o'.repeat(MIB + over)}"}`,
}));

/** Events of the deactivated device, back-dated to before its deactivation (by up to an hour). */
const afterDeactivation: fc.Arbitrary<Fuzzed> = fc
  .tuple(
    fc.array(
      fc.tuple(
        fc.constantFrom(
          'PlaybackStarted',
          'PlaybackStopped',
          'LicenseExpiryObserved',
          'ClockRollbackDetected',
        ),
        fc.integer({ min: 1, max: 3_600_000 }),
      ),
      { minLength: 1, maxLength: 5 },
    ),
    fc.constantFrom('sync', 'sync', 'sync', 'read-licenses', 'read-devices', 'request-licence'),
  )
  .map(([events, route]) => {
    const h = { ...json, ...auth(ctx.tokenX) };
    if (route === 'read-licenses')
      return { family: 'deactivated', method: 'GET', path: '/v1/licenses', headers: h };
    if (route === 'read-devices')
      return { family: 'deactivated', method: 'GET', path: '/v1/devices', headers: h };
    if (route === 'request-licence')
      return {
        family: 'deactivated',
        method: 'POST',
        path: '/v1/licenses',
        headers: h,
        body: JSON.stringify({ titleId: 'quiet-river' }),
      };
    // Replays of the refused batch (answered from its receipts), other back-dated events in its seqs
    // (EVENT_ID_REUSED), or after it (a gap past the cursor: SEQ_GAP); none may be applied.
    const mode = events.length % 3;
    const body = {
      protocolVersion: 1,
      deviceId: ctx.x,
      snapshotVersion: null,
      events:
        mode === 0
          ? ctx.xEvents.slice(0, events.length)
          : events.map(([type, back], i) => backDated(type, mode === 1 ? i + 1 : i + 7, back)),
    };
    return {
      family: 'deactivated-sync',
      method: 'POST',
      path: '/v1/sync',
      headers: h,
      body: JSON.stringify(body),
    };
  });

/**
 * Registering an active device again: with the account token and no or a wrong secret (409), or with its
 * right secret under a token that may not register (a device token: 403).
 */
const reRegister: fc.Arbitrary<Fuzzed> = fc
  .tuple(
    fc.constantFrom('none', 'wrong', 'right'),
    fc.constantFrom('d1', 'd2'),
    fc.string({
      unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789-_'.split('')),
      minLength: 43,
      maxLength: 43,
    }),
  )
  .map(([secret, which, wrong]) => {
    const deviceId = which === 'd1' ? ctx.d1 : ctx.d2;
    const body: Record<string, string> = { deviceId, name: 'takeover' };
    if (secret === 'wrong') body.deviceSecret = wrong === ctx.d1Secret ? `${wrong.slice(1)}x` : wrong;
    if (secret === 'right') body.deviceSecret = ctx.d1Secret;
    // The right secret (d1's) is only ever sent with a token that may not register.
    const token = secret === 'right' ? (which === 'd1' ? ctx.tokenD1 : ctx.tokenD2) : ctx.tokenA;
    return {
      family: 're-register',
      method: 'POST',
      path: '/v1/devices',
      headers: { ...json, ...auth(token) },
      body: JSON.stringify(body),
    };
  });

const everything = fc.oneof(
  { arbitrary: syncFuzz, weight: 100 },
  { arbitrary: malformedJson, weight: 20 },
  { arbitrary: invalidUtf8, weight: 20 },
  { arbitrary: headerFuzz, weight: 20 },
  { arbitrary: registerFuzz, weight: 20 },
  { arbitrary: licenseFuzz, weight: 20 },
  { arbitrary: pathFuzz, weight: 20 },
  { arbitrary: deepNesting, weight: 10 },
  { arbitrary: oversized, weight: 1 },
  { arbitrary: afterDeactivation, weight: 10 },
  { arbitrary: reRegister, weight: 10 },
);

// ---- sending ----------------------------------------------------------------------------------------

interface Outcome {
  status: number;
  ok: boolean;
  problem?: string;
}

const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });

/**
 * One request over a keep-alive connection (node:http: much cheaper per request than fetch). A request
 * whose connection is reset or closed under it (Node's keep-alive race: the server closing an idle
 * connection as the client reuses it) is sent again, up to 3 times (none of these requests writes
 * anything); how often is printed.
 */
let connectionRetries = 0;
const quieted = new WeakSet<object>();

async function exchange(r: Fuzzed): Promise<{ status: number; text: string }> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await exchangeOnce(r);
    } catch (e) {
      const { code } = e as { code?: string };
      if ((code !== 'ECONNRESET' && code !== 'EPIPE') || attempt >= 4) throw e;
      connectionRetries++;
    }
  }
}

function exchangeOnce(r: Fuzzed): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const body = r.body === undefined ? undefined : typeof r.body === 'string' ? Buffer.from(r.body) : r.body;
    const req = httpRequest(
      `${base}${r.path}`,
      {
        method: r.method,
        agent,
        headers: { ...r.headers, ...(body === undefined ? {} : { 'content-length': String(body.length) }) },
        timeout: 30_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() }));
        res.on('error', reject);
      },
    );
    // A connection the server closes while a body is still being written errors after the request is
    // over: the request reports its own failure, the socket's late error is not a test failure.
    req.on('socket', (socket) => {
      if (quieted.has(socket)) return;
      quieted.add(socket);
      socket.on('error', () => {});
    });
    req.on('timeout', () => req.destroy(new Error('no answer in 30 s')));
    req.on('error', (e) => reject(Object.assign(e, { reusedSocket: req.reusedSocket })));
    req.end(body);
  });
}

async function send(r: Fuzzed): Promise<Outcome> {
  let res: { status: number; text: string };
  try {
    res = await exchange(r);
  } catch (e) {
    return { status: 0, ok: false, problem: `no answer (${(e as Error).message})` };
  }
  const text = res.text;
  if (r.family === 'deactivated-sync' && res.status === 200) return deactivatedSync(text);
  if (res.status < 400 || res.status >= 500)
    return { status: res.status, ok: false, problem: `HTTP ${res.status}: ${text.slice(0, 300)}` };
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return {
      status: res.status,
      ok: false,
      problem: `HTTP ${res.status} without JSON: ${text.slice(0, 200)}`,
    };
  }
  const error = ErrorResponse.safeParse(parsed);
  if (!error.success)
    return { status: res.status, ok: false, problem: `untyped error body: ${text.slice(0, 300)}` };
  if (ERROR_CODES[error.data.error.code].status !== res.status) {
    return { status: res.status, ok: false, problem: `${error.data.error.code} with HTTP ${res.status}` };
  }
  return { status: res.status, ok: true };
}

/** A deactivated device's sync is answered 200 so that it learns of it: every event refused, typed. */
function deactivatedSync(text: string): Outcome {
  const results = (JSON.parse(text) as { results?: Array<{ status: string; code?: string }> }).results ?? [];
  const wrong = results.filter(
    (x) => x.status !== 'rejected' || (x.code !== 'DEVICE_DEACTIVATED' && x.code !== 'EVENT_ID_REUSED'),
  );
  if (results.length === 0 || wrong.length > 0)
    return {
      status: 200,
      ok: false,
      problem: `deactivated device's events not all refused: ${text.slice(0, 300)}`,
    };
  return { status: 200, ok: true };
}

/** Sends a huge body without Content-Length (chunked, 256 KiB at a time) on a connection of its own. */
function chunkedHuge(text: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const bytes = Buffer.from(text);
    let answered = false;
    const req = httpRequest(
      `${base}/v1/sync`,
      { method: 'POST', agent: false, headers: { ...json, ...auth(ctx.tokenD1) }, timeout: 30_000 },
      (res) => {
        answered = true;
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() }));
        res.on('error', reject);
      },
    );
    // The server answers and closes while the body is still being written: those writes fail, quietly.
    req.on('socket', (socket) => socket.on('error', () => {}));
    req.on('timeout', () => req.destroy(new Error('no answer in 30 s')));
    req.on('error', (e) => {
      if (!answered) reject(e);
    });
    const write = async () => {
      for (let i = 0; i < bytes.length && !answered && !req.destroyed; i += 256 * 1024) {
        if (!req.write(bytes.subarray(i, i + 256 * 1024))) {
          await new Promise<void>((r) => {
            const go = () => {
              req.off('drain', go);
              req.off('close', go);
              r();
            };
            req.once('drain', go);
            req.once('close', go);
          });
        }
      }
      if (!answered && !req.destroyed) req.end();
    };
    void write();
  });
}

/**
 * Sends a huge body with its Content-Length on a raw socket, reading the answer while still writing: the
 * server answers 413 from the header and closes, so an HTTP client that only reads after writing all of
 * it would see the close (EPIPE) rather than the answer.
 */
function announcedHuge(text: string): Promise<Outcome> {
  const body = Buffer.from(text);
  const url = new URL(base);
  return new Promise((resolve) => {
    const socket = connect(Number(url.port), url.hostname);
    let received = Buffer.alloc(0);
    let done = false;
    const finish = (outcome: Outcome) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(outcome);
    };
    const timer = setTimeout(
      () => finish({ status: 0, ok: false, problem: 'huge body: no answer in 30 s' }),
      30_000,
    );
    socket.on('error', () => {});
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      const head = received.indexOf('\r\n\r\n');
      if (head < 0) return;
      const headers = received.subarray(0, head).toString();
      const length = Number(/content-length: *(\d+)/i.exec(headers)?.[1] ?? Number.NaN);
      if (!Number.isFinite(length) || received.length < head + 4 + length) return;
      const status = Number(headers.split(' ')[1]);
      const parsed = ErrorResponse.safeParse(
        JSON.parse(received.subarray(head + 4, head + 4 + length).toString()),
      );
      const ok = status === 413 && parsed.success && parsed.data.error.code === 'PAYLOAD_TOO_LARGE';
      finish({ status, ok, ...(ok ? {} : { problem: `huge body: HTTP ${status}` }) });
    });
    socket.on('close', () => {
      // An answer without Content-Length (chunked) is complete once the server closes.
      const head = received.indexOf('\r\n\r\n');
      const status = head < 0 ? 0 : Number(received.subarray(0, head).toString().split(' ')[1]);
      const rest = received.subarray(head + 4).toString();
      const json = rest.slice(rest.indexOf('{'), rest.lastIndexOf('}') + 1);
      let ok = false;
      try {
        const parsed = ErrorResponse.safeParse(JSON.parse(json));
        ok = status === 413 && parsed.success && parsed.data.error.code === 'PAYLOAD_TOO_LARGE';
      } catch {}
      finish({
        status,
        ok,
        ...(ok
          ? {}
          : { problem: `huge body: closed, answer ${JSON.stringify(received.toString().slice(0, 200))}` }),
      });
    });
    socket.on('connect', async () => {
      socket.write(
        `POST /v1/sync HTTP/1.1\r\nHost: ${url.host}\r\nContent-Type: application/json\r\n` +
          `Authorization: Bearer ${ctx.tokenD1}\r\nContent-Length: ${body.length}\r\n\r\n`,
      );
      for (let i = 0; i < body.length && !done && !socket.destroyed; i += 64 * 1024) {
        if (!socket.write(body.subarray(i, i + 64 * 1024))) await new Promise((r) => socket.once('drain', r));
      }
    });
  });
}

/**
 * A slow body on a raw socket: 5 of its 100 declared bytes, the other 95 after `pauseMs` (malformed JSON
 * either way). It must be answered with one of `statuses` and a typed error of that status, whenever the
 * server answers (from the headers, or once the body is in).
 */
function slowBody(
  authorization: string | null,
  statuses: readonly number[],
  pauseMs: number,
): Promise<Outcome> {
  const url = new URL(base);
  const body = `{"pro${'x'.repeat(95)}`;
  return new Promise((resolve) => {
    const socket = connect(Number(url.port), url.hostname);
    let received = '';
    let done = false;
    const finish = (outcome: Outcome) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      clearTimeout(rest);
      socket.destroy();
      resolve(outcome);
    };
    const timer = setTimeout(
      () => finish({ status: 0, ok: false, problem: `slow body: no answer in 30 s` }),
      30_000,
    );
    const judge = () => {
      const head = received.indexOf('\r\n\r\n');
      if (head < 0) return false;
      const length = Number(/content-length: *(\d+)/i.exec(received.slice(0, head))?.[1] ?? Number.NaN);
      if (!Number.isFinite(length) || Buffer.byteLength(received) < head + 4 + length) return false;
      const got = Number(received.split(' ')[1]);
      let typed = false;
      try {
        const e = ErrorResponse.safeParse(JSON.parse(received.slice(head + 4)));
        typed = e.success && ERROR_CODES[e.data.error.code].status === got;
      } catch {}
      const ok = statuses.includes(got) && typed;
      finish({
        status: got,
        ok,
        ...(ok ? {} : { problem: `slow body: ${JSON.stringify(received.slice(0, 200))}` }),
      });
      return true;
    };
    socket.on('error', () => {});
    socket.on('data', (c: Buffer) => {
      received += c.toString();
      judge();
    });
    socket.on('close', () => {
      if (!judge())
        finish({ status: 0, ok: false, problem: `slow body: closed, ${JSON.stringify(received)}` });
    });
    socket.on('connect', () => {
      socket.write(
        `POST /v1/sync HTTP/1.1\r\nHost: ${url.host}\r\nContent-Type: application/json\r\n` +
          `${authorization === null ? '' : `Authorization: Bearer ${authorization}\r\n`}` +
          `Content-Length: ${body.length}\r\n\r\n${body.slice(0, 5)}`,
      );
    });
    const rest = setTimeout(() => {
      if (!socket.destroyed) socket.write(body.slice(5));
    }, pauseMs);
  });
}

describe('fuzzed requests against the real HTTP server', () => {
  it(`answers ${TOTAL} generated bad requests with a typed 4xx and writes nothing`, async () => {
    const before = await fingerprint(db);
    const failures: Array<{ request: Fuzzed; outcome: Outcome }> = [];
    const byStatus: Record<number, number> = {};
    const byFamily: Record<string, number> = {};
    let sent = 0;
    let serverErrors = 0;
    const record = (request: Fuzzed, outcome: Outcome) => {
      sent++;
      byStatus[outcome.status] = (byStatus[outcome.status] ?? 0) + 1;
      byFamily[request.family] = (byFamily[request.family] ?? 0) + 1;
      if (outcome.status >= 500) serverErrors++;
      if (!outcome.ok && failures.length < 20)
        failures.push({
          request: {
            ...request,
            body: typeof request.body === 'string' ? request.body.slice(0, 500) : '(bytes)',
          },
          outcome,
        });
    };

    // 10 MB (and just-too-large) bodies, announced and chunked: a handful, they are costly.
    const big = `{"protocolVersion":1,"deviceId":"${ctx.d1}","snapshotVersion":null,"events":[],"pad":"${'x'.repeat(10 * 1024 * 1024)}"}`;
    const justOver = `{"protocolVersion":1,"deviceId":"${ctx.d1}","snapshotVersion":null,"events":[],"pad":"${'y'.repeat(1_048_576)}"}`;
    for (const text of [big, justOver, big, justOver]) {
      record({ family: 'huge', method: 'POST', path: '/v1/sync', headers: {} }, await announcedHuge(text));
      const res = await chunkedHuge(text).catch((e: Error) => ({ status: 0, text: e.message }));
      let ok = false;
      try {
        const e = ErrorResponse.safeParse(JSON.parse(res.text));
        ok = res.status === 413 && e.success && e.data.error.code === 'PAYLOAD_TOO_LARGE';
      } catch {}
      const outcome: Outcome = {
        status: res.status,
        ok,
        ...(ok ? {} : { problem: `chunked huge body: HTTP ${res.status} ${res.text.slice(0, 200)}` }),
      };
      record({ family: 'huge-chunked', method: 'POST', path: '/v1/sync', headers: {} }, outcome);
    }

    // Slow bodies, 60 at once: without a token, with a token lacking exp, and with a valid token.
    const slow = await Promise.all(
      Array.from({ length: 60 }, (_, i) =>
        i % 3 === 0
          ? slowBody(null, [401], 1_000 + i * 10)
          : i % 3 === 1
            ? slowBody(ctx.bad.noExp ?? '', [401], 1_000 + i * 10)
            : // 20 at once from one device: one is read (400), the others wait their turn or are
              // refused 429 (one sync per device at a time).
              slowBody(ctx.tokenD1, [400, 429], 1_000 + i * 10),
      ),
    );
    for (const outcome of slow)
      record({ family: 'slow-body', method: 'POST', path: '/v1/sync', headers: {} }, outcome);

    const started = performance.now();
    let generating = 0;
    const slowest: Array<[number, string]> = [];
    // Generated in small slices between sends, so generating overlaps with the server's work.
    const queue: Fuzzed[] = [];
    let generated = 0;
    let round = 0;
    const take = (): Fuzzed | undefined => {
      if (queue.length === 0 && generated < TOTAL) {
        const g = performance.now();
        const n = Math.min(50, TOTAL - generated);
        queue.push(...fc.sample(everything, { numRuns: n, seed: SEED + round++ }));
        generated += n;
        generating += performance.now() - g;
      }
      return queue.shift();
    };
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        for (let r = take(); r !== undefined; r = take()) {
          const t = performance.now();
          const outcome = await send(r);
          const ms = performance.now() - t;
          if (slowest.length < 3 || ms > (slowest[2]?.[0] ?? 0)) {
            slowest.push([Math.round(ms), `${r.family} ${r.method} ${r.path} ${outcome.status}`]);
            slowest.sort((a, b) => b[0] - a[0]).splice(3);
          }
          record(r, outcome);
        }
      }),
    );
    console.info(`fuzz: generating took ${Math.round(generating)} ms; slowest ${JSON.stringify(slowest)}`);
    const seconds = (performance.now() - started) / 1000;

    const after = await fingerprint(db);
    addCounters({ requestsFuzzed: sent, '5xx': serverErrors });
    console.info(
      `fuzz: ${sent} requests in ${seconds.toFixed(1)} s (seed ${SEED}), ${connectionRetries} resent after a connection reset, statuses ${JSON.stringify(byStatus)}, families ${JSON.stringify(byFamily)}`,
    );
    expect(failures).toEqual([]);
    expect(serverErrors).toBe(0);
    const changed = Object.keys({ ...before, ...after }).filter(
      (t) => JSON.stringify(before[t]) !== JSON.stringify(after[t]),
    );
    expect(changed).toEqual([]);
    expect(sent).toBeGreaterThanOrEqual(TOTAL);
  }, 1_800_000);
});
