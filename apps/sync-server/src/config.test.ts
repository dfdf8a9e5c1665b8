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
