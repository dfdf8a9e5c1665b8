export {
  createShakaDownloads,
  type DownloadResult,
  type Playback,
  type ShakaDownloads,
  type ShakaDownloadsOptions,
  type StoredMedia,
} from '../shaka/downloads.js';
export {
  type ClearKeys,
  clearKeysFromLicenseProxy,
  type KeySource,
  type LicenseProxyOptions,
  licenseProxyUrl,
  MediaError,
  type MediaErrorCode,
} from '../shaka/keys.js';
export type { ShakaNamespace, ShakaPlayer, ShakaStorage, ShakaStoredContent } from '../shaka/types.js';
