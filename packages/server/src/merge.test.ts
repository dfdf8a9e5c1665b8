import {
  type AccountState,
  type Command,
  CURRENT_EVENT_VERSIONS,
  DAY_MS,
  DEFAULT_PLAN,
  type DeviceEventType,
  decide,
  fold,
  initialState,
  policy,
} from '@satchel/core';
import type { DeviceEventEnvelope } from '@satchel/protocol';
import { describe, expect, it } from 'vitest';
import { type MergeOutcome, type MergeRefusal, mergeBatch } from './merge.js';
import type { DeviceReceipt } from './store/types.js';
import { uuid } from './testing/ids.js';

const T0 = Date.UTC(2026, 2, 1, 10);
const DEVICE = 'd1';
const LICENSE = 'lic-1';

/** The account every case starts from: open, device d1 registered, one licence for d1 issued at T0. */
function account(extra: (now: number) => Command[] = () => []): AccountState {
  const commands: Command[] = [
    { type: 'OpenAccount', accountId: 'acc', plan: DEFAULT_PLAN, now: T0 },
    { type: 'RegisterDevice', deviceId: DEVICE, name: 'Laptop', now: T0 },
    { type: 'RegisterDevice', deviceId: 'd2', name: 'Phone', now: T0 },
    {
      type: 'IssueLicense',
      licenseId: LICENSE,
      deviceId: DEVICE,
      titleId: 'title-1',
      policy: policy({ rentalDurationSec: 30 * 86_400, playbackDurationSec: 48 * 3600 }),
      now: T0,
    },
    ...extra(T0),
  ];
  let state = initialState('acc');
  for (const c of commands) {
    const d = decide(state, c);
    if (!d.ok) throw new Error(`setup: ${d.rejection.code}`);
    state = fold(d.events, state);
  }
  return state;
}

function wire(
  seq: number,
  type: DeviceEventType,
  data: Record<string, unknown> = {},
  at = T0 + seq * 1000,
): DeviceEventEnvelope {
  return {
    eventId: uuid(),
    seq,
    type,
    v: CURRENT_EVENT_VERSIONS[type],
    occurredAt: at,
    trustedAt: at,
    data: {
      licenseId: LICENSE,
      deviceId: DEVICE,
      at,
      ...(type.startsWith('Playback') ? { positionMs: 0 } : {}),
      ...data,
    },
  };
}

const accepted = (seq: number, eventId: string): DeviceReceipt => ({
  deviceId: DEVICE,
  seq,
  eventId,
  status: 'accepted',
  code: null,
  message: null,
});

/** Given an account, a cursor and stored receipts; when a batch arrives at `now`; then an outcome. */
function given(setup: { state?: AccountState; cursor?: number; receipts?: DeviceReceipt[] } = {}) {
  const state = setup.state ?? account();
  const receipts = setup.receipts ?? [];
  return {
    when(events: DeviceEventEnvelope[], now = T0 + DAY_MS, deviceId = DEVICE): MergeOutcome | MergeRefusal {
      const cursor = setup.cursor ?? 0;
      const bySeq = new Map(receipts.filter((r) => r.deviceId === deviceId).map((r) => [r.seq, r]));
      const ids = new Set(events.filter((e) => e.seq > cursor).map((e) => e.eventId));
      const byEventId = new Map(receipts.filter((r) => ids.has(r.eventId)).map((r) => [r.eventId, r]));
      return mergeBatch({
        state,
        deviceId,
        cursor,
        events,
        seen: { bySeq, byEventId },
        now,
        requestId: 'req-1',
      });
    },
  };
}

function ok(outcome: MergeOutcome | MergeRefusal): MergeOutcome {
  if (!outcome.ok) throw new Error(`expected a merge, got ${outcome.reason}`);
  return outcome;
}

describe('mergeBatch', () => {
  it('accepts new events in seq order: appends them with the device id, receipts them and acks the last seq', () => {
    const batch = [
      wire(1, 'DownloadCompleted'),
      wire(2, 'PlaybackStarted'),
      wire(3, 'PlaybackStopped', { positionMs: 60_000 }),
    ];
    const out = ok(given().when(batch));
    expect(out.results).toEqual(batch.map((e) => ({ status: 'accepted', seq: e.seq, eventId: e.eventId })));
    expect(out.receipts).toEqual(batch.map((e) => accepted(e.seq, e.eventId)));
    expect(out.appends.map((a) => [a.event.type, a.eventId])).toEqual(batch.map((e) => [e.type, e.eventId]));
    expect(out.appends[1]?.metadata).toEqual({
      deviceId: DEVICE,
      seq: 2,
      deviceTime: T0 + 2000,
      trustedTime: T0 + 2000,
      receivedAt: T0 + DAY_MS,
      requestId: 'req-1',
    });
    expect(out.ackSeq).toBe(3);
    expect(out.state.licenses[LICENSE]).toMatchObject({ firstPlayedAt: T0 + 2000, lastPositionMs: 60_000 });
    expect(out.state.version).toBe(account().version + 3);
  });

  it('answers a replay below the cursor from its receipts and writes nothing new', () => {
    const first = wire(1, 'DownloadCompleted');
    const second = wire(2, 'PlaybackStarted');
    const refused: DeviceReceipt = {
      ...accepted(2, second.eventId),
      status: 'rejected',
      code: 'LICENSE_NOT_FOUND',
      message: 'gone',
    };
    const out = ok(
      given({ cursor: 2, receipts: [accepted(1, first.eventId), refused] }).when([first, second]),
    );
    expect(out.results).toEqual([
      { status: 'duplicate', seq: 1, eventId: first.eventId },
      { status: 'rejected', seq: 2, eventId: second.eventId, code: 'LICENSE_NOT_FOUND', message: 'gone' },
    ]);
    expect(out.receipts).toEqual([]);
    expect(out.appends).toEqual([]);
    expect(out.ackSeq).toBe(2);
  });

  it('refuses a seq at or below the cursor that arrives with another event id (EVENT_ID_REUSED)', () => {
    const first = wire(1, 'DownloadCompleted');
    const out = ok(
      given({ cursor: 1, receipts: [accepted(1, first.eventId)] }).when([{ ...first, eventId: uuid() }]),
    );
    expect(out.results).toMatchObject([{ status: 'rejected', seq: 1, code: 'EVENT_ID_REUSED' }]);
    expect(out.receipts).toEqual([]);
  });

  it('refuses the whole batch on a gap after the cursor (SEQ_GAP), deciding nothing', () => {
    expect(given({ cursor: 1 }).when([wire(2, 'PlaybackStarted'), wire(4, 'PlaybackStopped')])).toEqual({
      ok: false,
      reason: 'SEQ_GAP',
      expectedSeq: 2,
      receivedSeq: 4,
    });
    expect(given({ cursor: 1 }).when([wire(3, 'PlaybackStarted')])).toMatchObject({
      expectedSeq: 2,
      receivedSeq: 3,
    });
  });

  it('refuses a device the account never registered', () => {
    expect(given().when([wire(1, 'DownloadCompleted')], T0, 'stranger')).toEqual({
      ok: false,
      reason: 'UNKNOWN_DEVICE',
    });
  });

  it('refuses an event id already used (by any device, or earlier in the batch) without a receipt', () => {
    const usedElsewhere = wire(1, 'DownloadCompleted');
    const twice = wire(2, 'DownloadCompleted');
    const out = ok(
      given({ receipts: [{ ...accepted(9, usedElsewhere.eventId), deviceId: 'd2' }] }).when([
        usedElsewhere,
        twice,
        { ...wire(3, 'PlaybackStopped'), eventId: twice.eventId },
      ]),
    );
    expect(out.results.map((r) => [r.seq, r.status === 'rejected' ? r.code : r.status])).toEqual([
      [1, 'EVENT_ID_REUSED'],
      [2, 'accepted'],
      [3, 'EVENT_ID_REUSED'],
    ]);
    expect(out.receipts.map((r) => r.seq)).toEqual([2]);
    expect(out.ackSeq).toBe(3);
  });

  it('rejects for good, with a receipt, an event naming another device, one core cannot read and one the rules refuse — and goes on', () => {
    const batch = [
      wire(1, 'DownloadCompleted', { deviceId: 'd2' }),
      { ...wire(2, 'PlaybackStarted'), v: 99 },
      wire(3, 'PlaybackStarted', { licenseId: 'no-such-licence' }),
      wire(4, 'DownloadCompleted'),
    ];
    const out = ok(given().when(batch));
    expect(out.results.map((r) => (r.status === 'rejected' ? r.code : r.status))).toEqual([
      'DEVICE_MISMATCH',
      'UNSUPPORTED_EVENT_VERSION',
      'LICENSE_NOT_FOUND',
      'accepted',
    ]);
    expect(out.receipts.map((r) => [r.seq, r.status, r.code])).toEqual([
      [1, 'rejected', 'DEVICE_MISMATCH'],
      [2, 'rejected', 'UNSUPPORTED_EVENT_VERSION'],
      [3, 'rejected', 'LICENSE_NOT_FOUND'],
      [4, 'accepted', null],
    ]);
    expect(out.appends.map((a) => a.event.type)).toEqual(['DownloadCompleted']);
    expect(out.ackSeq).toBe(4);
  });

  it('expires licences due by now first, stamped with the request id, before applying the batch', () => {
    const now = T0 + 31 * DAY_MS;
    const out = ok(given().when([wire(1, 'PlaybackStarted', {}, now)], now));
    expect(out.appends.map((a) => [a.event.type, a.eventId, a.metadata])).toEqual([
      ['LicenseExpired', undefined, { requestId: 'req-1' }],
    ]);
    expect(out.results).toMatchObject([{ status: 'rejected', seq: 1 }]);
    expect(out.state.licenses[LICENSE]?.status).toBe('expired');
  });

  it('is pure: the input state is left as it was and the same input gives the same outcome', () => {
    const state = account();
    const before = structuredClone(state);
    const batch = [wire(1, 'DownloadCompleted'), wire(2, 'PlaybackStarted')];
    const a = given({ state }).when(batch);
    const b = given({ state }).when(batch);
    expect(state).toEqual(before);
    expect(a).toEqual(b);
  });

  it('acknowledges an empty batch at the cursor and appends only what expiry decides', () => {
    const out = ok(given({ cursor: 7 }).when([]));
    expect(out).toMatchObject({ results: [], receipts: [], appends: [], ackSeq: 7 });
  });
});
