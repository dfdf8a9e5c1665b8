import { AsyncLocalStorage } from 'node:async_hooks';
import type { AccountState, Plan, RecordedEvent } from '@satchel/core';
import type { LicenseSnapshot } from '@satchel/protocol';
import type { SatchelServer, Title } from '@satchel/server';

/** The request header carrying the simulation's virtual time (epoch ms); honoured only by the harness. */
export const VIRTUAL_TIME_HEADER = 'x-satchel-virtual-time';
/** The header authorising the harness's operator routes. */
export const HARNESS_SECRET_HEADER = 'x-satchel-harness-secret';

/** What the operator routes report about one account, read through the server package's store API. */
export interface AccountAudit {
  readonly accountId: string;
  readonly state: AccountState;
  readonly cursors: Array<{ deviceId: string; lastSeq: number }>;
  /** Receipts of every device event the server acknowledged, by device and seq. */
  readonly receipts: Array<{
    deviceId: string;
    seq: number;
    eventId: string;
    status: string;
    code: string | null;
  }>;
  /** How many stream events each (device, seq) produced: more than one is a duplicate applied. */
  readonly applied: Array<{ deviceId: string; seq: number; eventId: string; count: number }>;
  /**
   * The account's stream, for the report's timelines. `recordedAt` is the event's own (virtual) instant:
   * the database's clock is the wall clock, not the simulation's.
   */
  readonly history: RecordedEvent[];
}

/** A clock whose reading is the virtual time of the request being served. */
export class VirtualClock {
  readonly #store = new AsyncLocalStorage<number>();
  #last: number;

  constructor(start: number) {
    this.#last = start;
  }

  readonly now = (): number => this.#store.getStore() ?? this.#last;

  run<T>(at: number | null, fn: () => T): T {
    if (at === null || !Number.isFinite(at)) return fn();
    this.#last = Math.max(this.#last, at);
    return this.#store.run(at, fn);
  }
}

const json = (body: unknown, status = 200): Response =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });

/**
 * Wraps a Satchel server for simulation: every request runs at the virtual time of its
 * {@link VIRTUAL_TIME_HEADER}, and `/__harness/*` adds the operator actions a simulation needs
 * (accounts and enrolment tokens, the catalogue, withdrawing a title, reading an account back).
 * Never expose this outside a test: whoever holds the secret sets the server's clock.
 */
export function harnessFetch(
  server: SatchelServer,
  clock: VirtualClock,
  secret: string,
): (request: Request) => Promise<Response> {
  const { service } = server;

  async function admin(request: Request, path: string): Promise<Response> {
    if (request.headers.get(HARNESS_SECRET_HEADER) !== secret) return json({ error: 'forbidden' }, 403);
    const body = request.method === 'GET' ? null : ((await request.json()) as Record<string, unknown>);
    if (path === 'health') return json({ ok: true, pid: process.pid, db: server.db.kind });
    if (path === 'titles' && body !== null) {
      await service.catalogue.put(body.titles as Title[], { replace: true });
      return json({ ok: true });
    }
    if (path === 'accounts' && body !== null) {
      const tokens: Record<string, string> = {};
      for (const a of body.accounts as Array<{ accountId: string; name: string; plan: Plan }>) {
        await service.createAccount(a.accountId, a.name, a.plan);
        tokens[a.accountId] = (await server.tokens.mint({ kind: 'account', accountId: a.accountId })).token;
      }
      return json({ tokens });
    }
    if (path === 'withdraw' && body !== null) {
      const titleId = String(body.titleId);
      if ((await service.catalogue.get(titleId)) === null) return json({ error: 'no such title' }, 404);
      const { revoked } = await service.withdrawTitle(titleId, Number(body.availableUntil));
      return json({ revoked });
    }
    if (path === 'states' && body !== null) {
      const states: AccountState[] = [];
      for (const accountId of body.accountIds as string[])
        states.push((await service.accountState(accountId)).state);
      return json({ states });
    }
    const audit = /^accounts\/([^/]+)\/audit$/.exec(path);
    if (audit?.[1] !== undefined) return json(await auditOf(decodeURIComponent(audit[1])));
    const snap = /^accounts\/([^/]+)\/snapshot\/([^/]+)$/.exec(path);
    if (snap?.[1] !== undefined && snap[2] !== undefined) {
      const snapshot: LicenseSnapshot = await service.snapshot(
        decodeURIComponent(snap[1]),
        decodeURIComponent(snap[2]),
      );
      return json(snapshot);
    }
    return json({ error: 'no such route' }, 404);
  }

  async function auditOf(accountId: string): Promise<AccountAudit> {
    const { state } = await service.accountState(accountId);
    const cursors = (await service.deviceCursors(accountId)).map((c) => ({
      deviceId: c.deviceId,
      lastSeq: c.lastSeq,
    }));
    const receipts: AccountAudit['receipts'] = [];
    for (const cursor of cursors) {
      const seqs = Array.from({ length: cursor.lastSeq }, (_, i) => i + 1);
      for (const r of await service.deviceReceipts(accountId, cursor.deviceId, seqs)) {
        receipts.push({
          deviceId: r.deviceId,
          seq: r.seq,
          eventId: r.eventId,
          status: r.status,
          code: r.code,
        });
      }
    }
    const counts = new Map<string, { deviceId: string; seq: number; eventId: string; count: number }>();
    const stream = await service.history(accountId);
    const history: RecordedEvent[] = stream.map(({ stored, event }) => ({
      event,
      eventId: stored.eventId,
      version: stored.streamVersion,
      recordedAt: event.data.at,
      deviceId: null,
    }));
    for (const { stored } of stream) {
      const { deviceId, seq } = stored.metadata;
      if (deviceId === undefined || seq === undefined) continue;
      const key = `${deviceId}#${seq}`;
      const entry = counts.get(key) ?? { deviceId, seq, eventId: stored.eventId, count: 0 };
      entry.count += 1;
      counts.set(key, entry);
    }
    return { accountId, state, cursors, receipts, applied: [...counts.values()], history };
  }

  return (request: Request) => {
    const header = request.headers.get(VIRTUAL_TIME_HEADER);
    const at = header === null ? null : Number(header);
    const path = new URL(request.url).pathname;
    return clock.run(at, async () => {
      if (path.startsWith('/__harness/')) {
        try {
          return await admin(request, path.slice('/__harness/'.length));
        } catch (error) {
          return json({ error: error instanceof Error ? error.message : String(error) }, 500);
        }
      }
      return server.app.fetch(request);
    });
  };
}
