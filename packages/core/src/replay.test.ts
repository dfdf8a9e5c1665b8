import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { refusalEvent } from './decide.js';
import type { DomainEvent } from './events.js';
import { policy } from './policy.js';
import { type ReplayInput, replayAccount, replayDiffers } from './replay.js';
import { REFUSAL_WINDOW_MS } from './state.js';
import { Account, accepted, MARCH_1, plan, rejected } from './testing.js';
import { DAY_MS, HOUR_MS } from './time.js';

const recorded = (events: readonly DomainEvent[]): ReplayInput[] =>
  events.map((event) => ({ event, recordedAt: event.data.at }));

describe('R24 refusals are recorded, within a quota', () => {
  it('R24 a refused issue is recorded with the request, the device, the policy and the code', () => {
    const account = Account.open({ plan: plan({ maxDownloadDevices: 1 }), devices: ['d1', 'd2'] });
    accepted(account.issue('l1', 'd1', 't1', MARCH_1));
    const command = {
      type: 'IssueLicense',
      licenseId: 'l2',
      deviceId: 'd2',
      titleId: 't1',
      policy: policy(),
      now: MARCH_1 + 1,
    } as const;
    const rejection = rejected(account.decide(command));
    expect(refusalEvent(account.state, command, rejection)).toEqual({
      type: 'LicenseRefused',
      data: {
        request: 'issue',
        licenseId: 'l2',
        deviceId: 'd2',
        titleId: 't1',
        policy: policy(),
        code: 'DEVICE_LIMIT',
        at: MARCH_1 + 1,
      },
    });
  });

  it('R24 a refused renewal names the licence title; requests naming nothing the account has are not recorded', () => {
    const account = Account.open();
    account.download('l1', 'd1', 't1', MARCH_1, policy({ maxRenewals: 0 }));
    const renew = { type: 'RenewLicense', licenseId: 'l1', deviceId: 'd1', now: MARCH_1 + 1 } as const;
    const rejection = rejected(account.decide(renew));
    expect(refusalEvent(account.state, renew, rejection)?.data).toMatchObject({
      request: 'renew',
      titleId: 't1',
      code: 'RENEWAL_LIMIT',
    });
    const unknown = { ...renew, licenseId: 'nope' };
    expect(refusalEvent(account.state, unknown, rejected(account.decide(unknown)))).toBeNull();
  });

  it('R24 at most the quota per rolling 24 hours; the window frees as refusals age', () => {
    const account = Account.open();
    account.download('l1', 'd1', 't1', MARCH_1, policy({ maxRenewals: 0 }));
    const renew = (now: number) => ({ type: 'RenewLicense', licenseId: 'l1', deviceId: 'd1', now }) as const;
    for (let i = 0; i < 3; i++) {
      const c = renew(MARCH_1 + i);
      const e = refusalEvent(account.state, c, rejected(account.decide(c)), 3);
      expect(e).not.toBeNull();
      if (e) account.apply([e]);
    }
    const fourth = renew(MARCH_1 + 10);
    expect(refusalEvent(account.state, fourth, rejected(account.decide(fourth)), 3)).toBeNull();
    const later = renew(MARCH_1 + REFUSAL_WINDOW_MS + 1);
    expect(refusalEvent(account.state, later, rejected(account.decide(later)), 3)).not.toBeNull();
    expect(account.license('l1').status).toBe('downloaded');
  });
});

describe('R25 what-if replay', () => {
  it('R25 unchanged rules reproduce any history: nothing differs (property)', () => {
    const step = fc.record({
      kind: fc.constantFrom('issue', 'play', 'release', 'renew', 'deactivate', 'register', 'plan'),
      device: fc.integer({ min: 1, max: 3 }),
      title: fc.integer({ min: 1, max: 3 }),
      gapH: fc.integer({ min: 0, max: 100 }),
    });
    fc.assert(
      fc.property(fc.array(step, { maxLength: 40 }), (steps) => {
        const account = Account.open({
          plan: plan({ maxDownloadDevices: 2, maxDownloadsPerDevice: 2 }),
          devices: ['d1', 'd2', 'd3'],
        });
        let now = MARCH_1;
        let n = 0;
        for (const s of steps) {
          now += s.gapH * HOUR_MS;
          const d = `d${s.device}`;
          const held = Object.values(account.state.licenses).filter((l) => l.deviceId === d);
          const l = held.at(-1);
          switch (s.kind) {
            case 'issue':
              account.issue(
                `l${n++}`,
                d,
                `t${s.title}`,
                now,
                policy({ maxDownloadsPerYear: 4, maxRenewals: 1 }),
              );
              break;
            case 'play':
              if (l) account.play(l.licenseId, d, now);
              break;
            case 'release':
              if (l) account.decide({ type: 'ReleaseLicense', licenseId: l.licenseId, deviceId: d, now });
              break;
            case 'renew':
              if (l) account.renew(l.licenseId, d, now);
              break;
            case 'deactivate':
              account.decide({ type: 'DeactivateDevice', deviceId: d, now });
              break;
            case 'register':
              account.decide({ type: 'RegisterDevice', deviceId: d, name: d, now });
              break;
            case 'plan':
              account.decide({ type: 'ChangePlan', plan: plan({ maxDownloadDevices: s.title }), now });
              break;
          }
        }
        const outcome = replayAccount('acc', recorded(account.events), {});
        expect(replayDiffers(outcome)).toBe(false);
      }),
      { numRuns: 200 },
    );
  });

  it('R25 a shorter playback window: the played licences of the title expire earlier, by the difference', () => {
    const account = Account.open();
    account.download('l1', 'd1', 'night', MARCH_1);
    account.download('l2', 'd1', 'other', MARCH_1);
    account.download('l3', 'd1', 'quiet', MARCH_1);
    accepted(account.play('l1', 'd1', MARCH_1 + HOUR_MS));
    accepted(account.play('l2', 'd1', MARCH_1 + HOUR_MS));
    const outcome = replayAccount('acc', recorded(account.events), {
      titles: { night: { playbackDurationSec: 24 * 3600 } },
    });
    expect(outcome.expiryChanges).toEqual([
      {
        licenseId: 'l1',
        titleId: 'night',
        actualExpiresAt: MARCH_1 + 49 * HOUR_MS,
        proposedExpiresAt: MARCH_1 + 25 * HOUR_MS,
        deltaMs: -24 * HOUR_MS,
      },
    ]);
    expect(outcome.refusedGrants).toEqual([]);
  });

  it('R25 a device event is judged at its stored receipt, not at the recording time nor at its own date', () => {
    const account = Account.open();
    account.download('l1', 'd1', 'night', MARCH_1, policy({ rentalDurationSec: 86_400 }));
    accepted(account.play('l1', 'd1', MARCH_1 + HOUR_MS, MARCH_1 + 2 * HOUR_MS));
    // Recorded (database clock) long after the rental window; received by the server within it.
    const late = MARCH_1 + 30 * DAY_MS;
    const history = account.events.map((event) =>
      event.type === 'PlaybackStarted'
        ? { event, recordedAt: late, receivedAt: MARCH_1 + 2 * HOUR_MS }
        : { event, recordedAt: event.data.at },
    );
    expect(replayDiffers(replayAccount('acc', history, {}))).toBe(false);
    // Received after the rental window: refused on replay whatever date the device gave the start.
    const received = history.map((h) =>
      h.event.type === 'PlaybackStarted' ? { ...h, receivedAt: MARCH_1 + DAY_MS } : h,
    );
    expect(replayAccount('acc', received, {}).expiryChanges).toMatchObject([
      { licenseId: 'l1', actualExpiresAt: MARCH_1 + 49 * HOUR_MS, proposedExpiresAt: MARCH_1 + DAY_MS },
    ]);
  });

  it('R25 a smaller plan refuses the grants beyond it, and what followed them is dropped', () => {
    const account = Account.open({ devices: ['d1', 'd2'] });
    account.download('l1', 'd1', 't1', MARCH_1);
    account.download('l2', 'd2', 't2', MARCH_1 + 1);
    accepted(account.play('l2', 'd2', MARCH_1 + 2));
    const outcome = replayAccount(
      'acc',
      recorded(account.events),
      {
        plans: { standard: { maxDownloadDevices: 1 } },
      },
      { timelines: true },
    );
    expect(outcome.refusedGrants).toEqual([
      { licenseId: 'l2', deviceId: 'd2', titleId: 't2', at: MARCH_1 + 1, code: 'DEVICE_LIMIT' },
    ]);
    expect(outcome.expiryChanges).toEqual([]);
    expect(outcome.proposed?.filter((e) => e.licenseId === 'l2').map((e) => e.type)).toEqual(['Refused']);
    expect(outcome.actual?.filter((e) => e.licenseId === 'l2').map((e) => e.type)).toEqual([
      'LicenseIssued',
      'DownloadCompleted',
      'PlaybackStarted',
    ]);
  });

  it('R25 with timelines, the events: the recorded history as it is, and the proposed history without the refused grant', () => {
    const account = Account.open({ devices: ['d1', 'd2'] });
    account.download('l1', 'd1', 't1', MARCH_1);
    account.download('l2', 'd2', 't2', MARCH_1 + 1);
    const outcome = replayAccount(
      'acc',
      recorded(account.events),
      { plans: { standard: { maxDownloadDevices: 1 } } },
      { timelines: true },
    );
    expect(outcome.actualEvents).toEqual(account.events);
    const proposedIssues = outcome.proposedEvents?.filter((e) => e.type === 'LicenseIssued');
    expect(proposedIssues?.map((e) => (e.data as { licenseId: string }).licenseId)).toEqual(['l1']);
    expect(outcome.proposedEvents?.some((e) => (e.data as { licenseId?: string }).licenseId === 'l2')).toBe(
      false,
    );
    expect(replayAccount('acc', recorded(account.events), {}).actualEvents).toBeUndefined();
  });

  it('R25 fewer renewals: the renewals beyond the new limit are refused and the licence ends sooner', () => {
    const account = Account.open();
    account.download('l1', 'd1', 't1', MARCH_1);
    accepted(account.renew('l1', 'd1', MARCH_1 + 10 * DAY_MS));
    const outcome = replayAccount('acc', recorded(account.events), { titles: { t1: { maxRenewals: 0 } } });
    expect(outcome.refusedRenewals).toEqual([
      { licenseId: 'l1', titleId: 't1', at: MARCH_1 + 10 * DAY_MS, renewal: 1, code: 'RENEWAL_LIMIT' },
    ]);
    expect(outcome.expiryChanges).toEqual([
      expect.objectContaining({ licenseId: 'l1', deltaMs: -10 * DAY_MS }),
    ]);
  });

  it('R25 a recorded refusal the new rules allow is reported as a new grant', () => {
    const account = Account.open({ plan: plan({ maxDownloadDevices: 1 }), devices: ['d1', 'd2'] });
    account.download('l1', 'd1', 't1', MARCH_1);
    const command = {
      type: 'IssueLicense',
      licenseId: 'l2',
      deviceId: 'd2',
      titleId: 't2',
      policy: policy(),
      now: MARCH_1 + 5,
    } as const;
    const e = refusalEvent(account.state, command, rejected(account.decide(command)));
    if (e) account.apply([e]);
    const outcome = replayAccount('acc', recorded(account.events), {
      plans: { standard: { maxDownloadDevices: 2 } },
    });
    expect(outcome.newGrants).toEqual([
      { request: 'issue', licenseId: 'l2', titleId: 't2', at: MARCH_1 + 5, wasRefusedWith: 'DEVICE_LIMIT' },
    ]);
  });
});
