import type { SatchelTimers } from './loop.js';

/**
 * The request budget of one client: a token bucket of `burst` requests refilled at one per `refillMs`.
 * Whatever the server answers and however often `sync()` is called, a client sends at most
 * `burst + 60_000 / refillMs` requests in any minute ({@link MAX_REQUESTS_PER_MINUTE} with the defaults).
 */
export class RequestBudget {
  #tokens: number;
  #at: number;

  constructor(
    private readonly timers: SatchelTimers,
    private readonly burst = REQUEST_BURST,
    private readonly refillMs = REQUEST_REFILL_MS,
  ) {
    this.#tokens = burst;
    this.#at = timers.now();
  }

  #refill(): void {
    const now = this.timers.now();
    const elapsed = Math.max(0, now - this.#at);
    const gained = Math.floor(elapsed / this.refillMs);
    if (gained > 0) {
      this.#tokens = Math.min(this.burst, this.#tokens + gained);
      this.#at = this.#tokens === this.burst ? now : this.#at + gained * this.refillMs;
    }
  }

  /** Resolves when a request may go (at once while the bucket holds a token; at most `refillMs` later otherwise). */
  async take(): Promise<void> {
    for (;;) {
      this.#refill();
      if (this.#tokens >= 1) {
        this.#tokens -= 1;
        return;
      }
      const wait = Math.max(1, this.#at + this.refillMs - this.timers.now());
      await new Promise<void>((resolve) => this.timers.setTimeout(resolve, wait));
    }
  }
}

/** Requests a client may send at once before the budget paces it. */
export const REQUEST_BURST = 20;
/** One request more is allowed every this many ms. */
export const REQUEST_REFILL_MS = 1000;
/** The most requests one client sends in any 60-second window, whatever the answers. */
export const MAX_REQUESTS_PER_MINUTE = REQUEST_BURST + 60_000 / REQUEST_REFILL_MS;
