import type { Allowance, DeviceView, LicenseSnapshot, Plan } from '@satchel/protocol';
import {
  createSatchel,
  idbStorage,
  type LicenseState,
  type SatchelClient,
  type SatchelStatus,
  type SatchelStorage,
} from '@satchel/sdk';
import {
  clearKeysFromLicenseProxy,
  createShakaDownloads,
  type ShakaDownloads,
  type StoredMedia,
} from '@satchel/sdk/shaka';
import shaka from 'shaka-player';
import type { DeviceConfig, DeviceSim } from './persist.js';

shaka.polyfill.installAll();

/** Whether this browser can store and play the sample media (MSE and IndexedDB). */
export const mediaSupported = (): boolean => shaka.Player.isBrowserSupported();

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

/** Playback in progress on a device, in its `<video>`. */
export interface Playing {
  licenseId: string;
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
  /** The device's screen: one `<video>` kept across renders, so that a re-render never interrupts it. */
  readonly video: HTMLVideoElement;
  /** Shaka's offline storage, gated and recorded by this device's Satchel client. */
  readonly downloads: ShakaDownloads;
  /** Licence id → the media stored for it on this device. */
  media = new Map<string, StoredMedia>();
  /** Licences whose timeline is open on their card. */
  readonly openTimelines = new Set<string>();
  /** Licence id → transfer progress (0..1) of a download in progress. */
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
      clock: { now: () => this.now(), monotonicNow: () => performance.now() + (this.sim.advancedMs ?? 0) },
      tabGroup: config.dbName,
      syncIntervalMs: 60_000,
      pushDelayMs: 1000,
      backoff: { baseMs: 2000, maxMs: 30_000 },
      requestTimeoutMs: 10_000,
    });
    this.video = document.createElement('video');
    this.video.muted = true;
    this.video.playsInline = true;
    this.video.id = `device-${config.index}-video`;
    this.video.setAttribute('aria-label', `Device ${config.index} screen`);
    this.downloads = createShakaDownloads({
      satchel: this.client,
      shaka,
      manifestUri: (titleId) => new URL(`media/${encodeURIComponent(titleId)}/manifest.mpd`, baseUrl).href,
      keys: clearKeysFromLicenseProxy({ baseUrl, getToken: () => this.deviceToken(), fetch: this.fetch }),
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
    const [status, licenses, meta, media] = await Promise.all([
      this.client.status(),
      this.client.licenses(),
      this.storage.readMeta(),
      this.downloads.stored().catch(() => [] as StoredMedia[]),
    ]);
    this.media = new Map(media.map((m) => [m.licenseId, m]));
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
    return this.playing === null ? 0 : Math.round(this.video.currentTime * 1000);
  }

  /** Removes stored media by its offline URI (Start over: the bytes go with the device). */
  async dropMedia(offlineUri: string): Promise<void> {
    const storage = new shaka.offline.Storage();
    try {
      await storage.remove(offlineUri);
    } catch {
    } finally {
      await storage.destroy();
    }
  }

  /** How long a licence's stored media runs, in ms (0 when nothing is stored). */
  runtime(licenseId: string): number {
    return this.media.get(licenseId)?.durationMs ?? 0;
  }

  close(): Promise<void> {
    return this.client.close();
  }
}
