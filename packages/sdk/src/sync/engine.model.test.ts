import 'fake-indexeddb/auto';
import { policy } from '@satchel/core';
import * as fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createSatchel, type SatchelClient } from '../client.js';
import { FakeLocks, FakeServer } from '../fake-server.testkit.js';
import { idbStorage } from '../storage/idb.js';
import { T0 } from '../testkit.js';
import { MAX_REQUESTS_PER_MINUTE } from './budget.js';
import type { SatchelTimers } from './loop.js';

// A model-based test of the sync engine: background sync on, a virtual clock driving every timer, and
// random interleavings of records, explicit syncs and server answers (success, 4xx — a 429 with its hint in
// the body or only in Retry-After —, 5xx with any hint,
// a stalled body, a restore from backup, a 401, a frozen tab holding the sync lock). It checks: no event
// is lost (each is on the server — applied or acknowledged as rejected — or still pending), every pending
// event is acknowledged within ACK_BOUND_MS once the faults stop, and no 60-second window ever holds more
// than MAX_REQUESTS_PER_MINUTE requests.

/** Once faults stop: the longest clamped hint (1 h) plus the push delay and a run. */
const ACK_BOUND_MS = 70 * 60_000;
const NUM_RUNS = 150;

class VirtualTimers implements SatchelTimers {
  #now = 0;
  #seq = 0;
  readonly #queue = new Map<number, { at: number; fn: () => void }>();
  now = (): number => this.#now;
  setTimeout = (fn: () => void, ms: number): unknown => {
    const id = ++this.#seq;
    this.#queue.set(id, { at: this.#now + Math.max(0, ms), fn });
    return id;
  };
  clearTimeout = (handle: unknown): void => {
    this.#queue.delete(handle as number);
  };
  /** Moves time forward by `ms`, running each timer due on the way and letting its work settle. */
  async advance(ms: number): Promise<void> {
    const target = this.#now + ms;
    for (;;) {
      await settle();
      let next: [number, { at: number; fn: () => void }] | undefined;
      for (const entry of this.#queue) if (next === undefined || entry[1].at < next[1].at) next = entry;
      if (next === undefined || next[1].at > target) break;
      this.#queue.delete(next[0]);
      this.#now = Math.max(this.#now, next[1].at);
      next[1].fn();
    }
    this.#now = target;
    await settle();
  }
}

async function settle(): Promise<void> {
  for (let i = 0; i < 30; i++) await new Promise((resolve) => setImmediate(resolve));
}

type Answer =
  | { kind: 'ok' }
  | { kind: '4xx'; code: 'VALIDATION_FAILED' | 'NOT_FOUND' | 'RATE_LIMITED'; retryAfterHeader?: string }
  | { kind: '5xx'; retryAfterMs?: number; retryAfterHeader?: string }
  | { kind: 'stall' }
  | { kind: '401' };

type Step =
  | { kind: 'record'; count: number }
  | { kind: 'sync' }
  | { kind: 'answer'; answer: Answer; times: number }
  | { kind: 'restore' }
  | { kind: 'freeze'; ms: number }
  | { kind: 'wait'; ms: number };

const hintMs = fc.constantFrom(0, 1, 500, 2000, 60_000, 3_000_000_000, 9_007_199_254_740_991);
const hintHeader = fc.constantFrom('0', '2', '3000000', '-1', 'soon', 'Wed, 21 Oct 2099 07:28:00 GMT');
const answer: fc.Arbitrary<Answer> = fc.oneof(
  fc.constant({ kind: 'ok' as const }),
  fc.record(
    {
      kind: fc.constant('4xx' as const),
      code: fc.constantFrom('VALIDATION_FAILED', 'NOT_FOUND', 'RATE_LIMITED'),
      retryAfterHeader: hintHeader,
    },
    { requiredKeys: ['kind', 'code'] },
  ),
  fc.record(
    { kind: fc.constant('5xx' as const), retryAfterMs: hintMs, retryAfterHeader: hintHeader },
    { requiredKeys: ['kind'] },
  ),
  fc.constant({ kind: 'stall' as const }),
  fc.constant({ kind: '401' as const }),
);
const step: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ kind: fc.constant('record' as const), count: fc.integer({ min: 1, max: 5 }) }),
  fc.constant({ kind: 'sync' as const }),
  fc.record({ kind: fc.constant('answer' as const), answer, times: fc.integer({ min: 1, max: 200 }) }),
  fc.constant({ kind: 'restore' as const }),
  fc.record({ kind: fc.constant('freeze' as const), ms: fc.integer({ min: 1000, max: 120_000 }) }),
  fc.record({ kind: fc.constant('wait' as const), ms: fc.integer({ min: 0, max: 600_000 }) }),
);

let run = 0;

describe('sync engine, model-based', () => {
  it(`under random records, syncs and answers (success, 4xx, 5xx with any hint, stall, restore, 401, frozen tab): nothing lost, acknowledged within ${ACK_BOUND_MS / 60_000} min once faults stop, at most ${MAX_REQUESTS_PER_MINUTE} requests a minute (numRuns ${NUM_RUNS})`, async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 30 }), async (steps) => {
        const timers = new VirtualTimers();
        const clock = { now: () => T0 + timers.now(), monotonicNow: () => timers.now() };
        const server = new FakeServer(clock.now, 'account-1', undefined, new Map([['film', policy()]]));
        const name = `model-${++run}`;
        const locks = new FakeLocks();
        let mode: { answer: Answer; left: number } | null = null;
        const requestTimes: number[] = [];
        const fetch: typeof globalThis.fetch = async (input, init) => {
          const request = new Request(input, init);
          requestTimes.push(timers.now());
          const current = mode;
          if (current === null || current.answer.kind === 'ok' || !request.url.includes('/v1/sync')) {
            return server.fetch(request);
          }
          current.left -= 1;
          if (current.left <= 0) mode = null;
          const a = current.answer;
          if (a.kind === 'stall') {
            const body = new ReadableStream<Uint8Array>({
              start(c) {
                c.enqueue(new TextEncoder().encode('{"protocolVersion":1,'));
              },
            });
            return new Response(body, { status: 200, headers: { 'content-type': 'application/json' } });
          }
          const errorOf = (status: number, code: string, extra: Record<string, unknown> = {}, headers = {}) =>
            new Response(JSON.stringify({ error: { code, message: 'injected', ...extra } }), {
              status,
              headers: { 'content-type': 'application/json', ...headers },
            });
          if (a.kind === '401') return errorOf(401, 'TOKEN_EXPIRED');
          if (a.kind === '4xx') {
            const status = a.code === 'VALIDATION_FAILED' ? 400 : a.code === 'NOT_FOUND' ? 404 : 429;
            // A 429 says when to come back in its body or, as a quota answer may, only in Retry-After.
            if (a.code === 'RATE_LIMITED' && a.retryAfterHeader !== undefined)
              return errorOf(status, a.code, {}, { 'retry-after': a.retryAfterHeader });
            return errorOf(status, a.code, a.code === 'RATE_LIMITED' ? { retryAfterMs: 2000 } : {});
          }
          return errorOf(
            503,
            'UNAVAILABLE',
            a.retryAfterMs === undefined ? {} : { retryAfterMs: a.retryAfterMs },
            a.retryAfterHeader === undefined ? {} : { 'retry-after': a.retryAfterHeader },
          );
        };
        let client: SatchelClient | null = null;
        const recorded: string[] = [];
        const frozen: { release: (() => void) | null } = { release: null };
        try {
          const registrar = createSatchel({
            baseUrl: 'https://sync.test/',
            fetch: server.fetch,
            clock,
            timers,
            storage: idbStorage({ name }),
            autoSync: false,
            locks: null,
            tabGroup: `${name}-r`,
          });
          const registering = registrar.register(server.enrolmentToken, { name: 'model' });
          await timers.advance(0);
          const { deviceId } = await registering;
          const granting = registrar.requestDownload('film');
          await timers.advance(0);
          const grant = await granting;
          if (!grant.ok) throw new Error('no licence');
          const licenseId = grant.license.licenseId;
          await registrar.close();
          client = createSatchel({
            baseUrl: 'https://sync.test/',
            fetch,
            clock,
            timers,
            storage: idbStorage({ name }),
            autoSync: true,
            locks,
            tabGroup: name,
            getToken: () => `token-${deviceId}`,
          });
          await timers.advance(0);
          let position = 0;
          for (const s of steps) {
            switch (s.kind) {
              case 'record':
                for (let i = 0; i < s.count; i++) {
                  const recording = client.stopPlayback(licenseId, ++position);
                  await timers.advance(0);
                  await recording;
                  recorded.push(String(position));
                }
                break;
              case 'sync':
                client.sync().catch(() => undefined);
                await timers.advance(0);
                break;
              case 'answer':
                mode = { answer: s.answer, left: s.times };
                break;
              case 'restore': {
                const cursor = server.cursors.get(deviceId) ?? 0;
                server.restoreFromBackup(deviceId, Math.floor(cursor / 2));
                break;
              }
              case 'freeze':
                // Another tab takes the sync lock and freezes (answers no heartbeat) for a while.
                frozen.release?.();
                locks
                  .request(`satchel:${name}:sync`, {}, () => {
                    return new Promise<void>((release) => {
                      frozen.release = release;
                      timers.setTimeout(release, s.ms);
                    });
                  })
                  .catch(() => undefined);
                await timers.advance(0);
                break;
              case 'wait':
                await timers.advance(s.ms);
                break;
            }
          }
          // The faults stop.
          mode = null;
          frozen.release?.();
          const stopped = timers.now();
          const done = async () =>
            (await client?.status())?.pendingEvents === 0 &&
            (server.cursors.get(deviceId) ?? 0) === recorded.length;
          for (let t = 0; t < ACK_BOUND_MS && !(await done()); t += 60_000) await timers.advance(60_000);
          const status = await client.status();
          expect(status.pendingEvents, `pending ${ACK_BOUND_MS / 60_000} min after the faults stopped`).toBe(
            0,
          );
          expect(timers.now() - stopped).toBeLessThanOrEqual(ACK_BOUND_MS);
          // Nothing lost: every recorded position reached the server (applied or acknowledged as rejected).
          const cursor = server.cursors.get(deviceId) ?? 0;
          expect(cursor).toBe(recorded.length);
          // The request rate, over every 60-second window.
          for (let i = 0; i < requestTimes.length; i++) {
            const start = requestTimes[i] ?? 0;
            let n = 0;
            for (let j = i; j < requestTimes.length && (requestTimes[j] ?? 0) < start + 60_000; j++) n++;
            expect(n, `requests in the minute from ${start} ms`).toBeLessThanOrEqual(MAX_REQUESTS_PER_MINUTE);
          }
        } finally {
          frozen.release?.();
          const closing = client?.close();
          await timers.advance(60_000);
          await closing;
        }
      }),
      { numRuns: NUM_RUNS },
    );
  }, 600_000);
});
