/**
 * The sync lifecycle as one value and one pure transition function. The table in docs/protocol.md
 * ("The device's sync state machine") is this file written out; `machine.test.ts` holds one row per
 * (state, input) pair and its type makes a missing pair a compile error.
 */

/** Why background sync stopped for good (until the app changes something and calls `sync()`). */
export type StopReason = 'update-required' | 'forbidden';

/**
 * Where sync stands:
 * - `idle`: background sync is off (autoSync off, or another tab leads) and no run is in progress;
 * - `scheduled`: background sync will run at `at` (wall-clock ms);
 * - `syncing`: a run is in progress; `again` is set when something was recorded meanwhile;
 * - `backoff`: the last run failed and may succeed later; the next one runs at `at`;
 * - `stopped`: the server refused this device or protocol version; no background run until `sync()`;
 * - `closed`: the client was closed; final.
 *
 * Every state carries `background` (this tab runs background sync), `failures` (runs that failed in a
 * row) and `notBefore` (no background run starts earlier: the start of the last run plus the minimum
 * gap, which bounds the request rate whatever the inputs).
 */
export type SyncState = (
  | { readonly kind: 'idle' }
  | { readonly kind: 'scheduled'; readonly at: number }
  | { readonly kind: 'syncing'; readonly again: boolean }
  | { readonly kind: 'backoff'; readonly at: number }
  | { readonly kind: 'stopped'; readonly reason: StopReason }
  | { readonly kind: 'closed' }
) & { readonly background: boolean; readonly failures: number; readonly notBefore: number };

/** The kinds of {@link SyncState}. */
export type SyncStateKind = SyncState['kind'];

/**
 * What can happen to the lifecycle:
 * - `start` / `resign`: this tab took over / gave up background sync;
 * - `record`: an event was recorded (here or in another tab): push it within `delayMs`;
 * - `online`: the network came back, or the device was just registered: run now (still no earlier than
 *   `notBefore`);
 * - `timer`: the armed timer fired;
 * - `request`: the app called `sync()`;
 * - `succeeded`: the run ended well; the next periodic run is due in `nextInMs`;
 * - `failed`: the run failed; `retryInMs` is the clamped delay before the next try, or `stop` says why
 *   there is none;
 * - `close`: the client closes.
 */
export type SyncInput =
  | { readonly type: 'start'; readonly now: number }
  | { readonly type: 'resign' }
  | { readonly type: 'record'; readonly now: number; readonly delayMs: number }
  | { readonly type: 'online'; readonly now: number }
  | { readonly type: 'timer'; readonly now: number }
  | { readonly type: 'request'; readonly now: number }
  | { readonly type: 'succeeded'; readonly now: number; readonly nextInMs: number }
  | { readonly type: 'failed'; readonly now: number; readonly retryInMs: number; readonly stop?: StopReason }
  | { readonly type: 'close' };

/** The types of {@link SyncInput}. */
export type SyncInputType = SyncInput['type'];

/** Bounds of the loop, in ms. */
export interface SyncBounds {
  /** Shortest time between the starts of two background runs. */
  minRunGapMs: number;
}

/** The state a client starts in. */
export const INITIAL_SYNC_STATE: SyncState = { kind: 'idle', background: false, failures: 0, notBefore: 0 };

function common(s: SyncState) {
  return { background: s.background, failures: s.failures, notBefore: s.notBefore };
}

function schedule(s: SyncState, at: number): SyncState {
  return { kind: 'scheduled', at: Math.max(at, s.notBefore), ...common(s) };
}

function run(s: SyncState, now: number, bounds: SyncBounds): SyncState {
  return { ...common(s), kind: 'syncing', again: false, notBefore: now + bounds.minRunGapMs };
}

/**
 * The next state. Pure: the caller ({@link SyncLoop}) starts a run when the state becomes `syncing` and
 * arms its one timer for `at` when the state is `scheduled` or `backoff`.
 */
export function transition(s: SyncState, input: SyncInput, bounds: SyncBounds): SyncState {
  if (s.kind === 'closed') return s;
  if (input.type === 'close') return { ...common(s), kind: 'closed', background: false };
  switch (input.type) {
    case 'start':
      if (s.background) return s;
      if (s.kind === 'idle') return schedule({ ...s, background: true }, input.now);
      return { ...s, background: true };
    case 'resign':
      if (s.kind === 'scheduled' || s.kind === 'backoff')
        return { ...common(s), kind: 'idle', background: false };
      return { ...s, background: false };
    case 'record':
      if (s.kind === 'syncing') return { ...s, again: true };
      if (s.kind === 'scheduled') return schedule(s, Math.min(s.at, input.now + input.delayMs));
      // A backoff is not cut short by new events (that would be a storm); idle has no background sync.
      return s;
    case 'online':
      if (s.kind === 'scheduled' || s.kind === 'backoff') return schedule(s, input.now);
      return s;
    case 'timer':
      if ((s.kind === 'scheduled' || s.kind === 'backoff') && input.now >= s.at)
        return run(s, input.now, bounds);
      return s;
    case 'request':
      if (s.kind === 'syncing') return s;
      return run(s, input.now, bounds);
    case 'succeeded': {
      if (s.kind !== 'syncing') return s;
      const next = { ...s, failures: 0 };
      if (!s.background) return { ...common(next), kind: 'idle' };
      return schedule(next, s.again ? input.now : input.now + input.nextInMs);
    }
    case 'failed': {
      if (s.kind !== 'syncing') return s;
      if (input.stop !== undefined) return { ...common(s), kind: 'stopped', reason: input.stop };
      const next = { ...common(s), failures: s.failures + 1 };
      if (!s.background) return { ...next, kind: 'idle' };
      return { ...next, kind: 'backoff', at: Math.max(input.now + input.retryInMs, s.notBefore) };
    }
  }
}

/** The instant the loop's timer must fire at, or null for none. */
export function timerAt(s: SyncState): number | null {
  return s.kind === 'scheduled' || s.kind === 'backoff' ? s.at : null;
}
