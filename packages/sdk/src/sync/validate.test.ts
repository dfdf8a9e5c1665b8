import { CURRENT_EVENT_VERSIONS } from '@satchel/core';
import {
  ERROR_CODES,
  MAX_SYNC_BATCH_EVENTS,
  MAX_SYNC_BODY_BYTES,
  PROTOCOL_ERROR_CODES,
  protocolError,
} from '@satchel/protocol';
import {
  LicenseResponse,
  ProtocolErrorCode,
  RegisterDeviceResponse,
  SyncResponse,
} from '@satchel/protocol/schemas';
import { describe, expect, it } from 'vitest';
import { DEVICE_EVENT_VERSIONS } from '../client.js';
import { licenseView, POLICY, snapshot, T0 } from '../testkit.js';
import { DEFAULT_BATCH_BYTES, DEFAULT_BATCH_EVENTS } from './engine.js';
import { retryAfterHeaderMs, retryableStatus } from './http.js';
import {
  LicenseResponseParser,
  RegisterDeviceResponseParser,
  readErrorResponse,
  SyncResponseParser,
} from './validate.js';

const EVENT_ID = '01936f6e-7a00-7b2c-8d3e-4f5a6b7c8d9e';
const samples = {
  EVENT_ID,
  T0,
  policy: POLICY,
  license: licenseView(),
  snapshot: snapshot(6, {
    licenses: [licenseView()],
    allowances: [{ titleId: 'title-1', limit: 3, used: 1, remaining: 2, nextAvailableAt: null }],
  }),
};

const syncResponse = {
  protocolVersion: 1,
  results: [
    { status: 'accepted', seq: 1, eventId: samples.EVENT_ID },
    { status: 'rejected', seq: 2, eventId: samples.EVENT_ID, code: 'LICENSE_NOT_FOUND', message: 'no' },
  ],
  ackSeq: 2,
  serverTime: samples.T0,
  snapshot: samples.snapshot,
};
const granted = { outcome: 'granted', license: samples.license, snapshot: samples.snapshot };
const refused = {
  outcome: 'refused',
  refusal: {
    code: 'YEARLY_LIMIT',
    message: 'limit',
    limit: 3,
    used: 3,
    remaining: 0,
    nextAvailableAt: samples.T0,
  },
  snapshot: samples.snapshot,
};
const registered = {
  deviceId: 'device-1',
  token: 't',
  tokenExpiresAt: samples.T0,
  snapshot: samples.snapshot,
};

const mutations: Array<[string, (v: Record<string, unknown>) => unknown]> = [
  ['not an object', () => 'nope'],
  ['negative ackSeq', (v) => ({ ...v, ackSeq: -1 })],
  ['fractional serverTime', (v) => ({ ...v, serverTime: 1.5 })],
  ['snapshot missing', (v) => ({ ...v, snapshot: undefined })],
  [
    'licence with unknown status',
    (v) => ({ ...v, snapshot: { ...samples.snapshot, licenses: [{ ...samples.license, status: 'lost' }] } }),
  ],
  [
    'policy with a string duration',
    (v) => ({
      ...v,
      snapshot: {
        ...samples.snapshot,
        licenses: [{ ...samples.license, policy: { ...samples.policy, offlineCheckInSec: '1' } }],
      },
    }),
  ],
  [
    'result with unknown status',
    (v) => ({ ...v, results: [{ status: 'maybe', seq: 1, eventId: samples.EVENT_ID }] }),
  ],
];

describe('lean response validators', () => {
  it('accept what the protocol schemas accept', () => {
    expect(SyncResponse.safeParse(syncResponse).success).toBe(true);
    expect(SyncResponseParser.safeParse(syncResponse).success).toBe(true);
    for (const body of [granted, refused]) {
      expect(LicenseResponse.safeParse(body).success).toBe(true);
      expect(LicenseResponseParser.safeParse(body)).toEqual({
        success: true,
        data: LicenseResponse.parse(body),
      });
    }
    expect(RegisterDeviceResponse.safeParse(registered).success).toBe(true);
    expect(RegisterDeviceResponseParser.safeParse(registered)).toEqual({
      success: true,
      data: RegisterDeviceResponse.parse(registered),
    });
    expect(SyncResponseParser.safeParse(syncResponse)).toEqual({
      success: true,
      data: SyncResponse.parse(syncResponse),
    });
  });

  it.each(mutations)('reject what the protocol schemas reject: %s', (_name, mutate) => {
    const body = mutate(syncResponse);
    expect(SyncResponse.safeParse(body).success).toBe(false);
    expect(SyncResponseParser.safeParse(body).success).toBe(false);
  });

  it('reject a licence answer with an unknown outcome', () => {
    const body = { ...granted, outcome: 'maybe' };
    expect(LicenseResponse.safeParse(body).success).toBe(false);
    expect(LicenseResponseParser.safeParse(body).success).toBe(false);
  });

  it('read every wire error code', () => {
    for (const code of PROTOCOL_ERROR_CODES) {
      const wire = { error: { ...protocolError(code as 'BAD_REQUEST', 'm'), retryAfterMs: 5 } };
      expect(readErrorResponse(wire)?.code).toBe(code);
    }
    expect(readErrorResponse('<html>')).toBeNull();
    expect(readErrorResponse({ error: { code: 'X' } })).toBeNull();
  });
});

describe('protocol constants the client keeps to stay small', () => {
  it('treats exactly the protocol retryable codes as retryable (by their HTTP status)', () => {
    for (const code of ProtocolErrorCode.options) {
      const info = ERROR_CODES[code];
      expect([code, retryableStatus(info.status)]).toEqual([code, info.retryable]);
    }
  });

  it('writes device events at core current schema versions', () => {
    for (const [type, v] of Object.entries(DEVICE_EVENT_VERSIONS)) {
      expect([type, v]).toEqual([type, CURRENT_EVENT_VERSIONS[type as keyof typeof CURRENT_EVENT_VERSIONS]]);
    }
  });

  it('batches within the protocol limits', () => {
    expect(DEFAULT_BATCH_EVENTS).toBeLessThanOrEqual(MAX_SYNC_BATCH_EVENTS);
    expect(DEFAULT_BATCH_BYTES).toBeLessThan(MAX_SYNC_BODY_BYTES);
  });

  it('parses Retry-After in seconds and as a date', () => {
    expect(retryAfterHeaderMs('3', 0)).toBe(3000);
    expect(retryAfterHeaderMs(new Date(10_000).toUTCString(), 4000)).toBe(6000);
    expect(retryAfterHeaderMs(null, 0)).toBeNull();
    expect(retryAfterHeaderMs('soon', 0)).toBeNull();
  });
});
