import { DEFAULT_POLICY } from '@satchel/core';
import type { LicenseState, PlaybackResult } from '@satchel/sdk';
import { describe, expect, it } from 'vitest';
import { actions, type CardContext, cardState, nextStepWords, stateLabel } from './card-state.js';

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
const facts = { transfer: undefined, stored: true, playing: false, keyRefused: false };
const context: CardContext = {
  online: true,
  renewalsLeft: null,
  downloadsLeft: null,
  nextDownloadOn: null,
  titleAvailable: true,
};

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

  it('never advises renewing or downloading again when the yearly allowance is spent: it says when the next frees up', () => {
    const state = cardState(license({ playback: refused('EXPIRED_PLAYBACK_WINDOW') }), facts);
    const spent = { ...context, renewalsLeft: 2, downloadsLeft: 0, nextDownloadOn: '3 March' };
    const can = actions(state, spent);
    const words = [nextStepWords(spent), can.play.why, can.renew.why].join(' ');
    expect(words).not.toMatch(/renew it|download it again|download the title again/i);
    expect(can.play.why).toBe(
      'Its time is up: no downloads of this title are left this year (a renewal counts as one); the next frees up on 3 March.',
    );
    expect(can.renew).toEqual({
      enabled: false,
      why: 'No downloads of this title are left this year (a renewal counts as one); the next frees up on 3 March.',
    });
    expect(can.remove.enabled).toBe(true);
  });

  it('advises deleting and downloading again only when no renewal is left but a download is', () => {
    const state = cardState(license({ playback: refused('EXPIRED_PLAYBACK_WINDOW') }), facts);
    const noRenewal = { ...context, renewalsLeft: 0, downloadsLeft: 2 };
    expect(actions(state, noRenewal).play.why).toBe(
      'Its time is up: it cannot be renewed again, so delete it and download the title again.',
    );
    expect(actions(state, noRenewal).renew.enabled).toBe(false);
    expect(actions(state, { ...context, renewalsLeft: 1, downloadsLeft: 2 }).play.why).toBe(
      'Its time is up: renew it to watch again.',
    );
    expect(actions(state, { ...context, online: false }).play.why).toBe(
      'Its time is up: go online and renew it to watch again.',
    );
  });

  it('says a withdrawn title can be neither renewed nor downloaded again, on active and ended cards', () => {
    const gone = { ...context, titleAvailable: false };
    const timeUp = cardState(license({ playback: refused('EXPIRED_PLAYBACK_WINDOW') }), facts);
    expect(actions(timeUp, gone).renew).toEqual({
      enabled: false,
      why: 'The title has left the catalogue, so it can be neither renewed nor downloaded again.',
    });
    const ended = cardState(license({ status: 'expired' }), facts);
    expect(actions(ended, gone).renew.why).toBe(
      'This licence has ended. The title has left the catalogue, so it can be neither renewed nor downloaded again.',
    );
    expect(actions(ended, { ...context, downloadsLeft: 0 }).renew.why).not.toMatch(
      /download the title again/,
    );
  });

  it('is "Key refused" once the licence proxy refused the key: nothing to resume, renew or play', () => {
    const state = cardState(license({ status: 'issued' }), { ...facts, stored: false, keyRefused: true });
    expect(stateLabel(state)).toBe('Key refused');
    const can = actions(state, context);
    expect(can.resume).toEqual({
      enabled: false,
      why: 'The server refused this licence’s key: a sync tells why.',
    });
    expect([can.play.enabled, can.renew.enabled, can.remove.enabled]).toEqual([false, false, true]);
  });
});
