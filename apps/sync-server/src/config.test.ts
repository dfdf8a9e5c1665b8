import { DEFAULT_CONNECTION_LIMITS } from '@satchel/server';
import { describe, expect, it } from 'vitest';
import { loadConfig } from './config.js';

describe('the listener bounds in the configuration', () => {
  it('defaults to a connection cap and timeouts far below Node’s (no cap, 60 s headers, 300 s request)', () => {
    const { connections } = loadConfig({ SATCHEL_ENV: 'development' });
    expect(connections).toEqual(DEFAULT_CONNECTION_LIMITS);
    expect(connections.maxConnections).toBeLessThanOrEqual(10_000);
    expect(connections.headersTimeoutMs).toBeLessThan(60_000);
    expect(connections.requestTimeoutMs).toBeLessThan(300_000);
  });

  it('reads SATCHEL_MAX_CONNECTIONS and the SATCHEL_*_TIMEOUT_MS variables', () => {
    const { connections } = loadConfig({
      SATCHEL_ENV: 'development',
      SATCHEL_MAX_CONNECTIONS: '100',
      SATCHEL_HEADERS_TIMEOUT_MS: '2000',
      SATCHEL_REQUEST_TIMEOUT_MS: '5000',
      SATCHEL_KEEP_ALIVE_TIMEOUT_MS: '65000',
    });
    expect(connections).toMatchObject({
      maxConnections: 100,
      headersTimeoutMs: 2000,
      requestTimeoutMs: 5000,
      keepAliveTimeoutMs: 65_000,
    });
  });

  it('refuses to start with a bound that is not a positive integer, naming the variable', () => {
    for (const value of ['0', '-1', '1.5', 'many']) {
      expect(() => loadConfig({ SATCHEL_ENV: 'development', SATCHEL_MAX_CONNECTIONS: value })).toThrow(
        /SATCHEL_MAX_CONNECTIONS/,
      );
    }
    expect(() =>
      loadConfig({
        SATCHEL_ENV: 'development',
        SATCHEL_HEADERS_TIMEOUT_MS: '20000',
        SATCHEL_REQUEST_TIMEOUT_MS: '10000',
      }),
    ).toThrow(/SATCHEL_HEADERS_TIMEOUT_MS/);
  });
});

describe('the per-request bounds in the configuration', () => {
  it('keeps the server defaults when unset, and reads SATCHEL_BODY_TIMEOUT_MS and the device sync queue', () => {
    expect(loadConfig({ SATCHEL_ENV: 'development' }).requestBounds).toEqual({ deviceGate: {} });
    const { requestBounds } = loadConfig({
      SATCHEL_ENV: 'development',
      SATCHEL_BODY_TIMEOUT_MS: '3000',
      SATCHEL_DEVICE_SYNC_QUEUE: '0',
      SATCHEL_DEVICE_SYNC_WAIT_MS: '500',
    });
    expect(requestBounds).toEqual({ bodyTimeoutMs: 3000, deviceGate: { maxWaiting: 0, waitMs: 500 } });
  });

  it('refuses to start with a bound that is not a whole number in range, naming the variable', () => {
    for (const [name, value] of [
      ['SATCHEL_BODY_TIMEOUT_MS', '0'],
      ['SATCHEL_BODY_TIMEOUT_MS', '2.5'],
      ['SATCHEL_DEVICE_SYNC_QUEUE', '-1'],
      ['SATCHEL_DEVICE_SYNC_WAIT_MS', 'soon'],
    ] as const) {
      expect(() => loadConfig({ SATCHEL_ENV: 'development', [name]: value })).toThrow(new RegExp(name));
    }
  });
});
