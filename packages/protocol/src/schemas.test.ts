import { describe, expect, it } from 'vitest';
import {
  Allowance,
  DeviceEventEnvelope,
  DevicesResponse,
  DeviceView,
  EpochMs,
  EventRejectionCode,
  EventResult,
  Id,
  LicenseRequest,
  LicenseResponse,
  LicenseSnapshot,
  LicensesResponse,
  LicenseView,
  Plan,
  Policy,
  Refusal,
  RegisterDeviceRequest,
  RegisterDeviceResponse,
  ReleaseRequest,
  RenewRequest,
  SyncRequest,
  SyncResponse,
  Uuid,
  UuidV7,
} from './entries/schemas.js';
import {
  DEVICE_EVENT_TYPES,
  DOMAIN_REJECTION_CODES,
  EVENT_REJECTION_CODES,
  MAX_SYNC_BATCH_EVENTS,
} from './index.js';
import {
  DEVICE_UUID,
  device,
  EVENT_ID,
  event,
  LICENSE_ID,
  license,
  plan,
  policy,
  snapshot,
  syncRequest,
  T0,
} from './test-samples.js';

interface Schema {
  safeParse(value: unknown): { success: boolean; data?: unknown };
}

interface Case {
  readonly name: string;
  readonly schema: Schema;
  readonly valid: ReadonlyArray<unknown>;
  readonly invalid: ReadonlyArray<unknown>;
}

const refusal = {
  code: 'YEARLY_LIMIT',
  message: 'You can download this title again on 2026-03-01',
  limit: 3,
  used: 3,
  remaining: 0,
  nextAvailableAt: T0 + 86_400_000,
  titleId: 'title:42',
};

const cases: ReadonlyArray<Case> = [
  {
    name: 'EpochMs',
    schema: EpochMs,
    valid: [0, T0, 8.64e15],
    invalid: [-1, 1.5, 8.64e15 + 1, '1767225600000', null, Number.NaN, Number.POSITIVE_INFINITY],
  },
  {
    name: 'Uuid',
    schema: Uuid,
    valid: [
      DEVICE_UUID,
      EVENT_ID,
      '00000000-0000-0000-0000-000000000000',
      'ffffffff-ffff-1fff-0fff-ffffffffffff',
    ],
    invalid: [
      DEVICE_UUID.toUpperCase(),
      DEVICE_UUID.replaceAll('-', ''),
      `{${DEVICE_UUID}}`,
      `${DEVICE_UUID} `,
      1,
    ],
  },
  {
    name: 'UuidV7',
    schema: UuidV7,
    valid: [EVENT_ID, LICENSE_ID, '01936f6e-7a00-7000-b000-000000000000'],
    invalid: [
      DEVICE_UUID, // version 4
      EVENT_ID.toUpperCase(),
      '01936f6e-7a00-6b2c-8d3e-4f5a6b7c8d9e', // version 6
      '01936f6e-7a00-7b2c-cd3e-4f5a6b7c8d9e', // variant 110x
      '01936f6e-7a00-7b2c-7d3e-4f5a6b7c8d9e', // variant 0xxx
      '',
    ],
  },
  {
    name: 'Id',
    schema: Id,
    valid: ['a', 'title:42', 'device-1', 'A.b_c:d-e', 'x'.repeat(128), DEVICE_UUID],
    invalid: ['', 'x'.repeat(129), 'with space', 'slash/no', 'ünïcode', 42],
  },
  {
    name: 'Policy',
    schema: Policy,
    valid: [
      policy,
      {
        ...policy,
        rentalDurationSec: 0,
        playbackDurationSec: 0,
        offlineCheckInSec: 0,
        maxDownloadsPerYear: 5,
        maxRenewals: null,
        availableUntil: T0,
      },
    ],
    invalid: [
      { ...policy, licenseDurationSec: -1 },
      { ...policy, licenseDurationSec: 0 },
      { ...policy, rentalDurationSec: 1.5 },
      { ...policy, maxRenewals: undefined },
      { ...policy, availableUntil: '2026-01-01' },
      { ...policy, offlineCheckInSec: null },
    ],
  },
  {
    name: 'Plan',
    schema: Plan,
    valid: [plan, { ...plan, maxDownloadsPerMonth: null }],
    invalid: [
      { ...plan, planId: '' },
      { ...plan, maxDownloadDevices: -1 },
      { ...plan, maxDownloadsPerMonth: undefined },
    ],
  },
  {
    name: 'DeviceEventEnvelope',
    schema: DeviceEventEnvelope,
    valid: [
      event,
      ...DEVICE_EVENT_TYPES.map((type) => ({ ...event, type })),
      { ...event, v: 1000, data: {} },
      { ...event, data: JSON.parse('{"nested": {"__proto__": 1}, "constructor": 2}') },
    ],
    invalid: [
      { ...event, eventId: DEVICE_UUID },
      { ...event, seq: 0 },
      { ...event, seq: 1.5 },
      { ...event, type: 'LicenseIssued' },
      { ...event, v: 0 },
      { ...event, v: 1001 },
      { ...event, occurredAt: -5 },
      { ...event, trustedAt: undefined },
      { ...event, data: null },
      { ...event, data: [1, 2] },
      { ...event, data: 'x' },
    ],
  },
  {
    name: 'SyncRequest',
    schema: SyncRequest,
    valid: [
      syncRequest,
      { ...syncRequest, snapshotVersion: null, events: [] },
      { ...syncRequest, events: [event, { ...event, seq: 5 }] },
    ],
    invalid: [
      { ...syncRequest, protocolVersion: 0 },
      { ...syncRequest, deviceId: '' },
      { ...syncRequest, snapshotVersion: -1 },
      { ...syncRequest, events: [{ ...event, seq: 2 }, event] },
      { ...syncRequest, events: [event, event] },
      { ...syncRequest, events: [{ ...event, type: 'Nope' }] },
      { ...syncRequest, events: undefined },
    ],
  },
  {
    name: 'EventResult',
    schema: EventResult,
    valid: [
      { status: 'accepted', seq: 1, eventId: EVENT_ID },
      { status: 'duplicate', seq: 1, eventId: EVENT_ID },
      ...EVENT_REJECTION_CODES.map((code) => ({
        status: 'rejected',
        seq: 3,
        eventId: EVENT_ID,
        code,
        message: code,
      })),
    ],
    invalid: [
      { status: 'rejected', seq: 1, eventId: EVENT_ID, code: 'SEQ_GAP', message: 'x' },
      { status: 'rejected', seq: 1, eventId: EVENT_ID, message: 'x' },
      { status: 'ignored', seq: 1, eventId: EVENT_ID },
      { status: 'accepted', seq: 0, eventId: EVENT_ID },
      { status: 'accepted', seq: 1 },
    ],
  },
  {
    name: 'SyncResponse',
    schema: SyncResponse,
    valid: [
      {
        protocolVersion: 1,
        results: [
          { status: 'accepted', seq: 1, eventId: EVENT_ID },
          { status: 'rejected', seq: 2, eventId: LICENSE_ID, code: 'LICENSE_NOT_ACTIVE', message: 'expired' },
        ],
        ackSeq: 2,
        serverTime: T0,
        snapshot,
      },
      { protocolVersion: 1, results: [], ackSeq: 0, serverTime: T0, snapshot },
    ],
    invalid: [
      { protocolVersion: 1, results: [], ackSeq: -1, serverTime: T0, snapshot },
      { protocolVersion: 1, results: [], ackSeq: 0, serverTime: T0 },
      { protocolVersion: 1, results: [{ status: 'accepted' }], ackSeq: 0, serverTime: T0, snapshot },
    ],
  },
  {
    name: 'LicenseView',
    schema: LicenseView,
    valid: [
      license,
      {
        ...license,
        status: 'revoked',
        statusReason: 'DEVICE_DEACTIVATED',
        firstPlayedAt: T0 + 1,
        lastPositionMs: 12_345,
        endedAt: T0 + 2,
        renewals: 2,
        expiryReason: 'PLAYBACK_WINDOW',
      },
    ],
    invalid: [
      { ...license, status: 'active' },
      { ...license, expiryReason: 'SOMETHING' },
      { ...license, renewals: -1 },
      { ...license, licenseId: 'not-a-uuid' },
      { ...license, statusReason: undefined },
      { ...license, policy: { ...policy, maxRenewals: 'many' } },
    ],
  },
  {
    name: 'DeviceView',
    schema: DeviceView,
    valid: [device, { ...device, status: 'deactivated', deactivatedAt: T0 }],
    invalid: [
      { ...device, name: '' },
      { ...device, name: 'n'.repeat(101) },
      { ...device, status: 'gone' },
    ],
  },
  {
    name: 'Allowance',
    schema: Allowance,
    valid: [
      { titleId: 't', limit: null, used: 0, remaining: null, nextAvailableAt: null },
      { titleId: 't', limit: 2, used: 2, remaining: 0, nextAvailableAt: T0 },
    ],
    invalid: [
      { titleId: 't', limit: 2, used: -1, remaining: 0, nextAvailableAt: null },
      { titleId: 't', limit: 2, used: 1, remaining: 1 },
    ],
  },
  {
    name: 'LicenseSnapshot',
    schema: LicenseSnapshot,
    valid: [snapshot, { ...snapshot, version: 0, licenses: [], allowances: [], devices: [] }],
    invalid: [
      { ...snapshot, version: -1 },
      { ...snapshot, plan: undefined },
      { ...snapshot, licenses: [{ ...license, status: 'x' }] },
      { ...snapshot, device: { ...device, status: 'x' } },
    ],
  },
  {
    name: 'LicenseRequest',
    schema: LicenseRequest,
    valid: [{ titleId: 'title:42' }, { titleId: 'title:42', licenseId: LICENSE_ID }],
    invalid: [{}, { titleId: '' }, { titleId: 'title:42', licenseId: DEVICE_UUID }, { titleId: 'a b' }],
  },
  {
    name: 'RenewRequest',
    schema: RenewRequest,
    valid: [{ licenseId: LICENSE_ID }, { licenseId: DEVICE_UUID }],
    invalid: [{}, { licenseId: 'x' }, { licenseId: LICENSE_ID.toUpperCase() }],
  },
  {
    name: 'ReleaseRequest',
    schema: ReleaseRequest,
    valid: [{ licenseId: LICENSE_ID }],
    invalid: [{}, { licenseId: 7 }],
  },
  {
    name: 'Refusal',
    schema: Refusal,
    valid: [
      refusal,
      { code: 'DEVICE_LIMIT', message: 'Too many devices' },
      ...DOMAIN_REJECTION_CODES.map((code) => ({ code, message: code, licenseId: LICENSE_ID, retryAt: T0 })),
    ],
    invalid: [
      { ...refusal, code: 'INVALID_EVENT' },
      { ...refusal, code: 'RATE_LIMITED' },
      { ...refusal, remaining: -1 },
      { ...refusal, message: undefined },
      { ...refusal, licenseId: 'x' },
    ],
  },
  {
    name: 'LicenseResponse',
    schema: LicenseResponse,
    valid: [
      { outcome: 'granted', license, snapshot },
      { outcome: 'refused', refusal, snapshot },
    ],
    invalid: [
      { outcome: 'granted', refusal, snapshot },
      { outcome: 'refused', license, snapshot },
      { outcome: 'maybe', license, snapshot },
      { outcome: 'granted', license },
    ],
  },
  {
    name: 'LicensesResponse',
    schema: LicensesResponse,
    valid: [
      { licenses: [license], serverTime: T0 },
      { licenses: [], serverTime: 0 },
    ],
    invalid: [{ licenses: [] }, { licenses: [{}], serverTime: T0 }],
  },
  {
    name: 'RegisterDeviceRequest',
    schema: RegisterDeviceRequest,
    valid: [
      { name: 'Laptop' },
      { name: 'L', deviceId: DEVICE_UUID, platform: 'electron' },
      { name: 'n'.repeat(100), platform: 'web' },
    ],
    invalid: [
      { name: '' },
      { name: 'n'.repeat(101) },
      { name: 'Laptop', platform: 'ios' },
      { name: 'Laptop', deviceId: 'device-1' },
      {},
    ],
  },
  {
    name: 'RegisterDeviceResponse',
    schema: RegisterDeviceResponse,
    valid: [{ deviceId: 'device-1', token: 'tok', tokenExpiresAt: T0, snapshot }],
    invalid: [
      { deviceId: 'device-1', token: '', tokenExpiresAt: T0, snapshot },
      { deviceId: 'device-1', token: 'tok', snapshot },
    ],
  },
  {
    name: 'DevicesResponse',
    schema: DevicesResponse,
    valid: [{ devices: [] }, { devices: [device] }],
    invalid: [{}, { devices: [{ ...device, deviceId: '' }] }],
  },
];

describe.each(cases)('$name', ({ schema, valid, invalid }) => {
  it.each(valid.map((value, i) => [i, value] as const))('accepts valid sample %i', (_i, value) => {
    const parsed = schema.safeParse(value);
    expect(parsed.success).toBe(true);
    expect(parsed.data).toEqual(value);
  });

  it.each(invalid.map((value, i) => [i, value] as const))('refuses invalid sample %i', (_i, value) => {
    expect(schema.safeParse(value).success).toBe(false);
  });
});

describe('event data', () => {
  it('drops a top-level __proto__ key instead of assigning a prototype', () => {
    const data = JSON.parse('{"__proto__": {"polluted": true}, "positionMs": 5}');
    const parsed = DeviceEventEnvelope.parse({ ...event, data });
    expect(parsed.data).toEqual({ positionMs: 5 });
    expect(Object.getPrototypeOf(parsed.data)).toBe(Object.prototype);
    expect(Object.hasOwn(parsed.data, '__proto__')).toBe(false);
  });
});

describe('sync batch limit', () => {
  const batch = (n: number) => Array.from({ length: n }, (_, i) => ({ ...event, seq: i + 1 }));

  it(`accepts exactly ${MAX_SYNC_BATCH_EVENTS} events`, () => {
    expect(SyncRequest.safeParse({ ...syncRequest, events: batch(MAX_SYNC_BATCH_EVENTS) }).success).toBe(
      true,
    );
  });

  it(`refuses ${MAX_SYNC_BATCH_EVENTS + 1} events`, () => {
    const parsed = SyncRequest.safeParse({ ...syncRequest, events: batch(MAX_SYNC_BATCH_EVENTS + 1) });
    expect(parsed.success).toBe(false);
    expect(parsed.error?.issues[0]?.path).toEqual(['events']);
  });
});

describe('rejection codes', () => {
  it('lists the protocol codes and then every domain code, without duplicates', () => {
    expect(EVENT_REJECTION_CODES.slice(0, 5)).toEqual([
      'INVALID_EVENT',
      'UNKNOWN_EVENT_TYPE',
      'UNSUPPORTED_EVENT_VERSION',
      'EVENT_ID_REUSED',
      'DEVICE_MISMATCH',
    ]);
    expect(EVENT_REJECTION_CODES.slice(5)).toEqual([...DOMAIN_REJECTION_CODES]);
    expect(new Set(EVENT_REJECTION_CODES).size).toBe(EVENT_REJECTION_CODES.length);
    expect(DOMAIN_REJECTION_CODES).toHaveLength(17);
  });

  it('is a closed enum', () => {
    expect(EventRejectionCode.safeParse('YEARLY_LIMIT').success).toBe(true);
    expect(EventRejectionCode.safeParse('yearly_limit').success).toBe(false);
  });
});
