export { dexieStorage, SATCHEL_DEXIE_SCHEMA } from '../storage/dexie.js';
export type { MetaPatch, NewOutboxEvent, OutboxEntry, SatchelStorage, StoredMeta } from '../storage/types.js';
