import { HOUR_MS, type Policy, policy } from '@satchel/core';
import { upcast } from '@satchel/core/schemas';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database, Queryable } from '../db/database.js';
import { createSatchelServer, type SatchelServer } from '../server.js';
import { type FreshDatabase, freshPostgresDatabase, requirePostgres } from '../testing/databases.js';
import { seedHistory } from '../testing/history.js';
import { affectedAccounts, checkWhatIfNames, whatIf, whatIfAccount } from './what-if.js';

const T0 = Date.UTC(2026, 2, 2, 9);
const run = await requirePostgres('what-if.pg.test.ts');

let fresh: FreshDatabase;
let db: Database;
let server: SatchelServer;
const clock = { now: T0 };

async function fingerprint(q: Queryable): Promise<Record<string, string>> {
  const tables = await q.query<{ table_name: string }>(
    `SELECT table_name FROM information_schema.tables
     WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY table_name`,
  );
  const out: Record<string, string> = {};
  for (const { table_name } of tables) {
    const [r] = await q.query<{ h: string | null }>(
      `SELECT md5(coalesce(string_agg(t::text, ',' ORDER BY t::text), '')) AS h FROM ${table_name} t`,
    );
    out[table_name] = r?.h ?? '';
  }
  return out;
}

// The expiry formula of DESIGN.md, written here apart from core.
function expiry(issuedAt: number, firstPlayedAt: number | null, p: Policy): number {
  const bounds = [issuedAt + p.licenseDurationSec * 1000];
  if (firstPlayedAt === null) {
    if (p.rentalDurationSec > 0) bounds.push(issuedAt + p.rentalDurationSec * 1000);
  } else if (p.playbackDurationSec > 0) bounds.push(firstPlayedAt + p.playbackDurationSec * 1000);
  if (p.availableUntil !== null) bounds.push(p.availableUntil);
  return Math.min(...bounds);
}

describe.skipIf(!run)('what-if replay on a seeded history (PostgreSQL)', () => {
  beforeAll(async () => {
    fresh = await freshPostgresDatabase();
    db = fresh.open();
    server = await createSatchelServer({
      db,
      tokenSecret: 'test-secret-0123456789abcdef',
      logger: pino({ level: 'silent' }),
      now: () => clock.now,
    });
    await server.service.catalogue.put([
      { titleId: 'night-train', name: 'Night Train', studio: 'Northlight', policy: policy() },
      { titleId: 'quiet-river', name: 'Quiet River', studio: 'Riverbank', policy: policy() },
    ]);
    await seedHistory(server.service, clock, {
      accounts: 25,
      steps: 24,
      titles: ['night-train', 'quiet-river'],
      seed: 48,
      renewals: false,
    });
  }, 180_000);
  afterAll(async () => {
    await fresh?.drop();
  });

  it('48 h → 24 h playback window: exactly the licences an independent recompute says expire earlier, by as much', async () => {
    // Independent recompute from the stored events: each night-train licence, its issue, its first
    // playback and its policy; under 24 h it expires earlier iff the new bound is below the old expiry.
    const rows = await db.query<{ account_id: string; type: string; schema_version: number; data: string }>(
      'SELECT account_id, type, schema_version, data::text AS data FROM events ORDER BY account_id, stream_version',
    );
    const licences = new Map<string, { issuedAt: number; played: number | null; policy: Policy }>();
    for (const r of rows) {
      const e = upcast({ type: r.type, v: r.schema_version, data: JSON.parse(r.data) });
      if (e.type === 'LicenseIssued' && e.data.titleId === 'night-train') {
        licences.set(e.data.licenseId, { issuedAt: e.data.at, played: null, policy: e.data.policy });
      } else if (e.type === 'PlaybackStarted') {
        const l = licences.get(e.data.licenseId);
        if (l && l.played === null) l.played = e.data.at;
      }
    }
    const expected = new Map<string, number>();
    for (const [id, l] of licences) {
      const before = expiry(l.issuedAt, l.played, l.policy);
      const after = expiry(l.issuedAt, l.played, { ...l.policy, playbackDurationSec: 24 * 3600 });
      if (after < before) expected.set(id, after - before);
    }
    expect(expected.size).toBeGreaterThan(5);

    const before = await fingerprint(db);
    const change = { titles: { 'night-train': { playbackDurationSec: 24 * 3600 } } };
    const progress: number[] = [];
    const found = new Map<string, number>();
    const report = await whatIf(db, change, {
      chunk: 7,
      onProgress: (done) => progress.push(done),
      onOutcome: (o) => {
        for (const c of o.expiryChanges) found.set(c.licenseId, c.deltaMs);
      },
    });
    expect(found).toEqual(expected);
    expect(report.totals.expiresEarlier.licences).toBe(expected.size);
    expect(report.totals.expiresLater.licences).toBe(0);
    expect(report.totals.refusedGrants.total).toBe(0);
    expect(report.totals.refusedRenewals.total).toBe(0);
    expect(report.totals.expiresEarlier.maxMs).toBe(24 * HOUR_MS);
    expect(report.accounts.reduce((a, s) => a + s.expiresEarlier, 0)).toBe(expected.size);
    expect(progress.at(-1)).toBe(report.totals.accountsScanned);
    expect(await fingerprint(db)).toEqual(before);
  });

  it('a stricter plan: grants beyond it are refused with DEVICE_LIMIT; one account side by side', async () => {
    const change = { plans: { standard: { maxDownloadDevices: 1 } } };
    expect((await affectedAccounts(db, change)).length).toBe(25);
    const report = await whatIf(db, change);
    expect(report.totals.refusedGrants.total).toBeGreaterThan(0);
    expect(Object.keys(report.totals.refusedGrants.byCode)).toContain('DEVICE_LIMIT');
    const first = report.accounts.find((a) => a.refusedGrants > 0);
    expect(first).toBeDefined();
    const detail = await whatIfAccount(db, first?.accountId ?? '', change);
    expect(detail.refusedGrants.length).toBe(first?.refusedGrants);
    expect(detail.actual?.length).toBeGreaterThan(0);
    expect(detail.proposed?.some((e) => e.type === 'Refused' && e.detail === 'DEVICE_LIMIT')).toBe(true);
  });

  it('refuses names that do not exist, every one of them, as NOT_FOUND; known names pass', async () => {
    const [known] = await affectedAccounts(db, { titles: { 'night-train': {} } });
    await expect(
      checkWhatIfNames(db, { titles: { 'night-train': {}, ghost: {} }, plans: { standard: {}, gold: {} } }, [
        known ?? '',
        'nobody',
      ]),
    ).rejects.toMatchObject({
      code: 'NOT_FOUND',
      message: 'No title ghost; no plan gold (no account has been on it); no account nobody',
    });
    await expect(
      checkWhatIfNames(db, { titles: { 'night-train': {} }, plans: { standard: {} } }, [known ?? '']),
    ).resolves.toBeUndefined();
  });

  it('POST /v1/admin/what-if with Accept: application/x-ndjson streams the progress, then the report the JSON answer has', async () => {
    const { token } = await server.tokens.mint({
      kind: 'operator',
      operatorId: 'ops@example.com',
      role: 'admin',
    });
    const body = JSON.stringify({ titles: { 'night-train': { playbackDurationSec: 24 * 3600 } } });
    const post = (accept: string) =>
      server.app.fetch(
        new Request('http://satchel.test/v1/admin/what-if', {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept },
          body,
        }),
      );
    const plain = await (await post('application/json')).json();
    const streamed = await post('application/x-ndjson');
    expect(streamed.status).toBe(200);
    expect(streamed.headers.get('content-type')).toMatch(/^application\/x-ndjson/);
    const lines = (await streamed.text())
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.slice(0, -1)).toEqual([
      { type: 'progress', done: 0, total: 25 },
      { type: 'progress', done: 25, total: 25 },
    ]);
    expect(lines.at(-1)).toEqual({ type: 'result', result: plain });
  });
});
