import { describe, expect, it } from 'vitest';
import { DeviceGate } from './device-gate.js';
import { HttpError } from './http-error.js';

describe('DeviceGate', () => {
  it('given a device with a request running, when another arrives, then it runs once the first releases', async () => {
    const gate = new DeviceGate({ maxWaiting: 1, waitMs: 1_000 });
    const order: string[] = [];
    const first = await gate.enter('d1');
    const second = gate.enter('d1').then((release) => {
      order.push('second');
      release();
    });
    order.push('first');
    first();
    await second;
    expect(order).toEqual(['first', 'second']);
    expect(gate.size).toBe(0);
  });

  it('given the queue full, when one more arrives, then it is refused at once with 429 and a retry hint', async () => {
    const gate = new DeviceGate({ maxWaiting: 1, waitMs: 1_000 });
    const running = await gate.enter('d1');
    const waiting = gate.enter('d1');
    const refused = await gate.enter('d1').then(
      () => null,
      (e: unknown) => e,
    );
    expect(refused).toBeInstanceOf(HttpError);
    expect((refused as HttpError).status).toBe(429);
    expect((refused as HttpError).body.code).toBe('RATE_LIMITED');
    expect(Number((refused as HttpError).headers['retry-after'])).toBeGreaterThanOrEqual(1);
    running();
    (await waiting)();
    expect(gate.size).toBe(0);
  });

  it('given a request waiting longer than waitMs, when the time passes, then it is refused and leaves the queue', async () => {
    const gate = new DeviceGate({ maxWaiting: 1, waitMs: 50 });
    const running = await gate.enter('d1');
    const late = await gate.enter('d1').then(
      () => null,
      (e: unknown) => e,
    );
    expect((late as HttpError).status).toBe(429);
    running();
    expect(gate.size).toBe(0);
  });

  it('given two devices, when both sync, then neither waits for the other', async () => {
    const gate = new DeviceGate({ maxWaiting: 0 });
    const a = await gate.enter('a');
    const b = await gate.enter('b');
    expect(gate.size).toBe(2);
    a();
    b();
    b();
    expect(gate.size).toBe(0);
  });
});
