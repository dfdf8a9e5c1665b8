import { describe, expect, it } from 'vitest';
import { event } from './events.js';
import { policy } from './policy.js';
import { ENDED_LICENSE_RETENTION_MS, fold, initialState } from './state.js';
import { Account, accepted, MARCH_1, plan } from './testing.js';
import { DAY_MS, YEAR_WINDOW_MS } from './time.js';
import { deviceSnapshot, licenseView } from './views.js';

describe('the account state', () => {
  it('counts folded events as its version and keeps the latest instant', () => {
    const account = Account.open({ devices: ['d1', 'd2'] });
    accepted(account.issue('l1', 'd1', 'film', MARCH_1 + 5));
    expect(account.state.version).toBe(4);
    expect(account.state.lastEventAt).toBe(MARCH_1 + 5);
  });

  it('drops ended licences from the state after the retention, never active ones', () => {
    const account = Account.open();
    accepted(account.issue('old', 'd1', 'a', MARCH_1));
    account.ok({ type: 'ReleaseLicense', licenseId: 'old', deviceId: 'd1', now: MARCH_1 + 1 });
    accepted(
      account.issue(
        'kept',
        'd1',
        'b',
        MARCH_1 + 2,
        policy({ licenseDurationSec: (500 * DAY_MS) / 1000, rentalDurationSec: 0 }),
      ),
    );
    accepted(account.issue('late', 'd1', 'c', MARCH_1 + ENDED_LICENSE_RETENTION_MS));
    expect(Object.keys(account.state.licenses).sort()).toEqual(['kept', 'late', 'old']);
    accepted(account.issue('later', 'd1', 'd', MARCH_1 + 1 + ENDED_LICENSE_RETENTION_MS + 1));
    expect(Object.keys(account.state.licenses).sort()).toEqual(['kept', 'late', 'later']);
  });

  it('keeps the grants of the last 366 days: enough for every rolling-year count', () => {
    const account = Account.open();
    accepted(account.issue('l1', 'd1', 'a', MARCH_1));
    accepted(account.issue('l2', 'd1', 'b', MARCH_1 + YEAR_WINDOW_MS + DAY_MS));
    expect(account.state.grants).toEqual({ a: [MARCH_1], b: [MARCH_1 + YEAR_WINDOW_MS + DAY_MS] });
    accepted(account.issue('l3', 'd1', 'c', MARCH_1 + YEAR_WINDOW_MS + DAY_MS + 1));
    expect(account.state.grants).toEqual({
      b: [MARCH_1 + YEAR_WINDOW_MS + DAY_MS],
      c: [MARCH_1 + YEAR_WINDOW_MS + DAY_MS + 1],
    });
  });

  it('ignores events about licences and devices it does not know, including Object.prototype keys', () => {
    const state = fold([
      event('AccountOpened', { accountId: 'acc', plan: plan(), at: MARCH_1 }),
      event('LicenseReleased', { licenseId: 'toString', at: MARCH_1 }),
      event('DeviceDeactivated', { deviceId: '__proto__', at: MARCH_1 }),
      event('LicenseRenewed', { licenseId: 'nope', at: MARCH_1, renewal: 1 }),
    ]);
    expect(state.licenses).toEqual({});
    expect(state.devices).toEqual({});
    expect(state.grants).toEqual({});
    expect(state.version).toBe(4);
  });

  it('does not change the state it folds from', () => {
    const before = initialState('acc');
    const copy = structuredClone(before);
    fold([event('AccountOpened', { accountId: 'acc', plan: plan(), at: MARCH_1 })], before);
    expect(before).toEqual(copy);
  });
});

describe('the device snapshot', () => {
  it('shows the device’s licences with the expiry its check-in gives, and the yearly allowances', () => {
    const account = Account.open({ devices: ['d1', 'd2'] });
    const limited = policy({ maxDownloadsPerYear: 3 });
    account.download('l1', 'd1', 'film', MARCH_1, limited);
    accepted(account.issue('l2', 'd2', 'film', MARCH_1 + 1, limited));
    const serverTime = MARCH_1 + 2 * DAY_MS;
    const snapshot = deviceSnapshot(
      account.state,
      'd1',
      serverTime,
      new Map([['series', { maxDownloadsPerYear: 5 }]]),
    );
    expect(snapshot).toMatchObject({
      accountId: 'acc',
      deviceId: 'd1',
      version: account.state.version,
      serverTime,
      device: { deviceId: 'd1', status: 'active' },
      licenses: [
        { licenseId: 'l1', status: 'downloaded', expiresAt: MARCH_1 + 30 * DAY_MS, expiryReason: 'RENTAL' },
      ],
      allowances: [
        { titleId: 'film', limit: 3, used: 2, remaining: 1, nextAvailableAt: MARCH_1 + YEAR_WINDOW_MS },
        { titleId: 'series', limit: 5, used: 0, remaining: 5, nextAvailableAt: null },
      ],
    });
    expect(snapshot?.devices.map((d) => d.deviceId)).toEqual(['d1', 'd2']);
    expect(deviceSnapshot(account.state, 'nobody', serverTime)).toBeNull();
  });

  it('a licence view applies the check-in bound only with a check-in', () => {
    const account = Account.open();
    account.download('l1', 'd1', 'film', MARCH_1, policy({ offlineCheckInSec: DAY_MS / 1000 }));
    expect(licenseView(account.license('l1'), MARCH_1)).toMatchObject({
      expiresAt: MARCH_1 + DAY_MS,
      expiryReason: 'CHECK_IN',
    });
    expect(licenseView(account.license('l1'), null)).toMatchObject({
      expiresAt: MARCH_1 + 30 * DAY_MS,
      expiryReason: 'RENTAL',
    });
  });
});
