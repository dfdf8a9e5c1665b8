import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { EventSchemaError, isSatchelError, SatchelError } from './errors.js';
import {
  CURRENT_EVENT_VERSIONS,
  type DomainEvent,
  EVENT_TYPES,
  event,
  toVersioned,
  type VersionedEvent,
} from './events.js';
import { DEFAULT_PLAN, policy } from './policy.js';
import { eventDataSchemas, upcast } from './schemas/events.js';
import { MARCH_1 } from './testing.js';

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}

describe('event versions', () => {
  it('lists every event type that has a payload schema, and no other', () => {
    expect([...EVENT_TYPES]).toEqual(Object.keys(eventDataSchemas));
  });

  it('U4 current versions: DeviceRegistered v2, PlaybackStopped v3, the rest v1', () => {
    for (const type of EVENT_TYPES) {
      const expected = type === 'DeviceRegistered' ? 2 : type === 'PlaybackStopped' ? 3 : 1;
      expect([type, CURRENT_EVENT_VERSIONS[type]]).toEqual([type, expected]);
    }
  });

  it('U1 DeviceRegistered v1, as an old server stored it, reads as v2 with the default name', () => {
    const stored = JSON.parse(
      '{"type":"DeviceRegistered","v":1,"data":{"deviceId":"d1","at":1772359200000}}',
    ) as VersionedEvent;
    expect(upcast(stored)).toEqual({
      type: 'DeviceRegistered',
      data: { deviceId: 'd1', name: 'Unnamed device', at: MARCH_1 },
    });
  });

  it('U1 DeviceRegistered v2 keeps its name', () => {
    expect(
      upcast({ type: 'DeviceRegistered', v: 2, data: { deviceId: 'd1', name: 'Living room', at: MARCH_1 } }),
    ).toEqual({
      type: 'DeviceRegistered',
      data: { deviceId: 'd1', name: 'Living room', at: MARCH_1 },
    });
  });

  it.each([
    [93.5, 93500],
    [0, 0],
    [1, 1000],
    [7200.25, 7200250],
  ])(
    'U2 PlaybackStopped v1 (ISO instant, position %d s) reads as v3 with positionMs %i',
    (position, positionMs) => {
      const stored: VersionedEvent = {
        type: 'PlaybackStopped',
        v: 1,
        data: { licenseId: 'l1', deviceId: 'd1', at: '2026-03-01T10:00:00.000Z', position },
      };
      expect(upcast(stored)).toEqual({
        type: 'PlaybackStopped',
        data: { licenseId: 'l1', deviceId: 'd1', at: MARCH_1, positionMs },
      });
    },
  );

  it('U2 a v1 instant with an offset is the same epoch instant', () => {
    const stored: VersionedEvent = {
      type: 'PlaybackStopped',
      v: 1,
      data: { licenseId: 'l1', deviceId: 'd1', at: '2026-03-01T11:00:00.000+01:00', position: 1 },
    };
    expect(upcast(stored).data).toMatchObject({ at: MARCH_1 });
  });

  it.each([
    [12.3456, 12346],
    [0.0004, 0],
    [0.0005, 1],
    [3600, 3600000],
  ])(
    'U3 PlaybackStopped v2 (epoch ms, position %d s) reads as v3 with positionMs %i',
    (position, positionMs) => {
      const stored: VersionedEvent = {
        type: 'PlaybackStopped',
        v: 2,
        data: { licenseId: 'l1', deviceId: 'd1', at: MARCH_1, position },
      };
      expect(upcast(stored)).toEqual({
        type: 'PlaybackStopped',
        data: { licenseId: 'l1', deviceId: 'd1', at: MARCH_1, positionMs },
      });
    },
  );

  const current: DomainEvent[] = [
    event('AccountOpened', { accountId: 'acc', plan: DEFAULT_PLAN, at: MARCH_1 }),
    event('AccountPlanChanged', { plan: { ...DEFAULT_PLAN, maxDownloadsPerMonth: 15 }, at: MARCH_1 }),
    event('DeviceRegistered', { deviceId: 'd1', name: 'Phone', at: MARCH_1 }),
    event('DeviceDeactivated', { deviceId: 'd1', at: MARCH_1 }),
    event('LicenseIssued', {
      licenseId: 'l1',
      deviceId: 'd1',
      titleId: 't1',
      policy: policy({ maxRenewals: 2 }),
      at: MARCH_1,
    }),
    event('LicenseRenewed', { licenseId: 'l1', at: MARCH_1, renewal: 1 }),
    event('LicenseReleased', { licenseId: 'l1', at: MARCH_1 }),
    event('LicenseRevoked', { licenseId: 'l1', at: MARCH_1, reason: 'LIMIT_CONFLICT' }),
    event('LicenseExpired', { licenseId: 'l1', at: MARCH_1, reason: 'PLAYBACK_WINDOW' }),
    event('TitleWithdrawn', { titleId: 't1', availableUntil: MARCH_1, at: MARCH_1 }),
    event('DownloadCompleted', { licenseId: 'l1', deviceId: 'd1', at: MARCH_1 }),
    event('PlaybackStarted', { licenseId: 'l1', deviceId: 'd1', at: MARCH_1, positionMs: 0 }),
    event('PlaybackStopped', { licenseId: 'l1', deviceId: 'd1', at: MARCH_1, positionMs: 93500 }),
    event('DownloadDeleted', { licenseId: 'l1', deviceId: 'd1', at: MARCH_1 }),
    event('ClockRollbackDetected', { deviceId: 'd1', at: MARCH_1, wallClockAt: -5, behindMs: 10 }),
    event('LicenseExpiryObserved', { licenseId: 'l1', deviceId: 'd1', at: MARCH_1, reason: 'CHECK_IN' }),
  ];

  it.each(current.map((e) => [e.type, e] as const))(
    'U4 %s at its current version reads back unchanged',
    (_type, e) => {
      const stored = toVersioned(e);
      expect(stored.v).toBe(CURRENT_EVENT_VERSIONS[e.type]);
      expect(upcast(JSON.parse(JSON.stringify(stored)) as VersionedEvent)).toEqual(e);
    },
  );

  it('U4 unknown payload fields are dropped', () => {
    expect(
      upcast({ type: 'LicenseReleased', v: 1, data: { licenseId: 'l1', at: MARCH_1, extra: true } }),
    ).toEqual({
      type: 'LicenseReleased',
      data: { licenseId: 'l1', at: MARCH_1 },
    });
  });
});

describe('U5 events that cannot be read', () => {
  it.each([
    ['UNKNOWN_EVENT_TYPE', 'an unknown type', { type: 'LicenseTeleported', v: 1, data: {} }],
    ['UNKNOWN_EVENT_TYPE', 'an inherited property name', { type: 'toString', v: 1, data: {} }],
    ['UNSUPPORTED_EVENT_VERSION', 'a future version', { type: 'PlaybackStopped', v: 4, data: {} }],
    ['UNSUPPORTED_EVENT_VERSION', 'version 0', { type: 'LicenseReleased', v: 0, data: {} }],
    ['UNSUPPORTED_EVENT_VERSION', 'a fractional version', { type: 'PlaybackStopped', v: 1.5, data: {} }],
    ['INVALID_EVENT', 'a payload that is not an object', { type: 'LicenseReleased', v: 1, data: 'l1' }],
    ['INVALID_EVENT', 'a null payload', { type: 'LicenseReleased', v: 1, data: null }],
    ['INVALID_EVENT', 'an array payload', { type: 'LicenseReleased', v: 1, data: [] }],
    ['INVALID_EVENT', 'a missing field', { type: 'LicenseReleased', v: 1, data: { licenseId: 'l1' } }],
    [
      'INVALID_EVENT',
      'a negative instant',
      { type: 'LicenseReleased', v: 1, data: { licenseId: 'l1', at: -1 } },
    ],
    [
      'INVALID_EVENT',
      'an unknown revocation reason',
      { type: 'LicenseRevoked', v: 1, data: { licenseId: 'l1', at: 1, reason: 'BORED' } },
    ],
    [
      'INVALID_EVENT',
      'a v1 instant that is not a date',
      {
        type: 'PlaybackStopped',
        v: 1,
        data: { licenseId: 'l1', deviceId: 'd1', at: 'yesterday', position: 1 },
      },
    ],
    [
      'INVALID_EVENT',
      'a v2 position that is not a number',
      { type: 'PlaybackStopped', v: 2, data: { licenseId: 'l1', deviceId: 'd1', at: 1, position: '93.5' } },
    ],
    [
      'INVALID_EVENT',
      'a v3 event in a v2 shape',
      { type: 'PlaybackStopped', v: 3, data: { licenseId: 'l1', deviceId: 'd1', at: 1, position: 1 } },
    ],
  ] as Array<[string, string, VersionedEvent]>)('U5 %s: %s', (code, _name, stored) => {
    const error = thrown(() => upcast(stored));
    expect(error).toBeInstanceOf(EventSchemaError);
    expect(error).toMatchObject({ code, name: 'SatchelEventSchemaError' });
    expect(isSatchelError(error, code)).toBe(true);
    expect(isSatchelError(error, 'SOMETHING_ELSE')).toBe(false);
  });

  it('U5 the error details say what was wrong', () => {
    const error = thrown(() =>
      upcast({ type: 'LicenseReleased', v: 1, data: { licenseId: '', at: 1 } }),
    ) as EventSchemaError;
    expect(error.details).toMatchObject({ type: 'LicenseReleased', issues: [{ path: ['licenseId'] }] });
    expect(error.message).toContain('licenseId');
  });

  it('U5 isSatchelError matches the error’s own fields after a structured clone (prototype lost, as through postMessage)', () => {
    const error = thrown(() => upcast({ type: 'Nope', v: 1, data: {} })) as EventSchemaError;
    const cloned: unknown = structuredClone({ ...error, message: error.message });
    expect(cloned).not.toBeInstanceOf(Error);
    expect(cloned).toMatchObject({
      name: 'SatchelEventSchemaError',
      code: 'UNKNOWN_EVENT_TYPE',
      details: { type: 'Nope' },
    });
    expect(isSatchelError(cloned)).toBe(true);
    expect(isSatchelError(cloned, 'UNKNOWN_EVENT_TYPE')).toBe(true);
    expect(isSatchelError(cloned, 'INVALID_EVENT')).toBe(false);
  });

  it('U5 isSatchelError matches an error from another realm (another copy of the class)', () => {
    const foreign: unknown = runInNewContext(
      "class SatchelError extends Error { constructor(code) { super('x'); this.name = 'SatchelEventSchemaError'; this.code = code; } }; new SatchelError('INVALID_EVENT')",
    );
    expect(foreign).not.toBeInstanceOf(Error);
    expect(isSatchelError(foreign, 'INVALID_EVENT')).toBe(true);
  });

  it('U5 a raw Error object through structuredClone keeps only message and stack: the guard does not match it', () => {
    // The HTML structured clone keeps an error's message, stack and a standard name only: a worker
    // must post the error's fields (as above), not the Error object.
    const error = thrown(() => upcast({ type: 'Nope', v: 1, data: {} }));
    const cloned = structuredClone(error) as { name?: unknown; code?: unknown };
    expect([cloned.name, cloned.code]).toEqual(['Error', undefined]);
    expect(isSatchelError(cloned)).toBe(false);
  });

  it('U5 isSatchelError matches a plain object shaped like a Satchel error (postMessage), and nothing else', () => {
    expect(
      isSatchelError(
        { name: 'SatchelEventSchemaError', code: 'INVALID_EVENT', message: 'x' },
        'INVALID_EVENT',
      ),
    ).toBe(true);
    expect(isSatchelError(new SatchelError('X', 'x'), 'X')).toBe(true);
    expect(isSatchelError({ isSatchelError: true, code: 'X' })).toBe(true);
    expect(isSatchelError(new Error('x'))).toBe(false);
    expect(isSatchelError({ name: 'SatchelError' })).toBe(false);
    expect(isSatchelError({ name: 'TypeError', code: 'X' })).toBe(false);
    expect(isSatchelError(null)).toBe(false);
    expect(isSatchelError('SatchelError')).toBe(false);
  });
});
