import {
  anchorSecureClock,
  type ClockReading,
  type ClockRollback,
  DEFAULT_CLOCK_TOLERANCE_MS,
  type ExpiryReason,
  evaluatePlayback,
  initialSecureClock,
  isHeldStatus,
  isSatchelError,
  type PlaybackRefusalReason,
  readSecureClock,
  type SecureClockState,
} from '@satchel/core';
import {
  type DevicePlatform,
  type LicenseResponse,
  type LicenseSnapshot,
  type LicenseView,
  PROTOCOL_VERSION,
  type Refusal,
} from '@satchel/protocol';
import { newDeviceSecret } from './device-secret.js';
import { ClientError } from './errors.js';
import { type SatchelLogger, safeLogger } from './logger.js';
import { overlayLicenses } from './overlay.js';
import { idbStorage } from './storage/idb.js';
import { readView, recordThrough } from './storage/shared.js';
import type {
  NewOutboxEvent,
  OutboxEntry,
  PendingCommand,
  RecordPlan,
  RecordRead,
  RecordState,
  SatchelStorage,
  StoredMeta,
  StoredSyncError,
  SyncRecovery,
} from './storage/types.js';
import { retryDelay } from './sync/backoff.js';
import { RequestBudget } from './sync/budget.js';
import { batchLimits, DEFAULT_RETENTION, drainOutbox, type SyncResult } from './sync/engine.js';
import { clampRetryHint, httpTransport, RETRY_HINT_RANGE_MS, type Transport } from './sync/http.js';
import { defaultTimers, type FailurePlan, MAX_TIMER_MS, type SatchelTimers, SyncLoop } from './sync/loop.js';
import type { StopReason, SyncStateKind } from './sync/machine.js';
import { type ChangedMessage, type LockManagerLike, TabCoordinator } from './tabs.js';
import { uuidv7 } from './uuid.js';

/**
 * The time source. `now()` is the wall clock (epoch ms, default `Date.now`); `monotonicNow()` a timer that
 * the user cannot set (default `performance.now`). A simulator or a test drives a virtual clock through it.
 */
export interface SatchelClock {
  now(): number;
  monotonicNow?(): number;
}

/** Options of {@link createSatchel}. */
export interface SatchelOptions {
  /** The sync server, e.g. `https://sync.example.com/` (a path prefix is kept). */
  baseUrl: string;
  /** The device's bearer token, when the device was registered out of band. */
  token?: string;
  /**
   * Called before every authenticated request; wins over `token` and the stored token. When the server
   * refused the token (401), it is called again at once with `{ refresh: true }` and the request is sent
   * once more with what it returns (a second 401 is reported as `UNAUTHORIZED`).
   */
  getToken?: (context: { refresh: boolean }) => string | null | Promise<string | null>;
  /** The device id, when registered out of band (stored on first use together with `token`). */
  deviceId?: string;
  /** Where the outbox and snapshot live (default: `idbStorage()`, its own IndexedDB database `satchel`). */
  storage?: SatchelStorage;
  /** The `fetch` used for every request (default: the global one). */
  fetch?: typeof fetch;
  /** The clock (default: `Date.now` and `performance.now`). */
  clock?: SatchelClock;
  /**
   * Sync in the background: on start, every `syncIntervalMs`, on the browser's `online` event, shortly
   * after an event is recorded, and before the offline check-in deadline (default true).
   */
  autoSync?: boolean;
  /** Period of background sync in ms (default 5 minutes). */
  syncIntervalMs?: number;
  /** Delay between recording an event and pushing it, in ms (default 2 s). */
  pushDelayMs?: number;
  /**
   * Bound on each exchange with the server in ms, from sending the request to the last byte of the
   * answer's body (default 15 s). A server that sends its headers and stalls times out too.
   */
  requestTimeoutMs?: number;
  /**
   * Backoff after a failed background sync: full jitter over `baseMs * 2^attempt`, capped at `maxMs`,
   * never below 1 s, and never sooner than the server's hint (itself clamped to [1 s, 1 h]).
   */
  backoff?: { baseMs?: number; maxMs?: number };
  /**
   * Largest sync batch, in events and in bytes (defaults: 500 events, 512 KiB). Capped at the protocol's
   * limits (`MAX_SYNC_BATCH_EVENTS`, `MAX_SYNC_BODY_BYTES`): a larger value uses the limit.
   */
  batch?: { maxEvents?: number; maxBytes?: number };
  /** Longest wait in ms for another tab's sync run to release the sync lock (default 30 s); then `TIMEOUT`. */
  lockTimeoutMs?: number;
  /**
   * How long acknowledged events are kept, to refill a server restored from a backup (default: 30 days,
   * the default offline check-in period, and at most 500 events). Beyond it, such a server re-bases.
   */
  retention?: { maxAgeMs?: number; maxEvents?: number };
  /**
   * Receives every sync transition and every error the SDK handles without throwing (default: silent),
   * including the storage adapter's (handed to `storage.useLogger`).
   */
  logger?: SatchelLogger;
  /** The timers of the sync loop and of request deadlines (default: `setTimeout`, `performance.now`). */
  timers?: SatchelTimers;
  /** Clock rollback tolerance in ms (default 5000). */
  clockToleranceMs?: number;
  /**
   * Web Locks used to elect the syncing tab (default `navigator.locks`). `null` disables coordination:
   * every tab then syncs on its own, which is safe because the server is idempotent.
   */
  locks?: LockManagerLike | null;
  /** Name that tabs sharing one storage coordinate under (default `satchel`). */
  tabGroup?: string;
  /** Random source for backoff jitter (default `Math.random`). */
  random?: () => number;
}

/** A device registration's outcome. */
export interface Registration {
  deviceId: string;
  accountId: string;
  tokenExpiresAt: number;
}

/**
 * The credential this device presents to the server, for the calls a player makes beside the SDK (a
 * licence proxy that releases content keys, the catalogue, a licence's history).
 */
export interface DeviceCredential {
  /** The device's id (stable once registered). */
  deviceId: string;
  /** The account the device is enrolled in; null when the token comes from `token`/`getToken` and no registration stored one. */
  accountId: string | null;
  /** The bearer token to send as `Authorization: Bearer <token>`. */
  token: string;
}

/** The answer to a licence request or renewal: granted, or refused by the rules with the reason. */
export type LicenseRequestResult = { ok: true; license: LicenseView } | { ok: false; refusal: Refusal };

/** Why playback of a licence is refused offline. */
export type PlaybackRefusal = PlaybackRefusalReason | 'LICENSE_NOT_FOUND';

/**
 * An offline playback decision. `secureNow` is the trusted time it was taken at; `clockRollback` is set
 * when the device clock was found set back (the decision then used the secure clock's time).
 */
export type PlaybackResult = { licenseId: string; secureNow: number; clockRollback: ClockRollback | null } & (
  | { allowed: true; expiresAt: number; reason: ExpiryReason; timeLeftMs: number }
  | { allowed: false; reason: PlaybackRefusal; expiredAt: number | null; message: string }
);

/** A licence as the device currently sees it, with whether it could play right now. */
export interface LicenseState extends LicenseView {
  /** Whether a device event about this licence is still waiting to be synced. */
  pendingSync: boolean;
  /** What `startPlayback` would decide now (without recording anything). */
  playback: PlaybackResult;
}

/** The SDK's sync status, as any tab sees it. */
export interface SatchelStatus {
  registered: boolean;
  deviceId: string | null;
  /** `navigator.onLine` (true where unknown). */
  online: boolean;
  /** Device events waiting in the outbox. */
  pendingEvents: number;
  /** Wall-clock time of the last successful sync (from any tab). */
  lastSyncAt: number | null;
  /** How the last sync failed, cleared by the next success. */
  lastError: StoredSyncError | null;
  /** Set when the server no longer speaks this SDK's protocol: the player must update; sync stopped. */
  updateRequired: { minProtocolVersion: number | null; message: string } | null;
  /** Whether this tab is syncing right now. */
  syncing: boolean;
  /**
   * This tab's sync lifecycle: `idle` (no background sync here), `scheduled`, `syncing`, `backoff`
   * (the last run failed; the next is at `nextSyncAt`), `stopped` (see `stoppedReason`), `closed`.
   */
  syncState: SyncStateKind;
  /** Why background sync stopped (`update-required`, `forbidden`), when `syncState` is `stopped`. */
  stoppedReason: StopReason | null;
  /** Background runs that failed in a row (0 after a success). */
  failures: number;
  /**
   * The last time the server had lost acknowledged events of this device (restored from a backup) and
   * how that was resolved: `refilled` from retained events, or `rebased` (the range is recorded in the
   * account's history as `DeviceHistoryRebased`); or the device's storage was restored from an older
   * backup and its new events reused acknowledged seqs: `renumbered` after the server's cursor. Null if
   * it never happened.
   */
  recovery: SyncRecovery | null;
  /** Whether this tab runs background sync. */
  leader: boolean;
  /** When this tab's next background sync is due (wall-clock ms), if scheduled. */
  nextSyncAt: number | null;
  /** The earliest instant a licence stops playing unless the device checks in (null: none active). */
  checkInDeadline: number | null;
  /** Version of the cached snapshot. */
  snapshotVersion: number | null;
}

/** A change notification; read `licenses()` or `status()` for the new state. */
export interface SatchelChange {
  type: 'licenses' | 'outbox' | 'status';
  /** `local`: this tab; `remote`: another tab sharing the storage. */
  source: 'local' | 'remote';
}

/** The client returned by {@link createSatchel}. */
export interface SatchelClient {
  /**
   * Registers this device with an enrolment token and stores its identity, token and first snapshot.
   * Durable when it resolves. Online only.
   * @throws {ClientError} `ALREADY_REGISTERED`, `NETWORK`, `TIMEOUT`, `UNAUTHORIZED`, `SERVER`,
   *   `UPDATE_REQUIRED`, `INVALID_RESPONSE`; {@link StorageError} if the identity cannot be stored.
   */
  register(
    enrolmentToken: string,
    device: { name: string; platform?: DevicePlatform },
  ): Promise<Registration>;
  /**
   * Asks the server for a download licence (online; pending events are pushed first, best effort). A
   * refusal by the rules (device limit, yearly limit…) resolves with `{ ok: false, refusal }`. The snapshot
   * that comes with the answer is stored before it resolves.
   * @throws {ClientError} `NOT_REGISTERED`, `NETWORK`, `TIMEOUT`, `UNAUTHORIZED`, `SERVER`, `UPDATE_REQUIRED`,
   *   `INVALID_RESPONSE`; {@link StorageError}.
   */
  requestDownload(titleId: string): Promise<LicenseRequestResult>;
  /**
   * Records that the licence's media finished downloading (works offline). The event is in the outbox
   * when it resolves. @throws {ClientError} `NOT_REGISTERED`; {@link StorageError}.
   */
  downloadCompleted(licenseId: string): Promise<void>;
  /**
   * Decides OFFLINE, from the cached snapshot and the secure clock, whether the licence may play now.
   * When allowed, a `PlaybackStarted` event is in the outbox when it resolves; a detected clock rollback is
   * recorded (`ClockRollbackDetected`) in the same transaction; an expiry observed offline is recorded as
   * `LicenseExpiryObserved`. A refusal is a result, not an error.
   * @throws {ClientError} `NOT_REGISTERED`, `NO_SNAPSHOT`; {@link StorageError}.
   */
  startPlayback(licenseId: string, options?: { positionMs?: number }): Promise<PlaybackResult>;
  /** Records a `PlaybackStopped` at `positionMs` (works offline; durable when it resolves). @throws as `downloadCompleted`. */
  stopPlayback(licenseId: string, positionMs: number): Promise<void>;
  /** Records a `DownloadDeleted`, which releases the licence at the next sync (durable when it resolves). @throws as `downloadCompleted`. */
  deleteDownload(licenseId: string): Promise<void>;
  /** Asks the server to renew a licence (online); like {@link SatchelClient.requestDownload}. */
  renew(licenseId: string): Promise<LicenseRequestResult>;
  /**
   * Pushes the whole outbox and stores the authoritative snapshot. Exclusive across tabs (Web Locks).
   * Each acknowledged batch is committed (acknowledgement + snapshot + clock anchor, one transaction)
   * before the next is sent, so a failure half-way loses nothing and resends nothing acknowledged.
   * Concurrent calls in one tab share one run; a call resolves only once every event recorded before it
   * was acknowledged (one that joins a run started before those events were recorded runs again).
   * @throws {ClientError} `NOT_REGISTERED`, `NETWORK`, `TIMEOUT`, `UNAUTHORIZED`, `SERVER`, `UPDATE_REQUIRED`,
   *   `INVALID_RESPONSE`, `CLOSED`; {@link StorageError}.
   */
  sync(): Promise<SyncResult>;
  /** The device's licences: the snapshot with pending events applied, each with its current playback decision. @throws {StorageError} */
  licenses(): Promise<LicenseState[]>;
  /**
   * The last authoritative snapshot as stored (the plan, the account's devices, the yearly allowances, the
   * licences without pending events applied), or `null` before the first one arrived. Reads storage only.
   * @throws {StorageError}
   */
  snapshot(): Promise<LicenseSnapshot | null>;
  /** The sync status. @throws {StorageError} */
  status(): Promise<SatchelStatus>;
  /**
   * The device's current credential (its id, account and bearer token — from `getToken`, `token` or what
   * `register` stored), or `null` while the device is not registered. Reads storage only; the token may
   * have been superseded on the server (a call with it then fails with 401, as the SDK's would).
   * @throws {StorageError}
   */
  credential(): Promise<DeviceCredential | null>;
  /** Calls `listener` on every change, in this tab or another sharing the storage. Returns an unsubscribe function. */
  subscribe(listener: (change: SatchelChange) => void): () => void;
  /** Stops background sync, hands leadership to another tab, closes the storage. Idempotent. */
  close(): Promise<void>;
}

interface Recorded<T> {
  deviceId: string;
  rollback: ClockRollback | null;
  result: T | null;
}
const newSession = (): string => uuidv7();

/**
 * Creates the device-side client. Nothing is read or sent until the first call (or the first background
 * sync, when `autoSync` is on). Never throws; storage or configuration problems surface from the calls.
 *
 * Tabs sharing the storage coordinate through Web Locks (one leader runs background sync; every sync run
 * is exclusive) and a BroadcastChannel (change notifications). Where Web Locks are missing, every tab
 * syncs on its own: safe, because the server is idempotent and seqs are assigned transactionally.
 */
export function createSatchel(options: SatchelOptions): SatchelClient {
  return new Client(options);
}

class Client implements SatchelClient {
  readonly #storage: SatchelStorage;
  readonly #transport: Transport;
  readonly #clock: SatchelClock;
  readonly #session = newSession();
  readonly #tabs: TabCoordinator;
  readonly #listeners = new Set<(change: SatchelChange) => void>();
  #ready: Promise<void>;
  readonly #random: () => number;
  readonly #tolerance: number;
  readonly #logger: SatchelLogger;
  readonly #timers: SatchelTimers;
  readonly #budget: RequestBudget;
  readonly #loop: SyncLoop<SyncResult>;
  #closed = false;
  // The device id never changes once stored, so a record need not read the identity again.
  #deviceId: string | null = null;
  readonly #onOnline = () => this.#loop.send({ type: 'online', now: this.#timers.now() });

  constructor(private readonly options: SatchelOptions) {
    this.#storage = options.storage ?? idbStorage();
    this.#clock =
      options.clock ??
      ({
        now: () => Date.now(),
        monotonicNow: typeof performance === 'undefined' ? undefined : () => performance.now(),
      } as SatchelClock);
    this.#random = options.random ?? Math.random;
    this.#tolerance = options.clockToleranceMs ?? DEFAULT_CLOCK_TOLERANCE_MS;
    this.#logger = safeLogger(options.logger);
    if (options.logger !== undefined) this.#storage.useLogger?.(this.#logger);
    this.#timers = options.timers ?? defaultTimers();
    this.#budget = new RequestBudget(this.#timers);
    this.#transport = httpTransport({
      baseUrl: options.baseUrl,
      timeoutMs: options.requestTimeoutMs ?? 15_000,
      now: () => this.#clock.now(),
      timers: this.#timers,
      ...(options.fetch === undefined ? {} : { fetch: options.fetch }),
    });
    this.#tabs = new TabCoordinator(
      options.tabGroup ?? 'satchel',
      options.locks,
      (message) => this.#remote(message),
      { logger: this.#logger, timers: this.#timers },
    );
    this.#loop = new SyncLoop<SyncResult>({
      timers: this.#timers,
      bounds: { minRunGapMs: MIN_RUN_GAP_MS },
      logger: this.#logger,
      run: () => this.#runSync(),
      nextInMs: () => this.#nextInMs(),
      onFailure: (error, failures) => this.#planRetry(error, failures),
      onChange: () => this.#emitSoon(['status']),
      wallNow: () => this.#clock.now(),
    });
    this.#ready = this.#init();
    this.#ready.catch((error: unknown) =>
      this.#logger.log('warn', 'storage: opening failed (retried by the next call)', { error }),
    );
    if (options.autoSync ?? true) {
      this.#tabs.campaign(
        () => {
          if (this.#closed) return;
          if (typeof addEventListener === 'function') addEventListener('online', this.#onOnline);
          this.#loop.send({ type: 'start', now: this.#timers.now() });
        },
        () => this.#loop.send({ type: 'resign' }),
      );
    }
  }

  async #init(): Promise<void> {
    await this.#storage.open();
    if (this.options.deviceId === undefined) return;
    const meta = await this.#storage.readMeta();
    if (meta.identity === null) {
      await this.#storage.commit(null, {
        identity: {
          deviceId: this.options.deviceId,
          token: this.options.token ?? null,
          tokenExpiresAt: null,
          accountId: null,
          name: null,
        },
      });
    }
  }

  async #open(): Promise<void> {
    if (this.#closed) throw new ClientError('CLOSED', 'The client is closed');
    try {
      await this.#ready;
    } catch (error) {
      // A failed open (blocked by another tab, storage unavailable) is retried by the next call.
      this.#logger.log('warn', 'storage: retrying a failed open', { error });
      this.#ready = this.#init();
      await this.#ready;
    }
  }

  #reading(): ClockReading {
    const mono = this.#clock.monotonicNow?.();
    return mono === undefined
      ? { wallNow: this.#clock.now() }
      : { wallNow: this.#clock.now(), monotonicNow: mono, session: this.#session };
  }

  async #token(meta?: StoredMeta, refresh = false): Promise<string> {
    const fromHook = await this.options.getToken?.({ refresh });
    if (typeof fromHook === 'string' && fromHook !== '') return fromHook;
    if (this.options.token !== undefined) return this.options.token;
    const stored = (meta ?? (await this.#storage.readMeta())).identity?.token;
    if (stored == null)
      throw new ClientError('NOT_REGISTERED', 'The device has no token: call register() first');
    return stored;
  }

  #emit(types: Array<SatchelChange['type']>, source: SatchelChange['source'] = 'local'): void {
    if (source === 'local') this.#tabs.post({ type: 'changed', what: types });
    for (const type of types) {
      for (const listener of this.#listeners) {
        try {
          listener({ type, source });
        } catch (error) {
          this.#logger.log('warn', 'subscribe: a listener threw', { error, change: type });
        }
      }
    }
  }

  // A record resolves as soon as its transaction committed; telling listeners and other tabs (a
  // BroadcastChannel post costs as much as an IndexedDB request) happens in a later task, coalesced.
  readonly #later = new Set<SatchelChange['type']>();
  #laterTimer: unknown = null;

  #emitSoon(types: Array<SatchelChange['type']>): void {
    for (const type of types) this.#later.add(type);
    this.#laterTimer ??= this.#timers.setTimeout(() => this.#flush(), 0);
  }

  #flush(): void {
    if (this.#laterTimer !== null) this.#timers.clearTimeout(this.#laterTimer);
    this.#laterTimer = null;
    if (this.#later.size === 0) return;
    const types = [...this.#later];
    this.#later.clear();
    this.#emit(types);
  }

  #remote(message: ChangedMessage): void {
    if (this.#closed) return;
    this.#emit(message.what, 'remote');
    if (message.what.includes('outbox')) this.#pushSoon();
  }

  /**
   * Records the events `make` builds at trusted time, with the new secure-clock state, in one read-write
   * transaction that also reads the stored clock (other tabs advance it) and what `read` asks for. `make`
   * runs inside that transaction, synchronously; returning `null` writes nothing.
   */
  async #recordDeviceEvents<T>(
    read: Omit<RecordRead, 'identity'>,
    make: (
      state: RecordState,
      deviceId: string,
      now: number,
    ) => { events: Array<Pick<NewOutboxEvent, 'type' | 'v' | 'data'>>; result: T } | null,
  ): Promise<{ entries: OutboxEntry[]; rollback: ClockRollback | null; result: T | null }> {
    const known = this.#deviceId;
    const build = (state: RecordState): RecordPlan<Recorded<T> | null> => {
      const deviceId = known ?? state.identity?.deviceId;
      if (deviceId === undefined) return { events: [], result: null };
      const reading = this.#reading();
      const clock = readSecureClock(
        state.clock ?? initialSecureClock(reading.wallNow),
        reading,
        this.#tolerance,
      );
      const now = Math.round(clock.now);
      const made = make(state, deviceId, now);
      if (made === null) return { events: [], result: { deviceId, rollback: clock.rollback, result: null } };
      const occurredAt = Math.max(0, Math.round(reading.wallNow));
      const events: NewOutboxEvent[] = [];
      if (clock.rollback !== null) {
        events.push({
          type: 'ClockRollbackDetected',
          v: versionOf('ClockRollbackDetected'),
          data: {
            deviceId,
            at: now,
            wallClockAt: Math.round(clock.rollback.wallNow),
            behindMs: Math.max(1, Math.round(clock.rollback.behindMs)),
          },
          occurredAt,
          trustedAt: now,
        });
      }
      for (const e of made.events)
        events.push({ type: e.type, v: e.v, data: e.data, occurredAt, trustedAt: now });
      return {
        events,
        clock: clock.state,
        result: { deviceId, rollback: clock.rollback, result: made.result },
      };
    };
    const storage = this.#storage;
    const { entries, result } =
      storage.record === undefined
        ? await recordThrough(storage, { ...read, identity: known === null }, build)
        : await storage.record({ ...read, identity: known === null }, build);
    if (result === null)
      throw new ClientError('NOT_REGISTERED', 'The device is not registered: call register() first');
    this.#deviceId ??= result.deviceId;
    if (entries.length > 0) {
      this.#emitSoon(['outbox', 'licenses']);
      this.#pushSoon();
    }
    return { entries, rollback: result.rollback, result: result.result };
  }

  async #licenseEvent(
    type: 'DownloadCompleted' | 'DownloadDeleted' | 'PlaybackStopped',
    licenseId: string,
    positionMs?: number,
  ): Promise<void> {
    checkLicenseId(licenseId);
    await this.#open();
    await this.#recordDeviceEvents({}, (_state, deviceId, at) => ({
      events: [
        {
          type,
          v: versionOf(type),
          data:
            positionMs === undefined ? { licenseId, deviceId, at } : { licenseId, deviceId, at, positionMs },
        },
      ],
      result: undefined,
    }));
  }

  async register(
    enrolmentToken: string,
    device: { name: string; platform?: DevicePlatform },
  ): Promise<Registration> {
    await this.#open();
    const meta = await this.#storage.readMeta();
    if (meta.identity?.token != null) {
      throw new ClientError(
        'ALREADY_REGISTERED',
        `This device is already registered as ${meta.identity.deviceId}`,
      );
    }
    const deviceId = meta.identity?.deviceId ?? this.options.deviceId ?? uuidv7(this.#clock.now());
    const secret = meta.identity?.secret ?? newDeviceSecret();
    if (meta.identity === null || meta.identity.secret === undefined) {
      // The chosen id and the device secret are stored before they are sent: a retry after a lost answer
      // registers the same device (the server knows it by its secret) instead of a second one.
      await this.#storage.commit(null, {
        identity: {
          deviceId,
          token: null,
          tokenExpiresAt: null,
          accountId: null,
          name: device.name,
          secret,
        },
      });
    }
    const response = await this.#transport.register(enrolmentToken, {
      deviceId,
      name: device.name,
      deviceSecret: secret,
      ...(device.platform === undefined ? {} : { platform: device.platform }),
    });
    const reading = this.#reading();
    await this.#storage.commit(null, {
      identity: {
        deviceId: response.deviceId,
        token: response.token,
        tokenExpiresAt: response.tokenExpiresAt,
        accountId: response.snapshot.accountId,
        name: device.name,
        secret,
      },
      snapshot: response.snapshot,
      clock: anchor(meta.clock, response.snapshot.serverTime, reading),
      cursor: { lastSyncAt: reading.wallNow, lastError: null, updateRequired: null },
    });
    this.#emit(['licenses', 'status']);
    // A background run that failed for want of a registration waits in backoff: the server is reachable
    // and the device has its token now, so the next run need not wait out the retry interval.
    this.#loop.send({ type: 'online', now: this.#timers.now() });
    return {
      deviceId: response.deviceId,
      accountId: response.snapshot.accountId,
      tokenExpiresAt: response.tokenExpiresAt,
    };
  }

  /**
   * An online licence command. Its idempotency key (`make` builds it from what the device knows now) is
   * stored before the request goes and reused by every retry until an answer arrives, so a retry after a
   * lost answer gets the first outcome rather than a second licence or a refusal.
   */
  async #licenseCall(
    key: string,
    make: (meta: StoredMeta) => PendingCommand,
    call: (token: string, command: PendingCommand) => Promise<LicenseResponse>,
  ): Promise<LicenseRequestResult> {
    await this.#open();
    const meta = await this.#storage.readMeta();
    if (meta.identity === null) throw new ClientError('NOT_REGISTERED', 'The device is not registered');
    if ((await this.#storage.pendingCount()) > 0) {
      await this.sync().catch((error: unknown) =>
        this.#logger.log('warn', 'sync: pushing the outbox before an online command failed', { error }),
      );
    }
    const now = this.#clock.now();
    const commands = liveCommands(meta.cursor.commands, now);
    let command = commands[key];
    if (command === undefined) {
      command = make(meta);
      await this.#storage.commit(null, { cursor: { commands: { ...commands, [key]: command } } });
    }
    let response: LicenseResponse;
    try {
      try {
        response = await call(await this.#token(meta), command);
      } catch (error) {
        if (!isSatchelError(error, 'UNAUTHORIZED')) throw error;
        response = await call(await this.#token(meta, true), command);
      }
    } catch (error) {
      await this.#noteFailure(error);
      if (!(error instanceof ClientError && (error.retryable || error.code === 'TIMEOUT'))) {
        await this.#forgetCommand(key);
      }
      throw error;
    }
    await this.#storeSnapshot(response.snapshot, key);
    return response.outcome === 'granted'
      ? { ok: true, license: response.license }
      : { ok: false, refusal: response.refusal };
  }

  async #forgetCommand(key: string): Promise<void> {
    try {
      const meta = await this.#storage.readMeta();
      const { [key]: _done, ...rest } = liveCommands(meta.cursor.commands, this.#clock.now());
      await this.#storage.commit(null, { cursor: { commands: rest } });
    } catch (error) {
      this.#logger.log('warn', 'commands: could not forget a finished command key', { error, key });
    }
  }

  async #storeSnapshot(snapshot: LicenseSnapshot, doneKey?: string): Promise<void> {
    const meta = await this.#storage.readMeta();
    const reading = this.#reading();
    const commands = liveCommands(meta.cursor.commands, reading.wallNow);
    if (doneKey !== undefined) delete commands[doneKey];
    await this.#storage.commit(null, {
      snapshot,
      clock: anchor(meta.clock, snapshot.serverTime, reading),
      cursor: {
        lastSyncAt: reading.wallNow,
        lastError: null,
        updateRequired: null,
        ...(doneKey === undefined ? {} : { commands }),
      },
    });
    this.#emit(['licenses', 'status']);
  }

  requestDownload(titleId: string): Promise<LicenseRequestResult> {
    return this.#licenseCall(
      `issue:${titleId}`,
      () => ({ licenseId: uuidv7(this.#clock.now()), at: this.#clock.now() }),
      (token, command) =>
        this.#transport.requestLicense(token, { titleId, licenseId: command.licenseId ?? uuidv7() }),
    );
  }

  renew(licenseId: string): Promise<LicenseRequestResult> {
    return this.#licenseCall(
      `renew:${licenseId}`,
      (meta) => ({
        fromRenewal: meta.snapshot?.licenses.find((l) => l.licenseId === licenseId)?.renewals ?? 0,
        at: this.#clock.now(),
      }),
      (token, command) => this.#transport.renew(token, licenseId, command.fromRenewal ?? 0),
    );
  }

  downloadCompleted(licenseId: string): Promise<void> {
    return this.#licenseEvent('DownloadCompleted', licenseId);
  }

  async stopPlayback(licenseId: string, positionMs: number): Promise<void> {
    checkPosition(positionMs);
    return this.#licenseEvent('PlaybackStopped', licenseId, Math.max(0, Math.round(positionMs)));
  }

  deleteDownload(licenseId: string): Promise<void> {
    return this.#licenseEvent('DownloadDeleted', licenseId);
  }

  async startPlayback(licenseId: string, options: { positionMs?: number } = {}): Promise<PlaybackResult> {
    checkLicenseId(licenseId);
    if (options.positionMs !== undefined) checkPosition(options.positionMs);
    await this.#open();
    const positionMs = Math.max(0, Math.round(options.positionMs ?? 0));
    const recorded = await this.#recordDeviceEvents({ snapshot: true, licenseId }, (state, deviceId, now) => {
      const snapshot = state.snapshot;
      if (snapshot === null) return null;
      const stored = snapshot.licenses.find((l) => l.licenseId === licenseId);
      const license =
        stored === undefined ? undefined : overlayLicenses([stored], state.pending, snapshot.serverTime)[0];
      if (license === undefined) {
        const result = refusal(
          licenseId,
          now,
          'LICENSE_NOT_FOUND',
          null,
          'This device holds no licence with that id.',
        );
        return { events: [], result };
      }
      const decision = evaluatePlayback({ ...license, lastCheckInAt: snapshot.serverTime }, now);
      const result: PlaybackResult = { licenseId, secureNow: now, clockRollback: null, ...decision };
      if (decision.allowed) {
        return {
          events: [
            {
              type: 'PlaybackStarted',
              v: versionOf('PlaybackStarted'),
              data: { licenseId, deviceId, at: now, positionMs },
            },
          ],
          result,
        };
      }
      const expiry = expiryOf(decision.reason);
      if (expiry !== null && isHeldStatus(license.status)) {
        return {
          events: [
            {
              type: 'LicenseExpiryObserved',
              v: versionOf('LicenseExpiryObserved'),
              data: { licenseId, deviceId, at: now, reason: expiry },
            },
          ],
          result,
        };
      }
      return { events: [], result };
    });
    if (recorded.result === null)
      throw new ClientError('NO_SNAPSHOT', 'No licence snapshot yet: sync or request a download first');
    return { ...recorded.result, clockRollback: recorded.rollback };
  }

  async snapshot(): Promise<LicenseSnapshot | null> {
    await this.#open();
    return (await this.#storage.readMeta()).snapshot;
  }

  async licenses(): Promise<LicenseState[]> {
    await this.#open();
    const { meta, pending } = await readView(this.#storage);
    if (meta.snapshot === null) return [];
    const pendingIds = new Set(pending.map((e) => e.data.licenseId));
    const reading = this.#reading();
    const { now, rollback } = readSecureClock(
      meta.clock ?? initialSecureClock(reading.wallNow),
      reading,
      this.#tolerance,
    );
    const lastCheckInAt = meta.snapshot.serverTime;
    return overlayLicenses(meta.snapshot.licenses, pending, lastCheckInAt).map((license) => {
      const decision = evaluatePlayback({ ...license, lastCheckInAt }, now);
      return {
        ...license,
        pendingSync: pendingIds.has(license.licenseId),
        playback: { licenseId: license.licenseId, secureNow: now, clockRollback: rollback, ...decision },
      };
    });
  }

  async credential(): Promise<DeviceCredential | null> {
    await this.#open();
    const meta = await this.#storage.readMeta();
    const identity = meta.identity;
    if (identity === null) return null;
    let token: string;
    try {
      token = await this.#token(meta);
    } catch (error) {
      if (error instanceof ClientError && error.code === 'NOT_REGISTERED') return null;
      throw error;
    }
    return { deviceId: identity.deviceId, accountId: identity.accountId, token };
  }

  async status(): Promise<SatchelStatus> {
    await this.#open();
    const meta = await this.#storage.readMeta();
    const pendingEvents = await this.#storage.pendingCount();
    const nav = (globalThis as { navigator?: { onLine?: boolean } }).navigator;
    const state = this.#loop.state;
    return {
      registered:
        meta.identity !== null &&
        (meta.identity.token !== null ||
          this.options.token !== undefined ||
          this.options.getToken !== undefined),
      deviceId: meta.identity?.deviceId ?? null,
      online: nav?.onLine ?? true,
      pendingEvents,
      lastSyncAt: meta.cursor.lastSyncAt,
      lastError: meta.cursor.lastError,
      updateRequired: meta.cursor.updateRequired,
      syncing: state.kind === 'syncing',
      syncState: state.kind,
      stoppedReason: state.kind === 'stopped' ? state.reason : null,
      failures: state.failures,
      recovery: meta.cursor.lastRecovery ?? null,
      leader: this.#tabs.leader,
      nextSyncAt: this.#loop.nextWallAt,
      checkInDeadline: checkInDeadline(meta.snapshot),
      snapshotVersion: meta.snapshot?.version ?? null,
    };
  }

  subscribe(listener: (change: SatchelChange) => void): () => void {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }

  async sync(): Promise<SyncResult> {
    if (this.#closed) throw new ClientError('CLOSED', 'The client is closed');
    const closed = () => new ClientError('CLOSED', 'The client is closed');
    const joined = this.#loop.current;
    if (joined === null) return (await this.#loop.request()) ?? Promise.reject(closed());
    // A run in progress read the outbox before this call: what was recorded since (the caller's last
    // events) may not be in it. Its result answers this call only if nothing recorded before the call is
    // still pending; otherwise a run of this call's own follows (each run drains what it read at start).
    await this.#open();
    const mark = (await this.#storage.readMeta()).lastSeq;
    let result: SyncResult | null = null;
    try {
      result = await joined;
    } catch (error) {
      this.#logger.log('debug', 'sync: the run this call joined failed; running again', { error });
    }
    for (let runs = 0; ; runs++) {
      if (result !== null) {
        const [first] = await this.#storage.pending(1);
        if (first === undefined || first.seq > mark) return result;
      }
      if (runs >= 3)
        throw new ClientError('SERVER', 'The outbox did not drain in three runs', { retryable: true });
      const run = this.#loop.request();
      if (run === null) throw closed();
      result = await run;
    }
  }

  #pushSoon(): void {
    if (!this.#tabs.leader) this.#tabs.watchLeader();
    this.#loop.send({ type: 'record', now: this.#timers.now(), delayMs: this.options.pushDelayMs ?? 2000 });
  }

  async #runSync(): Promise<SyncResult> {
    await this.#open();
    this.#emit(['status']);
    const limits = batchLimits(this.options.batch);
    try {
      const result = await this.#tabs.exclusive(
        () =>
          drainOutbox({
            storage: this.#storage,
            transport: this.#transport,
            token: (refresh) => this.#token(undefined, refresh),
            reading: () => this.#reading(),
            maxEvents: limits.maxEvents,
            maxBytes: limits.maxBytes,
            beforeRequest: () => this.#budget.take(),
            onGap: (gap) => this.#recoverGap(gap),
            onReuse: (reuse) => this.#renumber(reuse),
            logger: this.#logger,
            retention: { ...DEFAULT_RETENTION, ...this.options.retention },
            now: () => this.#clock.now(),
          }),
        this.options.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS,
      );
      this.#emit(['outbox', 'licenses', 'status']);
      return result;
    } catch (error) {
      this.#logger.log('warn', 'sync: the run failed', { error });
      await this.#noteFailure(error);
      this.#emit(['status']);
      throw error;
    }
  }

  // The server expects `expectedSeq` but the outbox starts at `firstSeq`: the server lost acknowledged
  // events (restored from a backup). The retained ones are sent again; for what is no longer retained,
  // the server is asked to re-base past it, which it records in the account's history.
  async #recoverGap(gap: { expectedSeq: number; firstSeq: number }): Promise<OutboxEntry[]> {
    const meta = await this.#storage.readMeta();
    const identity = meta.identity;
    if (identity === null) throw new ClientError('NOT_REGISTERED', 'The device is not registered');
    const held = new Map((meta.cursor.retained ?? []).map((r) => [r.entry.seq, r.entry]));
    let start = gap.firstSeq;
    while (start - 1 >= gap.expectedSeq && held.has(start - 1)) start--;
    const refill: OutboxEntry[] = [];
    for (let seq = start; seq < gap.firstSeq; seq++) {
      const entry = held.get(seq);
      if (entry !== undefined) refill.push(entry);
    }
    const at = this.#clock.now();
    let recovery: SyncRecovery;
    if (start > gap.expectedSeq) {
      const token = await this.#token(meta);
      await this.#budget.take();
      const answer = await this.#transport.rebase(token, {
        protocolVersion: PROTOCOL_VERSION,
        deviceId: identity.deviceId,
        fromSeq: gap.expectedSeq,
        toSeq: start - 1,
      });
      recovery = { kind: 'rebased', fromSeq: gap.expectedSeq, toSeq: start - 1, at };
      const reading = this.#reading();
      await this.#storage.commit(null, {
        snapshot: answer.snapshot,
        clock: anchor(meta.clock, answer.serverTime, reading),
        cursor: { lastRecovery: recovery },
      });
    } else {
      recovery = { kind: 'refilled', fromSeq: start, toSeq: gap.firstSeq - 1, at };
      await this.#storage.commit(null, { cursor: { lastRecovery: recovery } });
    }
    this.#logger.log(
      'warn',
      `sync: the server lost seqs ${gap.expectedSeq}…${gap.firstSeq - 1}; ${recovery.kind}`,
      {
        recovery,
      },
    );
    this.#emit(['status']);
    return refill;
  }

  // The device's storage is behind the server (restored from an older backup): the events the server
  // refused as reusing its acknowledged seqs, and every pending one after its cursor, get the seqs after
  // it (ids kept), and the recovery is reported like a refill or a re-base.
  async #renumber(reuse: { reused: number[]; serverSeq: number }): Promise<void> {
    const fromSeq = Math.min(...reuse.reused);
    await this.#storage.renumber(reuse.reused, reuse.serverSeq);
    const recovery: SyncRecovery = {
      kind: 'renumbered',
      fromSeq,
      toSeq: reuse.serverSeq,
      at: this.#clock.now(),
    };
    await this.#storage.commit(null, { cursor: { lastRecovery: recovery } });
    this.#logger.log('warn', `sync: seqs ${fromSeq}…${reuse.serverSeq} were already taken; renumbered`, {
      recovery,
    });
    this.#emit(['status', 'outbox']);
  }

  async #noteFailure(error: unknown): Promise<void> {
    if (this.#closed || !isSatchelError(error)) return;
    const { code, message } = error;
    if (code === 'NOT_REGISTERED' || code === 'CLOSED') return;
    const at = this.#clock.now();
    const wireCode = error.details?.code;
    const patch = {
      lastError: { code: typeof wireCode === 'string' ? wireCode : code, message, at },
      ...(code === 'UPDATE_REQUIRED'
        ? {
            updateRequired: {
              minProtocolVersion: minVersionOf(error),
              message,
            },
          }
        : {}),
    };
    try {
      await this.#storage.commit(null, { cursor: patch });
    } catch (inner) {
      this.#logger.log('warn', 'sync: could not store the last error', { error: inner });
    }
  }

  async #nextInMs(): Promise<number> {
    const interval = this.options.syncIntervalMs ?? 300_000;
    const meta = await this.#storage.readMeta();
    const deadline = checkInDeadline(meta.snapshot);
    let next = interval;
    if (deadline !== null && meta.snapshot !== null) {
      const window = deadline - meta.snapshot.serverTime;
      const margin = Math.min(3_600_000, window / 10);
      next = Math.min(next, Math.max(1000, deadline - margin - this.#clock.now()));
    }
    return Math.min(MAX_TIMER_MS, Math.max(0, next));
  }

  #planRetry(error: unknown, failures: number): FailurePlan {
    const interval = Math.min(MAX_TIMER_MS, this.options.syncIntervalMs ?? 300_000);
    if (isSatchelError(error, 'UPDATE_REQUIRED')) return { retryInMs: interval, stop: 'update-required' };
    const wire = isSatchelError(error) ? error.details?.code : undefined;
    if (wire === 'FORBIDDEN' || wire === 'DEVICE_DEACTIVATED')
      return { retryInMs: interval, stop: 'forbidden' };
    if (isSatchelError(error, 'NOT_REGISTERED')) return { retryInMs: interval };
    const retryable = error instanceof ClientError ? error.retryable : !isSatchelError(error, 'UNAUTHORIZED');
    if (!retryable) return { retryInMs: interval };
    const hint = error instanceof ClientError ? clampRetryHint(error.retryAfterMs) : null;
    const maxMs = Math.min(RETRY_HINT_RANGE_MS.max, this.options.backoff?.maxMs ?? interval);
    const delay = retryDelay(
      failures,
      hint,
      { baseMs: this.options.backoff?.baseMs ?? 1000, maxMs: Math.max(RETRY_HINT_RANGE_MS.min, maxMs) },
      this.#random,
    );
    return { retryInMs: Math.min(RETRY_HINT_RANGE_MS.max, Math.max(RETRY_HINT_RANGE_MS.min, delay)) };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const running = this.#loop.current;
    this.#loop.send({ type: 'close' });
    if (typeof removeEventListener === 'function') removeEventListener('online', this.#onOnline);
    this.#flush();
    this.#tabs.close();
    // A run in progress is bounded by the request and lock timeouts; close waits for it to settle.
    await running?.catch(() => undefined);
    await this.#storage.close();
  }
}

/** Shortest gap between the starts of two background sync runs, in ms. */
export const MIN_RUN_GAP_MS = 1000;
/** Default bound on waiting for another tab's sync run, in ms. */
export const DEFAULT_LOCK_TIMEOUT_MS = 30_000;

/** How long an online command's idempotency key is kept for retries after a lost answer (24 h). */
export const COMMAND_KEY_TTL_MS = 86_400_000;

function liveCommands(
  commands: Record<string, PendingCommand> | undefined,
  now: number,
): Record<string, PendingCommand> {
  const live: Record<string, PendingCommand> = {};
  for (const [key, command] of Object.entries(commands ?? {})) {
    if (Math.abs(now - command.at) < COMMAND_KEY_TTL_MS) live[key] = command;
  }
  return live;
}

/** Longest identifier the protocol carries (licence, title, device ids). */
const MAX_ID_LENGTH = 128;

// Inputs that could never be sent are refused before anything is written: one such event in the outbox
// would otherwise be refused by the server with every batch it rides in.
function checkLicenseId(licenseId: unknown): void {
  if (typeof licenseId !== 'string' || licenseId.length === 0 || licenseId.length > MAX_ID_LENGTH) {
    throw new ClientError(
      'INVALID_ARGUMENT',
      `A licence id is a string of 1 to ${MAX_ID_LENGTH} characters (got ${typeof licenseId === 'string' ? `${licenseId.length} characters` : typeof licenseId})`,
    );
  }
}

function checkPosition(positionMs: unknown): void {
  if (typeof positionMs !== 'number' || !Number.isFinite(positionMs)) {
    throw new ClientError('INVALID_ARGUMENT', 'A playback position is a finite number of milliseconds');
  }
}

function anchor(
  stored: SecureClockState | null,
  serverTime: number,
  reading: ClockReading,
): SecureClockState {
  return anchorSecureClock(stored ?? initialSecureClock(reading.wallNow), serverTime, reading);
}

function refusal(
  licenseId: string,
  now: number,
  reason: PlaybackRefusal,
  expiredAt: number | null,
  message: string,
): PlaybackResult {
  return { licenseId, secureNow: now, clockRollback: null, allowed: false, reason, expiredAt, message };
}

const EXPIRY_BY_REFUSAL: Partial<Record<PlaybackRefusal, ExpiryReason>> = {
  EXPIRED_RENTAL: 'RENTAL',
  EXPIRED_PLAYBACK_WINDOW: 'PLAYBACK_WINDOW',
  EXPIRED_LICENSE: 'LICENSE_DURATION',
  TITLE_UNAVAILABLE: 'AVAILABILITY',
};

function expiryOf(reason: PlaybackRefusal): ExpiryReason | null {
  return EXPIRY_BY_REFUSAL[reason] ?? null;
}

/**
 * The schema version of each device event payload this SDK writes. It describes the SDK's own payload
 * shape, so it moves only when the SDK writes a new shape (a test keeps it equal to core's current versions).
 */
export const DEVICE_EVENT_VERSIONS = {
  DownloadCompleted: 1,
  PlaybackStarted: 1,
  PlaybackStopped: 3,
  DownloadDeleted: 1,
  ClockRollbackDetected: 1,
  LicenseExpiryObserved: 1,
} as const satisfies Record<NewOutboxEvent['type'], number>;

function versionOf(type: NewOutboxEvent['type']): number {
  return DEVICE_EVENT_VERSIONS[type];
}

function minVersionOf(error: { details: Readonly<Record<string, unknown>> | undefined }): number | null {
  const wire = error.details?.wire as { details?: { minVersion?: unknown } } | undefined;
  return typeof wire?.details?.minVersion === 'number' ? wire.details.minVersion : null;
}

/** The earliest check-in deadline over the snapshot's active licences. */
export function checkInDeadline(snapshot: LicenseSnapshot | null): number | null {
  if (snapshot === null) return null;
  let deadline: number | null = null;
  for (const license of snapshot.licenses) {
    if (!isHeldStatus(license.status)) continue;
    const at = snapshot.serverTime + license.policy.offlineCheckInSec * 1000;
    deadline = deadline === null ? at : Math.min(deadline, at);
  }
  return deadline;
}
