import { describe, expect, it } from 'vitest';
import {
  anchorSecureClock,
  type ClockReading,
  type ClockRollback,
  DEFAULT_CLOCK_TOLERANCE_MS,
  initialSecureClock,
  mergeSecureClocks,
  readSecureClock,
  type SecureClockState,
} from './clock.js';
import { MARCH_1 } from './testing.js';
import { DAY_MS, HOUR_MS, MINUTE_MS, SECOND_MS } from './time.js';

/** A device whose clocks are read in turn; returns trusted time and the rollback of each reading. */
class Device {
  state: SecureClockState;
  constructor(wallNow: number) {
    this.state = initialSecureClock(wallNow);
  }
  read(reading: ClockReading): { now: number; rollback: ClockRollback | null } {
    const result = readSecureClock(this.state, reading);
    this.state = result.state;
    return { now: result.now, rollback: result.rollback };
  }
  anchor(serverTime: number, reading: ClockReading): void {
    this.state = anchorSecureClock(this.state, serverTime, reading);
  }
}

describe('secure clock (docs/domain.md)', () => {
  it('C1 an unanchored clock starts at the wall clock and follows it forward', () => {
    const device = new Device(MARCH_1);
    expect(device.read({ wallNow: MARCH_1 })).toEqual({ now: MARCH_1, rollback: null });
    expect(device.read({ wallNow: MARCH_1 + HOUR_MS })).toEqual({ now: MARCH_1 + HOUR_MS, rollback: null });
    expect(device.read({ wallNow: MARCH_1 + DAY_MS }).now).toBe(MARCH_1 + DAY_MS);
    expect(DEFAULT_CLOCK_TOLERANCE_MS).toBe(5 * SECOND_MS);
  });

  it.each([1, 1000, 4999, 5000])(
    'C2 a wall clock %i ms behind is within the tolerance: no rollback, trusted time holds',
    (behind) => {
      const device = new Device(MARCH_1);
      device.read({ wallNow: MARCH_1 + MINUTE_MS });
      expect(device.read({ wallNow: MARCH_1 + MINUTE_MS - behind })).toEqual({
        now: MARCH_1 + MINUTE_MS,
        rollback: null,
      });
    },
  );

  it.each([5001, 10_000, DAY_MS, 30 * DAY_MS])(
    'C3 a wall clock %i ms behind is a rollback; trusted time continues',
    (behind) => {
      const device = new Device(MARCH_1);
      device.read({ wallNow: MARCH_1 + MINUTE_MS });
      const wallNow = MARCH_1 + MINUTE_MS - behind;
      expect(device.read({ wallNow })).toEqual({
        now: MARCH_1 + MINUTE_MS,
        rollback: { wallNow, trustedNow: MARCH_1 + MINUTE_MS, behindMs: behind },
      });
      expect(device.read({ wallNow: wallNow + HOUR_MS }).now).toBe(MARCH_1 + MINUTE_MS + HOUR_MS);
    },
  );

  it('C4 a rollback is reported once; the readings after it advance normally', () => {
    const device = new Device(MARCH_1);
    const setBack = MARCH_1 - 10 * DAY_MS;
    expect(device.read({ wallNow: setBack }).rollback).not.toBeNull();
    expect(device.read({ wallNow: setBack })).toEqual({ now: MARCH_1, rollback: null });
    expect(device.read({ wallNow: setBack + MINUTE_MS })).toEqual({
      now: MARCH_1 + MINUTE_MS,
      rollback: null,
    });
    expect(device.read({ wallNow: setBack + 2 * MINUTE_MS })).toEqual({
      now: MARCH_1 + 2 * MINUTE_MS,
      rollback: null,
    });
  });

  it('C4 setting the clock back again is a second rollback', () => {
    const device = new Device(MARCH_1);
    expect(device.read({ wallNow: MARCH_1 - DAY_MS }).rollback?.behindMs).toBe(DAY_MS);
    expect(device.read({ wallNow: MARCH_1 - 2 * DAY_MS })).toEqual({
      now: MARCH_1,
      rollback: { wallNow: MARCH_1 - 2 * DAY_MS, trustedNow: MARCH_1, behindMs: DAY_MS },
    });
  });

  it('C5 set-backs smaller than the tolerance add up to a rollback', () => {
    const device = new Device(MARCH_1);
    expect(device.read({ wallNow: MARCH_1 - 4000 }).rollback).toBeNull();
    const second = device.read({ wallNow: MARCH_1 - 8000 });
    expect(second).toEqual({
      now: MARCH_1,
      rollback: { wallNow: MARCH_1 - 8000, trustedNow: MARCH_1, behindMs: 8000 },
    });
  });

  it('C5 a clock set back 4 s every 10 s cannot slow trusted time down', () => {
    const device = new Device(MARCH_1);
    let now = MARCH_1;
    let rollbacks = 0;
    for (let i = 0; i <= 100; i++) {
      const reading = device.read({
        wallNow: MARCH_1 + i * 6 * SECOND_MS,
        monotonicNow: i * 10 * SECOND_MS,
        session: 's1',
      });
      now = reading.now;
      if (reading.rollback !== null) rollbacks += 1;
    }
    expect(rollbacks).toBeGreaterThan(0);
    expect(now).toBeGreaterThanOrEqual(MARCH_1 + 1000 * SECOND_MS - DEFAULT_CLOCK_TOLERANCE_MS);
  });

  it('C6 the monotonic timer keeps counting while the wall clock is frozen', () => {
    const device = new Device(MARCH_1);
    device.read({ wallNow: MARCH_1, monotonicNow: 0, session: 's1' });
    for (let minute = 1; minute <= 10; minute++) {
      const { now } = device.read({ wallNow: MARCH_1, monotonicNow: minute * MINUTE_MS, session: 's1' });
      expect(now).toBe(MARCH_1 + minute * MINUTE_MS);
    }
  });

  it('C6 a wall clock set back by less than the elapsed time is still a rollback against the monotonic count', () => {
    const device = new Device(MARCH_1);
    device.read({ wallNow: MARCH_1, monotonicNow: 1000, session: 's1' });
    const { now, rollback } = device.read({
      wallNow: MARCH_1 + 10 * MINUTE_MS,
      monotonicNow: 1000 + HOUR_MS,
      session: 's1',
    });
    expect(now).toBe(MARCH_1 + HOUR_MS);
    expect(rollback).toMatchObject({ behindMs: 50 * MINUTE_MS });
  });

  it('C6 a reading without the timer keeps the session’s monotonic reference', () => {
    const device = new Device(MARCH_1);
    device.read({ wallNow: MARCH_1, monotonicNow: 0, session: 's1' });
    expect(device.read({ wallNow: MARCH_1 - 3000 }).rollback).toBeNull();
    const { now, rollback } = device.read({ wallNow: MARCH_1, monotonicNow: HOUR_MS, session: 's1' });
    expect(now).toBe(MARCH_1 + HOUR_MS);
    expect(rollback).toMatchObject({ behindMs: HOUR_MS });
  });

  it('C6 a new session has no monotonic reference', () => {
    const device = new Device(MARCH_1);
    device.read({ wallNow: MARCH_1, monotonicNow: 0, session: 's1' });
    expect(device.read({ wallNow: MARCH_1, monotonicNow: HOUR_MS, session: 's2' })).toEqual({
      now: MARCH_1,
      rollback: null,
    });
    expect(device.read({ wallNow: MARCH_1, monotonicNow: 2 * HOUR_MS, session: 's2' }).now).toBe(
      MARCH_1 + HOUR_MS,
    );
  });

  it('C7 an anchor maps the wall clock onto server time', () => {
    const device = new Device(MARCH_1);
    device.anchor(MARCH_1 + HOUR_MS, { wallNow: MARCH_1 });
    expect(device.read({ wallNow: MARCH_1 + MINUTE_MS })).toEqual({
      now: MARCH_1 + HOUR_MS + MINUTE_MS,
      rollback: null,
    });
  });

  it('C7 server time wins at a sync: a clock that ran a year ahead is brought back to real time', () => {
    const device = new Device(MARCH_1);
    const ahead = MARCH_1 + 365 * DAY_MS;
    expect(device.read({ wallNow: ahead }).now).toBe(ahead);
    // the member corrects the clock, then the device syncs
    device.read({ wallNow: MARCH_1 + MINUTE_MS });
    device.anchor(MARCH_1 + MINUTE_MS, { wallNow: MARCH_1 + MINUTE_MS });
    expect(device.state.highWaterMark).toBe(MARCH_1 + MINUTE_MS);
    expect(device.read({ wallNow: MARCH_1 + 2 * MINUTE_MS })).toEqual({
      now: MARCH_1 + 2 * MINUTE_MS,
      rollback: null,
    });
  });

  it('C7 an anchor below the high-water mark is not itself a rollback, and a set-back after it still is', () => {
    const device = new Device(MARCH_1 + DAY_MS);
    device.read({ wallNow: MARCH_1 + DAY_MS });
    device.anchor(MARCH_1, { wallNow: MARCH_1 + DAY_MS, monotonicNow: 0, session: 's1' });
    expect(
      device.read({ wallNow: MARCH_1 + DAY_MS + MINUTE_MS, monotonicNow: MINUTE_MS, session: 's1' }),
    ).toEqual({ now: MARCH_1 + MINUTE_MS, rollback: null });
    const back = device.read({ wallNow: MARCH_1, monotonicNow: 2 * MINUTE_MS, session: 's1' });
    expect(back.rollback).not.toBeNull();
    expect(back.now).toBe(MARCH_1 + 2 * MINUTE_MS);
  });

  it('C7 of two stored states the later anchor wins; with the same anchor the higher mark', () => {
    const early = anchorSecureClock(initialSecureClock(MARCH_1), MARCH_1 + DAY_MS, { wallNow: MARCH_1 });
    const late = anchorSecureClock(initialSecureClock(MARCH_1), MARCH_1 + HOUR_MS * 25, { wallNow: MARCH_1 });
    const ratcheted = { ...early, highWaterMark: MARCH_1 + 300 * DAY_MS };
    expect(mergeSecureClocks(ratcheted, late)).toBe(late);
    expect(mergeSecureClocks(late, ratcheted)).toBe(late);
    expect(mergeSecureClocks(ratcheted, early).highWaterMark).toBe(MARCH_1 + 300 * DAY_MS);
  });

  it('C8 within a session a wall clock jumped forward does not ratchet trusted time beyond the elapsed time', () => {
    const device = new Device(MARCH_1);
    device.anchor(MARCH_1, { wallNow: MARCH_1, monotonicNow: 0, session: 's1' });
    const jumped = device.read({ wallNow: MARCH_1 + 365 * DAY_MS, monotonicNow: MINUTE_MS, session: 's1' });
    expect(jumped.now).toBe(MARCH_1 + MINUTE_MS + DEFAULT_CLOCK_TOLERANCE_MS);
    expect(device.state.highWaterMark).toBe(MARCH_1 + MINUTE_MS + DEFAULT_CLOCK_TOLERANCE_MS);
    // read again and again: no ratchet
    for (let i = 0; i < 5; i++) {
      device.read({ wallNow: MARCH_1 + 365 * DAY_MS, monotonicNow: MINUTE_MS, session: 's1' });
    }
    expect(device.state.highWaterMark).toBe(MARCH_1 + MINUTE_MS + DEFAULT_CLOCK_TOLERANCE_MS);
    // corrected: no rollback reported, time goes on with real time
    expect(
      device.read({ wallNow: MARCH_1 + 2 * MINUTE_MS, monotonicNow: 2 * MINUTE_MS, session: 's1' }),
    ).toEqual({ now: MARCH_1 + 2 * MINUTE_MS, rollback: null });
  });

  it('C8 without a monotonic count (a new session) the wall clock is all there is, until the next sync', () => {
    const device = new Device(MARCH_1);
    device.anchor(MARCH_1, { wallNow: MARCH_1, monotonicNow: 0, session: 's1' });
    expect(device.read({ wallNow: MARCH_1 + 365 * DAY_MS, monotonicNow: 0, session: 's2' }).now).toBe(
      MARCH_1 + 365 * DAY_MS,
    );
    device.anchor(MARCH_1 + HOUR_MS, { wallNow: MARCH_1 + HOUR_MS, monotonicNow: 1, session: 's2' });
    expect(device.read({ wallNow: MARCH_1 + HOUR_MS, monotonicNow: 1, session: 's2' }).now).toBe(
      MARCH_1 + HOUR_MS,
    );
  });
});
