import type { Policy, Refusal } from '@satchel/protocol';
import type { PlaybackResult } from '@satchel/sdk';
import { describe, expect, it } from 'vitest';
import {
  allowanceWords,
  countdown,
  duration,
  endedWords,
  playbackWords,
  policyWords,
  refusalWords,
} from './words.js';

const UTC = { timeZone: 'UTC' };
const NOW = Date.UTC(2026, 10, 26, 12, 0);
const HOUR = 3600;
const DAY = 24 * HOUR;
const base: Policy = {
  licenseDurationSec: 30 * DAY,
  rentalDurationSec: 30 * DAY,
  playbackDurationSec: 48 * HOUR,
  offlineCheckInSec: 30 * DAY,
  maxDownloadsPerYear: null,
  maxRenewals: null,
  availableUntil: null,
};

describe('policy in plain words', () => {
  it('names the viewing window, the yearly limit and the day a title leaves', () => {
    const words = policyWords(
      { ...base, maxDownloadsPerYear: 3, availableUntil: Date.UTC(2026, 11, 3, 9) },
      NOW,
      UTC,
    );
    expect(words[0]).toBe('48 hours once you start watching');
    expect(words).toContain('3 downloads a year');
    expect(words).toContain('Leaves the catalogue on 3 December');
    expect(words).toContain('Keep the download up to 30 days');
  });

  it('says when a title has no viewing window, one download, no renewal, and a leaving date next year', () => {
    const words = policyWords(
      {
        ...base,
        playbackDurationSec: 0,
        maxDownloadsPerYear: 1,
        maxRenewals: 0,
        availableUntil: Date.UTC(2027, 2, 3),
      },
      NOW,
      UTC,
    );
    expect(words[0]).toBe('Watch as often as you like once you start');
    expect(words).toContain('1 download a year');
    expect(words).toContain('Cannot be renewed');
    expect(words).toContain('Leaves the catalogue on 3 March 2027');
  });

  it('picks the unit that reads naturally', () => {
    expect(duration(48 * HOUR)).toBe('48 hours');
    expect(duration(7 * DAY)).toBe('7 days');
    expect(duration(90 * 60)).toBe('90 minutes');
    expect(duration(1)).toBe('1 second');
  });

  it('counts down in days, hours, minutes and seconds', () => {
    expect(countdown((29 * DAY + 3 * HOUR + 4 * 60) * 1000)).toBe('29 d 3 h 4 min');
    expect(countdown((47 * HOUR + 59 * 60 + 12) * 1000)).toBe('47 h 59 min 12 s');
    expect(countdown(-5000)).toBe('0 s');
  });
});

describe('refusals as a person reads them', () => {
  const refusal = (r: Partial<Refusal> & Pick<Refusal, 'code'>): Refusal => ({
    message: 'wire message',
    ...r,
  });

  it('tells when a title can be downloaded again after the yearly limit', () => {
    expect(
      refusalWords(
        refusal({ code: 'YEARLY_LIMIT', limit: 3, used: 3, nextAvailableAt: Date.UTC(2027, 2, 3) }),
        NOW,
        UTC,
      ),
    ).toBe(
      'You have used all 3 downloads of this title for this year. You can download it again on 3 March 2027.',
    );
  });

  it('advises downloading again after the renewal limit only while a download of the year is left', () => {
    const limit = refusal({ code: 'RENEWAL_LIMIT', limit: 2 });
    expect(refusalWords(limit, NOW, UTC, { downloadsLeft: 1 })).toBe(
      'This download was already renewed 2 times, the most its studio allows. Delete it and download the title again.',
    );
    const spent = refusalWords(limit, NOW, UTC, { downloadsLeft: 0 });
    expect(spent).not.toMatch(/delete it|download the title again/i);
    expect(spent).toBe(
      'This download was already renewed 2 times, the most its studio allows. No downloads of this title are left this year either, so it cannot be downloaded again for now.',
    );
  });

  it('names the plan’s device limit', () => {
    expect(refusalWords(refusal({ code: 'DEVICE_LIMIT', limit: 2, used: 2 }), NOW, UTC)).toBe(
      'Your plan allows downloads on 2 devices at once. Delete the downloads on another device to download here.',
    );
    expect(refusalWords(refusal({ code: 'DEVICE_LIMIT', limit: 1 }), NOW, UTC)).toMatch(
      /^Your plan allows downloads on 1 device at once/,
    );
  });

  it('falls back to the server’s message for a code it has no words for', () => {
    expect(refusalWords(refusal({ code: 'INVALID_COMMAND' }), NOW, UTC)).toBe('wire message');
  });

  it('words the yearly allowance of a title: “1 more time before 3 March”', () => {
    const allowance = {
      titleId: 't',
      limit: 3,
      used: 2,
      remaining: 1,
      nextAvailableAt: Date.UTC(2027, 2, 3),
    };
    expect(allowanceWords(allowance, NOW, UTC)).toBe(
      'You can download this title 1 more time before 3 March 2027',
    );
    expect(allowanceWords({ ...allowance, used: 0, remaining: 3, nextAvailableAt: null }, NOW, UTC)).toBe(
      'You can download this title 3 more times this year',
    );
    expect(allowanceWords({ ...allowance, used: 3, remaining: 0 }, NOW, UTC)).toBe(
      'No downloads of this title left until 3 March 2027',
    );
    expect(allowanceWords({ ...allowance, limit: null, remaining: null }, NOW, UTC)).toBeNull();
  });
});

describe('playback decisions in words', () => {
  const license = { status: 'downloaded' as const, statusReason: null, policy: base, firstPlayedAt: NOW };
  const refused = (reason: string, expiredAt: number | null): PlaybackResult =>
    ({
      licenseId: 'l',
      secureNow: NOW,
      clockRollback: null,
      allowed: false,
      reason,
      expiredAt,
      message: 'm',
    }) as PlaybackResult;

  it('says the 48-hour window ended, and when', () => {
    expect(
      playbackWords(refused('EXPIRED_PLAYBACK_WINDOW', Date.UTC(2026, 10, 26, 9, 30)), license, NOW, UTC),
    ).toBe('The 48 hours to watch this title ended on 26 November, 09:30.');
  });

  it('says until when an allowed title plays, and what opens the window for an unplayed one', () => {
    const allowed = {
      licenseId: 'l',
      secureNow: NOW,
      clockRollback: null,
      allowed: true,
      expiresAt: Date.UTC(2026, 10, 28, 12),
      reason: 'PLAYBACK_WINDOW',
      timeLeftMs: 1,
    } as PlaybackResult;
    expect(playbackWords(allowed, license, NOW, UTC)).toBe(
      'Can play until 28 November, 12:00 (viewing window).',
    );
    expect(playbackWords(allowed, { ...license, firstPlayedAt: null }, NOW, UTC)).toBe(
      'Ready to play. Start now and you can watch until 28 November, 12:00 (viewing window).',
    );
  });

  it('explains a revocation by its reason', () => {
    expect(endedWords({ status: 'revoked', statusReason: 'DEVICE_DEACTIVATED' })).toBe(
      'Revoked: this device was deactivated.',
    );
    expect(
      playbackWords(
        refused('REVOKED', null),
        { ...license, status: 'revoked', statusReason: 'LIMIT_CONFLICT' },
        NOW,
        UTC,
      ),
    ).toBe('Revoked: another device took the last download slot while this one was offline.');
  });
});
