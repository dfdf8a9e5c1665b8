import type { Allowance, DeviceView, LicenseSnapshot, Plan } from '@satchel/protocol';
import {
  createSatchel,
  idbStorage,
  type LicenseState,
  type SatchelClient,
  type SatchelStatus,
  type SatchelStorage,
} from '@satchel/sdk';
import type { DeviceConfig, DeviceSim } from './persist.js';

/** The simulated playback runs at 60× (a second shows a minute of the film), so progress is visible. */
export const PLAYBACK_SPEED = 60;

/** Raised by the page's network switch: the SDK sees exactly what a dropped connection looks like. */
export class OfflineError extends TypeError {
  constructor(why: string) {
    super(`Failed to fetch: ${why}`);
    this.name = 'TypeError';
  }
}

/** What a device panel shows, read from the SDK after every change. */
export interface PanelState {
  status: SatchelStatus;
  licenses: LicenseState[];
  plan: Plan | null;
  devices: DeviceView[];
  allowances: Allowance[];
  accountId: string | null;
  snapshotTime: number | null;
}

/** Playback in progress on a device (simulated: the position advances in real time). */
export interface Playing {
  licenseId: string;
  startedAtPerf: number;
  startPositionMs: number;
  expiresAt: number;
}

/**
 * One simulated device: its own SDK client and IndexedDB database, its own network switch and clock.
 * Several live side by side in one page, as separate devices of one account would.
 */
export class DeviceSession {
  readonly config: DeviceConfig;
  readonly client: SatchelClient;
  readonly storage: SatchelStorage;
  readonly baseUrl: string;
  sim: DeviceSim;
  view: PanelState | null = null;
  playing: Playing | null = null;
  /** Licence id → transfer progress (0..1) of a simulated download in progress. */
  readonly transfers = new Map<string, number>();
  /** The refresh in flight, and whether another was asked for meanwhile. */
  refreshing: Promise<void> | null = null;
  dirty = false;
  /** Countdowns already seen reaching zero (`licenceId@instant`), so each triggers one refresh. */
  readonly crossed = new Set<string>();
  /** Title id → message of the last refusal or failure of a download request. */
  readonly notices = new Map<string, string>();

  constructor(config: DeviceConfig, sim: DeviceSim, baseUrl: string) {
    this.config = config;
    this.sim = sim;
    this.baseUrl = baseUrl;
    this.storage = idbStorage({ name: config.dbName });
    this.client = createSatchel({
      baseUrl,
      storage: this.storage,
      fetch: this.fetch,
      clock: { now: () => this.now(), monotonicNow: () => performance.now() },
      tabGroup: config.dbName,
      syncIntervalMs: 60_000,
      pushDelayMs: 1000,
      backoff: { baseMs: 2000, maxMs: 30_000 },
      requestTimeoutMs: 10_000,
    });
  }

  /**
   * How far the SDK's secure clock is ahead of the wall clock, as last seen in a decision: it stays ahead
   * after the clock was set back, which is why a rollback does not revive an expired licence.
   */
  trustedSkewMs = 0;

  /** The time the SDK decides at (the secure clock), as far as the page can tell. */
  trustedNow(): number {
    return this.now() + this.trustedSkewMs;
  }

  /** The device's wall clock: the real one moved by the simulated offset. */
  now(): number {
    return Date.now() + this.sim.clockOffsetMs;
  }

  /** Whether requests can leave this device (its switch is on and the browser is online). */
  get online(): boolean {
    return !this.sim.networkOff && navigator.onLine;
  }

  /** The `fetch` the SDK and the page use for this device: it fails like a dropped connection while offline. */
  readonly fetch: typeof fetch = (input, init) => {
    if (this.sim.networkOff) return Promise.reject(new OfflineError('the device network is switched off'));
    if (!navigator.onLine) return Promise.reject(new OfflineError('the browser is offline'));
    return globalThis.fetch(input, init);
  };

  /** Reads what the panel shows. The snapshot's plan, devices and allowances come from the stored meta. */
  async read(): Promise<PanelState> {
    const wall = this.now();
    const [status, licenses, meta] = await Promise.all([
      this.client.status(),
      this.client.licenses(),
      this.storage.readMeta(),
    ]);
    const snapshot: LicenseSnapshot | null = meta.snapshot;
    const reading = licenses[0]?.playback.secureNow;
    if (reading !== undefined) this.trustedSkewMs = reading - wall;
    this.view = {
      status,
      licenses,
      plan: snapshot?.plan ?? null,
      devices: snapshot?.devices ?? [],
      allowances: snapshot?.allowances ?? [],
      accountId: meta.identity?.accountId ?? null,
      snapshotTime: snapshot?.serverTime ?? null,
    };
    return this.view;
  }

  /** The device's own bearer token, as stored by the SDK at registration. */
  async deviceToken(): Promise<string | null> {
    return (await this.storage.readMeta()).identity?.token ?? null;
  }

  /** Current playback position in ms. */
  position(): number {
    if (this.playing === null) return 0;
    return this.playing.startPositionMs + (performance.now() - this.playing.startedAtPerf) * PLAYBACK_SPEED;
  }

  close(): Promise<void> {
    return this.client.close();
  }
}
