import {
  type AccountExplanation,
  DEFAULT_POLICY,
  type DomainEvent,
  decide,
  type ExplainBasis,
  explainAccount,
  licenseView,
  type Plan,
  type Policy,
  type RecordedEvent,
} from '@satchel/core';
import { PolicySchema } from '@satchel/core/schemas';
import type { DeviceView, LicenseView } from '@satchel/protocol';
import type { CatalogueTitle, PolicyVersion } from './catalogue.js';
import { currentCredential } from './credentials.js';
import { ServerError } from './errors.js';
import { ForbiddenError, NotFoundError, type SatchelService } from './service.js';
import type { EventMetadata } from './store/event-store.js';

/** An account as the accounts list shows it. */
export interface AccountSummary {
  readonly accountId: string;
  readonly name: string;
  readonly createdAt: number;
}

/** One event of an account's history, as operators read it (the data upcast to the current schema). */
export interface HistoryEntry {
  readonly version: number;
  readonly eventId: string;
  readonly type: string;
  /** The schema version it was stored with (it is read upcast to the current one). */
  readonly schemaVersion: number;
  /** The instant the event carries (`data.at`). */
  readonly at: number;
  readonly recordedAt: number;
  readonly data: DomainEvent['data'];
  readonly metadata: EventMetadata;
}

/** Which events of a history to return. Every field is optional; instants are epoch ms. */
export interface HistoryFilter {
  readonly types?: readonly string[];
  /** Events of this device: its own, and those of its licences. */
  readonly deviceId?: string;
  readonly licenseId?: string;
  /** Events whose instant (`data.at`) is at or after `from` and before `to`. */
  readonly from?: number;
  readonly to?: number;
  /** Stream version to start after (the `next` of the previous page). */
  readonly after?: number;
  /** Page size (default 100, at most 1000); ignored with `all`. */
  readonly limit?: number;
  /** Every matching event in one answer. */
  readonly all?: boolean;
}

/** Policy fields to set; absent (or undefined) fields keep their value. */
export type PolicyFields = { readonly [K in keyof Policy]?: Policy[K] | undefined };

/** A title's fields an operator may change; absent fields keep their value. */
export interface TitleChange {
  readonly name?: string;
  readonly policy?: PolicyFields;
  /** The studio that owns the title, for its accounting. */
  readonly studio?: string;
}

const defined = (fields: PolicyFields | undefined): Partial<Policy> =>
  Object.fromEntries(Object.entries(fields ?? {}).filter(([, v]) => v !== undefined));

/** An invalid operator request (a policy that does not validate, an empty change). Wire code `VALIDATION_FAILED`. */
export class AdminRequestError extends ServerError {
  constructor(message: string) {
    super('VALIDATION_FAILED', message);
    this.name = 'SatchelAdminRequestError';
  }
}

const toEntry = (
  e: {
    streamVersion: number;
    eventId: string;
    type: string;
    schemaVersion: number;
    recordedAt: number;
    metadata: EventMetadata;
  },
  event: DomainEvent,
): HistoryEntry => ({
  version: e.streamVersion,
  eventId: e.eventId,
  type: event.type,
  schemaVersion: e.schemaVersion,
  at: event.data.at,
  recordedAt: e.recordedAt,
  data: event.data,
  metadata: e.metadata,
});

/** A history entry as core's explanation and the timeline read it. */
export const toRecordedEvent = (e: HistoryEntry): RecordedEvent => ({
  event: { type: e.type, data: e.data } as DomainEvent,
  eventId: e.eventId,
  version: e.version,
  recordedAt: e.recordedAt,
  deviceId: e.metadata.deviceId ?? null,
});

/**
 * What operators do (docs/operations.md, "Operator tasks"): the catalogue with versioned policies,
 * accounts and plans, devices, histories and the state of an account at any instant with its reasons.
 * Every change goes through the same service and domain rules as the devices' requests.
 */
export class AdminService {
  constructor(private readonly service: SatchelService) {}

  /** The server clock (epoch ms). */
  now(): number {
    return this.service.now();
  }

  /** Creates (or finds) an account (the service's `createAccount`). */
  createAccount(accountId: string, name: string, plan?: Plan): Promise<{ created: boolean }> {
    return this.service.createAccount(accountId, name, plan);
  }

  /** The account's devices. Throws {@link NotFoundError} for an unknown account. */
  async devices(accountId: string): Promise<DeviceView[]> {
    await this.summary(accountId);
    return this.service.devices(accountId);
  }

  /**
   * The credential generation a new token of the device must carry: its current one. Throws
   * {@link NotFoundError} for an unknown account or device, and `ForbiddenError` (`DEVICE_DEACTIVATED`)
   * for a deactivated device, whose tokens are all refused.
   */
  async deviceGeneration(accountId: string, deviceId: string): Promise<number> {
    await this.summary(accountId);
    const credential = await currentCredential(this.service.accounts.db, accountId, deviceId);
    if (!credential) throw new NotFoundError('No such device');
    if (credential.revoked) throw new ForbiddenError('DEVICE_DEACTIVATED', 'This device was deactivated');
    return credential.generation;
  }

  /** Deactivates a device (its licences are revoked). Throws {@link NotFoundError}. */
  async deactivateDevice(accountId: string, deviceId: string): Promise<DeviceView[]> {
    await this.summary(accountId);
    return this.service.deactivateDevice(accountId, deviceId);
  }

  /** Every title with its current policy version. */
  async titles(): Promise<CatalogueTitle[]> {
    this.service.catalogue.invalidate();
    return [...(await this.service.catalogue.titles()).values()];
  }

  /**
   * Creates a title (policy fields not given take the defaults) or, when it exists, writes its name and
   * policy as a new version. Licences issued before keep their policy. Throws {@link AdminRequestError}
   * for an invalid policy. Resolves once durable.
   */
  async putTitle(
    title: { titleId: string; name: string; policy?: PolicyFields; studio?: string },
    by: string,
  ): Promise<{ title: CatalogueTitle; created: boolean }> {
    const existing = await this.service.catalogue.fresh(title.titleId);
    const base = existing?.policy ?? DEFAULT_POLICY;
    const policy = this.validPolicy({ ...base, ...defined(title.policy) });
    const studio = title.studio === undefined ? {} : { studio: title.studio };
    await this.service.catalogue.put([{ titleId: title.titleId, name: title.name, policy, ...studio }], {
      replace: true,
      changedBy: by,
    });
    const written = await this.service.catalogue.fresh(title.titleId);
    if (written === null) throw new ServerError('INTERNAL', 'The title was not written');
    return { title: written, created: existing === null };
  }

  /**
   * Changes a title's name or policy fields as a new version. Throws {@link NotFoundError} for an
   * unknown title, {@link AdminRequestError} for an invalid or empty change.
   */
  async updateTitle(titleId: string, change: TitleChange, by: string): Promise<CatalogueTitle> {
    const existing = await this.service.catalogue.fresh(titleId);
    if (existing === null) throw new NotFoundError(`No title ${titleId}`);
    if (
      change.name === undefined &&
      change.studio === undefined &&
      (change.policy === undefined || Object.keys(change.policy).length === 0)
    ) {
      throw new AdminRequestError('Nothing to change: give a name, a studio or policy fields');
    }
    const { title } = await this.putTitle(
      {
        titleId,
        name: change.name ?? existing.name,
        policy: { ...existing.policy, ...defined(change.policy) },
        ...(change.studio === undefined ? {} : { studio: change.studio }),
      },
      by,
    );
    return title;
  }

  /** Every version of a title's policy. Throws {@link NotFoundError} for an unknown title. */
  async titleVersions(titleId: string): Promise<PolicyVersion[]> {
    const versions = await this.service.catalogue.versions(titleId);
    if (versions.length === 0) throw new NotFoundError(`No title ${titleId}`);
    return versions;
  }

  /**
   * Withdraws a title now or at `at` (the service's `withdrawTitle`); the new policy version records
   * `by` (the operator's id) as its author.
   */
  withdraw(
    titleId: string,
    at: number | undefined,
    by: string,
  ): Promise<{ accounts: number; revoked: number }> {
    return this.service.withdrawTitle(titleId, at, { changedBy: by });
  }

  /**
   * Accounts whose id or name contains `query` (case-insensitive; every account without one), by id,
   * `limit` (default 50, at most 500) after the id `after`. `next` is the id to pass as `after` for the
   * next page, or null at the end.
   */
  async accounts(
    options: { query?: string; limit?: number; after?: string } = {},
  ): Promise<{ accounts: AccountSummary[]; next: string | null }> {
    const limit = Math.min(Math.max(options.limit ?? 50, 1), 500);
    const pattern = `%${(options.query ?? '').replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    const rows = await this.service.accounts.db.query<{
      account_id: string;
      name: string;
      created_at: Date | string;
    }>(
      `SELECT account_id, name, created_at FROM accounts
       WHERE (account_id ILIKE $1 OR name ILIKE $1) AND account_id > $2
       ORDER BY account_id LIMIT $3`,
      [pattern, options.after ?? '', limit + 1],
    );
    const page = rows.slice(0, limit).map((r) => ({
      accountId: r.account_id,
      name: r.name,
      createdAt: new Date(r.created_at).getTime(),
    }));
    return { accounts: page, next: rows.length > limit ? (page.at(-1)?.accountId ?? null) : null };
  }

  /** One account now: its name, plan, devices and licences. Throws {@link NotFoundError}. */
  async account(accountId: string): Promise<{
    accountId: string;
    name: string;
    createdAt: number;
    plan: Plan;
    version: number;
    devices: DeviceView[];
    licenses: LicenseView[];
  }> {
    const summary = await this.summary(accountId);
    const { state } = await this.service.accounts.load(accountId);
    const now = this.service.now();
    return {
      ...summary,
      plan: state.plan,
      version: state.version,
      devices: await this.service.devices(accountId),
      licenses: Object.values(state.licenses)
        .sort((a, b) => a.firstIssuedAt - b.firstIssuedAt || (a.licenseId < b.licenseId ? -1 : 1))
        .map((l) => licenseView(l, now)),
    };
  }

  /**
   * Changes an account's plan. A downgrade that leaves too many devices or downloads revokes the excess
   * with `LIMIT_CONFLICT` (core's R11). Resolves with the revoked licence ids once durable. Throws
   * {@link NotFoundError} for an unknown account.
   */
  async changePlan(accountId: string, plan: Plan): Promise<{ plan: Plan; revoked: string[] }> {
    await this.summary(accountId);
    const now = this.service.now();
    return this.service.accounts.execute(accountId, async (unit) => {
      const expired = decide(unit.state, { type: 'ExpireLicenses', now });
      if (expired.ok) unit.emit(expired.events);
      const d = decide(unit.state, { type: 'ChangePlan', plan, now });
      if (!d.ok) throw new NotFoundError(d.rejection.message);
      unit.emit(d.events);
      return {
        plan,
        revoked: d.events.flatMap((e) => (e.type === 'LicenseRevoked' ? [e.data.licenseId] : [])),
      };
    });
  }

  /**
   * An account's history, oldest first, filtered and paged by stream version. Throws
   * {@link NotFoundError} for an unknown account.
   */
  async history(
    accountId: string,
    filter: HistoryFilter = {},
  ): Promise<{ events: HistoryEntry[]; next: number | null }> {
    await this.summary(accountId);
    const all = await this.service.accounts.history(accountId);
    const deviceOf = new Map<string, string>();
    for (const { event } of all)
      if (event.type === 'LicenseIssued') deviceOf.set(event.data.licenseId, event.data.deviceId);
    const types = filter.types && filter.types.length > 0 ? new Set(filter.types) : null;
    const matching = all.filter(({ stored, event }) => {
      if (stored.streamVersion <= (filter.after ?? 0)) return false;
      if (types && !types.has(event.type)) return false;
      const data = event.data as { licenseId?: string; deviceId?: string };
      if (filter.licenseId !== undefined && data.licenseId !== filter.licenseId) return false;
      if (filter.deviceId !== undefined) {
        const device =
          data.deviceId ??
          (data.licenseId ? deviceOf.get(data.licenseId) : undefined) ??
          stored.metadata.deviceId;
        if (device !== filter.deviceId) return false;
      }
      if (filter.from !== undefined && event.data.at < filter.from) return false;
      if (filter.to !== undefined && event.data.at >= filter.to) return false;
      return true;
    });
    const limit = filter.all ? matching.length : Math.min(Math.max(filter.limit ?? 100, 1), 1000);
    const page = matching.slice(0, limit);
    return {
      events: page.map(({ stored, event }) => toEntry(stored, event)),
      next: matching.length > limit ? (page.at(-1)?.stored.streamVersion ?? null) : null,
    };
  }

  /**
   * The account at instant `at` with the reasons (core's `explainAccount`: the same fold and rules as
   * the server). Before the account existed, `exists` is false and nothing else is filled. Throws
   * {@link NotFoundError} for an account the server does not know.
   */
  async stateAt(
    accountId: string,
    at: number,
    basis: ExplainBasis = 'occurred',
  ): Promise<AccountExplanation> {
    await this.summary(accountId);
    const [history, cursors, titles] = await Promise.all([
      this.history(accountId, { all: true }),
      this.service.accounts.store.deviceCursors(this.service.accounts.db, accountId),
      this.service.catalogue.titles(),
    ]);
    const lastSyncs: Record<string, number> = {};
    for (const c of cursors) if (c.lastSyncAt !== null) lastSyncs[c.deviceId] = c.lastSyncAt;
    const policies = new Map(
      [...titles.values()]
        .filter((t) => t.policy.maxDownloadsPerYear !== null)
        .map((t) => [t.titleId, t.policy] as const),
    );
    return explainAccount(accountId, history.events.map(toRecordedEvent), at, { basis, lastSyncs, policies });
  }

  /** The server's latest sync per device of the account (epoch ms). */
  async lastSyncs(accountId: string): Promise<Record<string, number>> {
    const cursors = await this.service.accounts.store.deviceCursors(this.service.accounts.db, accountId);
    const out: Record<string, number> = {};
    for (const c of cursors) if (c.lastSyncAt !== null) out[c.deviceId] = c.lastSyncAt;
    return out;
  }

  private async summary(accountId: string): Promise<AccountSummary> {
    const rows = await this.service.accounts.db.query<{
      account_id: string;
      name: string;
      created_at: Date | string;
    }>('SELECT account_id, name, created_at FROM accounts WHERE account_id = $1', [accountId]);
    const row = rows[0];
    if (row === undefined) throw new NotFoundError(`No account ${accountId}`);
    return { accountId: row.account_id, name: row.name, createdAt: new Date(row.created_at).getTime() };
  }

  private validPolicy(candidate: unknown): Policy {
    const parsed = PolicySchema.safeParse(candidate);
    if (!parsed.success) {
      throw new AdminRequestError(
        `Invalid policy: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
      );
    }
    return parsed.data;
  }
}
