import { isHeldStatus } from '@satchel/core';
import type { LicenseView } from '@satchel/protocol';
import type { LicenseRequestResult, PlaybackResult, SatchelClient } from '../client.js';
import { type SatchelLogger, safeLogger } from '../logger.js';
import { type KeySource, MediaError } from './keys.js';
import type { ShakaNamespace, ShakaPlayer, ShakaStorage, ShakaStoredContent } from './types.js';

/** What {@link createShakaDownloads} needs. */
export interface ShakaDownloadsOptions {
  /** The device's Satchel client: it grants, records and decides. */
  satchel: SatchelClient;
  /** The Shaka Player namespace (`import shaka from 'shaka-player'`); call `shaka.polyfill.installAll()` first. */
  shaka: ShakaNamespace;
  /** The manifest (DASH or HLS) of a title. */
  manifestUri: (titleId: string) => string;
  /**
   * The licence's ClearKey keys, fetched after the licence is granted and before the media is stored
   * (e.g. {@link clearKeysFromLicenseProxy}). Omit for clear content or when {@link drmConfig} points
   * Shaka at a licence server instead.
   */
  keys?: KeySource;
  /** Extra Shaka configuration for storing a licence's media (e.g. `{ drm: { servers: … } }` for Widevine). */
  drmConfig?: (license: LicenseView) => object;
  /** Receives the errors handled without throwing (releasing Shaka's storage or player failed). Default: silent. */
  logger?: SatchelLogger;
}

/** A licence's media as stored by Shaka on this device. */
export interface StoredMedia {
  licenseId: string;
  titleId: string;
  /** Shaka's `offline:` URI, to load into a player. */
  offlineUri: string;
  /** Bytes stored. */
  bytes: number;
  /** Duration in ms. */
  durationMs: number;
}

/** The result of {@link ShakaDownloads.download}: stored, or refused by Satchel's rules before any byte moved. */
export type DownloadResult =
  | { ok: true; license: LicenseView; media: StoredMedia }
  | Extract<LicenseRequestResult, { ok: false }>;

/** A playback the adapter runs in a `<video>`. */
export interface Playback {
  licenseId: string;
  video: HTMLMediaElement;
  decision: Extract<PlaybackResult, { allowed: true }>;
}

/** Downloads with Shaka's offline storage, gated and recorded by Satchel (see docs/sdk.md). */
export interface ShakaDownloads {
  /**
   * Asks Satchel for a licence; only when granted, fetches the keys and stores the media with Shaka
   * (`onProgress` gets 0…1), then records `downloadCompleted` (in the outbox when this resolves). A
   * refusal by the rules resolves with `{ ok: false, refusal }` and downloads nothing.
   * @throws {MediaError} `KEY_REFUSED`, `KEY_UNAVAILABLE`, `STORE_FAILED` (the licence stays issued; retry
   *   with {@link ShakaDownloads.fetchMedia}); the errors of `requestDownload`.
   */
  download(titleId: string, options?: { onProgress?: (fraction: number) => void }): Promise<DownloadResult>;
  /** Stores the media of a licence already granted (an interrupted download), then records `downloadCompleted`. */
  fetchMedia(
    license: LicenseView,
    options?: { onProgress?: (fraction: number) => void },
  ): Promise<StoredMedia>;
  /**
   * Asks Satchel (offline, secure clock) whether the licence may play; only if allowed, plays the stored
   * media in `video` from `positionMs` and resolves with the decision. Playback stops by itself when the
   * licence's time runs out. A refusal resolves with the decision and plays nothing.
   * @throws {MediaError} `NOT_STORED`; the errors of `startPlayback`.
   */
  play(
    licenseId: string,
    video: HTMLMediaElement,
    options?: { positionMs?: number },
  ): Promise<PlaybackResult>;
  /** Stops the playback of `licenseId` (if any) and records `stopPlayback` at the video's position. */
  stop(licenseId?: string): Promise<void>;
  /** The playback running now, if any. */
  playing(): Playback | null;
  /** Records `deleteDownload` (releases the licence at the next sync) and removes the stored bytes. */
  remove(licenseId: string): Promise<void>;
  /** This device's stored media. */
  stored(): Promise<StoredMedia[]>;
  /**
   * Removes the stored bytes of every licence that is released, revoked or expired (or unknown to this
   * device), and stops its playback. Returns what was removed. Runs on every licence change once
   * {@link ShakaDownloads.watch} was called.
   */
  reconcile(): Promise<StoredMedia[]>;
  /** Reconciles now and after every licence change (e.g. a sync that brings a revocation). Returns a stop function. */
  watch(onRemoved?: (removed: StoredMedia[]) => void): () => void;
}

const MAX_TIMER_MS = 2 ** 31 - 1;

interface Meta {
  satchelLicenseId: string;
  satchelDeviceId: string;
  titleId: string;
}

const metaOf = (content: ShakaStoredContent): Meta | null => {
  const m = content.appMetadata as Partial<Meta> | null;
  return m && typeof m.satchelLicenseId === 'string' && typeof m.titleId === 'string' ? (m as Meta) : null;
};

/**
 * Wires Shaka Player's offline storage to a Satchel client: nothing is downloaded before Satchel grants
 * the licence, nothing plays unless Satchel's offline decision allows it, and stored bytes go when the
 * licence is released, revoked or expired. Media of several devices sharing one origin (the demo player's
 * simulated devices) stay apart: each item is tagged with the device id.
 */
export function createShakaDownloads(options: ShakaDownloadsOptions): ShakaDownloads {
  const { satchel, shaka } = options;
  const logger = safeLogger(options.logger);
  let current: (Playback & { player: ShakaPlayer; timer: ReturnType<typeof setTimeout> | null }) | null =
    null;
  let reconciling: Promise<unknown> = Promise.resolve();

  const deviceId = async (): Promise<string> => {
    const id = (await satchel.status()).deviceId;
    if (id === null) throw new MediaError('NOT_STORED', 'This device is not registered');
    return id;
  };

  const withStorage = async <T>(use: (storage: ShakaStorage) => Promise<T>): Promise<T> => {
    const storage = new shaka.offline.Storage();
    try {
      return await use(storage);
    } finally {
      await storage
        .destroy()
        .catch((error: unknown) =>
          logger.log('warn', 'shaka: releasing the offline storage failed', { error }),
        );
    }
  };

  const list = async (): Promise<(StoredMedia & { deviceId: string })[]> => {
    const items = await withStorage((s) => s.list());
    return items.flatMap((c) => {
      const m = metaOf(c);
      return m && c.offlineUri
        ? [
            {
              licenseId: m.satchelLicenseId,
              titleId: m.titleId,
              deviceId: m.satchelDeviceId,
              offlineUri: c.offlineUri,
              bytes: c.size,
              durationMs: Math.round(c.duration * 1000),
            },
          ]
        : [];
    });
  };

  const stored = async (): Promise<StoredMedia[]> => {
    const id = await deviceId();
    return (await list()).filter((m) => m.deviceId === id).map(({ deviceId: _, ...m }) => m);
  };

  const dropBytes = async (items: StoredMedia[]): Promise<void> => {
    if (items.length === 0) return;
    await withStorage(async (s) => {
      for (const item of items) await s.remove(item.offlineUri);
    });
  };

  const stop = async (licenseId?: string): Promise<void> => {
    const p = current;
    if (p === null || (licenseId !== undefined && p.licenseId !== licenseId)) return;
    current = null;
    if (p.timer !== null) clearTimeout(p.timer);
    const positionMs = Math.max(0, Math.round(p.video.currentTime * 1000));
    p.video.pause();
    await p.player
      .destroy()
      .catch((error: unknown) => logger.log('warn', 'shaka: releasing the player failed', { error }));
    await satchel.stopPlayback(p.licenseId, positionMs);
  };

  const fetchMedia: ShakaDownloads['fetchMedia'] = async (license, o = {}) => {
    const keys = options.keys ? await options.keys(license) : null;
    const id = await deviceId();
    const content = await withStorage(async (storage) => {
      storage.configure({
        ...(options.drmConfig?.(license) ?? {}),
        ...(keys ? { drm: { clearKeys: keys } } : {}),
        // ClearKey has no persistent licences: the keys travel in the stored manifest instead.
        offline: {
          usePersistentLicense: keys === null,
          progressCallback: (_: unknown, fraction: number) => o.onProgress?.(fraction),
        },
      });
      try {
        const meta: Meta = {
          satchelLicenseId: license.licenseId,
          satchelDeviceId: id,
          titleId: license.titleId,
        };
        return await storage.store(options.manifestUri(license.titleId), meta).promise;
      } catch (cause) {
        throw new MediaError('STORE_FAILED', `The media of ${license.titleId} could not be stored`, {
          cause,
        });
      }
    });
    if (content.offlineUri === null) throw new MediaError('STORE_FAILED', 'Shaka stored nothing');
    await satchel.downloadCompleted(license.licenseId);
    return {
      licenseId: license.licenseId,
      titleId: license.titleId,
      offlineUri: content.offlineUri,
      bytes: content.size,
      durationMs: Math.round(content.duration * 1000),
    };
  };

  const reconcile = async (): Promise<StoredMedia[]> => {
    const [items, licenses] = await Promise.all([stored(), satchel.licenses()]);
    const byId = new Map(licenses.map((l) => [l.licenseId, l]));
    const gone = items.filter((m) => !isHeldStatus(byId.get(m.licenseId)?.status ?? 'released'));
    for (const m of gone) await stop(m.licenseId);
    await dropBytes(gone);
    return gone;
  };

  return {
    async download(titleId, o = {}) {
      const granted = await satchel.requestDownload(titleId);
      if (!granted.ok) return granted;
      return { ok: true, license: granted.license, media: await fetchMedia(granted.license, o) };
    },
    fetchMedia,
    async play(licenseId, video, o = {}) {
      const media = (await stored()).find((m) => m.licenseId === licenseId);
      if (!media)
        throw new MediaError('NOT_STORED', 'The media of this licence is not stored on this device');
      await stop();
      const decision = await satchel.startPlayback(licenseId, o);
      if (!decision.allowed) return decision;
      const player = new shaka.Player();
      await player.attach(video);
      await player.load(media.offlineUri, (o.positionMs ?? 0) / 1000);
      const timer =
        decision.timeLeftMs < MAX_TIMER_MS
          ? setTimeout(() => void stop(licenseId), decision.timeLeftMs)
          : null;
      current = { licenseId, video, decision, player, timer };
      await video.play();
      return decision;
    },
    stop,
    playing: () =>
      current === null
        ? null
        : { licenseId: current.licenseId, video: current.video, decision: current.decision },
    async remove(licenseId) {
      await stop(licenseId);
      await satchel.deleteDownload(licenseId);
      await dropBytes((await stored()).filter((m) => m.licenseId === licenseId));
    },
    stored,
    reconcile() {
      // One run at a time, each after the previous: a change during a run gets a run of its own.
      const run = reconciling.then(reconcile, reconcile);
      reconciling = run.catch(() => undefined);
      return run;
    },
    watch(onRemoved) {
      const run = () =>
        void this.reconcile().then(
          (removed) => removed.length > 0 && onRemoved?.(removed),
          () => undefined,
        );
      run();
      return satchel.subscribe((change) => {
        if (change.type === 'licenses') run();
      });
    },
  };
}
