import { protocolError } from '@satchel/protocol';
import { HttpError } from './http-error.js';

/** Options of {@link DeviceGate}. */
export interface DeviceGateOptions {
  /** Requests of one device that may wait behind the running one (default 2). */
  maxWaiting?: number;
  /** Longest a request waits for its turn, ms (default 2 000). */
  waitMs?: number;
}

const busy = (retryAfterMs: number) =>
  new HttpError(
    429,
    protocolError('RATE_LIMITED', 'This device already has a sync in progress', { retryAfterMs }),
    { 'retry-after': String(Math.max(1, Math.ceil(retryAfterMs / 1000))) },
  );

/**
 * One sync (or rebase) per device at a time on this instance: the device's next request waits its turn
 * (FIFO), at most `maxWaiting` of them and each at most `waitMs`; past either bound it is refused at once
 * with `429 RATE_LIMITED` and a `Retry-After` (nothing of its body is read). A device's requests write
 * the same cursor, so running them one after another costs nothing a device needs, and a device that
 * opens many connections cannot hold more than one merge's worth of the server's work. Across instances
 * the cursor's compare-and-set keeps them apart as before. Memory: one entry per device with a request in
 * flight.
 */
export class DeviceGate {
  private readonly lanes = new Map<string, Array<() => void>>();
  private readonly maxWaiting: number;
  private readonly waitMs: number;

  constructor(options: DeviceGateOptions = {}) {
    this.maxWaiting = options.maxWaiting ?? 2;
    this.waitMs = options.waitMs ?? 2_000;
  }

  /**
   * Resolves with `release` once `key`'s turn has come (call it exactly once when done). Rejects with
   * {@link HttpError} 429 when `maxWaiting` requests already wait, or after `waitMs` of waiting.
   */
  enter(key: string): Promise<() => void> {
    const waiting = this.lanes.get(key);
    if (waiting === undefined) {
      this.lanes.set(key, []);
      return Promise.resolve(this.releaser(key));
    }
    if (waiting.length >= this.maxWaiting) return Promise.reject(busy(this.waitMs));
    return new Promise((resolve, reject) => {
      const turn = () => {
        clearTimeout(timer);
        resolve(this.releaser(key));
      };
      const timer = setTimeout(() => {
        const at = waiting.indexOf(turn);
        if (at >= 0) waiting.splice(at, 1);
        reject(busy(this.waitMs));
      }, this.waitMs);
      waiting.push(turn);
    });
  }

  /** Devices with a request running now. */
  get size(): number {
    return this.lanes.size;
  }

  private releaser(key: string): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const waiting = this.lanes.get(key);
      const next = waiting?.shift();
      if (next) next();
      else this.lanes.delete(key);
    };
  }
}
