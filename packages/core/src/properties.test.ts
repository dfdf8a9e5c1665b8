import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  anchorSecureClock,
  type ClockReading,
  DEFAULT_CLOCK_TOLERANCE_MS,
  initialSecureClock,
  readSecureClock,
} from './clock.js';
import {
  activeLicenses,
  type Command,
  type Decision,
  decide,
  decideDeviceEvent,
  devicesHoldingDownloads,
  type Rejection,
} from './decide.js';
import { type DeviceEvent, type DomainEvent, toVersioned, type VersionedEvent } from './events.js';
import { type Plan, type Policy, policy } from './policy.js';
import { upcast } from './schemas/events.js';
import { type AccountState, evolve, fold, initialState } from './state.js';
import { MARCH_1, plan } from './testing.js';
import { DAY_MS, HOUR_MS, MINUTE_MS, MONTH_WINDOW_MS, SECOND_MS, YEAR_WINDOW_MS } from './time.js';

/** Runs per property; the whole file stays within a few seconds on a shared 2-core machine. */
/** Generous: the machine running the suite may be shared and busy. */
const PROPERTY_TIMEOUT_MS = 60_000;

const RUNS = { limits: 1000, determinism: 1000, snapshots: 1000, upcasting: 1000, clock: 2000 } as const;

const days = (n: number) => (n * DAY_MS) / SECOND_MS;
const hours = (n: number) => (n * HOUR_MS) / SECOND_MS;

const DEVICES = ['d1', 'd2', 'd3', 'd4', 'd5'] as const;
const LICENSES = Array.from({ length: 16 }, (_, i) => `l${i}`);
const NAMES = ['Phone', 'Living room TV', 'Unnamed device', ''] as const;
/** The catalogue: each title's policy, fixed, so the yearly limit is one number per title. */
const CATALOGUE: Readonly<Record<string, Policy>> = {
  t1: policy({ maxDownloadsPerYear: 3, maxRenewals: 1 }),
  t2: policy({
    licenseDurationSec: days(3),
    rentalDurationSec: days(1),
    playbackDurationSec: hours(6),
    maxDownloadsPerYear: 2,
  }),
  t3: policy({ maxRenewals: 0 }),
  t4: policy({
    licenseDurationSec: days(10),
    rentalDurationSec: 0,
    playbackDurationSec: 0,
    maxRenewals: 3,
    maxDownloadsPerYear: 5,
  }),
  t5: policy({ licenseDurationSec: days(400), rentalDurationSec: days(365) }),
};
const TITLES = Object.keys(CATALOGUE);
const PLANS: readonly Plan[] = [
  plan({ planId: 'solo', maxDownloadDevices: 1, maxDownloadsPerDevice: 3, maxDownloadsPerMonth: 4 }),
  plan({ planId: 'duo', maxDownloadDevices: 2, maxDownloadsPerDevice: 5, maxDownloadsPerMonth: null }),
  plan({ planId: 'family', maxDownloadDevices: 4, maxDownloadsPerDevice: 2, maxDownloadsPerMonth: 6 }),
  plan({ planId: 'big', maxDownloadDevices: 6, maxDownloadsPerDevice: 100, maxDownloadsPerMonth: 15 }),
];

type LicenseRef = { index: number } | { id: string };

type Action =
  | { kind: 'open'; plan: number }
  | { kind: 'plan'; plan: number }
  | { kind: 'register'; device: string; name: string }
  | { kind: 'deactivate'; device: string }
  | { kind: 'issue'; license: string; device: string; title: string }
  | { kind: 'renew' | 'release'; license: LicenseRef; device: string; own: boolean }
  | { kind: 'revoke'; license: LicenseRef }
  | { kind: 'expire' }
  | { kind: 'withdraw'; title: string; inMs: number }
  | {
      kind: 'device';
      type: DeviceEvent['type'];
      license: LicenseRef;
      device: string;
      own: boolean;
      atOffset: number;
      positionMs: number;
    };

interface Step {
  readonly advance: number;
  readonly action: Action;
}

const device = fc.constantFrom(...DEVICES);
const license = fc.constantFrom(...LICENSES);
/** A licence the account holds (mostly), or any id. */
const knownLicense = fc.oneof(
  { weight: 5, arbitrary: fc.nat({ max: 99 }).map((index) => ({ index })) },
  { weight: 1, arbitrary: license.map((id) => ({ id })) },
);
const title = fc.constantFrom(...TITLES);
const planIndex = fc.nat({ max: PLANS.length - 1 });
/** Mostly the licence's own device, sometimes another one. */
const own = fc.oneof(
  { weight: 5, arbitrary: fc.constant(true) },
  { weight: 1, arbitrary: fc.constant(false) },
);

const actionArb: fc.Arbitrary<Action> = fc.oneof(
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('open' as const), plan: planIndex }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('plan' as const), plan: planIndex }) },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant('register' as const), device, name: fc.constantFrom(...NAMES) }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('deactivate' as const), device }) },
  { weight: 10, arbitrary: fc.record({ kind: fc.constant('issue' as const), license, device, title }) },
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constantFrom('renew' as const, 'release' as const),
      license: knownLicense,
      device,
      own,
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('revoke' as const), license: knownLicense }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('expire' as const) }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('withdraw' as const),
      title,
      inMs: fc.integer({ min: -DAY_MS, max: 400 * DAY_MS }),
    }),
  },
  {
    weight: 10,
    arbitrary: fc.record({
      kind: fc.constant('device' as const),
      type: fc.constantFrom(
        'DownloadCompleted' as const,
        'DownloadCompleted' as const,
        'DownloadCompleted' as const,
        'PlaybackStarted' as const,
        'PlaybackStarted' as const,
        'PlaybackStarted' as const,
        'PlaybackStopped' as const,
        'DownloadDeleted' as const,
        'ClockRollbackDetected' as const,
        'LicenseExpiryObserved' as const,
      ),
      license: knownLicense,
      device,
      own,
      atOffset: fc.integer({ min: -10 * DAY_MS, max: DAY_MS }),
      positionMs: fc.nat({ max: 10 * HOUR_MS }),
    }),
  },
);

const stepArb: fc.Arbitrary<Step> = fc.record({
  advance: fc.oneof(
    { weight: 3, arbitrary: fc.constant(0) },
    { weight: 6, arbitrary: fc.integer({ min: 1, max: 6 * HOUR_MS }) },
    { weight: 6, arbitrary: fc.integer({ min: 6 * HOUR_MS, max: 10 * DAY_MS }) },
    { weight: 1, arbitrary: fc.integer({ min: 10 * DAY_MS, max: 200 * DAY_MS }) },
  ),
  action: actionArb,
});

const scenarioArb = fc.record({
  plan: planIndex,
  devices: fc.subarray([...DEVICES], { minLength: 1 }),
  steps: fc.array(stepArb, { minLength: 1, maxLength: 60, size: 'max' }),
});
type Scenario = { plan: number; devices: string[]; steps: Step[] };

type Input =
  | { command: Command }
  | { incoming: DeviceEvent; context: { deviceId: string; receivedAt: number } };

function toInput(state: AccountState, action: Action, now: number): Input {
  const owner = (licenseId: string, fallback: string) => state.licenses[licenseId]?.deviceId ?? fallback;
  const ids = Object.keys(state.licenses);
  const resolve = (ref: LicenseRef) =>
    'id' in ref ? ref.id : (ids[ref.index % Math.max(1, ids.length)] ?? 'l0');
  switch (action.kind) {
    case 'open':
      return { command: { type: 'OpenAccount', accountId: 'acc', plan: PLANS[action.plan] as Plan, now } };
    case 'plan':
      return { command: { type: 'ChangePlan', plan: PLANS[action.plan] as Plan, now } };
    case 'register':
      return { command: { type: 'RegisterDevice', deviceId: action.device, name: action.name, now } };
    case 'deactivate':
      return { command: { type: 'DeactivateDevice', deviceId: action.device, now } };
    case 'issue':
      return {
        command: {
          type: 'IssueLicense',
          licenseId: action.license,
          deviceId: action.device,
          titleId: action.title,
          policy: CATALOGUE[action.title] as Policy,
          now,
        },
      };
    case 'renew': {
      const licenseId = resolve(action.license);
      return {
        command: {
          type: 'RenewLicense',
          licenseId,
          deviceId: action.own ? owner(licenseId, action.device) : action.device,
          now,
        },
      };
    }
    case 'release': {
      const licenseId = resolve(action.license);
      return {
        command: {
          type: 'ReleaseLicense',
          licenseId,
          deviceId: action.own ? owner(licenseId, action.device) : action.device,
          now,
        },
      };
    }
    case 'revoke':
      return { command: { type: 'RevokeLicense', licenseId: resolve(action.license), reason: 'ADMIN', now } };
    case 'expire':
      return { command: { type: 'ExpireLicenses', now } };
    case 'withdraw':
      return {
        command: {
          type: 'WithdrawTitle',
          titleId: action.title,
          availableUntil: Math.max(0, now + action.inMs),
          now,
        },
      };
    case 'device': {
      const licenseId = resolve(action.license);
      const deviceId = action.own ? owner(licenseId, action.device) : action.device;
      const at = Math.max(0, now + action.atOffset);
      const base = { licenseId, deviceId, at };
      const incoming: DeviceEvent =
        action.type === 'PlaybackStarted' || action.type === 'PlaybackStopped'
          ? { type: action.type, data: { ...base, positionMs: action.positionMs } }
          : action.type === 'ClockRollbackDetected'
            ? { type: action.type, data: { deviceId, at, wallClockAt: at - 60_000, behindMs: 60_000 } }
            : action.type === 'LicenseExpiryObserved'
              ? { type: action.type, data: { ...base, reason: 'CHECK_IN' } }
              : { type: action.type, data: base };
      return { incoming, context: { deviceId, receivedAt: now } };
    }
  }
}

interface Outcome {
  readonly input: Input;
  readonly decision: Decision;
  readonly before: AccountState;
  readonly after: AccountState;
  readonly now: number;
}

/** Drives an account through a scenario as the server would: decide, then fold what was accepted. */
function run(
  scenario: Scenario,
  observe?: (outcome: Outcome) => void,
): { events: DomainEvent[]; state: AccountState } {
  let state = initialState('acc');
  let now = MARCH_1;
  const events: DomainEvent[] = [];
  const steps: Step[] = [
    { advance: 0, action: { kind: 'open', plan: scenario.plan } },
    ...scenario.devices.map(
      (id): Step => ({ advance: 0, action: { kind: 'register', device: id, name: 'Phone' } }),
    ),
    ...scenario.steps,
  ];
  for (const step of steps) {
    now += step.advance;
    const input = toInput(state, step.action, now);
    const decision =
      'command' in input
        ? decide(state, input.command)
        : decideDeviceEvent(state, input.incoming, input.context);
    const before = state;
    if (decision.ok) {
      state = fold(decision.events, state);
      events.push(...decision.events);
    }
    observe?.({ input, decision, before, after: state, now });
  }
  return { events, state };
}

const eventsArb = scenarioArb.map((scenario) => run(scenario).events);

function countIn(instants: readonly number[], now: number, windowMs: number): number {
  return instants.filter((at) => at > now - windowMs && at <= now).length;
}

function checkLimits(state: AccountState, now: number): void {
  const active = activeLicenses(state, now);
  expect(devicesHoldingDownloads(state, now).size).toBeLessThanOrEqual(state.plan.maxDownloadDevices);
  const perDevice = new Map<string, number>();
  const perTitleAndDevice = new Set<string>();
  for (const held of active) {
    perDevice.set(held.deviceId, (perDevice.get(held.deviceId) ?? 0) + 1);
    const key = `${held.deviceId}/${held.titleId}`;
    expect(perTitleAndDevice.has(key), `two active licences for ${key}`).toBe(false);
    perTitleAndDevice.add(key);
  }
  for (const count of perDevice.values()) expect(count).toBeLessThanOrEqual(state.plan.maxDownloadsPerDevice);
  for (const held of Object.values(state.licenses)) {
    if (held.policy.maxRenewals !== null) expect(held.renewals).toBeLessThanOrEqual(held.policy.maxRenewals);
  }
}

/** When a window limit refuses, `nextAvailableAt` is exactly when the count drops below the limit. */
function checkNextAvailable(
  rejection: Rejection,
  grants: readonly number[],
  now: number,
  windowMs: number,
): void {
  const { limit, nextAvailableAt } = rejection;
  if (limit === undefined || nextAvailableAt === undefined)
    throw new Error(`${rejection.code} without its numbers`);
  const counted = grants.filter((at) => at <= now);
  expect(nextAvailableAt).toBeGreaterThan(now);
  expect(countIn(counted, nextAvailableAt - 1, windowMs)).toBeGreaterThanOrEqual(limit);
  expect(countIn(counted, nextAvailableAt, windowMs)).toBeLessThan(limit);
}

describe('properties of the account aggregate', () => {
  it(
    'no sequence of commands exceeds a limit; a plan downgrade restores them with LIMIT_CONFLICT',
    () => {
      fc.assert(
        fc.property(scenarioArb, (scenario) => {
          const grants: Array<{ titleId: string; at: number }> = [];
          run(scenario, ({ input, decision, before, after, now }) => {
            if (!decision.ok) {
              const { rejection } = decision;
              if (rejection.code === 'YEARLY_LIMIT') {
                const titleId = rejection.titleId as string;
                checkNextAvailable(
                  rejection,
                  grants.filter((g) => g.titleId === titleId).map((g) => g.at),
                  now,
                  YEAR_WINDOW_MS,
                );
              }
              if (rejection.code === 'MONTHLY_LIMIT') {
                checkNextAvailable(
                  rejection,
                  grants.map((g) => g.at),
                  now,
                  MONTH_WINDOW_MS,
                );
              }
              return;
            }
            for (const e of decision.events) {
              // every appended event is valid against its schema
              expect(upcast(JSON.parse(JSON.stringify(toVersioned(e))) as VersionedEvent)).toEqual(e);
              if (e.type === 'LicenseRevoked' && e.data.reason === 'LIMIT_CONFLICT') {
                expect('command' in input && input.command.type).toBe('ChangePlan');
              }
              if (e.type === 'LicenseIssued' || e.type === 'LicenseRenewed') {
                const titleId =
                  e.type === 'LicenseIssued'
                    ? e.data.titleId
                    : (before.licenses[e.data.licenseId]?.titleId as string);
                grants.push({ titleId, at: e.data.at });
                const yearly = CATALOGUE[titleId]?.maxDownloadsPerYear ?? null;
                const ofTitle = grants.filter((g) => g.titleId === titleId).map((g) => g.at);
                if (yearly !== null)
                  expect(countIn(ofTitle, now, YEAR_WINDOW_MS)).toBeLessThanOrEqual(yearly);
                const monthly = after.plan.maxDownloadsPerMonth;
                if (monthly !== null) {
                  expect(
                    countIn(
                      grants.map((g) => g.at),
                      now,
                      MONTH_WINDOW_MS,
                    ),
                  ).toBeLessThanOrEqual(monthly);
                }
              }
            }
            checkLimits(after, now);
          });
        }),
        { numRuns: RUNS.limits },
      );
    },
    PROPERTY_TIMEOUT_MS,
  );

  it(
    'evolve is deterministic, and a JSON round trip of the state folds on identically',
    () => {
      fc.assert(
        fc.property(eventsArb, fc.nat(), (events, at) => {
          const once = fold(events, initialState('acc'));
          expect(fold(events, initialState('acc'))).toEqual(once);
          expect(events.reduce(evolve, initialState('acc'))).toEqual(once);
          const split = events.length === 0 ? 0 : at % events.length;
          const head = fold(events.slice(0, split), initialState('acc'));
          const json = JSON.parse(JSON.stringify(head)) as AccountState;
          expect(json).toEqual(head);
          expect(fold(events.slice(split), json)).toEqual(fold(events.slice(split), head));
        }),
        { numRuns: RUNS.determinism },
      );
    },
    PROPERTY_TIMEOUT_MS,
  );

  it(
    'folding from a JSON snapshot plus the tail equals folding all events, at any split point',
    () => {
      fc.assert(
        fc.property(eventsArb, fc.nat(), (events, at) => {
          const split = at % (events.length + 1);
          const all = fold(events, initialState('acc'));
          const snapshot = JSON.parse(
            JSON.stringify(fold(events.slice(0, split), initialState('acc'))),
          ) as AccountState;
          expect(fold(events.slice(split), snapshot)).toEqual(all);
        }),
        { numRuns: RUNS.snapshots },
      );
    },
    PROPERTY_TIMEOUT_MS,
  );

  it(
    'upcasting old versions, then folding, equals folding the current versions',
    () => {
      /** The inverse of the upcasters: an event as a client of version `v` stored it. */
      function downgrade(e: DomainEvent, v: number): VersionedEvent {
        if (e.type === 'DeviceRegistered' && v === 1) {
          const { name: _name, ...data } = e.data;
          return { type: e.type, v, data };
        }
        if (e.type === 'PlaybackStopped' && v < 3) {
          const { positionMs, at, ...rest } = e.data;
          return {
            type: e.type,
            v,
            data: { ...rest, at: v === 1 ? new Date(at).toISOString() : at, position: positionMs / 1000 },
          };
        }
        return toVersioned(e);
      }
      /** What the current version says after the upcast: a v1 device registration had no name. */
      function expected(e: DomainEvent, v: number): DomainEvent {
        return e.type === 'DeviceRegistered' && v === 1
          ? { ...e, data: { ...e.data, name: 'Unnamed device' } }
          : e;
      }
      const versions = { DeviceRegistered: [1, 2], PlaybackStopped: [1, 2, 3] } as Record<string, number[]>;
      fc.assert(
        fc.property(eventsArb, fc.array(fc.nat(), { minLength: 1 }), (events, choices) => {
          const chosen = events.map((e, i) => {
            const options = versions[e.type] ?? [1];
            return options[(choices[i % choices.length] as number) % options.length] as number;
          });
          const stored = events.map(
            (e, i) => JSON.parse(JSON.stringify(downgrade(e, chosen[i] as number))) as VersionedEvent,
          );
          const read = stored.map(upcast);
          const current = events.map((e, i) => expected(e, chosen[i] as number));
          expect(read).toEqual(current);
          expect(fold(read, initialState('acc'))).toEqual(fold(current, initialState('acc')));
        }),
        { numRuns: RUNS.upcasting },
      );
    },
    PROPERTY_TIMEOUT_MS,
  );
});

type ClockOp =
  | { kind: 'read'; elapsed: number; wallJump: number; newSession: boolean; withMonotonic: boolean }
  | { kind: 'anchor'; elapsed: number; serverSkew: number };

const elapsedArb = fc.oneof(
  fc.constant(0),
  fc.integer({ min: 1, max: 10 * SECOND_MS }),
  fc.integer({ min: 0, max: 3 * DAY_MS }),
);
const clockOpArb = (anchors: boolean): fc.Arbitrary<ClockOp> =>
  fc.oneof(
    {
      weight: 8,
      arbitrary: fc.record({
        kind: fc.constant('read' as const),
        elapsed: elapsedArb,
        wallJump: fc.oneof(
          { weight: 4, arbitrary: fc.constant(0) },
          { weight: 2, arbitrary: fc.integer({ min: -8 * SECOND_MS, max: 8 * SECOND_MS }) },
          { weight: 2, arbitrary: fc.integer({ min: -30 * DAY_MS, max: 30 * DAY_MS }) },
        ),
        newSession: fc.boolean(),
        withMonotonic: fc.boolean(),
      }),
    },
    {
      weight: anchors ? 2 : 0,
      arbitrary: fc.record({
        kind: fc.constant('anchor' as const),
        elapsed: elapsedArb,
        serverSkew: fc.integer({ min: -DAY_MS, max: DAY_MS }),
      }),
    },
  );

/** A device's clocks: real time advances, the member moves the wall clock, page loads restart the monotonic timer. */
function simulate(
  ops: readonly ClockOp[],
  onRead: (read: { now: number; rollback: boolean; reading: ClockReading; real: number }) => void,
  onAnchor: () => void = () => {},
) {
  let real = MARCH_1;
  let skew = 0;
  let session = 0;
  let sessionStart = real;
  let state = initialSecureClock(real);
  for (const op of ops) {
    real += op.elapsed;
    if (op.kind === 'anchor') {
      state = anchorSecureClock(state, real + op.serverSkew, {
        wallNow: real + skew,
        monotonicNow: real - sessionStart,
        session: `s${session}`,
      });
      onAnchor();
      continue;
    }
    skew += op.wallJump;
    if (op.newSession) {
      session += 1;
      sessionStart = real;
    }
    const reading: ClockReading = op.withMonotonic
      ? { wallNow: real + skew, monotonicNow: real - sessionStart, session: `s${session}` }
      : { wallNow: real + skew };
    const result = readSecureClock(state, reading);
    const again = readSecureClock(result.state, reading);
    // a rollback is reported once: the same reading again reports nothing and gives the same time
    expect(again.rollback).toBeNull();
    expect(again.now).toBe(result.now);
    state = result.state;
    onRead({ now: result.now, rollback: result.rollback !== null, reading, real });
  }
}

describe('properties of the secure clock', () => {
  it(
    'C7 between syncs trusted time never moves backwards, whatever the clocks do (a sync sets it to server time)',
    () => {
      fc.assert(
        fc.property(fc.array(clockOpArb(true), { maxLength: 40 }), (ops) => {
          let last = -Infinity;
          simulate(
            ops,
            ({ now }) => {
              expect(now).toBeGreaterThanOrEqual(last);
              last = now;
            },
            () => {
              last = -Infinity;
            },
          );
        }),
        { numRuns: RUNS.clock },
      );
    },
    PROPERTY_TIMEOUT_MS,
  );

  it(
    'within a session the monotonic timer bounds how much time a set-back clock can hold back',
    () => {
      fc.assert(
        fc.property(fc.array(clockOpArb(false), { maxLength: 40 }), (ops) => {
          const seen: Array<{ session: string; monotonic: number; now: number }> = [];
          simulate(ops, ({ now, reading }) => {
            if (reading.session === undefined || reading.monotonicNow === undefined) return;
            for (const earlier of seen) {
              if (earlier.session !== reading.session) continue;
              expect(now).toBeGreaterThanOrEqual(
                earlier.now + (reading.monotonicNow - earlier.monotonic) - DEFAULT_CLOCK_TOLERANCE_MS,
              );
            }
            seen.push({ session: reading.session, monotonic: reading.monotonicNow, now });
          });
        }),
        { numRuns: RUNS.clock },
      );
    },
    PROPERTY_TIMEOUT_MS,
  );

  it(
    'an honest clock (jitter under the tolerance, anchored at syncs) never reports a rollback and tracks real time',
    () => {
      const honest = fc.array(
        fc.oneof(
          fc.record({
            kind: fc.constant('read' as const),
            elapsed: fc.integer({ min: 0, max: HOUR_MS }),
            jitter: fc.integer({ min: -1200, max: 1200 }),
            newSession: fc.boolean(),
          }),
          fc.record({
            kind: fc.constant('anchor' as const),
            elapsed: fc.integer({ min: 0, max: MINUTE_MS }),
            jitter: fc.integer({ min: -1200, max: 1200 }),
          }),
        ),
        { maxLength: 40 },
      );
      fc.assert(
        fc.property(honest, (ops) => {
          let real = MARCH_1;
          let session = 0;
          let start = real;
          let state = initialSecureClock(real);
          for (const op of ops) {
            real += op.elapsed;
            if (op.kind === 'read' && op.newSession) {
              session += 1;
              start = real;
            }
            const reading = { wallNow: real + op.jitter, monotonicNow: real - start, session: `s${session}` };
            if (op.kind === 'anchor') {
              state = anchorSecureClock(state, real, reading);
              continue;
            }
            const result = readSecureClock(state, reading);
            state = result.state;
            expect(result.rollback).toBeNull();
            expect(Math.abs(result.now - real)).toBeLessThanOrEqual(2400);
          }
        }),
        { numRuns: RUNS.clock / 2 },
      );
    },
    PROPERTY_TIMEOUT_MS,
  );
});
