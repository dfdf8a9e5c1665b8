import 'fake-indexeddb/auto';
import * as fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createSatchel, type SatchelClient } from '../client.js';
import { FakeServer, VirtualClock } from '../fake-server.testkit.js';
import { idbStorage } from '../storage/idb.js';
import { T0 } from '../testkit.js';

type Step =
  | { kind: 'record'; count: number }
  | { kind: 'sync' }
  | { kind: 'fail'; fault: 'network' | 'drop-response' | 'unavailable' }
  | { kind: 'restart' }
  /** Both tabs sync at the same moment, without Web Locks to keep them apart. */
  | { kind: 'race' }
  | { kind: 'offline'; on: boolean };

const step: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ kind: fc.constant('record' as const), count: fc.integer({ min: 1, max: 4 }) }),
  fc.constant({ kind: 'sync' as const }),
  fc.record({
    kind: fc.constant('fail' as const),
    fault: fc.constantFrom('network' as const, 'drop-response' as const, 'unavailable' as const),
  }),
  fc.constant({ kind: 'restart' as const }),
  fc.constant({ kind: 'race' as const }),
  fc.record({ kind: fc.constant('offline' as const), on: fc.boolean() }),
);

let run = 0;

describe('outbox and server stay consistent', () => {
  it('under any interleaving of record, sync, racing tabs, failure and restart: every event is applied exactly once or still pending', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(step, { minLength: 1, maxLength: 25 }),
        fc.integer({ min: 1, max: 6 }),
        async (steps, maxEvents) => {
          const clock = new VirtualClock(T0);
          const server = new FakeServer(clock.now);
          const name = `prop-${++run}`;
          const open = (): SatchelClient =>
            createSatchel({
              baseUrl: 'https://sync.test/',
              fetch: server.fetch,
              clock,
              storage: idbStorage({ name }),
              autoSync: false,
              locks: null,
              tabGroup: name,
              batch: { maxEvents },
            });
          let client = open();
          const otherTab = open();
          const recorded: string[] = [];
          try {
            await client.register(server.enrolmentToken, { name: 'p' });
            const grant = await client.requestDownload('film');
            if (!grant.ok) throw new Error('no licence');
            const licenseId = grant.license.licenseId;
            const outboxIds = async () => {
              const storage = idbStorage({ name });
              const ids = (await storage.pending()).map((e) => e.eventId);
              await storage.close();
              return ids;
            };
            for (const s of steps) {
              clock.advance(1000);
              if (s.kind === 'record') {
                for (let i = 0; i < s.count; i++) {
                  await client.stopPlayback(licenseId, recorded.length);
                }
                const storage = idbStorage({ name });
                const all = await storage.pending();
                await storage.close();
                for (const e of all) if (!recorded.includes(e.eventId)) recorded.push(e.eventId);
              } else if (s.kind === 'sync') {
                await client.sync().catch(() => undefined);
              } else if (s.kind === 'fail') {
                server.faults.push(
                  s.fault === 'unavailable'
                    ? { kind: 'error', code: 'UNAVAILABLE', retryAfterMs: 10 }
                    : { kind: s.fault },
                );
                await client.sync().catch(() => undefined);
                server.faults.length = 0;
              } else if (s.kind === 'race') {
                await Promise.all([
                  client.sync().catch(() => undefined),
                  otherTab.sync().catch(() => undefined),
                ]);
              } else if (s.kind === 'restart') {
                await client.close();
                client = open();
              } else {
                server.online = !s.on;
              }
              const pending = new Set(await outboxIds());
              for (const id of recorded) {
                const applied = server.processed.get(id) ?? 0;
                expect(applied).toBeLessThanOrEqual(1);
                expect(applied === 1 || pending.has(id)).toBe(true);
              }
              for (const id of pending) expect(recorded).toContain(id);
            }
            server.online = true;
            await client.sync();
            expect(await outboxIds()).toEqual([]);
            for (const id of recorded) expect(server.processed.get(id)).toBe(1);
            expect(server.rejected.size).toBe(0);
          } finally {
            await client.close();
          }
        },
      ),
      { numRuns: 40 },
    );
  }, 120_000);
});
