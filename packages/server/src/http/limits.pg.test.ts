// Request limits and event quotas kept in PostgreSQL: two server instances (two pools, two apps) on one
// database share them, so N instances do not allow N times the rate.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../db/database.js';
import { type FreshDatabase, freshPostgresDatabase, requirePostgres } from '../testing/databases.js';
import { envelope, type Harness, harness, syncBody, T0 } from '../testing/harness.js';

type Answer = Awaited<ReturnType<Harness['call']>>;

/** Sends `calls` in waves of `width` at once (both instances busy at the same time, pools not flooded). */
async function waves(calls: Array<() => Promise<Answer>>, width = 4): Promise<Answer[]> {
  const out: Answer[] = [];
  for (let i = 0; i < calls.length; i += width) {
    out.push(...(await Promise.all(calls.slice(i, i + width).map((f) => f()))));
  }
  return out;
}

const available = await requirePostgres('limits.pg.test.ts');

if (!available) {
  describe('limits on PostgreSQL', () => {
    it('needs DATABASE_URL to point at a reachable PostgreSQL', () => {
      expect(available).toBe(false);
    });
  });
} else {
  describe('limits shared by two server instances on one PostgreSQL', () => {
    let fresh: FreshDatabase;
    let one: Harness;
    let two: Harness;
    const limits = {
      device: { points: 10, windowSec: 120 },
      account: { points: 25, windowSec: 120 },
      events: { points: 600, windowSec: 3600 },
    };

    beforeAll(async () => {
      fresh = await freshPostgresDatabase();
      one = await harness(fresh.open() as Database, { limits });
      two = await harness(fresh.open() as Database, { limits });
    });
    afterAll(async () => {
      await fresh?.drop();
    });

    it('the counters live in PostgreSQL, not in either process, in an unlogged table (no WAL, no flush)', async () => {
      expect(one.server.limits.store).toBe('postgres');
      expect(two.server.limits.store).toBe('postgres');
      const [table] = await one.server.db.query<{ relpersistence: string }>(
        "SELECT relpersistence FROM pg_class WHERE relname = 'rate_limits' AND relkind = 'r'",
      );
      expect(table?.relpersistence).toBe('u');
    });

    it('case 6: N instances do not allow N times the rate: one device sending to both gets its limit in total', async () => {
      const acct = await one.account();
      const dev = await one.device(acct.token);
      const answers = await waves(
        Array.from(
          { length: 40 },
          (_, i) => () => (i % 2 === 0 ? one : two).call('GET', '/v1/licenses', { token: dev.token }),
        ),
      );
      expect(answers.map((a) => a.status).filter((s) => s !== 200 && s !== 429)).toEqual([]);
      const ok = answers.filter((a) => a.status === 200);
      const refused = answers.filter((a) => a.status === 429);
      expect(ok.length).toBe(limits.device.points);
      expect(refused.length).toBe(40 - limits.device.points);
      // Each instance accepted some: the limit was shared, not reached by one instance alone.
      const byInstance = [0, 1].map((r) => answers.filter((a, i) => i % 2 === r && a.status === 200).length);
      expect(byInstance.every((n) => n > 0)).toBe(true);
      expect(refused[0]?.body.error).toMatchObject({
        code: 'RATE_LIMITED',
        details: { scope: 'device', limit: 10, windowSec: 120 },
      });
      expect(Number(refused[0]?.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    });

    it("case 6: an account's devices together get the account limit, not the device limit times their number", async () => {
      const acct = await one.account();
      // Registering counts as a request of the account too: 5 of its 25.
      const devices = [];
      for (let i = 0; i < 5; i++) devices.push(await (i % 2 ? two : one).device(acct.token, `d${i}`));
      const answers = await waves(
        devices.flatMap((d, k) =>
          Array.from(
            { length: 10 },
            (_, i) => () => ((i + k) % 2 === 0 ? one : two).call('GET', '/v1/licenses', { token: d.token }),
          ),
        ),
      );
      expect(answers.map((a) => a.status).filter((s) => s !== 200 && s !== 429)).toEqual([]);
      const ok = answers.filter((a) => a.status === 200).length;
      expect(ok).toBe(limits.account.points - devices.length);
      const refusal = answers.find((a) => a.status === 429)?.body.error;
      expect(refusal).toMatchObject({ code: 'RATE_LIMITED', details: { scope: 'account', limit: 25 } });
      // Another account is not affected.
      const other = await two.account();
      const od = await two.device(other.token);
      expect((await one.call('GET', '/v1/licenses', { token: od.token })).status).toBe(200);
    });

    it("a device's event quota is shared too: batches through both instances stop at the quota", async () => {
      const acct = await one.account();
      const dev = await one.device(acct.token);
      let seq = 1;
      const batch = () =>
        Array.from({ length: 200 }, () =>
          envelope(
            seq++,
            'PlaybackStopped',
            { licenseId: 'no-such-licence', deviceId: dev.deviceId, positionMs: 1 },
            T0,
          ),
        );
      const statuses: number[] = [];
      let refusal: unknown = null;
      for (let i = 0; i < 6; i++) {
        const events = batch();
        const res = await (i % 2 ? two : one).call('POST', '/v1/sync', {
          token: dev.token,
          body: syncBody(dev.deviceId, events),
        });
        statuses.push(res.status);
        if (res.status === 429) {
          refusal = res.body.error;
          seq -= events.length;
        }
      }
      // 600 events: three batches of 200, whichever instance took them; the rest refused.
      expect(statuses).toEqual([200, 200, 200, 429, 429, 429]);
      expect(refusal).toMatchObject({
        code: 'RATE_LIMITED',
        details: { scope: 'events', limit: 600, windowSec: 3600 },
      });
      const stored = await one.server.db.query<{ n: string }>(
        'SELECT count(*) AS n FROM device_receipts WHERE account_id = $1 AND device_id = $2',
        [acct.accountId, dev.deviceId],
      );
      expect(Number(stored[0]?.n)).toBe(600);
    });
  });
}
