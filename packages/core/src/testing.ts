// Test helpers for the core's own tests. Not exported from index.ts.
import {
  type Command,
  type Decision,
  type DeviceEventContext,
  decide,
  decideDeviceEvent,
  type Rejection,
} from './decide.js';
import type { DeviceEvent, DomainEvent } from './events.js';
import { DEFAULT_PLAN, type Plan, type Policy, policy } from './policy.js';
import { type AccountState, fold, initialState, type License } from './state.js';

/** An instant from an ISO-8601 UTC string: `utc('2026-03-01T10:00Z')`. */
export function utc(iso: string): number {
  const at = Date.parse(iso);
  if (Number.isNaN(at)) throw new Error(`not an instant: ${iso}`);
  return at;
}

/** 1 March 2026 10:00 UTC, the issue instant of the worked example. */
export const MARCH_1 = utc('2026-03-01T10:00:00.000Z');

/** A plan with the default fields and the given overrides. */
export function plan(overrides: Partial<Plan> = {}): Plan {
  return { ...DEFAULT_PLAN, ...overrides };
}

export function accepted(decision: Decision): readonly DomainEvent[] {
  if (!decision.ok)
    throw new Error(`expected acceptance, got ${decision.rejection.code}: ${decision.rejection.message}`);
  return decision.events;
}

export function rejected(decision: Decision): Rejection {
  if (decision.ok)
    throw new Error(
      `expected a rejection, got ${decision.events.map((e) => e.type).join(', ') || 'no events'}`,
    );
  return decision.rejection;
}

/** An account driven through `decide` and `fold`, as the server does it. */
export class Account {
  state: AccountState;
  readonly events: DomainEvent[] = [];

  constructor(accountId = 'acc') {
    this.state = initialState(accountId);
  }

  /** Opens an account with the plan and registers the devices, all at `now`. */
  static open(options: { plan?: Plan; devices?: readonly string[]; now?: number } = {}): Account {
    const account = new Account();
    const now = options.now ?? MARCH_1;
    account.ok({ type: 'OpenAccount', accountId: 'acc', plan: options.plan ?? DEFAULT_PLAN, now });
    for (const deviceId of options.devices ?? ['d1']) {
      account.ok({ type: 'RegisterDevice', deviceId, name: `Device ${deviceId}`, now });
    }
    return account;
  }

  decide(command: Command): Decision {
    const decision = decide(this.state, command);
    if (decision.ok) this.apply(decision.events);
    return decision;
  }

  ok(command: Command): readonly DomainEvent[] {
    return accepted(this.decide(command));
  }

  refused(command: Command): Rejection {
    return rejected(this.decide(command));
  }

  device(incoming: DeviceEvent, context: DeviceEventContext): Decision {
    const decision = decideDeviceEvent(this.state, incoming, context);
    if (decision.ok) this.apply(decision.events);
    return decision;
  }

  apply(events: readonly DomainEvent[]): void {
    this.events.push(...events);
    this.state = fold(events, this.state);
  }

  license(licenseId: string): License {
    const license = this.state.licenses[licenseId];
    if (license === undefined) throw new Error(`no licence ${licenseId}`);
    return license;
  }

  issue(
    licenseId: string,
    deviceId: string,
    titleId: string,
    now: number,
    terms: Policy = policy(),
  ): Decision {
    return this.decide({ type: 'IssueLicense', licenseId, deviceId, titleId, policy: terms, now });
  }

  renew(licenseId: string, deviceId: string, now: number): Decision {
    return this.decide({ type: 'RenewLicense', licenseId, deviceId, now });
  }

  /** Issues a licence and records its download through the merge, at `now`. */
  download(
    licenseId: string,
    deviceId: string,
    titleId: string,
    now: number,
    terms: Policy = policy(),
  ): void {
    accepted(this.issue(licenseId, deviceId, titleId, now, terms));
    accepted(
      this.device(
        { type: 'DownloadCompleted', data: { licenseId, deviceId, at: now } },
        { deviceId, receivedAt: now },
      ),
    );
  }

  play(licenseId: string, deviceId: string, at: number, receivedAt = at): Decision {
    return this.device(
      { type: 'PlaybackStarted', data: { licenseId, deviceId, at, positionMs: 0 } },
      { deviceId, receivedAt },
    );
  }
}
