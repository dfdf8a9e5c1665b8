import { createSatchel, idbStorage, type SatchelClient } from '@satchel/sdk';
import {
  clearKeysFromLicenseProxy,
  createShakaDownloads,
  type ShakaDownloads,
  type StoredMedia,
} from '@satchel/sdk/shaka';
import shaka from 'shaka-player';
import type { DeviceConfig, DeviceSim } from './persist.js';
import {
  type DeviceAction,
  type DeviceState,
  deviceReducer,
  initialDeviceState,
  type PanelState,
} from './state.js';

export type { PanelState, Playing } from './state.js';

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

/**
 * One simulated device: its own SDK client and IndexedDB database, its own network switch and clock.
 * Several live side by side in one page, as separate devices of one account would.
 */
export class DeviceSession {
  readonly config: DeviceConfig;
  readonly client: SatchelClient;
  readonly baseUrl: string;
  /** The device's screen: one `<video>` kept across renders, so that a re-render never interrupts it. */
  readonly video: HTMLVideoElement;
  /** Shaka's offline storage, gated and recorded by this device's Satchel client. */
  readonly downloads: ShakaDownloads;
  #state: DeviceState;
  readonly #listeners = new Set<(state: DeviceState, action: DeviceAction) => void>();

  /** The device's state: replaced, never changed in place, by {@link DeviceSession.dispatch}. */
  get state(): DeviceState {
    return this.#state;
  }

  /** Shorthands for the parts of the state read most. */
  get view(): PanelState | null {
    return this.#state.view;
  }
  get sim(): DeviceSim {
    return this.#state.sim;
  }

  /** Runs the device's reducer and tells the listeners (the page renders, saves the simulation). */
  dispatch(action: DeviceAction): DeviceState {
    const next = deviceReducer(this.#state, action);
    if (next === this.#state) return next;
    this.#state = next;
    for (const listener of this.#listeners) listener(next, action);
    return next;
  }

  /** Calls `listener` after every state change. Returns an unsubscribe function. */
  onChange(listener: (state: DeviceState, action: DeviceAction) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  constructor(config: DeviceConfig, sim: DeviceSim, baseUrl: string) {
    this.config = config;
    this.#state = initialDeviceState(sim);
    this.baseUrl = baseUrl;
    this.client = createSatchel({
      baseUrl,
      storage: idbStorage({ name: config.dbName }),
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

  /** The time the SDK decides at (the secure clock), as far as the page can tell. */
  trustedNow(): number {
    return this.now() + this.#state.trustedSkewMs;
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

  /** Reads what the panel shows from the SDK's public API and the stored media, into the state. */
  async read(): Promise<PanelState> {
    const wallNow = this.now();
    const [status, licenses, snapshot, credential, media] = await Promise.all([
      this.client.status(),
      this.client.licenses(),
      this.client.snapshot(),
      this.client.credential(),
      this.downloads.stored().catch(() => [] as StoredMedia[]),
    ]);
    const view: PanelState = {
      status,
      licenses,
      plan: snapshot?.plan ?? null,
      devices: snapshot?.devices ?? [],
      allowances: snapshot?.allowances ?? [],
      accountId: credential?.accountId ?? null,
      snapshotTime: snapshot?.serverTime ?? null,
    };
    this.dispatch({ type: 'read', view, media, wallNow });
    return view;
  }

  /** The device's own bearer token (the SDK's public `credential()`), or null before registration. */
  async deviceToken(): Promise<string | null> {
    return (await this.client.credential())?.token ?? null;
  }

  /** Current playback position in ms. */
  position(): number {
    return this.#state.playing === null ? 0 : Math.round(this.video.currentTime * 1000);
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
    return this.#state.media[licenseId]?.durationMs ?? 0;
  }

  close(): Promise<void> {
    return this.client.close();
  }
}
