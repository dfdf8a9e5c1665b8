/**
 * The secure clock's persisted state.
 * - `highWaterMark`: the latest trusted time handed out; trusted time never goes below it.
 * - `offsetMs`: maps the device's wall clock onto server time (learnt at each sync, and grown by
 *   every detected rollback so a set-back clock keeps counting from where it was).
 * - `lastEstimate`: the highest `wall + offset` seen since the last anchor (or the monotonic count,
 *   if higher), against which a rollback is detected.
 * - `monotonic`: the last monotonic reading of this session, which keeps counting real elapsed time
 *   even while the wall clock is being changed.
 * - `anchoredAt`: the server time of the last anchor (absent before the first): a state anchored later
 *   wins over one anchored earlier, whatever their high-water marks.
 * - `anchorMonotonic`: the monotonic reading taken at that anchor: in the same session, trusted time
 *   never runs ahead of `anchoredAt` plus the elapsed monotonic time (plus the tolerance).
 */
export interface SecureClockState {
  readonly highWaterMark: number;
  readonly offsetMs: number;
  readonly lastEstimate: number;
  readonly monotonic: { readonly session: string; readonly at: number; readonly estimate: number } | null;
  readonly anchoredAt?: number;
  readonly anchorMonotonic?: { readonly session: string; readonly at: number };
}

/** One reading of the device's clocks. */
export interface ClockReading {
  /** The device's wall clock (`Date.now()`), which the member can set. */
  readonly wallNow: number;
  /** A monotonic timer (`performance.now()`), meaningful only within one `session`. */
  readonly monotonicNow?: number;
  /** Identifies the lifetime of the monotonic timer (e.g. one page load). */
  readonly session?: string;
}

/** A detected clock rollback. */
export interface ClockRollback {
  readonly wallNow: number;
  readonly trustedNow: number;
  readonly behindMs: number;
}

/** The rollback tolerance Widevine uses. */
export const DEFAULT_CLOCK_TOLERANCE_MS = 5000;

/** A secure clock that has never been anchored starts from the wall clock it first sees. */
export function initialSecureClock(wallNow: number): SecureClockState {
  return { highWaterMark: wallNow, offsetMs: 0, lastEstimate: wallNow, monotonic: null };
}

function monotonicEstimate(state: SecureClockState, reading: ClockReading): number {
  const mono = state.monotonic;
  if (mono === null || reading.monotonicNow === undefined || reading.session !== mono.session)
    return -Infinity;
  if (reading.monotonicNow < mono.at) return -Infinity;
  return mono.estimate + (reading.monotonicNow - mono.at);
}

// Server time at the last anchor plus the monotonic time elapsed since, in the anchor's session
// (Infinity where that cannot be known: another session, or no timer).
function sinceAnchor(state: SecureClockState, reading: ClockReading): number {
  const anchor = state.anchorMonotonic;
  if (
    anchor === undefined ||
    state.anchoredAt === undefined ||
    reading.monotonicNow === undefined ||
    reading.session !== anchor.session ||
    reading.monotonicNow < anchor.at
  )
    return Infinity;
  return state.anchoredAt + (reading.monotonicNow - anchor.at);
}

function withMonotonic(reading: ClockReading, estimate: number): SecureClockState['monotonic'] {
  return reading.monotonicNow === undefined || reading.session === undefined
    ? null
    : { session: reading.session, at: reading.monotonicNow, estimate };
}

/**
 * Reads trusted time. The estimate is the wall clock plus the learnt offset. If it falls behind the
 * highest previous estimate (or behind the monotonic timer's count since then) by more than
 * `toleranceMs`, even through several smaller set-backs,
 * the clock was set back: the reading reports the rollback once, and the offset absorbs it so the
 * estimate continues from where it was. Within a session the estimate never runs ahead of the
 * monotonic count by more than `toleranceMs` either: a wall clock jumped forward does not ratchet trusted
 * time further than the elapsed time supports. Trusted time is the estimate, never below the
 * high-water mark: between syncs it never moves backwards.
 */
export function readSecureClock(
  state: SecureClockState,
  reading: ClockReading,
  toleranceMs: number = DEFAULT_CLOCK_TOLERANCE_MS,
): { now: number; state: SecureClockState; rollback: ClockRollback | null } {
  let estimate = reading.wallNow + state.offsetMs;
  let offsetMs = state.offsetMs;
  let rollback: ClockRollback | null = null;
  const reference = Math.max(state.lastEstimate, monotonicEstimate(state, reading));
  if (estimate < reference - toleranceMs) {
    offsetMs += reference - estimate;
    rollback = {
      wallNow: reading.wallNow,
      trustedNow: Math.max(reference, state.highWaterMark),
      behindMs: reference - estimate,
    };
    estimate = reference;
  }
  // A wall clock run ahead of what has elapsed since the anchor is not believed past the tolerance.
  estimate = Math.min(estimate, sinceAnchor(state, reading) + toleranceMs);
  const now = Math.max(estimate, state.highWaterMark);
  // The reference never moves back within the tolerance either: otherwise set-backs smaller than
  // the tolerance would add up unnoticed and hold trusted time still.
  const baseline = Math.max(estimate, reference);
  return {
    now,
    rollback,
    state: {
      highWaterMark: now,
      offsetMs,
      lastEstimate: baseline,
      // A reading without the timer (no session) keeps the session's reference rather than dropping it.
      monotonic:
        reading.monotonicNow === undefined && reading.session === undefined
          ? state.monotonic
          : withMonotonic(reading, baseline),
      ...(state.anchoredAt === undefined ? {} : { anchoredAt: state.anchoredAt }),
      ...(state.anchorMonotonic === undefined ? {} : { anchorMonotonic: state.anchorMonotonic }),
    },
  };
}

/**
 * Anchors the clock to the server's time at a sync: trusted time becomes server time, and from now on
 * the estimate is server time as the device's clocks advance it. Server time wins, in both directions:
 * a device whose clock once ran ahead (and ratcheted the high-water mark) is brought back to real time,
 * so it is not refused licences as expired until real time catches up. The server's clock cannot be set
 * back by the member, so this opens no rollback.
 */
export function anchorSecureClock(
  _state: SecureClockState,
  serverTime: number,
  reading: ClockReading,
): SecureClockState {
  return {
    highWaterMark: serverTime,
    offsetMs: serverTime - reading.wallNow,
    lastEstimate: serverTime,
    monotonic: withMonotonic(reading, serverTime),
    anchoredAt: serverTime,
    ...(reading.monotonicNow === undefined || reading.session === undefined
      ? {}
      : { anchorMonotonic: { session: reading.session, at: reading.monotonicNow } }),
  };
}

/**
 * Of two stored clock states (e.g. written by two tabs), the one to keep: the later anchor wins;
 * between states of the same anchor, the higher high-water mark (trusted time never moves back
 * between syncs).
 */
export function mergeSecureClocks(stored: SecureClockState, next: SecureClockState): SecureClockState {
  const a = stored.anchoredAt ?? -Infinity;
  const b = next.anchoredAt ?? -Infinity;
  if (b > a) return next;
  if (b < a) return stored;
  if (stored.highWaterMark <= next.highWaterMark) return next;
  return { ...next, highWaterMark: stored.highWaterMark };
}
