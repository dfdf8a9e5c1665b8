import {
  type MetaPatch,
  type NewOutboxEvent,
  type OutboxEntry,
  type SatchelStorage,
  StorageError,
} from '@satchel/sdk';
import type { Random } from './random.js';
import { VIRTUAL_TIME_HEADER } from './server/harness.js';

/** Fault rates of a run (`--faults drop=0.1,dup=0.05,reorder=0.05,delay=2s,server-restart=30m,quota=0.01,crash=0.01`). */
export interface FaultRates {
  /** Probability a request is lost: half before the server sees it, half after it processed it (the answer is lost). */
  readonly drop: number;
  /** Probability a request is sent twice. */
  readonly dup: number;
  /** Probability a request is held back and delivered after the device's next request (the client times out). */
  readonly reorder: number;
  /** Upper bound of the virtual network latency added to each request, in ms. */
  readonly delayMs: number;
  /** Virtual time between SIGKILLs of the embedded server (0: never). */
  readonly serverRestartMs: number;
  /** Probability a storage write fails with `STORAGE_QUOTA_EXCEEDED`. */
  readonly quota: number;
  /** Probability the tab crashes after a write: the client is dropped and recreated on the same IndexedDB. */
  readonly crash: number;
}

export const NO_FAULTS: FaultRates = Object.freeze({
  drop: 0,
  dup: 0,
  reorder: 0,
  delayMs: 0,
  serverRestartMs: 0,
  quota: 0,
  crash: 0,
});

/** Counts of what the fault injectors did. */
export interface FaultStats {
  requests: number;
  offlineRefused: number;
  requestsDropped: number;
  responsesDropped: number;
  duplicated: number;
  reordered: number;
  quotaErrors: number;
  crashes: number;
  serverRestarts: number;
}

export const emptyFaultStats = (): FaultStats => ({
  requests: 0,
  offlineRefused: 0,
  requestsDropped: 0,
  responsesDropped: 0,
  duplicated: 0,
  reordered: 0,
  quotaErrors: 0,
  crashes: 0,
  serverRestarts: 0,
});

/** What the network of one device needs to know about it. */
export interface NetworkEndpoint {
  readonly random: Random;
  /** The device's true virtual time (not its possibly set-back clock). */
  now(): number;
  online(): boolean;
  /** Called as each request leaves for the server. */
  onSend(): void;
  /** The account's server clock, kept monotonic per account: requests of one account never go back in time. */
  serverClock: { at: number };
}

class NetworkFault extends TypeError {
  constructor(message: string) {
    super(`fetch failed: ${message}`);
    this.name = 'TypeError';
  }
}

/** A device's network: the `fetch` its SDK uses, and `flush()` to deliver a request still held back. */
export interface DeviceNetwork {
  readonly fetch: typeof fetch;
  flush(): Promise<void>;
}

/**
 * The network of one device: stamps each request with the virtual time it reaches the server and
 * injects the network faults (only while `enabled()`). A request held back for reordering reaches the
 * server after the device's next request, or at `flush()`.
 */
export function faultyNetwork(
  endpoint: NetworkEndpoint,
  rates: FaultRates,
  stats: FaultStats,
  enabled: () => boolean,
): DeviceNetwork {
  let held: Request | null = null;

  const send = async (request: Request): Promise<Response> => {
    const latency = rates.delayMs > 0 && enabled() ? endpoint.random.between(0, rates.delayMs) : 0;
    const at = Math.max(endpoint.serverClock.at, Math.round(endpoint.now() + latency));
    endpoint.serverClock.at = at;
    request.headers.set(VIRTUAL_TIME_HEADER, String(at));
    const response = fetch(request);
    endpoint.onSend();
    return response;
  };
  const drain = async (request: Request) => {
    const response = await send(request);
    await response.arrayBuffer();
  };

  const faultyFetch: typeof fetch = async (input, init) => {
    const request = new Request(input, init);
    if (!endpoint.online()) {
      stats.offlineRefused += 1;
      throw new NetworkFault('the device is offline');
    }
    stats.requests += 1;
    const faults = enabled();
    const late = held;
    held = null;
    try {
      if (faults && late === null && endpoint.random.chance(rates.reorder)) {
        held = request.clone();
        stats.reordered += 1;
        throw new NetworkFault('no answer (the request is delayed past the next one)');
      }
      if (faults && endpoint.random.chance(rates.drop)) {
        if (endpoint.random.chance(0.5)) {
          stats.requestsDropped += 1;
          throw new NetworkFault('the request was lost');
        }
        await drain(request.clone());
        stats.responsesDropped += 1;
        throw new NetworkFault('the answer was lost');
      }
      if (faults && endpoint.random.chance(rates.dup)) {
        stats.duplicated += 1;
        await drain(request.clone());
      }
      return await send(request);
    } finally {
      if (late !== null) await drain(late).catch(() => undefined);
    }
  };
  return {
    fetch: faultyFetch,
    async flush() {
      const late = held;
      held = null;
      if (late !== null) await drain(late).catch(() => undefined);
    },
  };
}

/**
 * Wraps a device's storage: records every event the SDK appends (the device's own record, which the
 * invariants compare with the server's receipts) and injects quota errors on writes.
 */
export function faultyStorage(
  inner: SatchelStorage,
  options: {
    quota: () => boolean;
    onQuota: () => void;
    onAppend: (entries: readonly OutboxEntry[]) => void;
  },
): SatchelStorage {
  const quotaExceeded = () =>
    new StorageError('STORAGE_QUOTA_EXCEEDED', 'Simulated: the browser refused the write for lack of space');
  return {
    kind: inner.kind,
    open: () => inner.open(),
    async append(events: readonly NewOutboxEvent[], patch?: MetaPatch) {
      if (options.quota()) {
        options.onQuota();
        throw quotaExceeded();
      }
      const entries = await inner.append(events, patch);
      options.onAppend(entries);
      return entries;
    },
    pending: (limit) => inner.pending(limit),
    pendingCount: () => inner.pendingCount(),
    async commit(ackSeq, patch) {
      if (options.quota()) {
        options.onQuota();
        throw quotaExceeded();
      }
      return inner.commit(ackSeq, patch);
    },
    async renumber(moved, afterSeq) {
      if (options.quota()) {
        options.onQuota();
        throw quotaExceeded();
      }
      return inner.renumber(moved, afterSeq);
    },
    readMeta: () => inner.readMeta(),
    close: () => inner.close(),
  };
}
