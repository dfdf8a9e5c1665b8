import { DEFAULT_PLAN } from '@satchel/core';
import { uuidv7 } from 'uuidv7';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../db/database.js';
import { EventStore } from '../store/event-store.js';
import { apiContract } from '../testing/api-contract.js';
import { type FreshDatabase, freshPostgresDatabase, requirePostgres } from '../testing/databases.js';
import { envelope, type Harness, harness, syncBody, T0 } from '../testing/harness.js';

const available = await requirePostgres('api.pg.test.ts');

if (!available) {
  describe('sync server on PostgreSQL', () => {
    it('needs DATABASE_URL to point at a reachable PostgreSQL', () => {
      expect(available).toBe(false);
    });
  });
} else {
  apiContract('PostgreSQL', async () => {
    const fresh = await freshPostgresDatabase();
    return { db: fresh.open(), teardown: () => fresh.drop() };
  });

  describe('two server instances on one PostgreSQL database', () => {
    let fresh: FreshDatabase;
    let dbs: Database[];
    let one: Harness;
    let two: Harness;

    beforeAll(async () => {
      fresh = await freshPostgresDatabase();
      dbs = [fresh.open(), fresh.open()];
      one = await harness(dbs[0] as Database, { snapshotEvery: 25 });
      two = await harness(dbs[1] as Database, { snapshotEvery: 25 });
    });
    afterAll(async () => {
      await fresh?.drop();
    });

    const contiguous = async (accountId: string) => {
      const rows = await (dbs[0] as Database).query<{ n: string; max: string }>(
        'SELECT count(*) AS n, max(stream_version) AS max FROM events WHERE account_id = $1',
        [accountId],
      );
      expect(Number(rows[0]?.n)).toBe(Number(rows[0]?.max));
      return Number(rows[0]?.n);
    };

    it('serialises concurrent requests for the last download slot: exactly one wins', async () => {
      const acct = await one.account({ ...DEFAULT_PLAN, maxDownloadDevices: 1 });
      const devices = await Promise.all([1, 2, 3, 4, 5, 6].map((i) => one.device(acct.token, `D${i}`)));
      const answers = await Promise.all(
        devices.map((d, i) =>
          (i % 2 === 0 ? one : two).call('POST', '/v1/licenses', {
            token: d.token,
            body: { titleId: 'quiet-river' },
          }),
        ),
      );
      expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200, 200, 200]);
      const outcomes = answers.map((a) => a.body.outcome);
      expect(outcomes.filter((o) => o === 'granted')).toHaveLength(1);
      expect(answers.filter((a) => a.body.refusal?.code === 'DEVICE_LIMIT')).toHaveLength(5);
      await contiguous(acct.accountId);
    });

    it('merges concurrent syncs of two devices through two instances without losing or repeating an event', async () => {
      const acct = await one.account();
      const a = await one.device(acct.token, 'A');
      const b = await two.device(acct.token, 'B');
      const la = (
        await one.call('POST', '/v1/licenses', { token: a.token, body: { titleId: 'quiet-river' } })
      ).body.license.licenseId;
      const lb = (await two.call('POST', '/v1/licenses', { token: b.token, body: { titleId: 'paper-moon' } }))
        .body.license.licenseId;
      const before = await contiguous(acct.accountId);
      let clientRetries = 0;
      const run = async (h: Harness, dev: { deviceId: string; token: string }, licenseId: string) => {
        let seq = 1;
        const acks: number[] = [];
        for (let batch = 0; batch < 8; batch++) {
          const events: ReturnType<typeof envelope>[] = [];
          for (let i = 0; i < 10; i++, seq++) {
            events.push(
              seq === 1
                ? envelope(seq, 'DownloadCompleted', { licenseId, deviceId: dev.deviceId }, T0 + seq)
                : envelope(
                    seq,
                    'PlaybackStopped',
                    { licenseId, deviceId: dev.deviceId, positionMs: seq },
                    T0 + seq,
                  ),
            );
          }
          const send = () =>
            h.call('POST', '/v1/sync', { token: dev.token, body: syncBody(dev.deviceId, events) });
          let res = await send();
          // A client retries a retryable CONCURRENCY_CONFLICT after its hint, as the SDK does.
          for (
            let retry = 0;
            res.status === 503 && res.body.error?.code === 'CONCURRENCY_CONFLICT' && retry < 5;
            retry++
          ) {
            clientRetries += 1;
            await new Promise((r) => setTimeout(r, res.body.error.retryAfterMs));
            res = await send();
          }
          expect(res.status).toBe(200);
          expect(res.body.results.every((r: { status: string }) => r.status === 'accepted')).toBe(true);
          acks.push(res.body.ackSeq);
        }
        return acks;
      };
      const [acksA, acksB] = await Promise.all([run(one, a, la), run(two, b, lb)]);
      expect(acksA.at(-1)).toBe(80);
      expect(acksB.at(-1)).toBe(80);
      expect(await contiguous(acct.accountId)).toBe(before + 160);
      const retried =
        (await one.server.metrics.conflictsRetried.get()) + (await two.server.metrics.conflictsRetried.get());
      console.info(
        `concurrent syncs: ${retried} optimistic-concurrency retries, ${clientRetries} client retries`,
      );
    });

    it('applies a batch replayed concurrently through both instances exactly once', async () => {
      const acct = await one.account();
      const dev = await one.device(acct.token);
      const licenseId = (
        await one.call('POST', '/v1/licenses', { token: dev.token, body: { titleId: 'quiet-river' } })
      ).body.license.licenseId;
      const before = await contiguous(acct.accountId);
      const events = [
        envelope(1, 'DownloadCompleted', { licenseId, deviceId: dev.deviceId }, T0),
        envelope(2, 'PlaybackStarted', { licenseId, deviceId: dev.deviceId, positionMs: 0 }, T0 + 1),
      ];
      const answers = await Promise.all(
        [one, two, one, two].map((h) =>
          h.call('POST', '/v1/sync', { token: dev.token, body: syncBody(dev.deviceId, events) }),
        ),
      );
      expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200]);
      const statuses = answers.map((a) => a.body.results.map((r: { status: string }) => r.status).join(','));
      expect(
        statuses.filter((s) => s === 'accepted,accepted'),
        JSON.stringify(answers.map((a) => a.body.results ?? a.body)),
      ).toHaveLength(1);
      expect(
        statuses.filter((s) => s === 'duplicate,duplicate'),
        JSON.stringify(answers.map((a) => a.body.results ?? a.body)),
      ).toHaveLength(3);
      expect(await contiguous(acct.accountId)).toBe(before + 2);
    });

    it('never lets the global feed skip an event while writers commit out of order', async () => {
      const store = new EventStore(dbs[0] as Database);
      const start = (await store.readAll(0, 1_000_000)).lastPosition;
      const written = new Set<string>();
      const writer = async (db: Database, w: number) => {
        for (let i = 0; i < 25; i++) {
          const accountId = `feed-${w}-${i % 3}`;
          await db.transaction(async (tx) => {
            const v = (await store.readStream(tx, accountId)).length;
            const ids = [uuidv7(), uuidv7()];
            await store.write(tx, accountId, {
              expectedVersion: v,
              events: ids.map((eventId) => ({ eventId, type: 'Probe', schemaVersion: 1, data: { w, i } })),
            });
            await tx.query(`SELECT pg_sleep(${(Math.random() * 0.02).toFixed(3)})`);
            for (const id of ids) written.add(id);
          });
        }
      };
      const seen: string[] = [];
      // The reader never rewinds its cursor. Other transactions of the cluster (xids are cluster-wide) may
      // hold the feed back for a while, so after the writers finish it polls until it has seen every
      // committed event or a deadline passes: a skipped event would never show up.
      let deadline = Number.POSITIVE_INFINITY;
      const reader = (async () => {
        let pos = start;
        while (Date.now() < deadline) {
          const page = await store.readAll(pos, 7, dbs[1] as Database);
          seen.push(...page.events.map((e) => e.eventId));
          pos = page.lastPosition;
          if (
            deadline !== Number.POSITIVE_INFINITY &&
            seen.filter((id) => written.has(id)).length >= written.size
          )
            return;
          if (page.events.length === 0) await new Promise((r) => setTimeout(r, 5));
        }
      })();
      await Promise.all([0, 1, 2, 3].map((w) => writer(dbs[w % 2] as Database, w)));
      deadline = Date.now() + 20_000;
      await reader;
      // The feed carries every account; earlier tests' events may arrive late, never twice.
      expect(new Set(seen).size).toBe(seen.length);
      const ours = seen.filter((id) => written.has(id));
      expect(ours.length).toBe(written.size);
    });
  });

  describe('the request limit of a sync, counted while the merge reads (lean handler, PostgreSQL counters)', () => {
    let fresh: FreshDatabase;
    let h: Harness;

    beforeAll(async () => {
      fresh = await freshPostgresDatabase();
      h = await harness(fresh.open() as Database, {
        http: true,
        limits: { device: { points: 3, windowSec: 120 } },
      });
    });
    afterAll(async () => {
      await h?.close();
      await fresh?.drop();
    });

    it('a sync over the limit is 429 scope device and writes nothing, though its read already ran', async () => {
      const acct = await h.account();
      const dev = await h.device(acct.token);
      const sync = (seq: number) =>
        h.call('POST', '/v1/sync', {
          token: dev.token,
          body: syncBody(dev.deviceId, [
            envelope(
              seq,
              'PlaybackStopped',
              { licenseId: uuidv7(), deviceId: dev.deviceId, positionMs: 1 },
              T0,
            ),
          ]),
        });
      const answers = [await sync(1), await sync(2), await sync(3), await sync(4), await sync(4)];
      expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 429, 429]);
      expect(answers[3]?.body.error).toMatchObject({
        code: 'RATE_LIMITED',
        details: { scope: 'device', limit: 3, windowSec: 120 },
      });
      expect(Number(answers[3]?.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      const cursors = await h.server.service.deviceCursors(acct.accountId);
      expect(cursors.find((c) => c.deviceId === dev.deviceId)?.lastSeq).toBe(3);
      expect(await h.server.service.deviceReceipts(acct.accountId, dev.deviceId, [4])).toEqual([]);
    });
  });
}
