import { createHmac } from 'node:crypto';
import { type Principal, Tokens } from '@satchel/server';

const b64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** An HS256 JWT of `claims`, signed with `secret` (to sign what `Tokens.mint` never would). */
export function signJwt(claims: Record<string, unknown>, secret: string): string {
  const unsigned = `${b64url({ alg: 'HS256', typ: 'JWT' })}.${b64url(claims)}`;
  return `${unsigned}.${createHmac('sha256', secret).update(unsigned).digest('base64url')}`;
}

/**
 * Tokens a client must never get through with, all naming `principal`. With the signing `secret`, also
 * correctly signed ones missing a required claim (`noExp`, `noIat`, `noSub`).
 */
export async function forgedTokens(
  tokens: Tokens,
  principal: Principal,
  secret?: string,
): Promise<Record<string, string>> {
  const now = Date.now();
  const valid = (await tokens.mint(principal)).token;
  const [header = '', payload = '', signature = ''] = valid.split('.');
  const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>;
  const flip = (s: string, i: number) => `${s.slice(0, i)}${s[i] === 'A' ? 'B' : 'A'}${s.slice(i + 1)}`;
  return {
    expired: (await tokens.mint(principal, now - 3 * 86_400_000, 60)).token,
    tamperedPayload: `${header}.${b64url({ ...claims, acc: `${String(claims.acc)}x` })}.${signature}`,
    tamperedSignature: `${header}.${payload}.${flip(signature, 5)}`,
    otherSecret: (await new Tokens('another-secret-0123456789abcdef').mint(principal)).token,
    algNone: `${b64url({ alg: 'none', typ: 'JWT' })}.${payload}.`,
    wrongAudience: `${header}.${b64url({ ...claims, aud: 'someone-else' })}.${signature}`,
    garbage: 'not-a-token',
    empty: '',
    ...(secret === undefined
      ? {}
      : {
          noExp: signJwt(without(claims, 'exp'), secret),
          noIat: signJwt(without(claims, 'iat'), secret),
          noSub: signJwt(without(claims, 'sub'), secret),
        }),
  };
}

const without = (claims: Record<string, unknown>, key: string): Record<string, unknown> =>
  Object.fromEntries(Object.entries(claims).filter(([k]) => k !== key));
