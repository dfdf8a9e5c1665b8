import type { Allowance } from '@satchel/protocol';
import type { SatchelStatus } from '@satchel/sdk';
import type { StoredMedia } from '@satchel/sdk/shaka';
import { describe, expect, it } from 'vitest';
import { accountAllowances, deviceReducer, initialDeviceState, type PanelState } from './state.js';

const status = { registered: true, deviceId: 'd1' } as SatchelStatus;
const allowance = (remaining: number): Allowance =>
  ({ titleId: 't', limit: 3, used: 3 - remaining, remaining, nextAvailableAt: null }) as Allowance;
const view = (over: Partial<PanelState> = {}): PanelState => ({
  status,
  licenses: [],
  plan: null,
  devices: [],
  allowances: [],
  accountId: 'a1',
  snapshotTime: 1000,
  ...over,
});
const media = { licenseId: 'l1', titleId: 't', bytes: 2048, durationMs: 6000 } as StoredMedia;

describe('a device’s reducer', () => {
  const start = initialDeviceState({ networkOff: false, clockOffsetMs: 0 });

  it('is pure: the state it was given is left as it was, and the same action gives the same state', () => {
    const frozen = Object.freeze({ ...start, notices: Object.freeze({ t: 'refused' }) });
    const a = deviceReducer(frozen, { type: 'notice', key: 'u', text: 'failed' });
    const b = deviceReducer(frozen, { type: 'notice', key: 'u', text: 'failed' });
    expect(a).toEqual(b);
    expect(frozen.notices).toEqual({ t: 'refused' });
    expect(a.notices).toEqual({ t: 'refused', u: 'failed' });
    expect(deviceReducer(a, { type: 'notice', key: 't', text: null }).notices).toEqual({ u: 'failed' });
  });

  it('takes a read: the view, the stored media by licence, and the secure clock’s lead over the wall clock', () => {
    const license = { licenseId: 'l1', status: 'downloaded', playback: { secureNow: 5000 } };
    const next = deviceReducer(start, {
      type: 'read',
      view: view({ licenses: [license] as unknown as PanelState['licenses'] }),
      media: [media],
      wallNow: 4000,
    });
    expect(next.view?.accountId).toBe('a1');
    expect(next.media).toEqual({ l1: media });
    expect(next.trustedSkewMs).toBe(1000);
  });

  it('drops the notice of a licence a read shows revoked or deleted', () => {
    const noticed = deviceReducer(start, { type: 'notice', key: 'l1', text: 'Cannot play' });
    const revoked = { licenseId: 'l1', status: 'revoked', playback: { secureNow: 1 } };
    const next = deviceReducer(noticed, {
      type: 'read',
      view: view({ licenses: [revoked] as unknown as PanelState['licenses'] }),
      media: [],
      wallNow: 1,
    });
    expect(next.notices).toEqual({});
  });

  it('keeps a transfer’s progress within 0..1 and forgets it when done', () => {
    const going = deviceReducer(start, { type: 'transfer', licenseId: 'l1', progress: 1.7 });
    expect(going.transfers).toEqual({ l1: 1 });
    expect(deviceReducer(going, { type: 'transfer', licenseId: 'l1', progress: null }).transfers).toEqual({});
  });

  it('moves the clock: forward is time going by (monotonic count too), back only sets the wall clock', () => {
    const forward = deviceReducer(start, { type: 'clock', ms: 49 * 3_600_000 });
    expect(forward.sim).toEqual({
      networkOff: false,
      clockOffsetMs: 49 * 3_600_000,
      advancedMs: 49 * 3_600_000,
    });
    const back = deviceReducer(forward, { type: 'clock', ms: -49 * 3_600_000 });
    expect(back.sim).toEqual({ networkOff: false, clockOffsetMs: 0, advancedMs: 49 * 3_600_000 });
    expect(deviceReducer(back, { type: 'network', off: true }).sim.networkOff).toBe(true);
  });

  it('opens a timeline (loading, then read) and closes it', () => {
    const loading = deviceReducer(start, { type: 'timeline', licenseId: 'l1', data: { kind: 'loading' } });
    const ready = deviceReducer(loading, {
      type: 'timeline',
      licenseId: 'l1',
      data: { kind: 'ready', events: [] },
    });
    expect(ready.timelines).toEqual({ l1: { kind: 'ready', events: [] } });
    expect(deviceReducer(ready, { type: 'timeline', licenseId: 'l1', data: null }).timelines).toEqual({});
  });
});

describe('the allowance an account’s cards show', () => {
  it('comes from the newest snapshot any device of the account holds, so two devices never disagree', () => {
    const stale = view({ snapshotTime: 1000, allowances: [allowance(2)] });
    const fresh = view({ snapshotTime: 2000, allowances: [allowance(1)] });
    expect(accountAllowances([stale, fresh], 'a1')).toEqual([allowance(1)]);
    expect(accountAllowances([fresh, stale], 'a1')).toEqual([allowance(1)]);
  });

  it('ignores other accounts’ devices and devices without a snapshot', () => {
    const other = view({ accountId: 'a2', snapshotTime: 9000, allowances: [allowance(0)] });
    const mine = view({ snapshotTime: 1000, allowances: [allowance(2)] });
    expect(accountAllowances([other, mine, null, view({ snapshotTime: null })], 'a1')).toEqual([
      allowance(2),
    ]);
    expect(accountAllowances([other], 'a1')).toEqual([]);
  });
});
