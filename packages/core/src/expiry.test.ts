import { describe, expect, it } from 'vitest';
import type { ExpiryReason } from './events.js';
import { computeExpiry, type ExpiryTerms, evaluatePlayback, type LicenseLike } from './expiry.js';
import { DEFAULT_POLICY, type Policy, policy } from './policy.js';
import { hardExpiry } from './state.js';
import { Account, MARCH_1, utc } from './testing.js';
import { DAY_MS, HOUR_MS, SECOND_MS } from './time.js';

const days = (n: number) => (n * DAY_MS) / SECOND_MS;
const hours = (n: number) => (n * HOUR_MS) / SECOND_MS;

function terms(
  overrides: Omit<Partial<ExpiryTerms>, 'policy'> & { policy?: Partial<Policy> } = {},
): ExpiryTerms {
  return {
    issuedAt: MARCH_1,
    firstPlayedAt: null,
    lastCheckInAt: null,
    ...overrides,
    policy: policy(overrides.policy ?? {}),
  };
}

describe('expiry table (docs/domain.md)', () => {
  const rows: Array<[string, ExpiryTerms, string, ExpiryReason]> = [
    [
      'E1 not played, rental shorter than licence',
      terms({ policy: { rentalDurationSec: days(7) } }),
      '2026-03-08T10:00Z',
      'RENTAL',
    ],
    [
      'E2 not played, licence shorter than rental',
      terms({ policy: { licenseDurationSec: days(2) } }),
      '2026-03-03T10:00Z',
      'LICENSE_DURATION',
    ],
    [
      'E3 played, the 48 h window ends first',
      terms({ firstPlayedAt: utc('2026-03-05T20:00Z') }),
      '2026-03-07T20:00Z',
      'PLAYBACK_WINDOW',
    ],
    [
      'E4 played late, the licence cap comes first',
      terms({ firstPlayedAt: utc('2026-03-30T09:00Z') }),
      '2026-03-31T10:00Z',
      'LICENSE_DURATION',
    ],
    [
      'E5 the check-in deadline comes first',
      terms({ lastCheckInAt: utc('2026-03-02T08:00Z'), policy: { offlineCheckInSec: days(2) } }),
      '2026-03-04T08:00Z',
      'CHECK_IN',
    ],
    [
      'E5 the check-in deadline binds after the first play too',
      terms({ firstPlayedAt: utc('2026-03-05T20:00Z'), lastCheckInAt: utc('2026-02-04T08:00Z') }),
      '2026-03-06T08:00Z',
      'CHECK_IN',
    ],
    [
      'E6 the title leaves the catalogue first',
      terms({
        firstPlayedAt: utc('2026-03-05T20:00Z'),
        policy: { availableUntil: utc('2026-03-06T00:00Z') },
      }),
      '2026-03-06T00:00Z',
      'AVAILABILITY',
    ],
    [
      'E6 availability before the first play',
      terms({ policy: { availableUntil: utc('2026-03-02T00:00Z') } }),
      '2026-03-02T00:00Z',
      'AVAILABILITY',
    ],
    [
      'E7 rental 0: no start deadline, the licence cap binds',
      terms({ policy: { rentalDurationSec: 0 } }),
      '2026-03-31T10:00Z',
      'LICENSE_DURATION',
    ],
    [
      'E7 rental 0 with a licence longer than the default rental',
      terms({ policy: { rentalDurationSec: 0, licenseDurationSec: days(60) } }),
      '2026-04-30T10:00Z',
      'LICENSE_DURATION',
    ],
    [
      'E8 playback 0: no window once started, the licence cap binds',
      terms({ firstPlayedAt: utc('2026-03-05T20:00Z'), policy: { playbackDurationSec: 0 } }),
      '2026-03-31T10:00Z',
      'LICENSE_DURATION',
    ],
    [
      'E9 check-in 0: no check-in bound even with an old check-in',
      terms({ lastCheckInAt: utc('2025-01-01T00:00Z'), policy: { offlineCheckInSec: 0 } }),
      '2026-03-31T10:00Z',
      'RENTAL',
    ],
    [
      'E9 no check-in known (hard expiry): no check-in bound',
      terms({ policy: { offlineCheckInSec: 1 } }),
      '2026-03-31T10:00Z',
      'RENTAL',
    ],
    ['E10 tie: rental and licence end together, RENTAL is named', terms(), '2026-03-31T10:00Z', 'RENTAL'],
    [
      'E10 tie: rental, licence and check-in together, RENTAL is named',
      terms({ lastCheckInAt: MARCH_1 }),
      '2026-03-31T10:00Z',
      'RENTAL',
    ],
    [
      'E10 tie: playback window and licence cap, PLAYBACK_WINDOW is named',
      terms({ firstPlayedAt: utc('2026-03-29T10:00Z') }),
      '2026-03-31T10:00Z',
      'PLAYBACK_WINDOW',
    ],
    [
      'E10 tie: licence cap and availability, LICENSE_DURATION is named',
      terms({ policy: { rentalDurationSec: 0, availableUntil: utc('2026-03-31T10:00Z') } }),
      '2026-03-31T10:00Z',
      'LICENSE_DURATION',
    ],
    [
      'E10 tie: availability and check-in, AVAILABILITY is named',
      terms({
        lastCheckInAt: utc('2026-03-01T12:00Z'),
        policy: { offlineCheckInSec: days(1), availableUntil: utc('2026-03-02T12:00Z') },
      }),
      '2026-03-02T12:00Z',
      'AVAILABILITY',
    ],
    [
      'E10 tie: rental and availability, RENTAL is named',
      terms({ policy: { rentalDurationSec: days(1), availableUntil: utc('2026-03-02T10:00Z') } }),
      '2026-03-02T10:00Z',
      'RENTAL',
    ],
    [
      'E11 a renewal restarts the term',
      terms({ issuedAt: utc('2026-03-06T12:00Z') }),
      '2026-04-05T12:00Z',
      'RENTAL',
    ],
    ['E12 the defaults: 30 days to start', terms(), '2026-03-31T10:00Z', 'RENTAL'],
    [
      'E12 the defaults: 48 h once started',
      terms({ firstPlayedAt: utc('2026-03-02T10:00Z') }),
      '2026-03-04T10:00Z',
      'PLAYBACK_WINDOW',
    ],
    [
      'E12 the defaults: check in every 30 days',
      terms({ lastCheckInAt: utc('2026-02-20T10:00Z') }),
      '2026-03-22T10:00Z',
      'CHECK_IN',
    ],
  ];

  it.each(rows)('%s', (_name, expiryTerms, expected, reason) => {
    expect(computeExpiry(expiryTerms)).toEqual({ expiresAt: utc(expected), reason });
  });

  it('E12 the default policy has the DESIGN.md numbers', () => {
    expect(DEFAULT_POLICY).toEqual({
      licenseDurationSec: 30 * 24 * 3600,
      rentalDurationSec: 30 * 24 * 3600,
      playbackDurationSec: 48 * 3600,
      offlineCheckInSec: 30 * 24 * 3600,
      maxDownloadsPerYear: null,
      maxRenewals: null,
      availableUntil: null,
    });
  });

  it('E9 the hard expiry ignores the check-in bound', () => {
    const account = Account.open();
    account.download('l1', 'd1', 't1', MARCH_1, policy({ offlineCheckInSec: hours(1) }));
    expect(hardExpiry(account.license('l1'))).toEqual({
      expiresAt: utc('2026-03-31T10:00Z'),
      reason: 'RENTAL',
    });
  });

  it('E11 a renewal through decide restarts the term and clears the first play', () => {
    const account = Account.open();
    account.download('l1', 'd1', 't1', MARCH_1);
    account.play('l1', 'd1', utc('2026-03-05T20:00Z'));
    expect(hardExpiry(account.license('l1')).expiresAt).toBe(utc('2026-03-07T20:00Z'));
    account.renew('l1', 'd1', utc('2026-03-06T12:00Z'));
    const renewed = account.license('l1');
    expect(renewed).toMatchObject({
      issuedAt: utc('2026-03-06T12:00Z'),
      firstIssuedAt: MARCH_1,
      firstPlayedAt: null,
      renewals: 1,
    });
    expect(hardExpiry(renewed)).toEqual({ expiresAt: utc('2026-04-05T12:00Z'), reason: 'RENTAL' });
  });
});

function license(
  overrides: Omit<Partial<LicenseLike>, 'policy'> & { policy?: Partial<Policy> } = {},
): LicenseLike {
  return {
    status: 'downloaded',
    statusReason: null,
    issuedAt: MARCH_1,
    firstPlayedAt: null,
    lastCheckInAt: MARCH_1,
    ...overrides,
    policy: policy(overrides.policy ?? {}),
  };
}

describe('playback decisions (docs/domain.md)', () => {
  const now = utc('2026-03-05T20:00Z');

  it.each([
    ['P1 revoked', 'REVOKED', license({ status: 'revoked', statusReason: 'LIMIT_CONFLICT' })],
    ['P2 released', 'RELEASED', license({ status: 'released' })],
    ['P3 issued, not downloaded', 'NOT_DOWNLOADED', license({ status: 'issued' })],
    ['P4 expired: RENTAL', 'EXPIRED_RENTAL', license({ status: 'expired', statusReason: 'RENTAL' })],
    [
      'P4 expired: PLAYBACK_WINDOW',
      'EXPIRED_PLAYBACK_WINDOW',
      license({ status: 'expired', statusReason: 'PLAYBACK_WINDOW' }),
    ],
    [
      'P4 expired: LICENSE_DURATION',
      'EXPIRED_LICENSE',
      license({ status: 'expired', statusReason: 'LICENSE_DURATION' }),
    ],
    ['P4 expired: CHECK_IN', 'CHECK_IN_REQUIRED', license({ status: 'expired', statusReason: 'CHECK_IN' })],
    [
      'P4 expired: AVAILABILITY',
      'TITLE_UNAVAILABLE',
      license({ status: 'expired', statusReason: 'AVAILABILITY' }),
    ],
    ['P4 expired: no reason', 'EXPIRED', license({ status: 'expired', statusReason: null })],
    [
      'P4 expired: an unknown reason',
      'EXPIRED',
      license({ status: 'expired', statusReason: 'SOMETHING_NEW' }),
    ],
    [
      'P4 expired: a reason that is an Object.prototype key',
      'EXPIRED',
      license({ status: 'expired', statusReason: 'toString' }),
    ],
  ] as const)('%s → refused %s', (_name, reason, subject) => {
    const decision = evaluatePlayback(subject, now);
    expect(decision).toMatchObject({ allowed: false, reason, expiredAt: null });
    expect(decision.allowed === false && decision.message.length > 0).toBe(true);
  });

  it.each([
    [
      'P5 never played, rental over',
      'EXPIRED_RENTAL',
      license({ policy: { rentalDurationSec: days(2) } }),
      '2026-03-03T10:00Z',
    ],
    [
      'P6 played, window over',
      'EXPIRED_PLAYBACK_WINDOW',
      license({ firstPlayedAt: utc('2026-03-02T10:00Z') }),
      '2026-03-04T10:00Z',
    ],
    [
      'P7 licence cap over',
      'EXPIRED_LICENSE',
      license({ policy: { licenseDurationSec: days(4), rentalDurationSec: 0 } }),
      '2026-03-05T10:00Z',
    ],
    [
      'P8 no check-in for too long',
      'CHECK_IN_REQUIRED',
      license({ lastCheckInAt: utc('2026-02-01T00:00Z') }),
      '2026-03-03T00:00Z',
    ],
    [
      'P9 title left the catalogue',
      'TITLE_UNAVAILABLE',
      license({ policy: { availableUntil: utc('2026-03-04T00:00Z') } }),
      '2026-03-04T00:00Z',
    ],
  ] as const)('%s → refused %s with expiredAt', (_name, reason, subject, expiredAt) => {
    expect(evaluatePlayback(subject, now)).toMatchObject({
      allowed: false,
      reason,
      expiredAt: utc(expiredAt),
    });
    expect(evaluatePlayback(subject, utc(expiredAt))).toMatchObject({
      allowed: false,
      reason,
      expiredAt: utc(expiredAt),
    });
    // one millisecond before, the same licence plays
    expect(evaluatePlayback(subject, utc(expiredAt) - 1)).toMatchObject({ allowed: true });
  });

  it.each([
    ['P10 not played: the window opens now', license(), now, '2026-03-07T20:00Z', 'PLAYBACK_WINDOW'],
    [
      'P10 not played, near the licence cap: the cap binds',
      license(),
      utc('2026-03-30T09:00Z'),
      '2026-03-31T10:00Z',
      'LICENSE_DURATION',
    ],
    [
      'P10 not played, the check-in binds',
      license({ lastCheckInAt: utc('2026-02-04T08:00Z') }),
      now,
      '2026-03-06T08:00Z',
      'CHECK_IN',
    ],
    [
      'P10 not played, availability binds',
      license({ policy: { availableUntil: utc('2026-03-06T00:00Z') } }),
      now,
      '2026-03-06T00:00Z',
      'AVAILABILITY',
    ],
    [
      'P10 not played, playback 0: the licence cap binds',
      license({ policy: { playbackDurationSec: 0 } }),
      now,
      '2026-03-31T10:00Z',
      'LICENSE_DURATION',
    ],
    [
      'P11 already played: the running window',
      license({ firstPlayedAt: utc('2026-03-05T08:00Z') }),
      now,
      '2026-03-07T08:00Z',
      'PLAYBACK_WINDOW',
    ],
  ] as const)('%s', (_name, subject, at, expiresAt, reason) => {
    expect(evaluatePlayback(subject, at)).toEqual({
      allowed: true,
      expiresAt: utc(expiresAt),
      reason,
      timeLeftMs: utc(expiresAt) - at,
    });
  });

  it('P12 one millisecond before expiresAt plays, at expiresAt it is refused', () => {
    const played = license({ firstPlayedAt: now });
    const end = utc('2026-03-07T20:00Z');
    expect(evaluatePlayback(played, end - 1)).toMatchObject({ allowed: true, timeLeftMs: 1, expiresAt: end });
    expect(evaluatePlayback(played, end)).toMatchObject({
      allowed: false,
      reason: 'EXPIRED_PLAYBACK_WINDOW',
      expiredAt: end,
    });
    expect(evaluatePlayback(played, end + 1)).toMatchObject({
      allowed: false,
      reason: 'EXPIRED_PLAYBACK_WINDOW',
    });
  });

  it('P12 the rental edge: unplayed at issuedAt + rental − 1 ms still starts, with the full window capped by the licence', () => {
    const subject = license({ policy: { rentalDurationSec: days(2), licenseDurationSec: days(3) } });
    const rentalEnd = utc('2026-03-03T10:00Z');
    expect(evaluatePlayback(subject, rentalEnd - 1)).toEqual({
      allowed: true,
      expiresAt: utc('2026-03-04T10:00Z'),
      reason: 'LICENSE_DURATION',
      timeLeftMs: DAY_MS + 1,
    });
    expect(evaluatePlayback(subject, rentalEnd)).toMatchObject({ allowed: false, reason: 'EXPIRED_RENTAL' });
  });
});

describe('the worked example (docs/domain.md)', () => {
  const firstPlay = utc('2026-03-05T20:00Z');

  function downloaded(terms: Policy = policy()) {
    const account = Account.open();
    account.download('l1', 'd1', 'film', MARCH_1, terms);
    return account;
  }

  it('W1 issued 1 March 10:00 with the defaults: expires 31 March 10:00 before the first play', () => {
    const account = downloaded();
    const l1 = { ...account.license('l1'), lastCheckInAt: MARCH_1 };
    expect(computeExpiry(l1)).toEqual({ expiresAt: utc('2026-03-31T10:00Z'), reason: 'RENTAL' });
    expect(evaluatePlayback(l1, utc('2026-03-31T10:00Z'))).toMatchObject({
      allowed: false,
      reason: 'EXPIRED_RENTAL',
    });
  });

  it('W2 first play 5 March 20:00: expires 7 March 20:00', () => {
    const account = downloaded();
    const before = { ...account.license('l1'), lastCheckInAt: MARCH_1 };
    expect(evaluatePlayback(before, firstPlay)).toEqual({
      allowed: true,
      expiresAt: utc('2026-03-07T20:00Z'),
      reason: 'PLAYBACK_WINDOW',
      timeLeftMs: 48 * HOUR_MS,
    });
    expect(account.play('l1', 'd1', firstPlay).ok).toBe(true);
    const after = { ...account.license('l1'), lastCheckInAt: MARCH_1 };
    expect(after.firstPlayedAt).toBe(firstPlay);
    expect(evaluatePlayback(after, utc('2026-03-07T19:59:59.999Z'))).toMatchObject({
      allowed: true,
      timeLeftMs: 1,
    });
    expect(evaluatePlayback(after, utc('2026-03-07T20:00Z'))).toMatchObject({
      allowed: false,
      reason: 'EXPIRED_PLAYBACK_WINDOW',
      expiredAt: utc('2026-03-07T20:00Z'),
    });
    expect(account.ok({ type: 'ExpireLicenses', now: utc('2026-03-08T00:00Z') })).toEqual([
      {
        type: 'LicenseExpired',
        data: { licenseId: 'l1', at: utc('2026-03-07T20:00Z'), reason: 'PLAYBACK_WINDOW' },
      },
    ]);
  });

  it('W3 check in every 3 days, last sync 3 March 12:00: stops at 6 March 12:00 until a sync', () => {
    const account = downloaded(policy({ offlineCheckInSec: days(3) }));
    account.play('l1', 'd1', firstPlay);
    const synced = (at: number) => ({ ...account.license('l1'), lastCheckInAt: at });
    expect(evaluatePlayback(synced(utc('2026-03-03T12:00Z')), firstPlay)).toEqual({
      allowed: true,
      expiresAt: utc('2026-03-06T12:00Z'),
      reason: 'CHECK_IN',
      timeLeftMs: 16 * HOUR_MS,
    });
    expect(evaluatePlayback(synced(utc('2026-03-03T12:00Z')), utc('2026-03-06T12:00Z'))).toMatchObject({
      allowed: false,
      reason: 'CHECK_IN_REQUIRED',
      expiredAt: utc('2026-03-06T12:00Z'),
    });
    expect(evaluatePlayback(synced(utc('2026-03-06T18:00Z')), utc('2026-03-06T18:00Z'))).toMatchObject({
      allowed: true,
      expiresAt: utc('2026-03-07T20:00Z'),
      reason: 'PLAYBACK_WINDOW',
    });
  });

  it('W4 withdrawn on 2 March for 6 March 00:00: expires then, no more downloads', () => {
    const account = downloaded();
    account.ok({
      type: 'WithdrawTitle',
      titleId: 'film',
      availableUntil: utc('2026-03-06T00:00Z'),
      now: utc('2026-03-02T09:00Z'),
    });
    account.play('l1', 'd1', firstPlay);
    const l1 = { ...account.license('l1'), lastCheckInAt: MARCH_1 };
    expect(computeExpiry(l1)).toEqual({ expiresAt: utc('2026-03-06T00:00Z'), reason: 'AVAILABILITY' });
    expect(evaluatePlayback(l1, firstPlay)).toMatchObject({ allowed: true, timeLeftMs: 4 * HOUR_MS });
    expect(evaluatePlayback(l1, utc('2026-03-06T00:00Z'))).toMatchObject({
      allowed: false,
      reason: 'TITLE_UNAVAILABLE',
    });
    expect(account.renew('l1', 'd1', utc('2026-03-06T00:00Z'))).toMatchObject({
      ok: false,
      rejection: { code: 'TITLE_UNAVAILABLE' },
    });
  });

  it('W5 renewals count as downloads: the fourth download is refused until 1 March 2027 10:00', () => {
    const account = downloaded(policy({ maxDownloadsPerYear: 3 }));
    account.play('l1', 'd1', firstPlay);
    account.renew('l1', 'd1', utc('2026-03-06T12:00Z'));
    expect(hardExpiry(account.license('l1'))).toEqual({
      expiresAt: utc('2026-04-05T12:00Z'),
      reason: 'RENTAL',
    });
    expect(account.renew('l1', 'd1', utc('2026-04-04T09:00Z')).ok).toBe(true);
    expect(account.renew('l1', 'd1', utc('2026-04-10T09:00Z'))).toEqual({
      ok: false,
      rejection: expect.objectContaining({
        code: 'YEARLY_LIMIT',
        limit: 3,
        used: 3,
        remaining: 0,
        nextAvailableAt: utc('2027-03-01T10:00Z'),
      }),
    });
  });
});
