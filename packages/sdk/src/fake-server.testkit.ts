import {
  type AccountState,
  type Command,
  DEFAULT_PLAN,
  type DeviceEvent,
  decide,
  decideDeviceEvent,
  deviceSnapshot,
  fold,
  initialState,
  isActive,
  isDeviceEvent,
  policy as makePolicy,
  type Plan,
  type Policy,
} from '@satchel/core';
import { upcast } from '@satchel/core/schemas';
import {
  type EventResult,
  httpStatusFor,
  type LicenseSnapshot,
  MAX_SYNC_BODY_BYTES,
  PROTOCOL_VERSION,
  PROTOCOL_VERSION_HEADER,
  type ProtocolErrorCode,
  protocolError,
} from '@satchel/protocol';
import { LicenseRequest, RebaseRequest, RegisterDeviceRequest, SyncRequest } from '@satchel/protocol/schemas';

/** A fault the fake server applies to the next matching request. */
export type Fault =
  | { kind: 'network' }
  /** Processes the request, then fails as if the connection died before the answer arrived. */
  | { kind: 'drop-response' }
  | { kind: 'error'; code: ProtocolErrorCode; retryAfterMs?: number; retryAfterHeader?: string }
  | { kind: 'protocol-too-old' };

/**
 * An in-memory stand-in for the sync server that speaks the wire protocol faithfully: one account, the
 * domain rules from core, idempotency by (device, seq) and eventId, SEQ_GAP on a gap, per-event results,
 * ackSeq and the authoritative snapshot.
 */
export class FakeServer {
  state: AccountState;
  online = true;
  readonly faults: Fault[] = [];
  readonly requests: Array<{ path: string; events: number }> = [];
  /** How many times each eventId was processed (applied or rejected): must never exceed 1. */
  readonly processed = new Map<string, number>();
  readonly rejected = new Set<string>();
  readonly cursors = new Map<string, number>();
  readonly #tokens = new Map<string, string>();
  readonly #eventSeq = new Map<string, { deviceId: string; seq: number }>();
  #counter = 0;

  constructor(
    public now: () => number,
    readonly accountId = 'account-1',
    plan: Plan = DEFAULT_PLAN,
    readonly catalogue: Map<string, Policy> = new Map(),
  ) {
    this.state = initialState(accountId);
    this.#apply({ type: 'OpenAccount', accountId, plan, now: now() });
  }

  get enrolmentToken(): string {
    return `enrol-${this.accountId}`;
  }

  #apply(command: Command): ReturnType<typeof decide> {
    const decision = decide(this.state, command);
    if (decision.ok) this.state = fold(decision.events, this.state);
    return decision;
  }

  policyFor(titleId: string): Policy {
    return this.catalogue.get(titleId) ?? makePolicy();
  }

  revoke(licenseId: string): void {
    const d = this.#apply({ type: 'RevokeLicense', licenseId, reason: 'ADMIN', now: this.now() });
    if (!d.ok) throw new Error(d.rejection.message);
  }

  deactivate(deviceId: string): void {
    const d = this.#apply({ type: 'DeactivateDevice', deviceId, now: this.now() });
    if (!d.ok) throw new Error(d.rejection.message);
  }

  /**
   * The server is restored from a backup taken when the device's cursor was `cursor`: it forgets every
   * later event of the device (their receipts; the account state is kept, as the test only looks at the
   * device's sequence).
   */
  restoreFromBackup(deviceId: string, cursor: number): void {
    this.cursors.set(deviceId, cursor);
    for (const [eventId, at] of this.#eventSeq) {
      if (at.deviceId === deviceId && at.seq > cursor) this.#eventSeq.delete(eventId);
    }
  }

  /** `DeviceHistoryRebased` records: the ranges the server re-based past. */
  readonly rebased: Array<{ deviceId: string; fromSeq: number; toSeq: number }> = [];

  #rebase(deviceId: string, body: unknown): Response {
    const parsed = RebaseRequest.safeParse(body);
    if (!parsed.success) return error('VALIDATION_FAILED', 'bad body', undefined, {}, []);
    const cursor = this.cursors.get(deviceId) ?? 0;
    const { fromSeq, toSeq } = parsed.data;
    if (cursor < toSeq) {
      if (toSeq < fromSeq || cursor + 1 !== fromSeq) {
        return json(409, {
          error: protocolError('SEQ_GAP', 'gap', {
            details: { expectedSeq: cursor + 1, receivedSeq: fromSeq },
          }),
        });
      }
      this.rebased.push({ deviceId, fromSeq, toSeq });
      this.cursors.set(deviceId, toSeq);
    }
    return json(200, {
      protocolVersion: PROTOCOL_VERSION,
      fromSeq,
      toSeq,
      ackSeq: Math.max(cursor, toSeq),
      serverTime: this.now(),
      snapshot: this.snapshot(deviceId),
    });
  }

  snapshot(deviceId: string): LicenseSnapshot {
    const s = deviceSnapshot(this.state, deviceId, this.now());
    if (s === null) throw new Error(`unknown device ${deviceId}`);
    return s as LicenseSnapshot;
  }

  /** A `fetch` that routes to this server. */
  readonly fetch = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const request = input instanceof Request ? input : new Request(input, init);
    const url = new URL(request.url);
    const text = request.method === 'POST' ? await request.text() : '';
    if (!this.online) throw new TypeError('Failed to fetch');
    if (new TextEncoder().encode(text).length > MAX_SYNC_BODY_BYTES) {
      this.requests.push({ path: url.pathname, events: -1 });
      return error('PAYLOAD_TOO_LARGE', 'too large', undefined, {}, { limitBytes: MAX_SYNC_BODY_BYTES });
    }
    let body: unknown = null;
    try {
      body = text === '' ? null : JSON.parse(text);
    } catch {
      body = null;
    }
    this.requests.push({
      path: url.pathname,
      events: (body as { events?: unknown[] } | null)?.events?.length ?? 0,
    });
    const fault = this.faults.shift();
    if (fault?.kind === 'network') throw new TypeError('Failed to fetch');
    if (fault?.kind === 'error') {
      const headers: Record<string, string> = {};
      if (fault.retryAfterHeader !== undefined) headers['retry-after'] = fault.retryAfterHeader;
      return error(fault.code, 'Injected failure', fault.retryAfterMs, headers);
    }
    if (fault?.kind === 'protocol-too-old') {
      return json(426, {
        error: protocolError('PROTOCOL_VERSION_UNSUPPORTED', 'Update the player', {
          details: {
            minVersion: PROTOCOL_VERSION + 1,
            maxVersion: PROTOCOL_VERSION + 1,
            clientVersion: PROTOCOL_VERSION,
          },
        }),
      });
    }
    if (request.headers.get(PROTOCOL_VERSION_HEADER) !== String(PROTOCOL_VERSION)) {
      return error('PROTOCOL_VERSION_UNSUPPORTED', 'missing version header');
    }
    const token = (request.headers.get('authorization') ?? '').replace(/^Bearer /, '');
    const response = this.#route(url.pathname, token, body);
    if (fault?.kind === 'drop-response') throw new TypeError('network connection was lost');
    return response;
  };

  #route(path: string, token: string, body: unknown): Response {
    if (path.endsWith('/v1/devices')) return this.#register(token, body);
    const deviceId = this.#tokens.get(token);
    if (deviceId === undefined) return error('UNAUTHENTICATED', 'Unknown token');
    if (path.endsWith('/v1/sync')) return this.#sync(deviceId, body);
    if (path.endsWith('/v1/sync/rebase')) return this.#rebase(deviceId, body);
    if (path.endsWith('/v1/licenses')) return this.#license(deviceId, body);
    const renew = /\/v1\/licenses\/([^/]+)\/renew$/.exec(path);
    if (renew?.[1] !== undefined) {
      const from = (body as { fromRenewal?: unknown } | null)?.fromRenewal;
      return this.#renew(deviceId, decodeURIComponent(renew[1]), typeof from === 'number' ? from : undefined);
    }
    return error('NOT_FOUND', path);
  }

  #register(token: string, body: unknown): Response {
    if (token !== this.enrolmentToken) return error('UNAUTHENTICATED', 'Bad enrolment token');
    const parsed = RegisterDeviceRequest.safeParse(body);
    if (!parsed.success) return error('VALIDATION_FAILED', 'bad body', undefined, {}, []);
    const deviceId = parsed.data.deviceId ?? `device-${++this.#counter}`;
    const d = this.#apply({ type: 'RegisterDevice', deviceId, name: parsed.data.name, now: this.now() });
    if (!d.ok && d.rejection.code !== 'DEVICE_ALREADY_REGISTERED')
      return error('FORBIDDEN', d.rejection.message);
    const deviceToken = `token-${deviceId}`;
    this.#tokens.set(deviceToken, deviceId);
    return json(201, {
      deviceId,
      token: deviceToken,
      tokenExpiresAt: this.now() + 365 * 86_400_000,
      snapshot: this.snapshot(deviceId),
    });
  }

  #license(deviceId: string, body: unknown): Response {
    const parsed = LicenseRequest.safeParse(body);
    if (!parsed.success) return error('VALIDATION_FAILED', 'bad body', undefined, {}, []);
    const licenseId =
      parsed.data.licenseId ?? `01890000-0000-7000-8000-${String(++this.#counter).padStart(12, '0')}`;
    const held = this.state.licenses[licenseId];
    if (held?.deviceId === deviceId && held.titleId === parsed.data.titleId && isActive(held, this.now())) {
      return this.#licenseAnswer(deviceId, licenseId, { ok: true, events: [] });
    }
    const d = this.#apply({
      type: 'IssueLicense',
      licenseId,
      deviceId,
      titleId: parsed.data.titleId,
      policy: this.policyFor(parsed.data.titleId),
      now: this.now(),
    });
    return this.#licenseAnswer(deviceId, licenseId, d);
  }

  #renew(deviceId: string, licenseId: string, fromRenewal?: number): Response {
    const held = this.state.licenses[licenseId];
    if (
      fromRenewal !== undefined &&
      held?.deviceId === deviceId &&
      held.renewals > fromRenewal &&
      isActive(held, this.now())
    ) {
      return this.#licenseAnswer(deviceId, licenseId, { ok: true, events: [] });
    }
    return this.#licenseAnswer(
      deviceId,
      licenseId,
      this.#apply({ type: 'RenewLicense', licenseId, deviceId, now: this.now() }),
    );
  }

  #licenseAnswer(deviceId: string, licenseId: string, d: ReturnType<typeof decide>): Response {
    const snapshot = this.snapshot(deviceId);
    if (!d.ok) {
      const { code, message, ...rest } = d.rejection;
      const refusal: Record<string, unknown> = { code, message };
      for (const [k, v] of Object.entries(rest)) if (v !== undefined && v !== null) refusal[k] = v;
      return json(200, { outcome: 'refused', refusal, snapshot });
    }
    const license = snapshot.licenses.find((l) => l.licenseId === licenseId);
    return json(200, { outcome: 'granted', license, snapshot });
  }

  #sync(deviceId: string, body: unknown): Response {
    const parsed = SyncRequest.safeParse(body);
    if (!parsed.success) return error('VALIDATION_FAILED', 'bad body', undefined, {}, []);
    if (parsed.data.deviceId !== deviceId) return error('FORBIDDEN', 'wrong device');
    let cursor = this.cursors.get(deviceId) ?? 0;
    const results: EventResult[] = [];
    for (const envelope of parsed.data.events) {
      if (envelope.seq <= cursor) {
        const seen = this.#eventSeq.get(envelope.eventId);
        results.push(
          seen?.seq === envelope.seq
            ? { status: 'duplicate', seq: envelope.seq, eventId: envelope.eventId }
            : {
                status: 'rejected',
                seq: envelope.seq,
                eventId: envelope.eventId,
                code: 'EVENT_ID_REUSED',
                message: 'seq reused',
              },
        );
        continue;
      }
      if (envelope.seq !== cursor + 1) {
        if (results.length === 0) {
          return json(409, {
            error: protocolError('SEQ_GAP', 'gap', {
              details: { expectedSeq: cursor + 1, receivedSeq: envelope.seq },
            }),
          });
        }
        break;
      }
      this.processed.set(envelope.eventId, (this.processed.get(envelope.eventId) ?? 0) + 1);
      this.#eventSeq.set(envelope.eventId, { deviceId, seq: envelope.seq });
      cursor = envelope.seq;
      let domain: DeviceEvent;
      try {
        const e = upcast({ type: envelope.type, v: envelope.v, data: envelope.data });
        if (!isDeviceEvent(e)) throw new Error('not a device event');
        domain = e;
      } catch (e) {
        this.rejected.add(envelope.eventId);
        results.push({
          status: 'rejected',
          seq: envelope.seq,
          eventId: envelope.eventId,
          code: 'INVALID_EVENT',
          message: String(e),
        });
        continue;
      }
      const d = decideDeviceEvent(this.state, domain, { deviceId, receivedAt: this.now() });
      if (d.ok) {
        this.state = fold(d.events, this.state);
        results.push({ status: 'accepted', seq: envelope.seq, eventId: envelope.eventId });
      } else {
        this.rejected.add(envelope.eventId);
        results.push({
          status: 'rejected',
          seq: envelope.seq,
          eventId: envelope.eventId,
          code: d.rejection.code,
          message: d.rejection.message,
        });
      }
    }
    this.cursors.set(deviceId, cursor);
    return json(200, {
      protocolVersion: PROTOCOL_VERSION,
      results,
      ackSeq: cursor,
      serverTime: this.now(),
      snapshot: this.snapshot(deviceId),
    });
  }
}

function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'content-type': 'application/json', ...headers },
  });
}

function error(
  code: ProtocolErrorCode,
  message: string,
  retryAfterMs?: number,
  headers: Record<string, string> = {},
  details?: unknown,
): Response {
  const body: Record<string, unknown> = { code, message };
  if (retryAfterMs !== undefined) body.retryAfterMs = retryAfterMs;
  if (details !== undefined) body.details = details;
  return json(httpStatusFor(code), { error: body }, headers);
}

/** A wall clock the test moves by hand, with a monotonic timer that follows real elapsed virtual time. */
export class VirtualClock {
  #wall: number;
  #mono = 0;
  constructor(start: number) {
    this.#wall = start;
  }
  now = (): number => this.#wall;
  monotonicNow = (): number => this.#mono;
  /** Time passes: wall and monotonic clocks advance together. */
  advance(ms: number): void {
    this.#wall += ms;
    this.#mono += ms;
  }
  /** The member sets the wall clock (only the wall clock moves). */
  set(wall: number): void {
    this.#wall = wall;
  }
}

/**
 * An in-memory Web Locks implementation (exclusive mode, `signal` and `steal`) shared by the clients of
 * one test. A steal grants the lock at once and rejects the previous holder's request with `AbortError`,
 * as browsers do.
 */
export class FakeLocks {
  readonly #queues = new Map<string, Array<{ run: () => void; drop: () => void }>>();
  readonly #holders = new Map<string, { reject: (error: unknown) => void; token: object }>();

  request<T>(
    name: string,
    options: { mode?: 'exclusive' | 'shared'; ifAvailable?: boolean; signal?: AbortSignal; steal?: boolean },
    callback: (lock: unknown) => Promise<T> | T,
  ): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const token = {};
      const release = () => {
        if (this.#holders.get(name)?.token !== token) return;
        this.#holders.delete(name);
        const queue = this.#queues.get(name) ?? [];
        const next = queue.shift();
        next?.run();
      };
      const entry = {
        run: () => {
          this.#holders.set(name, { reject, token });
          Promise.resolve()
            .then(() => callback({ name }))
            .then(resolve, reject)
            .finally(release);
        },
        drop: () => {},
      };
      if (options.steal === true) {
        const holder = this.#holders.get(name);
        if (holder !== undefined) {
          this.#holders.delete(name);
          holder.reject(new DOMException('The lock was stolen', 'AbortError'));
        }
        entry.run();
        return;
      }
      if (!this.#holders.has(name)) {
        entry.run();
        return;
      }
      const queue = this.#queues.get(name) ?? [];
      this.#queues.set(name, queue);
      queue.push(entry);
      options.signal?.addEventListener('abort', () => {
        const i = queue.indexOf(entry);
        if (i >= 0) {
          queue.splice(i, 1);
          reject(new DOMException('The request was aborted', 'AbortError'));
        }
      });
    });
  }
}
