import { isSatchelError } from '@satchel/core';
import { describe, expect, it } from 'vitest';
import { type Principal, Tokens } from './auth.js';
import { VerifiedTokenCache } from './token-cache.js';

const T0 = Date.UTC(2026, 2, 1, 10);
const device = (deviceId: string): Principal => ({
  kind: 'device',
  accountId: 'acc',
  deviceId,
  generation: 0,
});

describe('VerifiedTokenCache', () => {
  it('answers a kept token until its expiry, and never at or after it', () => {
    const cache = new VerifiedTokenCache<Principal>();
    cache.set('t1', device('d1'), T0 + 1000);
    expect(cache.get('t1', T0)).toEqual(device('d1'));
    expect(cache.get('t1', T0 + 999)).toEqual(device('d1'));
    expect(cache.get('t1', T0 + 1000)).toBeUndefined();
    expect(cache.size).toBe(0);
    expect(cache.get('other', T0)).toBeUndefined();
  });

  it('asks the revocation hook on every hit and drops a revoked entry', () => {
    const revoked = new Set<string>();
    const cache = new VerifiedTokenCache<Principal>({
      isRevoked: (p) => p.kind === 'device' && revoked.has(p.deviceId),
    });
    cache.set('t1', device('d1'), T0 + 60_000);
    cache.set('t2', device('d2'), T0 + 60_000);
    expect(cache.get('t1', T0)).toEqual(device('d1'));
    revoked.add('d1');
    expect(cache.get('t1', T0)).toBeUndefined();
    expect(cache.get('t2', T0)).toEqual(device('d2'));
    expect(cache.size).toBe(1);
  });

  it('drops the entries of principals revoked by push', () => {
    const cache = new VerifiedTokenCache<Principal>();
    cache.set('a', device('d1'), T0 + 60_000);
    cache.set('b', device('d1'), T0 + 60_000);
    cache.set('c', device('d2'), T0 + 60_000);
    expect(cache.revoke((p) => p.kind === 'device' && p.deviceId === 'd1')).toBe(2);
    expect(cache.get('a', T0)).toBeUndefined();
    expect(cache.get('c', T0)).toEqual(device('d2'));
  });

  it('keeps at most maxEntries, dropping the oldest', () => {
    const cache = new VerifiedTokenCache<Principal>({ maxEntries: 2 });
    cache.set('a', device('d1'), T0 + 60_000);
    cache.set('b', device('d2'), T0 + 60_000);
    cache.set('c', device('d3'), T0 + 60_000);
    expect(cache.size).toBe(2);
    expect(cache.get('a', T0)).toBeUndefined();
    expect(cache.get('c', T0)).toEqual(device('d3'));
  });
});

describe('Tokens with the verified-token cache', () => {
  it('verifies a token once, then answers it from the cache until exp, then refuses it as expired', async () => {
    const cache = new VerifiedTokenCache<Principal>();
    const tokens = new Tokens('unit-secret-0123456789abcdef', { cache });
    const { token, expiresAt } = await tokens.mint(device('d1'), T0, 60);
    expect(await tokens.verify(token, T0)).toEqual(device('d1'));
    expect(cache.get(token, T0)).toEqual(device('d1'));
    expect(await tokens.verify(token, T0 + 1000)).toEqual(device('d1'));
    const late = await tokens.verify(token, expiresAt).catch((e: unknown) => e);
    expect(isSatchelError(late, 'TOKEN_EXPIRED')).toBe(true);
  });

  it('refuses a revoked principal whether its token is cached or verified in full', async () => {
    const revoked = new Set<string>();
    const cache = new VerifiedTokenCache<Principal>({
      isRevoked: (p) => p.kind === 'device' && revoked.has(p.deviceId),
    });
    const tokens = new Tokens('unit-secret-0123456789abcdef', { cache });
    const cached = (await tokens.mint(device('d1'), T0, 60)).token;
    const fresh = (await tokens.mint(device('d1'), T0 + 1000, 60)).token;
    await tokens.verify(cached, T0);
    revoked.add('d1');
    for (const token of [cached, fresh]) {
      const error = await tokens.verify(token, T0 + 2000).catch((e: unknown) => e);
      expect(isSatchelError(error, 'UNAUTHENTICATED')).toBe(true);
    }
  });

  it('still refuses a forged token (a different signature is a different key)', async () => {
    const tokens = new Tokens('unit-secret-0123456789abcdef');
    const { token } = await tokens.mint(device('d1'), T0, 60);
    await tokens.verify(token, T0);
    const forged = `${token.slice(0, -2)}${token.endsWith('AA') ? 'BB' : 'AA'}`;
    const error = await tokens.verify(forged, T0).catch((e: unknown) => e);
    expect(isSatchelError(error, 'UNAUTHENTICATED')).toBe(true);
  });
});
