import type { LicenseState, SatchelChange, SatchelClient, SatchelStatus } from '@satchel/sdk';

/**
 * What every Satchel hook returns — the shape of PowerSync's `useQuery` and TanStack Query's results.
 * The object is replaced (never mutated) when anything in it changes, so it can be compared by identity.
 */
export interface SatchelQueryResult<T> {
  /** The last value read; the hook's empty value (`[]` or `null`) until the first read finished. */
  readonly data: T;
  /** True until the first read finished or failed. */
  readonly isLoading: boolean;
  /** True while a read runs (the first one, or a re-read after a change). */
  readonly isFetching: boolean;
  /** How the last read failed (e.g. a `StorageError`), cleared by the next successful read; `data` keeps the last good value. */
  readonly error: Error | null;
}

/** Longest delay `setTimeout` honours (2^31 − 1 ms, about 24.8 days); a later instant is re-armed on the way. */
const MAX_TIMER_MS = 2_147_483_647;

interface LiveOptions<T> {
  read: (client: SatchelClient) => Promise<T>;
  initial: T;
  /** The change types (from `subscribe`) after which the value is read again. */
  on: ReadonlyArray<SatchelChange['type']>;
  /** Window events after which the value is read again (e.g. `online`). */
  windowEvents?: readonly string[];
  /** In how many ms the value changes by itself, with no event (time passing), or null. */
  changesIn?: (value: T) => number | null;
}

/**
 * One live value over a client: read once a component subscribes, read again after each relevant change
 * notification (coalesced: at most one read runs, and one more follows if something changed meanwhile),
 * at the next instant the value changes by itself, and when the page becomes visible again (timers are
 * throttled in hidden tabs and stop while the device sleeps). Shared by every component of the client.
 */
export class LiveQuery<T> {
  #state: SatchelQueryResult<T>;
  readonly #listeners = new Set<() => void>();
  #unsubscribe: (() => void) | null = null;
  #reading = false;
  #dirty = false;
  #timer: ReturnType<typeof setTimeout> | null = null;

  constructor(
    private readonly client: SatchelClient,
    private readonly options: LiveOptions<T>,
  ) {
    this.#state = { data: options.initial, isLoading: true, isFetching: false, error: null };
  }

  /** For `useSyncExternalStore`: the first listener starts watching, the last one stops it. */
  readonly subscribe = (listener: () => void): (() => void) => {
    this.#listeners.add(listener);
    if (this.#listeners.size === 1) this.#start();
    return () => {
      this.#listeners.delete(listener);
      if (this.#listeners.size === 0) this.#stop();
    };
  };

  /** For `useSyncExternalStore`: the current result, the same object until it changes. */
  readonly getSnapshot = (): SatchelQueryResult<T> => this.#state;

  #start(): void {
    const types = new Set(this.options.on);
    const off = this.client.subscribe((change) => {
      if (types.has(change.type)) this.refresh();
    });
    const target = typeof window === 'undefined' ? null : window;
    const onVisible = () => {
      if (document.visibilityState === 'visible') this.refresh();
    };
    const onEvent = () => this.refresh();
    target?.document?.addEventListener('visibilitychange', onVisible);
    for (const name of this.options.windowEvents ?? []) target?.addEventListener(name, onEvent);
    this.#unsubscribe = () => {
      off();
      target?.document?.removeEventListener('visibilitychange', onVisible);
      for (const name of this.options.windowEvents ?? []) target?.removeEventListener(name, onEvent);
    };
    this.refresh();
  }

  #stop(): void {
    this.#unsubscribe?.();
    this.#unsubscribe = null;
    this.#disarm();
  }

  get #active(): boolean {
    return this.#unsubscribe !== null;
  }

  /** Reads the value again (coalesced with a read already running). */
  refresh(): void {
    if (this.#reading) {
      this.#dirty = true;
      return;
    }
    void this.#run();
  }

  async #run(): Promise<void> {
    this.#reading = true;
    this.#disarm();
    do {
      this.#dirty = false;
      this.#set({ ...this.#state, isFetching: true });
      try {
        const data = await this.options.read(this.client);
        this.#set({ data, isLoading: false, isFetching: false, error: null });
      } catch (error) {
        this.#set({
          data: this.#state.data,
          isLoading: false,
          isFetching: false,
          error: error instanceof Error ? error : new Error(String(error)),
        });
      }
    } while (this.#dirty && this.#active);
    this.#reading = false;
    if (this.#active && this.#state.error === null)
      this.#arm(this.options.changesIn?.(this.#state.data) ?? null);
  }

  #arm(inMs: number | null): void {
    if (inMs === null || !Number.isFinite(inMs)) return;
    const delay = Math.min(MAX_TIMER_MS, Math.max(1, Math.ceil(inMs)));
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.refresh();
    }, delay);
  }

  #disarm(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
  }

  #set(state: SatchelQueryResult<T>): void {
    this.#state = state;
    for (const listener of [...this.#listeners]) listener();
  }
}

/**
 * When the next licence's decision flips by itself: an allowed playback stops being allowed `timeLeftMs`
 * after it was read (at `expiresAt` in trusted time, which runs at the wall clock's pace). A refusal never
 * turns into a permission by time alone (it takes a sync, a renewal or a new event, which notify).
 */
export function nextDecisionChangeIn(licenses: readonly LicenseState[]): number | null {
  let next: number | null = null;
  for (const { playback } of licenses) {
    if (!playback.allowed) continue;
    // One ms past the instant, so the re-read lands on the far side of it.
    const inMs = playback.timeLeftMs + 1;
    next = next === null ? inMs : Math.min(next, inMs);
  }
  return next;
}

interface ClientQueries {
  licenses?: LiveQuery<LicenseState[]>;
  status?: LiveQuery<SatchelStatus | null>;
}
const queries = new WeakMap<SatchelClient, ClientQueries>();

function queriesOf(client: SatchelClient): ClientQueries {
  let found = queries.get(client);
  if (found === undefined) {
    found = {};
    queries.set(client, found);
  }
  return found;
}

const NO_LICENSES: LicenseState[] = [];

/** The client's live licence list (one per client, shared by every hook). */
export function licensesQuery(client: SatchelClient): LiveQuery<LicenseState[]> {
  const q = queriesOf(client);
  q.licenses ??= new LiveQuery(client, {
    read: (c) => c.licenses(),
    initial: NO_LICENSES,
    on: ['licenses'],
    changesIn: nextDecisionChangeIn,
  });
  return q.licenses;
}

/** The client's live sync status (one per client, shared by every hook). */
export function statusQuery(client: SatchelClient): LiveQuery<SatchelStatus | null> {
  const q = queriesOf(client);
  q.status ??= new LiveQuery<SatchelStatus | null>(client, {
    read: (c) => c.status(),
    initial: null,
    on: ['status', 'outbox', 'licenses'],
    windowEvents: ['online', 'offline'],
  });
  return q.status;
}
