/** The invariants a run checks, by name. */
export const CHECKS = [
  'no-playback-after-expiry',
  'no-playback-past-check-in',
  'no-clock-cheat-gain',
  'server-within-limits',
  'events-exactly-once',
  'snapshots-converge',
] as const;
export type CheckName = (typeof CHECKS)[number];

/** One counter-example of an invariant. */
export interface Violation {
  readonly check: CheckName;
  /** The simulated device (`d0042`) and its device id, when one is involved. */
  readonly device: string | null;
  readonly accountId: string;
  readonly licenseId: string | null;
  /** Virtual time of the observation (ISO-8601). */
  readonly at: string;
  readonly message: string;
  /** What the device did and saw around it (its recent actions, or the records involved). */
  readonly events: readonly unknown[];
}

/** Something a device did or saw, kept for its timeline. */
export interface TimelineEntry {
  readonly at: number;
  readonly kind:
    | 'granted'
    | 'refused'
    | 'downloaded'
    | 'play'
    | 'play-refused'
    | 'deleted'
    | 'synced'
    | 'sync-failed'
    | 'clock-set'
    | 'crash'
    | 'offline'
    | 'online';
  readonly licenseId?: string;
  readonly titleId?: string;
  readonly detail?: string;
}

/** Licences per state across every account, at one instant (from the server's state). */
export interface StateSample {
  readonly at: number;
  readonly counts: Readonly<Record<string, number>>;
}

const bump = (record: Record<string, number>, key: string, by = 1) => {
  record[key] = (record[key] ?? 0) + by;
};

/** Everything a run counts and observes; the invariants write their counter-examples here. */
export class Recorder {
  readonly violations: Violation[] = [];
  readonly violationCounts: Partial<Record<CheckName, number>> = {};
  eventsRecorded = 0;
  playbacksAllowed = 0;
  readonly playbacksRefused: Record<string, number> = {};
  syncs = 0;
  readonly syncFailures: Record<string, number> = {};
  readonly syncLatencyMs: number[] = [];
  licencesGranted = 0;
  readonly licencesRefused: Record<string, number> = {};
  readonly requestErrors: Record<string, number> = {};
  readonly storageErrors: Record<string, number> = {};
  clockRollbacksDetected = 0;
  readonly samples: StateSample[] = [];
  readonly timelines = new Map<string, TimelineEntry[]>();
  /** Called on every new violation (the progress line shows the count). */
  onViolation: ((violation: Violation) => void) | null = null;

  violation(v: Omit<Violation, 'at'> & { at: number }): void {
    bump(this.violationCounts as Record<string, number>, v.check);
    const full: Violation = { ...v, at: new Date(v.at).toISOString() };
    if (this.violations.filter((x) => x.check === v.check).length < 5) this.violations.push(full);
    this.onViolation?.(full);
  }

  get violationCount(): number {
    return Object.values(this.violationCounts).reduce((a, b) => a + (b ?? 0), 0);
  }

  refused(reason: string): void {
    bump(this.playbacksRefused, reason);
  }

  syncFailed(code: string): void {
    bump(this.syncFailures, code);
  }

  licenceRefused(code: string): void {
    bump(this.licencesRefused, code);
  }

  requestError(code: string): void {
    bump(this.requestErrors, code);
  }

  storageError(code: string): void {
    bump(this.storageErrors, code);
  }

  /** Appends to a device's timeline (the report draws a sample of them). */
  timeline(device: string, entry: TimelineEntry): void {
    const entries = this.timelines.get(device);
    if (entries === undefined) this.timelines.set(device, [entry]);
    else entries.push(entry);
  }
}
