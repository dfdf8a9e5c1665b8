export { SatchelContext, SatchelProvider, type SatchelProviderProps, useSatchel } from './context.js';
export { useLicense, useLicenses, usePlaybackDecision, useSyncStatus } from './hooks.js';
export type { SatchelQueryResult } from './live.js';
