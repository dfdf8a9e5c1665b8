import { DEFAULT_CLOCK_TOLERANCE_MS } from '@satchel/core';
import {
  createSatchel,
  idbStorage,
  isSatchelError,
  type LicenseState,
  type OutboxEntry,
  type PlaybackResult,
  type SatchelClient,
  type SatchelStorage,
} from '@satchel/sdk';
import type { Behaviour } from './behaviours.js';
import { type DeviceRealm, inRealm, newIndexedDB } from './environment.js';
import {
  type DeviceNetwork,
  type FaultRates,
  type FaultStats,
  faultyNetwork,
  faultyStorage,
} from './faults.js';
import { deviceLicence } from './oracle.js';
import { Random } from './random.js';
import type { Recorder, TimelineEntry } from './record.js';

/** What a device shares with the rest of the run. */
export interface DeviceContext {
  readonly baseUrl: () => string;
  readonly rates: FaultRates;
  readonly faultStats: FaultStats;
  readonly faultsEnabled: () => boolean;
  readonly recorder: Recorder;
  /** Called as each device request leaves (the server-restart fault fires on one). */
  readonly onSend: () => void;
  /** Wraps the SDK's playback decision (a test hook to prove the invariants catch a broken rule). */
  readonly wrapPlayback?: ((decide: () => Promise<PlaybackResult>) => Promise<PlaybackResult>) | undefined;
}

/** One event the device recorded (from its storage), for the exactly-once check. */
export interface RecordedEvent {
  readonly seq: number;
  readonly eventId: string;
  readonly type: string;
  readonly licenseId: string | null;
}

const DAY = 86_400_000;
const code = (error: unknown) => (isSatchelError(error) ? error.code : 'UNEXPECTED');

/**
 * A simulated device: the real SDK on its own fake IndexedDB, a clock that the simulation drives (and a
 * cheater sets back), a flaky network, and a behaviour that decides what it does next.
 */
export class SimDevice {
  readonly realm: DeviceRealm;
  readonly random: Random;
  readonly network: DeviceNetwork;
  readonly storageName = 'satchel';
  client: SatchelClient;
  storage: SatchelStorage;
  deviceId = '';
  /** True virtual time of the device's current action. */
  now: number;
  /** How far the device's wall clock is from true time (negative: set back). */
  wallOffset = 0;
  online = true;
  nextAt: number;
  readonly recorded = new Map<number, RecordedEvent>();
  readonly memory: Record<string, unknown> = {};
  readonly #recent: TimelineEntry[] = [];
  readonly #blockedUntil = new Map<string, number>();
  #sessionStart: number;
  #lastReadingAt: number;
  #offsetAtLastReading = 0;
  /** Time the secure clock could not observe (a clock set back while no session ran); reset by a sync. */
  #blindMs = 0;

  constructor(
    readonly name: string,
    readonly accountId: string,
    readonly behaviour: Behaviour,
    seed: number,
    faultSeed: number,
    start: number,
    readonly serverClock: { at: number },
    private readonly context: DeviceContext,
  ) {
    this.random = new Random(seed);
    this.realm = { indexedDB: newIndexedDB(), random: new Random(seed ^ 0x5bd1e995) };
    this.now = start;
    this.nextAt = start;
    this.#sessionStart = start;
    this.#lastReadingAt = start;
    const faultRandom = new Random(faultSeed);
    this.network = faultyNetwork(
      {
        random: faultRandom,
        now: () => this.now,
        online: () => this.online,
        onSend: context.onSend,
        serverClock,
      },
      context.rates,
      context.faultStats,
      context.faultsEnabled,
    );
    this.storage = this.#storage(faultRandom);
    this.client = this.#client();
  }

  #storage(faultRandom: Random): SatchelStorage {
    return inRealm(this.realm, () =>
      faultyStorage(idbStorage({ name: this.storageName }), {
        quota: () => this.context.faultsEnabled() && faultRandom.chance(this.context.rates.quota),
        onQuota: () => {
          this.context.faultStats.quotaErrors += 1;
        },
        onAppend: (entries) => this.#recorded(entries),
      }),
    );
  }

  #client(): SatchelClient {
    return inRealm(this.realm, () =>
      createSatchel({
        baseUrl: this.context.baseUrl(),
        storage: this.storage,
        fetch: this.network.fetch,
        clock: { now: () => this.now + this.wallOffset, monotonicNow: () => this.now - this.#sessionStart },
        autoSync: false,
        locks: null,
        tabGroup: this.name,
        random: () => this.random.next(),
        requestTimeoutMs: 120_000,
      }),
    );
  }

  #recorded(entries: readonly OutboxEntry[]): void {
    for (const e of entries) {
      const licenseId = typeof e.data.licenseId === 'string' ? e.data.licenseId : null;
      this.recorded.set(e.seq, { seq: e.seq, eventId: e.eventId, type: e.type, licenseId });
      this.context.recorder.eventsRecorded += 1;
      if (e.type === 'ClockRollbackDetected') this.context.recorder.clockRollbacksDetected += 1;
    }
  }

  #note(entry: Omit<TimelineEntry, 'at'>): void {
    const full = { at: this.now, ...entry };
    this.#recent.push(full);
    if (this.#recent.length > 12) this.#recent.shift();
    this.context.recorder.timeline(this.name, full);
  }

  #read(): void {
    this.#lastReadingAt = this.now;
    this.#offsetAtLastReading = this.wallOffset;
  }

  /** Runs SDK code as this device (its IndexedDB, its random bytes). */
  run<T>(fn: () => Promise<T>): Promise<T> {
    return inRealm(this.realm, fn);
  }

  /** A label for reports: the simulated name and the device id. */
  get label(): string {
    return `${this.name} (${this.deviceId})`;
  }

  async register(enrolmentToken: string): Promise<void> {
    const registration = await this.run(() => this.client.register(enrolmentToken, { name: this.name }));
    this.deviceId = registration.deviceId;
    this.#read();
  }

  setOnline(online: boolean): void {
    if (online !== this.online) this.#note({ kind: online ? 'online' : 'offline' });
    this.online = online;
  }

  /** Sets the device's wall clock `offsetMs` away from true time (negative: back). */
  setClock(offsetMs: number): void {
    this.wallOffset = offsetMs;
    this.#note({ kind: 'clock-set', detail: `${(offsetMs / DAY).toFixed(2)} d` });
  }

  async sync(): Promise<boolean> {
    const started = performance.now();
    try {
      await this.run(() => this.client.sync());
      this.context.recorder.syncs += 1;
      this.context.recorder.syncLatencyMs.push(performance.now() - started);
      this.#blindMs = 0;
      this.#note({ kind: 'synced' });
      return true;
    } catch (error) {
      this.context.recorder.syncFailed(code(error));
      this.#note({ kind: 'sync-failed', detail: code(error) });
      return false;
    } finally {
      this.#read();
      await this.network.flush();
    }
  }

  /** Whether a refusal still stands for `titleId`: a player does not ask again before the limit frees up. */
  blocked(titleId: string): boolean {
    return (this.#blockedUntil.get(titleId) ?? 0) > this.now || (this.#blockedUntil.get('*') ?? 0) > this.now;
  }

  #block(titleId: string, code: string, nextAvailableAt: number | undefined): void {
    const backoff = this.now + this.random.int(1, 3) * DAY;
    if (code === 'DEVICE_LIMIT' || code === 'DEVICE_LICENSE_LIMIT') this.#blockedUntil.set('*', backoff);
    if (code === 'MONTHLY_LIMIT') this.#blockedUntil.set('*', nextAvailableAt ?? backoff);
    if (code === 'YEARLY_LIMIT') this.#blockedUntil.set(titleId, nextAvailableAt ?? backoff);
    if (code === 'TITLE_UNAVAILABLE') this.#blockedUntil.set(titleId, Number.POSITIVE_INFINITY);
  }

  /**
   * Asks for a licence and, when granted, completes the download. Resolves with the licence id, or null
   * (refused, failed, or a refusal for this title still stands).
   */
  async download(titleId: string): Promise<string | null> {
    if (this.blocked(titleId)) return null;
    try {
      const result = await this.run(() => this.client.requestDownload(titleId));
      this.#read();
      if (!result.ok) {
        this.context.recorder.licenceRefused(result.refusal.code);
        this.#note({ kind: 'refused', titleId, detail: result.refusal.code });
        this.#block(titleId, result.refusal.code, result.refusal.nextAvailableAt);
        return null;
      }
      this.context.recorder.licencesGranted += 1;
      const licenseId = result.license.licenseId;
      this.#note({ kind: 'granted', titleId, licenseId });
      await this.#write(() => this.client.downloadCompleted(licenseId));
      this.#note({ kind: 'downloaded', licenseId });
      return licenseId;
    } catch (error) {
      this.#read();
      if (isSatchelError(error) && error.name === 'SatchelStorageError') {
        this.context.recorder.storageError(error.code);
      } else {
        this.context.recorder.requestError(code(error));
      }
      return null;
    } finally {
      await this.network.flush();
    }
  }

  /** Renews a licence (online). */
  async renew(licenseId: string): Promise<boolean> {
    try {
      const result = await this.run(() => this.client.renew(licenseId));
      this.#read();
      if (!result.ok) {
        this.context.recorder.licenceRefused(result.refusal.code);
        this.#note({ kind: 'refused', licenseId, detail: `renew: ${result.refusal.code}` });
        return false;
      }
      this.context.recorder.licencesGranted += 1;
      this.#note({ kind: 'granted', licenseId, detail: 'renewal' });
      return true;
    } catch (error) {
      this.#read();
      this.context.recorder.requestError(code(error));
      return false;
    } finally {
      await this.network.flush();
    }
  }

  /** The device's licences as the SDK shows them. */
  async licences(): Promise<LicenseState[]> {
    try {
      return await this.run(() => this.client.licenses());
    } catch (error) {
      this.context.recorder.storageError(code(error));
      return [];
    } finally {
      this.#read();
    }
  }

  /**
   * Tries to play a licence for `minutes`: the SDK decides offline; when allowed the device plays (its
   * time advances) and records the stop. Every decision is checked against the invariants.
   */
  async play(licenseId: string, minutes: number): Promise<PlaybackResult | null> {
    const tolerance = DEFAULT_CLOCK_TOLERANCE_MS;
    let result: PlaybackResult;
    let before: ReturnType<typeof deviceLicence>;
    try {
      const [meta, pending] = await this.run(() =>
        Promise.all([this.storage.readMeta(), this.storage.pending(Number.MAX_SAFE_INTEGER)]),
      );
      before = deviceLicence(meta.snapshot, pending, licenseId);
      const decide = () => this.run(() => this.client.startPlayback(licenseId, { positionMs: 0 }));
      result = await (this.context.wrapPlayback ? this.context.wrapPlayback(decide) : decide());
    } catch (error) {
      this.context.recorder.storageError(code(error));
      this.#read();
      return null;
    }
    this.#read();
    const recorder = this.context.recorder;
    if (!result.allowed) {
      recorder.refused(result.reason);
      this.#note({ kind: 'play-refused', licenseId, detail: result.reason });
      return result;
    }
    recorder.playbacksAllowed += 1;
    this.#note({ kind: 'play', licenseId, detail: `secure ${new Date(result.secureNow).toISOString()}` });
    const base = { device: this.label, accountId: this.accountId, licenseId, at: this.now };
    const evidence = () => [
      {
        trueNow: new Date(this.now).toISOString(),
        secureNow: new Date(result.secureNow).toISOString(),
        wallClock: new Date(this.now + this.wallOffset).toISOString(),
        licenceAsTheDeviceHeldIt: {
          ...before,
          expiresAt: Number.isFinite(before.expiresAt) ? new Date(before.expiresAt).toISOString() : null,
          checkInDeadline: Number.isFinite(before.checkInDeadline)
            ? new Date(before.checkInDeadline).toISOString()
            : null,
        },
      },
      ...this.#recent.map((e) => ({ ...e, at: new Date(e.at).toISOString() })),
    ];
    if (before.status !== 'downloaded' || result.secureNow >= before.expiresAt) {
      recorder.violation({
        ...base,
        check: 'no-playback-after-expiry',
        message: `playback allowed at secure time ${new Date(result.secureNow).toISOString()} of a licence that is ${before.status}${before.status === 'downloaded' ? ` and expired at ${new Date(before.expiresAt).toISOString()}` : ''}`,
        events: evidence(),
      });
    }
    if (result.secureNow >= before.checkInDeadline) {
      recorder.violation({
        ...base,
        check: 'no-playback-past-check-in',
        message: `playback allowed at secure time ${new Date(result.secureNow).toISOString()}, past the check-in deadline ${new Date(before.checkInDeadline).toISOString()}`,
        events: evidence(),
      });
    }
    const limit = Math.min(before.expiresAt, before.checkInDeadline) + tolerance + this.#blindMs;
    if (before.status === 'downloaded' && this.now >= limit) {
      recorder.violation({
        ...base,
        check: 'no-clock-cheat-gain',
        message: `playback allowed at true time ${new Date(this.now).toISOString()}, ${Math.round((this.now - limit + tolerance) / 1000)} s after the licence stopped playing (tolerance ${tolerance} ms; wall clock ${(this.wallOffset / DAY).toFixed(2)} d off)`,
        events: evidence(),
      });
    }
    this.now += minutes * 60_000;
    await this.#write(() => this.client.stopPlayback(licenseId, minutes * 60_000));
    return result;
  }

  async deleteDownload(licenseId: string): Promise<void> {
    await this.#write(() => this.client.deleteDownload(licenseId));
    this.#note({ kind: 'deleted', licenseId });
  }

  /** A device-side write; with the crash fault, the tab dies right after it. */
  async #write(fn: () => Promise<void>): Promise<boolean> {
    try {
      await this.run(fn);
      return true;
    } catch (error) {
      this.context.recorder.storageError(code(error));
      return false;
    } finally {
      this.#read();
      if (this.context.faultsEnabled() && this.random.chance(this.context.rates.crash)) this.crash();
    }
  }

  /** The tab crashes: the client is dropped (not closed) and a new one opens the same IndexedDB. */
  crash(): void {
    this.context.faultStats.crashes += 1;
    this.#note({ kind: 'crash' });
    if (this.wallOffset < this.#offsetAtLastReading - DEFAULT_CLOCK_TOLERANCE_MS) {
      this.#blindMs += this.now - this.#lastReadingAt;
    }
    this.#sessionStart = this.now;
    this.storage = this.#storage(new Random(this.random.int(0, 2 ** 31)));
    this.client = this.#client();
  }

  /** The device's outbox (events not yet acknowledged). */
  pending(): Promise<OutboxEntry[]> {
    return this.run(() => this.storage.pending(Number.MAX_SAFE_INTEGER));
  }

  async close(): Promise<void> {
    await this.run(() => this.client.close()).catch(() => undefined);
  }
}
