import { ClientError } from './errors.js';
import { type SatchelLogger, silentLogger } from './logger.js';
import { defaultTimers, type SatchelTimers } from './sync/loop.js';

/** What one tab tells the others. */
export type TabMessage = ChangedMessage | HeartbeatMessage;

/** A change another tab made. */
export interface ChangedMessage {
  type: 'changed';
  what: Array<'licenses' | 'outbox' | 'status'>;
}

/** A heartbeat. */
export type HeartbeatMessage =
  /** Is the tab holding `role` alive? Only that tab answers, with a `pong` carrying the same id. */
  { type: 'ping'; id: string; role: TabRole } | { type: 'pong'; id: string; role: TabRole };

/** The two locks: `leader` runs background sync; `sync` is held by whichever tab runs a sync. */
export type TabRole = 'leader' | 'sync';

/** The subset of the Web Locks API the SDK uses. */
export interface LockManagerLike {
  request<T>(
    name: string,
    options: { mode?: 'exclusive' | 'shared'; ifAvailable?: boolean; signal?: AbortSignal; steal?: boolean },
    callback: (lock: unknown) => Promise<T> | T,
  ): Promise<T>;
}

function defaultLocks(): LockManagerLike | null {
  const nav = (globalThis as { navigator?: { locks?: LockManagerLike } }).navigator;
  return nav?.locks ?? null;
}

/** How long a tab waits for the holder of a lock to answer a ping before it takes the lock over (ms). */
export const HEARTBEAT_TIMEOUT_MS = 2000;

interface TabOptions {
  logger?: SatchelLogger;
  timers?: SatchelTimers;
  heartbeatTimeoutMs?: number;
}

/**
 * Coordinates the tabs that share one database: a leader lock (held for the tab's lifetime) decides which
 * tab runs background sync; a sync lock makes every sync run exclusive across tabs; a BroadcastChannel
 * tells the other tabs what changed and carries heartbeats. A tab whose lock holder does not answer a
 * heartbeat within {@link HEARTBEAT_TIMEOUT_MS} (a frozen or hung tab) steals the lock: the server
 * serialises one device's syncs and is idempotent, so a hung holder that wakes up does no harm. Without
 * Web Locks every tab leads and only in-tab exclusion holds.
 */
export class TabCoordinator {
  readonly #locks: LockManagerLike | null;
  readonly #channel: BroadcastChannel | null;
  readonly #logger: SatchelLogger;
  readonly #timers: SatchelTimers;
  readonly #heartbeatMs: number;
  readonly #pongs = new Map<string, () => void>();
  #releaseLeader: (() => void) | null = null;
  #leader = false;
  #holdingSync = false;
  #closed = false;
  #tail: Promise<unknown> = Promise.resolve();
  #onLeader: (() => void) | null = null;
  #onResign: (() => void) | null = null;
  #watching = false;

  constructor(
    private readonly name: string,
    locks: LockManagerLike | null | undefined,
    onMessage: (message: ChangedMessage) => void,
    options: TabOptions = {},
  ) {
    this.#locks = locks === undefined ? defaultLocks() : locks;
    this.#logger = options.logger ?? silentLogger;
    this.#timers = options.timers ?? defaultTimers();
    this.#heartbeatMs = options.heartbeatTimeoutMs ?? HEARTBEAT_TIMEOUT_MS;
    this.#channel = typeof BroadcastChannel === 'undefined' ? null : new BroadcastChannel(`satchel:${name}`);
    if (this.#channel !== null) {
      // In Node an open channel would keep the process alive; the client's own work does that when needed.
      (this.#channel as { unref?: () => void }).unref?.();
      this.#channel.onmessage = (event: MessageEvent) => {
        const data = event.data as TabMessage | null;
        if (data?.type === 'changed') onMessage(data);
        else if (data?.type === 'ping') {
          const holds = data.role === 'leader' ? this.#leader : this.#holdingSync;
          if (holds) this.post({ type: 'pong', id: data.id, role: data.role });
        } else if (data?.type === 'pong') this.#pongs.get(data.id)?.();
      };
    }
  }

  /** Whether Web Locks coordinate the tabs. */
  get coordinated(): boolean {
    return this.#locks !== null;
  }

  get leader(): boolean {
    return this.#leader;
  }

  /**
   * Waits for leadership (immediately without Web Locks) and calls `onLeader` once it is held, and
   * `onResign` if another tab takes it over.
   */
  campaign(onLeader: () => void, onResign: () => void = () => {}): void {
    this.#onLeader = onLeader;
    this.#onResign = onResign;
    if (this.#locks === null) {
      this.#leader = true;
      onLeader();
      return;
    }
    this.#requestLeader(false);
  }

  #requestLeader(steal: boolean): void {
    const locks = this.#locks;
    if (locks === null || this.#closed) return;
    void locks
      .request(`satchel:${this.name}:leader`, steal ? { steal: true } : { mode: 'exclusive' }, () => {
        if (this.#closed) return undefined;
        this.#leader = true;
        this.#onLeader?.();
        return new Promise<void>((resolve) => {
          this.#releaseLeader = resolve;
        });
      })
      .catch((error: unknown) => {
        // Another tab stole the lock (it found this one unresponsive): background sync moves there.
        const was = this.#leader;
        this.#leader = false;
        this.#releaseLeader = null;
        this.#logger.log('warn', 'tabs: leadership lost', { error });
        if (was) this.#onResign?.();
        if (!this.#closed) this.#requestLeader(false);
      });
  }

  /**
   * Called by a follower that recorded something: if the leader does not answer a heartbeat, this tab
   * takes over background sync.
   */
  watchLeader(): void {
    if (this.#locks === null || this.#onLeader === null || this.#leader || this.#closed || this.#watching)
      return;
    this.#watching = true;
    void this.alive('leader')
      .then((alive) => {
        if (alive || this.#leader || this.#closed) return;
        this.#logger.log('warn', 'tabs: the leader did not answer a heartbeat; taking over background sync');
        this.#requestLeader(true);
      })
      .finally(() => {
        this.#watching = false;
      });
  }

  /** Whether the tab holding `role` answers a heartbeat within the timeout (true without a channel). */
  alive(role: TabRole): Promise<boolean> {
    const channel = this.#channel;
    if (channel === null) return Promise.resolve(true);
    const id = `${Math.random().toString(36).slice(2)}${Date.now().toString(36)}`;
    return new Promise<boolean>((resolve) => {
      const handle = this.#timers.setTimeout(() => {
        this.#pongs.delete(id);
        resolve(false);
      }, this.#heartbeatMs);
      this.#pongs.set(id, () => {
        this.#timers.clearTimeout(handle);
        this.#pongs.delete(id);
        resolve(true);
      });
      this.post({ type: 'ping', id, role });
    });
  }

  /**
   * Runs `fn` while no other run (in this tab, or another tab when Web Locks exist) is in progress. The
   * wait for another tab is bounded by `timeoutMs`: if the holder does not answer a heartbeat then, the
   * lock is stolen; if it answers (it is alive and busy), the call rejects with `TIMEOUT`.
   */
  exclusive<T>(fn: () => Promise<T>, timeoutMs: number): Promise<T> {
    const held = async () => {
      this.#holdingSync = true;
      try {
        return await fn();
      } finally {
        this.#holdingSync = false;
      }
    };
    const run = () => (this.#locks === null ? fn() : this.#acquire(this.#locks, held, timeoutMs));
    const result = this.#tail.then(run, run);
    this.#tail = result.catch(() => undefined);
    return result;
  }

  async #acquire<T>(locks: LockManagerLike, fn: () => Promise<T>, timeoutMs: number): Promise<T> {
    const name = `satchel:${this.name}:sync`;
    const controller = new AbortController();
    const handle = this.#timers.setTimeout(() => controller.abort(), timeoutMs);
    let acquired = false;
    try {
      return await locks.request(name, { mode: 'exclusive', signal: controller.signal }, () => {
        acquired = true;
        this.#timers.clearTimeout(handle);
        return fn();
      });
    } catch (error) {
      if (acquired || !controller.signal.aborted) throw error;
    } finally {
      this.#timers.clearTimeout(handle);
    }
    if (await this.alive('sync')) {
      throw new ClientError('TIMEOUT', `Another tab held the sync lock for more than ${timeoutMs} ms`);
    }
    this.#logger.log('warn', 'tabs: the tab holding the sync lock did not answer a heartbeat; stealing it');
    return locks.request(name, { steal: true }, fn);
  }

  post(message: TabMessage): void {
    try {
      this.#channel?.postMessage(message);
    } catch (error) {
      this.#logger.log('warn', 'tabs: could not notify the other tabs', { error });
    }
  }

  close(): void {
    this.#closed = true;
    this.#leader = false;
    this.#releaseLeader?.();
    this.#releaseLeader = null;
    this.#channel?.close();
  }
}
