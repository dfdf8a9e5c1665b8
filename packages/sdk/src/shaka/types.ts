/**
 * The parts of Shaka Player (`shaka-player`, ≥ 4) the adapter uses, written structurally so that the SDK
 * does not import Shaka: pass the namespace you load (`import shaka from 'shaka-player'`, the UI build,
 * or `window.shaka`).
 */
export interface ShakaNamespace {
  Player: new () => ShakaPlayer;
  offline: { Storage: new () => ShakaStorage };
}

/** `shaka.Player`, as far as the adapter uses it. */
export interface ShakaPlayer {
  attach(mediaElement: HTMLMediaElement): Promise<unknown>;
  load(assetUri: string, startTime?: number | null): Promise<unknown>;
  configure(config: object): boolean;
  destroy(): Promise<unknown>;
}

/** `shaka.extern.StoredContent`. */
export interface ShakaStoredContent {
  offlineUri: string | null;
  originalManifestUri: string;
  duration: number;
  size: number;
  appMetadata: object | null;
}

/** `shaka.offline.Storage`, as far as the adapter uses it. */
export interface ShakaStorage {
  configure(config: object): boolean;
  store(manifestUri: string, appMetadata?: object): { promise: Promise<ShakaStoredContent> };
  list(): Promise<ShakaStoredContent[]>;
  remove(contentUri: string): Promise<unknown>;
  destroy(): Promise<unknown>;
}
