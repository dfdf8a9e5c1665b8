import {
  type AccountState,
  type Command,
  DEFAULT_PLAN,
  type DomainEvent,
  decide,
  deviceSnapshot,
  deviceView,
  fold,
  isActive,
  type License,
  licenseView,
  type Plan,
  type Policy,
  REFUSAL_QUOTA,
  type Rejection,
  refusalEvent,
} from '@satchel/core';
import type {
  DeviceView,
  LicenseResponse,
  LicenseSnapshot,
  LicenseView,
  RebaseRequest,
  RebaseResponse,
  Refusal,
  SyncRequest,
  SyncResponse,
} from '@satchel/protocol';
import { PROTOCOL_VERSION } from '@satchel/protocol';
import { uuidv7 } from 'uuidv7';
import { type AccountRepository, type AccountUnit, countBy } from './accounts.js';
import { AuthError } from './auth.js';
import type { Catalogue } from './catalogue.js';
import {
  DeviceAlreadyRegisteredError,
  hashDeviceSecret,
  lockCredential,
  newDeviceSecret,
  revokeCredential,
  saveCredential,
  secretMatches,
  statusOf,
} from './credentials.js';
import { ServerError } from './errors.js';
import { checkEventQuota } from './limit-window.js';
import { mergeBatch } from './merge.js';
import type { Metrics } from './metrics.js';
import type { DeviceCursor, DeviceReceipt, EventQuota, StoredEvent } from './store/event-store.js';

/** A `seq` does not follow the last acknowledged one; the whole batch was refused and nothing written. */
export class SeqGapError extends ServerError {
  readonly expectedSeq: number;
  readonly receivedSeq: number;
  constructor(expectedSeq: number, receivedSeq: number) {
    super('SEQ_GAP', `Expected seq ${expectedSeq} next, received ${receivedSeq}`);
    this.name = 'SatchelSeqGapError';
    this.expectedSeq = expectedSeq;
    this.receivedSeq = receivedSeq;
  }
}

/** The request names something that does not exist for this principal (title, licence, device, account). */
export class NotFoundError extends ServerError {
  constructor(message: string) {
    super('NOT_FOUND', message);
    this.name = 'SatchelNotFoundError';
  }
}

/** The principal may not do this (another device, a deactivated device, …). `code` is the wire code. */
export class ForbiddenError extends ServerError {
  constructor(code: 'FORBIDDEN' | 'DEVICE_DEACTIVATED', message: string) {
    super(code, message);
    this.name = 'SatchelForbiddenError';
  }
}

/** The account's plan allows no more active devices (R26; wire: 403 DEVICE_LIMIT_REACHED). */
export class DeviceLimitError extends ServerError {
  readonly limit: number;
  constructor(limit: number) {
    super('DEVICE_LIMIT_REACHED', `This account may have ${limit} active devices: deactivate one first`);
    this.name = 'SatchelDeviceLimitError';
    this.limit = limit;
  }
}

export interface ServiceOptions {
  catalogue: Catalogue;
  metrics?: Metrics;
  /** The server clock (epoch ms); injectable for tests. */
  now?: () => number;
  /** Refusals recorded per account per rolling 24 hours (R24; default core's `REFUSAL_QUOTA`, 50). */
  refusalQuota?: number;
  /**
   * New events one device may add to the store per window (default {@link DEFAULT_EVENT_QUOTA}): a sync's
   * events that are not duplicates (accepted or rejected, each is stored) and the events a licence
   * request or renewal records (its grant or refusal). Counted by the write that stores them; a sync or
   * request that does not fit throws `EventQuotaExceededError` (errors.ts) and writes nothing. An invalid
   * quota makes the constructor throw a `RangeError`.
   */
  eventQuota?: EventQuota;
}

/** The default event quota: 10,000 new events per device per hour. */
export const DEFAULT_EVENT_QUOTA: EventQuota = { points: 10_000, windowSec: 3600 };

const toRefusal = (r: Rejection): Refusal => {
  const out: Refusal = { code: r.code, message: r.message };
  for (const k of ['limit', 'used', 'remaining', 'nextAvailableAt', 'titleId', 'licenseId'] as const) {
    const v = r[k];
    if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  }
  return out;
};

/**
 * The server's use cases on top of the event store: the sync merge, licences, devices and accounts.
 * Stateless: every call loads what it needs from the database.
 */
export class SatchelService {
  readonly accounts: AccountRepository;
  readonly catalogue: Catalogue;
  readonly now: () => number;
  private readonly metrics: Metrics | undefined;
  private readonly refusalQuota: number;
  /** The event quota every device's writes are counted against. */
  readonly eventQuota: EventQuota;

  constructor(accounts: AccountRepository, options: ServiceOptions) {
    this.refusalQuota = options.refusalQuota ?? REFUSAL_QUOTA;
    this.eventQuota = checkEventQuota(options.eventQuota ?? DEFAULT_EVENT_QUOTA, 'eventQuota');
    this.accounts = accounts;
    this.catalogue = options.catalogue;
    this.metrics = options.metrics;
    this.now = options.now ?? Date.now;
  }

  /**
   * Creates (or finds) an account and opens its stream with `plan`. Idempotent: an account that
   * exists is left as it is. Resolves once durable.
   */
  async createAccount(
    accountId: string,
    name: string,
    plan: Plan = DEFAULT_PLAN,
  ): Promise<{ created: boolean }> {
    const now = this.now();
    return this.accounts.execute(accountId, async (unit) => {
      await unit.tx.query(
        'INSERT INTO accounts (account_id, name) VALUES ($1, $2) ON CONFLICT (account_id) DO NOTHING',
        [accountId, name],
      );
      if (unit.state.opened) return { created: false };
      const d = decide(unit.state, { type: 'OpenAccount', accountId, plan, now });
      if (!d.ok) throw new ServerError('INTERNAL', d.rejection.message);
      unit.emit(d.events);
      return { created: true };
    });
  }

  /** True when the account exists. */
  async accountExists(accountId: string): Promise<boolean> {
    const rows = await this.accounts.db.query('SELECT 1 FROM accounts WHERE account_id = $1', [accountId]);
    return rows.length > 0;
  }

  /** Every account id, sorted. */
  async accountIds(): Promise<string[]> {
    const rows = await this.accounts.db.query<{ account_id: string }>(
      'SELECT account_id FROM accounts ORDER BY 1',
    );
    return rows.map((r) => r.account_id);
  }

  /**
   * Registers a device, or registers a known one again. A new `deviceId` is registered (R26 may refuse:
   * {@link DeviceLimitError}) with `deviceSecret`'s hash, or a generated secret answered once as
   * `generatedSecret`. A known `deviceId` (active or deactivated) needs the secret it registered with,
   * else {@link DeviceAlreadyRegisteredError} and nothing changes; with it, a deactivated device is
   * registered again and its credential `generation` moves on (every token minted before stays refused);
   * an active one keeps its registration and its generation (nothing is appended or changed: a retried or
   * replayed registration leaves the token the device holds valid). Mint the token with the returned
   * `generation`. Throws {@link NotFoundError} when the account does not exist.
   * Resolves once the registration and the credential are durable (one transaction).
   */
  async registerDevice(
    accountId: string,
    request: { deviceId?: string | undefined; name: string; deviceSecret?: string | undefined },
  ): Promise<{
    deviceId: string;
    snapshot: LicenseSnapshot;
    generation: number;
    generatedSecret?: string;
  }> {
    const deviceId = request.deviceId ?? uuidv7();
    const now = this.now();
    const limited = await this.limitedTitles();
    return this.accounts.execute(accountId, async (unit) => {
      if (!unit.state.opened) throw new NotFoundError('No such account');
      const existing = Object.hasOwn(unit.state.devices, deviceId) ? unit.state.devices[deviceId] : undefined;
      const credential = await lockCredential(unit.tx, accountId, deviceId);
      const known = credential !== null || existing !== undefined;
      let secretHash: Uint8Array | null;
      let generatedSecret: string | undefined;
      if (known && credential?.secretHash) {
        // Only the device holds its secret: an enrolment token alone cannot take a device over.
        if (!secretMatches(request.deviceSecret, credential.secretHash))
          throw new DeviceAlreadyRegisteredError();
        secretHash = credential.secretHash;
      } else if (known && existing?.status === 'active') {
        // Registered before device secrets existed and still active: nothing proves who is asking.
        throw new DeviceAlreadyRegisteredError();
      } else {
        generatedSecret = request.deviceSecret === undefined ? newDeviceSecret() : undefined;
        secretHash = hashDeviceSecret(request.deviceSecret ?? generatedSecret ?? '');
      }
      if (existing?.status !== 'active') {
        const d = decide(unit.state, { type: 'RegisterDevice', deviceId, name: request.name, now });
        if (!d.ok) {
          if (d.rejection.code === 'DEVICE_LIMIT') throw new DeviceLimitError(d.rejection.limit ?? 0);
          throw new ForbiddenError('FORBIDDEN', d.rejection.message);
        }
        unit.emit(d.events);
      }
      // The same active device proving its secret again (a retried or replayed registration) keeps its
      // credential: the token it already holds stays valid and the new one is of the same generation.
      // A first registration, or one after a deactivation, starts a new generation: every older token
      // stays refused.
      const same = credential !== null && !credential.revoked && existing?.status === 'active';
      const generation = credential === null ? 0 : same ? credential.generation : credential.generation + 1;
      if (!same) await saveCredential(unit.tx, accountId, deviceId, { secretHash, generation });
      return {
        deviceId,
        snapshot: this.snapshotOf(unit.state, deviceId, now, limited),
        generation,
        ...(generatedSecret === undefined ? {} : { generatedSecret }),
      };
    });
  }

  /**
   * Deactivates a device: frees its slot, revokes its licences, and revokes every token it holds (in the
   * same transaction: the next request with one is refused `DEVICE_DEACTIVATED`). Idempotent for a device
   * already deactivated. Throws {@link NotFoundError} for a device the account does not have.
   */
  async deactivateDevice(accountId: string, deviceId: string): Promise<DeviceView[]> {
    const now = this.now();
    return this.accounts.execute(accountId, async (unit) => {
      const device = unit.state.devices[deviceId];
      if (!device || !Object.hasOwn(unit.state.devices, deviceId)) throw new NotFoundError('No such device');
      if (device.status === 'active') {
        this.expire(unit, now);
        const d = decide(unit.state, { type: 'DeactivateDevice', deviceId, now });
        if (!d.ok) throw new ForbiddenError('FORBIDDEN', d.rejection.message);
        unit.emit(d.events);
      }
      await revokeCredential(unit.tx, accountId, deviceId);
      return Object.values(unit.state.devices).map(deviceView);
    });
  }

  /**
   * Withdraws a title from the catalogue at `availableUntil` (default: now): the catalogue's policy
   * changes, and every account records `TitleWithdrawn` — licences for the title expire at that instant,
   * and if it has passed, active ones are revoked (`TITLE_WITHDRAWN`). Each account is its own
   * transaction; a retry after a failure part-way is safe (an account already withdrawn records the
   * same instant again, which changes nothing). `changedBy` (the operator's id, default null) is recorded
   * with the new policy version, as for any policy change. Throws {@link NotFoundError} for an unknown
   * title. Resolves with the number of accounts and licences affected, once durable.
   */
  async withdrawTitle(
    titleId: string,
    availableUntil?: number,
    { changedBy = null as string | null } = {},
  ): Promise<{ accounts: number; revoked: number }> {
    const now = this.now();
    const until = availableUntil ?? now;
    const title = await this.catalogue.get(titleId);
    if (title === null) throw new NotFoundError(`No title ${titleId}`);
    await this.catalogue.put([{ ...title, policy: { ...title.policy, availableUntil: until } }], {
      replace: true,
      changedBy,
    });
    let accounts = 0;
    let revoked = 0;
    for (const accountId of await this.accountIds()) {
      revoked += await this.accounts.execute(accountId, async (unit) => {
        if (!unit.state.opened) return 0;
        const d = decide(unit.state, { type: 'WithdrawTitle', titleId, availableUntil: until, now });
        if (!d.ok) return 0;
        unit.emit(d.events);
        accounts += 1;
        return d.events.filter((e) => e.type === 'LicenseRevoked').length;
      });
    }
    return { accounts, revoked };
  }

  /** The account's devices. */
  async devices(accountId: string): Promise<DeviceView[]> {
    const { state } = await this.accounts.load(accountId);
    return Object.values(state.devices).map(deviceView);
  }

  /** A device's licences (or, without `deviceId`, every licence of the account) as of now. */
  async licenses(
    accountId: string,
    deviceId?: string,
  ): Promise<{ licenses: LicenseView[]; serverTime: number }> {
    const now = this.now();
    const { state } = await this.accounts.load(accountId);
    const licenses = Object.values(state.licenses)
      .filter((l) => deviceId === undefined || l.deviceId === deviceId)
      .sort((a, b) => a.firstIssuedAt - b.firstIssuedAt || (a.licenseId < b.licenseId ? -1 : 1))
      .map((l) => licenseView(l, now));
    return { licenses, serverTime: now };
  }

  /** The authoritative snapshot of one device, as of now. */
  async snapshot(accountId: string, deviceId: string): Promise<LicenseSnapshot> {
    const { state } = await this.accounts.load(accountId);
    return this.snapshotOf(state, deviceId, this.now(), await this.limitedTitles());
  }

  /**
   * Asks for a licence for a catalogue title. A refusal by the rules is an answer (`outcome: 'refused'`),
   * recorded as `LicenseRefused` in the same transaction within the account's refusal quota (R24).
   * Throws {@link NotFoundError} for an unknown title, {@link ForbiddenError} for a deactivated device.
   */
  async requestLicense(
    accountId: string,
    deviceId: string,
    request: { titleId: string; licenseId?: string | undefined },
  ): Promise<LicenseResponse> {
    const title = await this.catalogue.get(request.titleId);
    if (!title) throw new NotFoundError(`No title ${request.titleId} in the catalogue`);
    const licenseId = request.licenseId ?? uuidv7();
    return this.licenseCommand(
      accountId,
      deviceId,
      licenseId,
      (now) => ({
        type: 'IssueLicense',
        licenseId,
        deviceId,
        titleId: title.titleId,
        policy: title.policy,
        policyVersion: title.version,
        now,
      }),
      replayOf.issue(title.titleId),
      true,
    );
  }

  /**
   * Renews a licence of this device (counts as a download). With `fromRenewal`, a retry of a renewal
   * that went through answers the licence as it stands. Same errors as {@link requestLicense}.
   */
  renewLicense(
    accountId: string,
    deviceId: string,
    licenseId: string,
    fromRenewal?: number,
  ): Promise<LicenseResponse> {
    return this.licenseCommand(
      accountId,
      deviceId,
      licenseId,
      (now) => ({ type: 'RenewLicense', licenseId, deviceId, now }),
      fromRenewal === undefined ? undefined : replayOf.renew(fromRenewal),
      true,
    );
  }

  /** Gives a licence of this device back; idempotent. Same errors as {@link requestLicense}. */
  releaseLicense(accountId: string, deviceId: string, licenseId: string): Promise<LicenseResponse> {
    return this.licenseCommand(
      accountId,
      deviceId,
      licenseId,
      (now) => ({ type: 'ReleaseLicense', licenseId, deviceId, now }),
      replayOf.release,
    );
  }

  private async licenseCommand(
    accountId: string,
    deviceId: string,
    licenseId: string,
    command: (now: number) => Command,
    replay?: Replay,
    counted = false,
  ): Promise<LicenseResponse> {
    const now = this.now();
    const limited = await this.limitedTitles();
    // What the request records (its grant or refusal) is counted, not the expiries recorded before it.
    let expiries = 0;
    const quota = counted
      ? { quota: { deviceId, limit: this.eventQuota, at: now, uncounted: () => expiries } }
      : {};
    return this.accounts.execute(
      accountId,
      async (unit) => {
        this.requireActiveDevice(unit.state, deviceId);
        this.expire(unit, now);
        expiries = unit.emitted;
        const held = unit.state.licenses[licenseId];
        if (held !== undefined && held.deviceId === deviceId && replay?.(held, now) === true) {
          return {
            outcome: 'granted',
            license: licenseView(held, now),
            snapshot: this.snapshotOf(unit.state, deviceId, now, limited),
          };
        }
        const c = command(now);
        const d = decide(unit.state, c);
        if (!d.ok) {
          if (d.rejection.code === 'LICENSE_NOT_FOUND' || d.rejection.code === 'WRONG_DEVICE') {
            throw new NotFoundError('No such licence on this device');
          }
          this.metrics?.refusals.inc({ code: d.rejection.code });
          if (c.type === 'IssueLicense' || c.type === 'RenewLicense') {
            const recorded = refusalEvent(unit.state, c, d.rejection, this.refusalQuota);
            if (recorded) unit.emit([recorded]);
            else this.metrics?.refusalsNotRecorded.inc();
          }
          return {
            outcome: 'refused',
            refusal: toRefusal(d.rejection),
            snapshot: this.snapshotOf(unit.state, deviceId, now, limited),
          };
        }
        unit.emit(d.events);
        const license = unit.state.licenses[licenseId];
        if (!license) throw new NotFoundError('No such licence on this device');
        return {
          outcome: 'granted',
          license: licenseView(license, now),
          snapshot: this.snapshotOf(unit.state, deviceId, now, limited),
        };
      },
      quota,
    );
  }

  /**
   * The merge: applies a device's batch to its account atomically — one read, core's pure
   * {@link mergeBatch}, one write (expected stream version, compare-and-set on the device's cursor), rerun
   * from a fresh read when another writer got there first. Events already applied
   * (same device and seq, or same eventId) are answered as before and change nothing; a gap refuses
   * the whole batch ({@link SeqGapError}, nothing written); every new event is upcast, decided by
   * core's `decideDeviceEvent` and appended (or acknowledged as rejected, never blocking the queue).
   * Resolves once everything is durable.
   *
   * With `token` (the HTTP route passes the device token's credential generation), the device's credential
   * is checked in the same read statement: a superseded or unknown credential throws {@link AuthError}
   * (`UNAUTHENTICATED`) and nothing is written; a revoked one (a deactivated device) is merged, and every
   * event is refused because the device is deactivated. `token.admitted` is awaited after the read and
   * before anything is decided: its rejection is thrown and nothing is written.
   */
  async sync(
    accountId: string,
    deviceId: string,
    request: SyncRequest,
    requestId?: string,
    token?: { readonly generation: number; readonly admitted?: Promise<unknown> },
  ): Promise<SyncResponse> {
    const now = this.now();
    const limited = await this.limitedTitles();
    const response = await this.accounts.executeDeviceBatch(
      accountId,
      deviceId,
      request.events,
      ({ state, cursor, bySeq, byEventId, credential }) => {
        if (token !== undefined) {
          const status = statusOf(credential, token.generation);
          if (status === 'superseded' || status === 'unknown')
            throw new AuthError('UNAUTHENTICATED', 'This token has been revoked');
        }
        const merged = mergeBatch({
          state,
          deviceId,
          cursor,
          events: request.events,
          seen: { bySeq, byEventId },
          now,
          requestId,
        });
        if (!merged.ok) {
          if (merged.reason === 'SEQ_GAP') throw new SeqGapError(merged.expectedSeq, merged.receivedSeq);
          throw new ForbiddenError('FORBIDDEN', 'Unknown device');
        }
        return {
          result: {
            protocolVersion: Math.min(request.protocolVersion, PROTOCOL_VERSION),
            results: merged.results,
            ackSeq: merged.ackSeq,
            serverTime: now,
            snapshot: this.snapshotOf(merged.state, deviceId, now, limited),
          } satisfies SyncResponse,
          appends: merged.appends,
          state: merged.state,
          receipts: merged.receipts,
          ackSeq: merged.ackSeq,
          at: now,
        };
      },
      { quota: this.eventQuota, ...(token?.admitted ? { admitted: token.admitted } : {}) },
    );
    if (this.metrics)
      for (const [status, n] of countBy(response.results, (r) => r.status))
        this.metrics.syncEvents.inc({ status }, n);
    return response;
  }

  /**
   * Re-bases a device's sequence past events the server lost and the device no longer holds (see
   * `RebaseRequest`). Server-decided: only if the device's cursor is exactly `fromSeq - 1` does it record
   * `DeviceHistoryRebased` and move the cursor to `toSeq`; otherwise it throws {@link SeqGapError} with
   * the seq it expects. Idempotent: a cursor already at or past `toSeq` answers without appending.
   */
  async rebaseDevice(
    accountId: string,
    deviceId: string,
    request: RebaseRequest,
    requestId?: string,
  ): Promise<RebaseResponse> {
    const now = this.now();
    const limited = await this.limitedTitles();
    return this.accounts.executeDeviceBatch(accountId, deviceId, [], ({ state, cursor }) => {
      if (!Object.hasOwn(state.devices, deviceId)) throw new ForbiddenError('FORBIDDEN', 'Unknown device');
      const { fromSeq, toSeq } = request;
      const answer = (s: AccountState, ackSeq: number) => ({
        protocolVersion: Math.min(request.protocolVersion, PROTOCOL_VERSION),
        fromSeq,
        toSeq,
        ackSeq,
        serverTime: now,
        snapshot: this.snapshotOf(s, deviceId, now, limited),
      });
      if (cursor >= toSeq) {
        return { result: answer(state, cursor), appends: [], state, receipts: [], ackSeq: cursor, at: now };
      }
      if (toSeq < fromSeq || cursor + 1 !== fromSeq) throw new SeqGapError(cursor + 1, fromSeq);
      const event: DomainEvent = {
        type: 'DeviceHistoryRebased',
        data: { deviceId, fromSeq, toSeq, at: now },
      };
      const next = fold([event], state);
      return {
        result: answer(next, toSeq),
        appends: [{ event, eventId: undefined, metadata: { deviceId, ...(requestId ? { requestId } : {}) } }],
        state: next,
        receipts: [],
        ackSeq: toSeq,
        at: now,
      };
    });
  }

  /** Every device cursor of the account (highest acknowledged seq, last sync), by device id. */
  deviceCursors(accountId: string): Promise<DeviceCursor[]> {
    return this.accounts.store.deviceCursors(this.accounts.db, accountId);
  }

  /** The receipts recorded for a device's sequence numbers `seqs` (what a replay of each is answered). */
  async deviceReceipts(
    accountId: string,
    deviceId: string,
    seqs: readonly number[],
  ): Promise<DeviceReceipt[]> {
    const { bySeq } = await this.accounts.store.receipts(this.accounts.db, accountId, deviceId, seqs, []);
    return [...bySeq.values()].sort((a, b) => a.seq - b.seq);
  }

  /** The account's current state and stream version (from the latest snapshot plus the tail). */
  async accountState(accountId: string): Promise<{ state: AccountState; version: number }> {
    const { state, version } = await this.accounts.load(accountId);
    return { state, version };
  }

  /** The account's events, oldest first, as stored and upcast to the current schema. */
  history(accountId: string): Promise<{ stored: StoredEvent; event: DomainEvent }[]> {
    return this.accounts.history(accountId);
  }

  /** The account's state as it was at instant `at` (epoch ms): every event recorded up to then, replayed. */
  stateAt(accountId: string, at: number): Promise<AccountState> {
    return this.accounts.stateAt(accountId, at);
  }

  private expire(unit: AccountUnit, now: number): void {
    const d = decide(unit.state, { type: 'ExpireLicenses', now });
    if (d.ok) unit.emit(d.events);
  }

  private requireActiveDevice(state: AccountState, deviceId: string): void {
    if (!Object.hasOwn(state.devices, deviceId)) throw new ForbiddenError('FORBIDDEN', 'Unknown device');
    if (state.devices[deviceId]?.status !== 'active') {
      throw new ForbiddenError('DEVICE_DEACTIVATED', 'This device was deactivated');
    }
  }

  private async limitedTitles(): Promise<Map<string, Policy>> {
    const titles = await this.catalogue.titles();
    return new Map(
      [...titles.values()]
        .filter((t) => t.policy.maxDownloadsPerYear !== null)
        .map((t) => [t.titleId, t.policy] as const),
    );
  }

  // Catalogue policies are read before the account transaction: PGlite has one connection.
  private snapshotOf(
    state: AccountState,
    deviceId: string,
    now: number,
    limited: Map<string, Policy>,
  ): LicenseSnapshot {
    const snap = deviceSnapshot(state, deviceId, now, limited);
    if (!snap) throw new ForbiddenError('FORBIDDEN', 'Unknown device');
    // A deactivated device learns its own end, and nothing more about the account.
    return snap.device.status === 'active' ? snap : { ...snap, devices: [snap.device] };
  }
}

/** Whether a licence command was already carried out: a retry then answers the licence as it stands. */
type Replay = (license: License, now: number) => boolean;

const replayOf = {
  issue:
    (titleId: string): Replay =>
    (license, now) =>
      license.titleId === titleId && isActive(license, now),
  renew:
    (fromRenewal: number): Replay =>
    (license, now) =>
      license.renewals > fromRenewal && isActive(license, now),
  release: ((license) => license.status === 'released') satisfies Replay,
};
