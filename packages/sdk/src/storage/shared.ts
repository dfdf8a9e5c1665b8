import { mergeSecureClocks } from '@satchel/core';
import { StorageError } from '../errors.js';
import { uuidv7 } from '../uuid.js';
import type {
  DeviceIdentity,
  MetaPatch,
  NewOutboxEvent,
  OutboxEntry,
  RecordPlan,
  RecordRead,
  RecordState,
  SatchelStorage,
  StoredClock,
  StoredMeta,
  SyncCursor,
} from './types.js';
import { EMPTY_CURSOR } from './types.js';

/** Keys of the meta store. */
export const META_KEYS = {
  identity: 'identity',
  snapshot: 'snapshot',
  clock: 'clock',
  cursor: 'cursor',
  lastSeq: 'lastSeq',
  dataVersion: 'dataVersion',
  /** Changes with every snapshot write, so an adapter may keep the parsed snapshot while it holds. */
  snapshotStamp: 'snapshotStamp',
} as const;

/** Version of the shape of stored records; bumped with a data migration when a record's shape changes. */
export const STORAGE_DATA_VERSION = 1;

export function assignEntries(events: readonly NewOutboxEvent[], lastSeq: number): OutboxEntry[] {
  return events.map((event, i) => ({ ...event, seq: lastSeq + 1 + i, eventId: uuidv7(event.occurredAt) }));
}

export function mergeClock(stored: StoredClock | null, next: StoredClock | null): StoredClock | null {
  if (next === null || stored === null) return next;
  return mergeSecureClocks(stored, next);
}

export function mergeCursor(
  stored: SyncCursor | undefined,
  patch: Partial<SyncCursor> | undefined,
  ackSeq: number | null,
): SyncCursor {
  const base = stored ?? EMPTY_CURSOR;
  const next = { ...base, ...patch };
  next.ackSeq = Math.max(base.ackSeq, ackSeq ?? 0, patch?.ackSeq ?? 0);
  return next;
}

export function toMeta(values: {
  identity: unknown;
  snapshot: unknown;
  clock: unknown;
  cursor: unknown;
  lastSeq: unknown;
}): StoredMeta {
  return {
    identity: (values.identity as DeviceIdentity | undefined) ?? null,
    snapshot: (values.snapshot as StoredMeta['snapshot'] | undefined) ?? null,
    clock: (values.clock as StoredClock | undefined) ?? null,
    cursor: { ...EMPTY_CURSOR, ...(values.cursor as SyncCursor | undefined) },
    lastSeq: typeof values.lastSeq === 'number' ? values.lastSeq : 0,
  };
}

/**
 * A snapshot of the same account and device at a lower stream version than the stored one is stale (a slow
 * answer overtaken by a newer sync in another tab): it must not replace the newer one.
 */
export function isOlderSnapshot(incoming: StoredMeta['snapshot'], stored: StoredMeta['snapshot']): boolean {
  return (
    incoming !== null &&
    stored !== null &&
    incoming.accountId === stored.accountId &&
    incoming.deviceId === stored.deviceId &&
    incoming.version < stored.version
  );
}

/** Writes a meta patch through `put`/`del`, given the stored clock and cursor. */
export function patchWrites(
  patch: MetaPatch | undefined,
  storedClock: StoredClock | null,
  storedCursor: SyncCursor | undefined,
  ackSeq: number | null,
  storedSnapshot?: StoredMeta['snapshot'] | undefined,
): Array<[key: string, value: unknown]> {
  const writes: Array<[string, unknown]> = [];
  if (patch?.identity !== undefined) writes.push([META_KEYS.identity, patch.identity]);
  if (patch?.snapshot !== undefined && !isOlderSnapshot(patch.snapshot, storedSnapshot ?? null)) {
    writes.push([META_KEYS.snapshot, patch.snapshot], [META_KEYS.snapshotStamp, uuidv7()]);
  }
  if (patch?.clock !== undefined) writes.push([META_KEYS.clock, mergeClock(storedClock, patch.clock)]);
  if (patch?.cursor !== undefined || ackSeq !== null) {
    writes.push([META_KEYS.cursor, mergeCursor(storedCursor, patch?.cursor, ackSeq)]);
  }
  return writes;
}

/**
 * {@link SatchelStorage.record} for a storage that lacks it: the reads come from their own transactions,
 * the seq is still assigned by `append` in the transaction that writes the events.
 */
/**
 * The meta and the outbox entries its snapshot does not include yet, as one consistent view from two
 * transactions: the entries are read first, then the meta, and only entries above the meta's `ackSeq` are
 * kept. A sync committed between the two reads (its acknowledgement and snapshot are one transaction) is
 * then seen whole: its snapshot, without the entries that snapshot already includes. (Read the other way
 * round, the old snapshot met the emptied outbox: a licence looked as it was before those events.)
 */
export async function readView(
  storage: SatchelStorage,
): Promise<{ meta: StoredMeta; pending: OutboxEntry[] }> {
  const pending = await storage.pending();
  const meta = await storage.readMeta();
  return { meta, pending: pending.filter((e) => e.seq > meta.cursor.ackSeq) };
}

export async function recordThrough<T>(
  storage: SatchelStorage,
  read: RecordRead,
  build: (state: RecordState) => RecordPlan<T>,
): Promise<{ entries: OutboxEntry[]; result: T }> {
  const licenseId = read.licenseId;
  const view =
    licenseId === undefined ? { meta: await storage.readMeta(), pending: [] } : await readView(storage);
  const meta = view.meta;
  const pending = view.pending.filter((e) => e.data.licenseId === licenseId);
  const plan = build({
    identity: read.identity === true ? meta.identity : null,
    snapshot: read.snapshot === true ? meta.snapshot : null,
    clock: meta.clock,
    pending,
  });
  if (plan.events.length === 0 && plan.clock === undefined) return { entries: [], result: plan.result };
  const entries = await storage.append(plan.events, plan.clock === undefined ? {} : { clock: plan.clock });
  return { entries, result: plan.result };
}

function names(error: unknown): { names: string[]; messages: string[] } {
  const found = { names: [] as string[], messages: [] as string[] };
  let current: unknown = error;
  for (let depth = 0; depth < 5 && typeof current === 'object' && current !== null; depth++) {
    const e = current as { name?: unknown; message?: unknown; inner?: unknown; cause?: unknown };
    if (typeof e.name === 'string') found.names.push(e.name);
    if (typeof e.message === 'string') found.messages.push(e.message);
    current = e.inner ?? e.cause;
  }
  return found;
}

/**
 * Sorts a raw IndexedDB (or Dexie) failure: `lost` means the connection is gone and reopening once may
 * succeed; anything else is already the typed error to throw.
 */
export function classifyStorageError(error: unknown): 'lost' | StorageError {
  if (error instanceof StorageError) return error;
  const { names: n, messages } = names(error);
  const text = messages.join(' ');
  if (n.includes('QuotaExceededError') || /quota|FILE_ERROR_NO_SPACE|no space left|ENOSPC/i.test(text)) {
    return new StorageError(
      'STORAGE_QUOTA_EXCEEDED',
      'The browser refused to store more data (quota exceeded)',
      {
        cause: error,
      },
    );
  }
  if (n.includes('VersionError')) {
    return new StorageError(
      'STORAGE_VERSION_TOO_NEW',
      'The database was upgraded by a newer version of the SDK in another tab; reload to use it',
      { cause: error },
    );
  }
  if (
    n.includes('InvalidStateError') ||
    n.includes('DatabaseClosedError') ||
    /connection .*lost|database .*closed|closing/i.test(text) ||
    (n.includes('UnknownError') && /lost|closed|terminated/i.test(text))
  ) {
    return 'lost';
  }
  return new StorageError('STORAGE_UNAVAILABLE', `IndexedDB failed: ${text || String(error)}`, {
    cause: error,
  });
}

/**
 * Whether a failure is one of the internal I/O errors Chromium reports when its disk is full instead of a
 * `QuotaExceededError` ("Internal error opening backing store", "Internal error.", "Failed to write
 * blobs (IOError)", a LevelDB "IO error"): the cause is then told by {@link diskFull}.
 */
export function internalIoError(error: unknown): boolean {
  if (error instanceof StorageError && error.code !== 'STORAGE_UNAVAILABLE') return false;
  const { names: n, messages } = names(error);
  const text = messages.join(' ');
  return (
    (n.includes('UnknownError') || n.includes('DataError') || n.includes('AbortError')) &&
    /internal error|backing store|IO ?error/i.test(text)
  );
}

/** Free space below which a disk counts as full (bytes); also the size of the write probe. */
const FULL_BELOW_BYTES = 1 << 20;

/** The Cache Storage entry {@link diskFull} writes and deletes to probe the disk. */
const PROBE_CACHE = 'satchel-disk-probe';

/**
 * Whether the origin's storage is full, asked after IndexedDB failed with an internal I/O error:
 * - the browser cannot even compute its usage, or less than 1 MiB of its quota is left: full;
 * - otherwise (Chromium's quota is not always bounded by the free space of the disk) a second, independent
 *   store is asked to write 1 MiB: a Cache Storage entry, deleted at once. If that write fails too, the
 *   disk is what fails (full, or unable to write at all); if it succeeds, IndexedDB's failure is its own.
 * False where it cannot be told (no `navigator.storage`, no Cache Storage).
 */
export async function diskFull(): Promise<boolean> {
  const g = globalThis as {
    navigator?: { storage?: { estimate?: () => Promise<StorageEstimate> } };
    caches?: CacheStorage;
  };
  const storage = g.navigator?.storage;
  if (storage?.estimate === undefined) return false;
  try {
    const { quota, usage } = await storage.estimate();
    if (quota !== undefined && usage !== undefined && quota - usage < FULL_BELOW_BYTES) return true;
  } catch {
    return true;
  }
  const caches = g.caches;
  if (caches === undefined) return false;
  try {
    const cache = await caches.open(PROBE_CACHE);
    await cache.put('/satchel-disk-probe', new Response(new Uint8Array(FULL_BELOW_BYTES)));
  } catch {
    return true;
  } finally {
    await caches.delete(PROBE_CACHE).catch(() => false);
  }
  return false;
}

/** A full disk reported as an internal error, as the typed error the docs promise. */
export function quotaFromDisk(error: unknown): StorageError {
  return new StorageError(
    'STORAGE_QUOTA_EXCEEDED',
    'The device has no space left for the browser to store data (disk full)',
    { cause: error },
  );
}

export function unavailable(error: unknown): StorageError {
  return new StorageError(
    'STORAGE_UNAVAILABLE',
    'The IndexedDB connection was lost and could not be reopened',
    {
      cause: error,
    },
  );
}

/** The entries {@link SatchelStorage.renumber} moves, in their new order, with their new seqs. */
export function renumbered(
  entries: readonly OutboxEntry[],
  moved: readonly number[],
  afterSeq: number,
): OutboxEntry[] {
  const bySeq = new Map(entries.map((e) => [e.seq, e]));
  const order: OutboxEntry[] = [];
  const taken = new Set<number>();
  for (const seq of moved) {
    const entry = bySeq.get(seq);
    if (entry !== undefined && !taken.has(seq)) {
      order.push(entry);
      taken.add(seq);
    }
  }
  for (const entry of [...entries].sort((a, b) => a.seq - b.seq)) {
    if (entry.seq > afterSeq && !taken.has(entry.seq)) order.push(entry);
  }
  return order.map((entry, i) => ({ ...entry, seq: afterSeq + 1 + i }));
}
