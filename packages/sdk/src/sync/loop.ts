import type { SatchelLogger } from '../logger.js';
import {
  INITIAL_SYNC_STATE,
  type StopReason,
  type SyncBounds,
  type SyncInput,
  type SyncState,
  timerAt,
  transition,
} from './machine.js';

/**
 * The timers the sync loop uses. `now()` is a monotonic count in ms (the member cannot set it), so a wall
 * clock moved by a year neither fires nor holds back a timer. A test or a simulator passes its own.
 */
export interface SatchelTimers {
  now(): number;
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** Longest delay a JavaScript timer accepts (a longer one fires at once). */
export const MAX_TIMER_MS = 2_147_483_647;

/** Timers on `setTimeout` and `performance.now`; unref'd in Node so an idle client never holds a process open. */
export function defaultTimers(): SatchelTimers {
  const perf = (globalThis as { performance?: { now(): number } }).performance;
  return {
    now: perf === undefined ? () => Date.now() : () => perf.now(),
    setTimeout(callback, ms) {
      const handle = setTimeout(callback, Math.min(MAX_TIMER_MS, Math.max(0, ms)));
      (handle as { unref?: () => void }).unref?.();
      return handle;
    },
    clearTimeout(handle) {
      clearTimeout(handle as ReturnType<typeof setTimeout>);
    },
  };
}

/** How a failed run continues: retry after `retryInMs`, or stop for `stop`. */
export interface FailurePlan {
  retryInMs: number;
  stop?: StopReason;
}

export interface SyncLoopDeps<R> {
  timers: SatchelTimers;
  bounds: SyncBounds;
  logger: SatchelLogger;
  /** One run: pushes the outbox, stores the answer. */
  run: () => Promise<R>;
  /** After a successful run: when the next periodic run is due (ms from now). */
  nextInMs: (result: R) => Promise<number> | number;
  /** After a failed run: how to continue (`failures` counts the runs failed in a row, this one excluded). */
  onFailure: (error: unknown, failures: number) => Promise<FailurePlan> | FailurePlan;
  /** The wall clock, to tell when the next run is due ({@link SyncLoop.nextWallAt}). */
  wallNow?: () => number;
  /** Told after every transition. */
  onChange?: (state: SyncState) => void;
}

/**
 * Owns the sync lifecycle ({@link SyncState}): feeds every input through {@link transition}, starts a run
 * when the state becomes `syncing`, and keeps exactly one timer armed for the state's `at`. It holds no
 * other state; everything else asks it.
 */
export class SyncLoop<R> {
  #state: SyncState = INITIAL_SYNC_STATE;
  #run: Promise<R> | null = null;
  #timer: unknown = null;
  #armedAt: number | null = null;
  #wallAt: number | null = null;

  constructor(private readonly deps: SyncLoopDeps<R>) {}

  get state(): SyncState {
    return this.#state;
  }

  /** When the armed timer is due, on the wall clock (read when it was armed), or null. */
  get nextWallAt(): number | null {
    return this.#wallAt;
  }

  /** The run in progress, if any. */
  get current(): Promise<R> | null {
    return this.#run;
  }

  send(input: SyncInput): void {
    const before = this.#state;
    const after = transition(before, input, this.deps.bounds);
    this.#state = after;
    if (after !== before) {
      this.deps.logger.log('debug', `sync: ${before.kind} --${input.type}--> ${after.kind}`, {
        from: before.kind,
        input: input.type,
        to: after.kind,
        ...(timerAt(after) === null
          ? {}
          : { inMs: Math.round((timerAt(after) ?? 0) - this.deps.timers.now()) }),
      });
    }
    if (after.kind === 'syncing' && before.kind !== 'syncing') this.#start();
    this.#arm('now' in input ? input.now : this.deps.timers.now());
    if (after !== before) this.deps.onChange?.(after);
  }

  /** Runs now, or joins the run in progress. Rejects with what the run rejected with. */
  request(): Promise<R> | null {
    this.send({ type: 'request', now: this.deps.timers.now() });
    return this.#run;
  }

  #start(): void {
    const run = (async () => {
      try {
        const result = await this.deps.run();
        let next: number;
        try {
          next = await this.deps.nextInMs(result);
        } catch (error) {
          this.deps.logger.log('warn', 'sync: could not plan the next run', { error });
          next = 60_000;
        }
        this.#settle({ type: 'succeeded', now: this.deps.timers.now(), nextInMs: next });
        return result;
      } catch (error) {
        let plan: FailurePlan;
        try {
          plan = await this.deps.onFailure(error, this.#state.failures);
        } catch (inner) {
          this.deps.logger.log('warn', 'sync: could not plan the retry', { error: inner });
          plan = { retryInMs: 60_000 };
        }
        this.#settle({
          type: 'failed',
          now: this.deps.timers.now(),
          retryInMs: plan.retryInMs,
          ...(plan.stop === undefined ? {} : { stop: plan.stop }),
        });
        throw error;
      }
    })();
    run.catch(() => undefined);
    this.#run = run;
  }

  #settle(input: SyncInput): void {
    this.#run = null;
    this.send(input);
  }

  // `decidedAt` is the monotonic instant the input was read at: the wall-clock due time is counted from it.
  #arm(decidedAt: number): void {
    const at = timerAt(this.#state);
    if (at === this.#armedAt && (at === null || this.#timer !== null)) return;
    if (this.#timer !== null) this.deps.timers.clearTimeout(this.#timer);
    this.#timer = null;
    this.#armedAt = at;
    this.#wallAt = null;
    if (at === null) return;
    const delay = Math.min(MAX_TIMER_MS, Math.max(0, at - this.deps.timers.now()));
    this.#wallAt = Math.round((this.deps.wallNow ?? Date.now)() + Math.max(0, at - decidedAt));
    this.#timer = this.deps.timers.setTimeout(() => {
      this.#timer = null;
      this.send({ type: 'timer', now: this.deps.timers.now() });
    }, delay);
  }
}
