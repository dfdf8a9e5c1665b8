import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type DeviceEventEnvelope, type EventResult, SyncRequest, SyncResponse } from './entries/schemas.js';
import { DEVICE_EVENT_TYPES, EVENT_REJECTION_CODES } from './index.js';
import { snapshot } from './test-samples.js';

const hex = (length: number) =>
  fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: length, maxLength: length });

const uuidV7 = fc
  .tuple(hex(8), hex(4), hex(3), fc.constantFrom('8', '9', 'a', 'b'), hex(3), hex(12))
  .map(([a, b, c, variant, d, e]) => `${a}-${b}-7${c}-${variant}${d}-${e}`);

const id = fc.string({
  unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._:-'),
  minLength: 1,
  maxLength: 128,
});

const epochMs = fc.integer({ min: 0, max: 8.64e15 });

const json: fc.Arbitrary<Record<string, unknown>> = fc.dictionary(
  // A top-level __proto__ key is dropped by the schema (see schemas.test.ts), so it cannot round-trip.
  fc.string().filter((key) => key !== '__proto__'),
  fc.jsonValue({ maxDepth: 3 }).map((value) => JSON.parse(JSON.stringify(value)) as unknown),
  { maxKeys: 6 },
);

const envelope = (seq: number): fc.Arbitrary<DeviceEventEnvelope> =>
  fc.record({
    eventId: uuidV7,
    seq: fc.constant(seq),
    type: fc.constantFrom(...DEVICE_EVENT_TYPES),
    v: fc.integer({ min: 1, max: 1000 }),
    occurredAt: epochMs,
    trustedAt: epochMs,
    data: json,
  });

/** Valid sync requests: up to 20 events with strictly increasing seqs (gaps allowed, the server judges them). */
const syncRequest: fc.Arbitrary<SyncRequest> = fc
  .tuple(fc.integer({ min: 1, max: 1_000_000 }), fc.array(fc.integer({ min: 1, max: 5 }), { maxLength: 20 }))
  .chain(([first, steps]) => {
    const seqs: number[] = [];
    let seq = first;
    for (const step of steps) {
      seqs.push(seq);
      seq += step;
    }
    return fc.record({
      protocolVersion: fc.integer({ min: 1, max: 10 }),
      deviceId: id,
      snapshotVersion: fc.option(fc.nat(), { nil: null }),
      events: fc.tuple(...seqs.map(envelope)),
    });
  });

describe('SyncRequest (property)', () => {
  it('accepts every generated valid request, and parse ∘ stringify is the identity', () => {
    fc.assert(
      fc.property(syncRequest, (request) => {
        const parsed = SyncRequest.parse(request);
        expect(parsed).toEqual(request);
        const reparsed = SyncRequest.parse(JSON.parse(JSON.stringify(parsed)));
        expect(JSON.stringify(reparsed)).toBe(JSON.stringify(request));
      }),
      { numRuns: 200 },
    );
  });

  it('refuses a batch whose seqs are not strictly increasing', () => {
    fc.assert(
      fc.property(
        syncRequest.filter((request) => request.events.length >= 2),
        fc.nat(),
        (request, pick) => {
          const events = [...request.events];
          const i = 1 + (pick % (events.length - 1));
          const previous = events[i - 1];
          const current = events[i];
          if (!previous || !current) throw new Error('unreachable');
          events[i] = { ...current, seq: previous.seq };
          expect(SyncRequest.safeParse({ ...request, events }).success).toBe(false);
        },
      ),
      { numRuns: 100 },
    );
  });
});

describe('SyncResponse (property)', () => {
  const eventResult: fc.Arbitrary<EventResult> = fc.oneof(
    fc.record({ status: fc.constant('accepted' as const), seq: fc.integer({ min: 1 }), eventId: uuidV7 }),
    fc.record({ status: fc.constant('duplicate' as const), seq: fc.integer({ min: 1 }), eventId: uuidV7 }),
    fc.record({
      status: fc.constant('rejected' as const),
      seq: fc.integer({ min: 1 }),
      eventId: uuidV7,
      code: fc.constantFrom(...EVENT_REJECTION_CODES),
      message: fc.string(),
    }),
  );

  it('round-trips generated responses through JSON', () => {
    fc.assert(
      fc.property(
        fc.array(eventResult, { maxLength: 30 }),
        fc.nat(),
        epochMs,
        (results, ackSeq, serverTime) => {
          const response = { protocolVersion: 1, results, ackSeq, serverTime, snapshot };
          expect(SyncResponse.parse(JSON.parse(JSON.stringify(response)))).toEqual(response);
        },
      ),
      { numRuns: 100 },
    );
  });
});
