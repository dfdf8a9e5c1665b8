/** What one tab tells the others. */
export interface TabMessage {
  type: 'changed';
  what: Array<'licenses' | 'outbox' | 'status'>;
}

/** The subset of the Web Locks API the SDK uses. */
export interface LockManagerLike {
  request<T>(
    name: string,
    options: { mode?: 'exclusive' | 'shared'; ifAvailable?: boolean },
    callback: (lock: unknown) => Promise<T> | T,
  ): Promise<T>;
}

function defaultLocks(): LockManagerLike | null {
  const nav = (globalThis as { navigator?: { locks?: LockManagerLike } }).navigator;
  return nav?.locks ?? null;
}

/**
 * Coordinates the tabs that share one database: a leader lock (held for the tab's lifetime) decides which
 * tab runs background sync; a sync lock makes every sync run exclusive across tabs; a BroadcastChannel
 * tells the other tabs what changed. Without Web Locks every tab leads and only in-tab exclusion holds.
 */
export class TabCoordinator {
  readonly #locks: LockManagerLike | null;
  readonly #channel: BroadcastChannel | null;
  #releaseLeader: (() => void) | null = null;
  #leader = false;
  #closed = false;
  #tail: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly name: string,
    locks: LockManagerLike | null | undefined,
    onMessage: (message: TabMessage) => void,
  ) {
    this.#locks = locks === undefined ? defaultLocks() : locks;
    this.#channel = typeof BroadcastChannel === 'undefined' ? null : new BroadcastChannel(`satchel:${name}`);
    if (this.#channel !== null) {
      this.#channel.onmessage = (event: MessageEvent) => {
        const data = event.data as TabMessage | null;
        if (data?.type === 'changed') onMessage(data);
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

  /** Waits for leadership (immediately without Web Locks) and calls `onLeader` once it is held. */
  campaign(onLeader: () => void): void {
    if (this.#locks === null) {
      this.#leader = true;
      onLeader();
      return;
    }
    void this.#locks
      .request(`satchel:${this.name}:leader`, { mode: 'exclusive' }, () => {
        if (this.#closed) return undefined;
        this.#leader = true;
        onLeader();
        return new Promise<void>((resolve) => {
          this.#releaseLeader = resolve;
        });
      })
      .catch(() => undefined);
  }

  /** Runs `fn` while no other run (in this tab, or another tab when Web Locks exist) is in progress. */
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = () =>
      this.#locks === null
        ? fn()
        : this.#locks.request(`satchel:${this.name}:sync`, { mode: 'exclusive' }, fn);
    const result = this.#tail.then(run, run);
    this.#tail = result.catch(() => undefined);
    return result;
  }

  post(message: TabMessage): void {
    try {
      this.#channel?.postMessage(message);
    } catch {}
  }

  close(): void {
    this.#closed = true;
    this.#leader = false;
    this.#releaseLeader?.();
    this.#releaseLeader = null;
    this.#channel?.close();
  }
}
