import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DEVICE_EVENT_TYPES, MAX_SYNC_BATCH_EVENTS } from './constants.js';
import { isSyncRequest, SyncRequest } from './entries/schemas.js';

const uuidv7 = fc
  .tuple(
    fc.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}$/),
    fc.stringMatching(/^[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/),
  )
  .map(([a, b]) => `${a}-7${b}`);
/** A value that is sometimes right for a field and sometimes anything at all. */
const or = <T>(good: fc.Arbitrary<T>) =>
  fc.oneof({ weight: 12, arbitrary: good as fc.Arbitrary<unknown> }, { weight: 1, arbitrary: fc.anything() });
const event = fc.record(
  {
    eventId: or(fc.oneof(uuidv7, fc.uuid())),
    seq: or(fc.integer({ min: -1, max: 1000 })),
    type: or(fc.oneof(fc.constantFrom(...DEVICE_EVENT_TYPES), fc.string())),
    v: or(fc.integer({ min: 0, max: 1001 })),
    occurredAt: or(fc.oneof(fc.integer({ min: -1, max: 2e12 }), fc.double())),
    trustedAt: or(fc.integer({ min: 0, max: 2e12 })),
    data: or(fc.dictionary(fc.string(), fc.jsonValue())),
  },
  { requiredKeys: [] },
);
const request = fc.record(
  {
    protocolVersion: or(fc.integer({ min: 0, max: 3 })),
    deviceId: or(fc.oneof(fc.stringMatching(/^[A-Za-z0-9._:-]{1,130}$/), fc.string())),
    snapshotVersion: or(fc.oneof(fc.constant(null), fc.integer({ min: -1, max: 100 }))),
    // Mostly in seq order, as devices send them.
    events: or(
      fc
        .tuple(fc.array(event, { maxLength: 6 }), fc.boolean())
        .map(([events, sort]) => (sort ? [...events].sort((a, b) => Number(a.seq) - Number(b.seq)) : events)),
    ),
  },
  { requiredKeys: [] },
);

describe('isSyncRequest', () => {
  it('never accepts what SyncRequest refuses (through JSON, as a server receives it)', {
    timeout: 60_000,
  }, () => {
    let accepted = 0;
    fc.assert(
      fc.property(request, (value) => {
        const received = JSON.parse(JSON.stringify(value) ?? 'null');
        if (isSyncRequest(received)) {
          accepted++;
          expect(SyncRequest.safeParse(received).success).toBe(true);
        }
      }),
      { numRuns: 2000, seed: 11 },
    );
    // The generator reaches the accepting side often enough for the property to mean something.
    expect(accepted).toBeGreaterThan(30);
  });

  it('accepts the valid requests a device sends, so the fast check is the one used', () => {
    const valid = {
      protocolVersion: 1,
      deviceId: 'device-1',
      snapshotVersion: 3,
      events: [1, 2, 3].map((seq) => ({
        eventId: `0190a4f2-3c1d-7${seq}00-8000-00000000000${seq}`,
        seq,
        type: 'PlaybackStarted',
        v: 1,
        occurredAt: 1_700_000_000_000,
        trustedAt: 1_700_000_000_000,
        data: { licenseId: 'l', deviceId: 'device-1', at: 1, positionMs: 0 },
      })),
    };
    expect(SyncRequest.safeParse(valid).success).toBe(true);
    expect(isSyncRequest(valid)).toBe(true);
    expect(isSyncRequest({ ...valid, events: [...valid.events].reverse() })).toBe(false);
    expect(isSyncRequest({ ...valid, events: Array(MAX_SYNC_BATCH_EVENTS + 1).fill(valid.events[0]) })).toBe(
      false,
    );
  });
});
