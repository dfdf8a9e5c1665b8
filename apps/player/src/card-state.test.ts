import { DEFAULT_POLICY } from '@satchel/core';
import type { LicenseState, PlaybackResult } from '@satchel/sdk';
import { describe, expect, it } from 'vitest';
import { actions, cardState, stateLabel } from './card-state.js';

const NOW = Date.UTC(2026, 10, 26, 12, 0);
const allowed: PlaybackResult = {
  licenseId: 'l',
  secureNow: NOW,
  clockRollback: null,
  allowed: true,
  expiresAt: NOW + 1000,
  reason: 'PLAYBACK_WINDOW',
  timeLeftMs: 1000,
};
const refused = (reason: 'EXPIRED_PLAYBACK_WINDOW' | 'CHECK_IN_REQUIRED'): PlaybackResult => ({
  licenseId: 'l',
  secureNow: NOW,
  clockRollback: null,
  allowed: false,
  reason,
  expiredAt: NOW - 1,
  message: '',
});
const license = (over: Partial<LicenseState>): LicenseState => ({
  licenseId: 'l',
  titleId: 't',
  deviceId: 'd',
  status: 'downloaded',
  statusReason: null,
  policy: { ...DEFAULT_POLICY },
  issuedAt: NOW - 1000,
  firstPlayedAt: null,
  downloadedAt: NOW - 500,
  renewals: 0,
  lastPositionMs: null,
  endedAt: null,
  expiresAt: NOW + 1000,
  expiryReason: 'PLAYBACK_WINDOW',
  pendingSync: false,
  playback: allowed,
  ...over,
});
const facts = { transfer: undefined, stored: true, playing: false };
const context = { online: true, renewalsLeft: null, downloadsLeft: null };

describe('one state per licence card', () => {
  it('is "Time is up" — never "Downloaded" — once the offline decision refuses for time, and Play says why', () => {
    const state = cardState(license({ playback: refused('EXPIRED_PLAYBACK_WINDOW') }), facts);
    expect(stateLabel(state)).toBe('Time is up');
    const can = actions(state, context);
    expect(can.play).toEqual({ enabled: false, why: 'Its time is up: renew it to watch again.' });
    expect(can.renew.enabled).toBe(true);
    expect(can.remove.enabled).toBe(true);
  });

  it('asks for a sync, not a renewal, when the check-in is overdue', () => {
    const state = cardState(license({ playback: refused('CHECK_IN_REQUIRED') }), facts);
    expect(stateLabel(state)).toBe('Sync needed');
    expect(actions(state, context).play.why).toMatch(/^Go online and sync/);
  });

  it('is ready only with the bytes stored; playing while playing; downloading with a transfer', () => {
    expect(stateLabel(cardState(license({}), facts))).toBe('Ready to play');
    expect(stateLabel(cardState(license({}), { ...facts, stored: false }))).toBe('Media missing');
    expect(stateLabel(cardState(license({}), { ...facts, playing: true }))).toBe('Playing');
    expect(cardState(license({ status: 'issued' }), { ...facts, transfer: 0.4 })).toEqual({
      kind: 'downloading',
      progress: 0.4,
    });
    expect(stateLabel(cardState(license({ status: 'issued' }), facts))).toBe('Download interrupted');
  });

  it('ends released, revoked and expired licences with no action left but downloading again', () => {
    for (const [status, label] of [
      ['released', 'Deleted'],
      ['revoked', 'Revoked'],
      ['expired', 'Expired'],
    ] as const) {
      const state = cardState(license({ status }), facts);
      expect(stateLabel(state)).toBe(label);
      const can = actions(state, context);
      expect([can.play.enabled, can.renew.enabled, can.remove.enabled]).toEqual([false, false, false]);
    }
  });

  it('disables Renew when it can only be refused, and says which allowance is spent', () => {
    const state = cardState(license({}), facts);
    expect(actions(state, { ...context, online: false }).renew.why).toMatch(/offline/);
    expect(actions(state, { ...context, renewalsLeft: 0 }).renew.why).toBe(
      'No renewals are left for this licence.',
    );
    expect(actions(state, { ...context, downloadsLeft: 0 }).renew.why).toMatch(
      /No downloads of this title are left this year/,
    );
    expect(actions(state, { ...context, renewalsLeft: 1, downloadsLeft: 1 }).renew.enabled).toBe(true);
  });
});
