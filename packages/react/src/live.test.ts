import type { LicenseState, PlaybackResult, SatchelChange, SatchelClient } from '@satchel/sdk';
import { createElement } from 'react';
import { renderToString } from 'react-dom/server';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { SatchelProvider, useSatchel } from './context.js';
import { LiveQuery, nextDecisionChangeIn } from './live.js';

function fakeClient() {
  const listeners = new Set<(change: SatchelChange) => void>();
  const client = {
    subscribe(listener: (change: SatchelChange) => void) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  } as unknown as SatchelClient;
  const emit = (type: SatchelChange['type']) => {
    for (const l of listeners) l({ type, source: 'local' });
  };
  return { client, emit, listeners };
}

/** Lets the promise chain of a read finish without moving the fake clock. */
const settle = async () => {
  for (let i = 0; i < 10; i++) await Promise.resolve();
};

const allowed = (timeLeftMs: number) =>
  ({ playback: { allowed: true, timeLeftMs } as PlaybackResult }) as LicenseState;
const refused = () => ({ playback: { allowed: false } as PlaybackResult }) as LicenseState;

describe('nextDecisionChangeIn', () => {
  it('is the soonest expiry among the playable licences, just past it', () => {
    expect(nextDecisionChangeIn([allowed(5_000), refused(), allowed(2_000)])).toBe(2_001);
  });
  it('is null when nothing can change by time alone', () => {
    expect(nextDecisionChangeIn([refused()])).toBeNull();
    expect(nextDecisionChangeIn([])).toBeNull();
  });
});

describe('LiveQuery', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('reads when first subscribed, again after a relevant change, never after an unrelated one', async () => {
    const { client, emit } = fakeClient();
    let n = 0;
    const q = new LiveQuery(client, { read: async () => ++n, initial: 0, on: ['licenses'] });
    expect(q.getSnapshot()).toMatchObject({ data: 0, isLoading: true });
    const off = q.subscribe(() => {});
    await vi.waitFor(() => expect(q.getSnapshot()).toMatchObject({ data: 1, isLoading: false }));
    emit('outbox');
    emit('licenses');
    await vi.waitFor(() => expect(q.getSnapshot().data).toBe(2));
    await Promise.resolve();
    expect(n).toBe(2);
    off();
  });

  it('coalesces changes that arrive during a read into one more read', async () => {
    const { client, emit } = fakeClient();
    const pending: Array<() => void> = [];
    let n = 0;
    const q = new LiveQuery(client, {
      read: () =>
        new Promise<number>((resolve) => {
          const value = ++n;
          pending.push(() => resolve(value));
        }),
      initial: 0,
      on: ['licenses'],
    });
    q.subscribe(() => {});
    emit('licenses');
    emit('licenses');
    emit('licenses');
    expect(pending).toHaveLength(1);
    pending.shift()?.();
    await vi.waitFor(() => expect(pending).toHaveLength(1));
    pending.shift()?.();
    await vi.waitFor(() => expect(q.getSnapshot()).toMatchObject({ data: 2, isFetching: false }));
    expect(n).toBe(2);
  });

  it('keeps the last good value when a read fails, and clears the error on the next success', async () => {
    const { client, emit } = fakeClient();
    let fail = false;
    const q = new LiveQuery(client, {
      read: async () => {
        if (fail) throw new Error('storage closed');
        return 'ok';
      },
      initial: '',
      on: ['status'],
    });
    q.subscribe(() => {});
    await vi.waitFor(() => expect(q.getSnapshot().data).toBe('ok'));
    fail = true;
    emit('status');
    await vi.waitFor(() => expect(q.getSnapshot().error?.message).toBe('storage closed'));
    expect(q.getSnapshot().data).toBe('ok');
    fail = false;
    emit('status');
    await vi.waitFor(() => expect(q.getSnapshot().error).toBeNull());
  });

  it('reads again at the instant the value changes by itself, capped to what setTimeout honours', async () => {
    const { client } = fakeClient();
    let n = 0;
    const q = new LiveQuery(client, {
      read: async () => ++n,
      initial: 0,
      on: [],
      changesIn: (value) => (value === 1 ? 60_000 : value === 2 ? 40 * 86_400_000 : null),
    });
    const off = q.subscribe(() => {});
    await settle();
    expect(q.getSnapshot().data).toBe(1);
    await vi.advanceTimersByTimeAsync(59_999);
    expect(n).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    await settle();
    expect(q.getSnapshot().data).toBe(2);
    // Forty days away: re-armed at the 2^31 − 1 ms limit instead of firing at once.
    await vi.advanceTimersByTimeAsync(1000);
    expect(n).toBe(2);
    await vi.advanceTimersByTimeAsync(2_147_483_647);
    await settle();
    expect(n).toBe(3);
    off();
    expect(vi.getTimerCount()).toBe(0);
  });

  it('stops listening when the last subscriber leaves', async () => {
    const { client, listeners } = fakeClient();
    const q = new LiveQuery(client, { read: async () => 1, initial: 0, on: ['licenses'] });
    const a = q.subscribe(() => {});
    const b = q.subscribe(() => {});
    expect(listeners.size).toBe(1);
    a();
    expect(listeners.size).toBe(1);
    b();
    expect(listeners.size).toBe(0);
  });
});

function Probe() {
  return createElement('span', null, typeof useSatchel().subscribe);
}

describe('useSatchel', () => {
  it('returns the provider’s client', () => {
    const html = renderToString(
      createElement(SatchelProvider, { client: fakeClient().client }, createElement(Probe)),
    );
    expect(html).toContain('function');
  });
  it('throws a readable error without a provider', () => {
    expect(() => renderToString(createElement(Probe))).toThrow(/SatchelProvider/);
  });
});
