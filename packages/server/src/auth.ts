import { errors, jwtVerify, SignJWT } from 'jose';
import { ServerError } from './errors.js';
import { isOperatorRole, type OperatorPrincipal } from './operators.js';
import { VerifiedTokenCache } from './token-cache.js';

/**
 * Who a request speaks for: a device of an account, the account itself (enrolment), or an operator of
 * the service (`support` reads, `admin` also changes; docs/operations.md).
 */
export type Principal =
  | { readonly kind: 'device'; readonly accountId: string; readonly deviceId: string }
  | { readonly kind: 'account'; readonly accountId: string }
  | OperatorPrincipal;

/** A principal that belongs to one account (a device or the account). */
export type MemberPrincipal = Exclude<Principal, OperatorPrincipal>;

/** The signing secret used when none is configured: accepted in development only. */
export const DEVELOPMENT_TOKEN_SECRET = 'satchel-development-secret-change-me';

/** A token was missing, malformed, forged or expired (`code`: UNAUTHENTICATED or TOKEN_EXPIRED). */
export class AuthError extends ServerError {
  constructor(code: 'UNAUTHENTICATED' | 'TOKEN_EXPIRED', message: string) {
    super(code, message);
    this.name = 'SatchelAuthError';
  }
}

export interface TokenOptions {
  /** Lifetime of device tokens in seconds (default 90 days). */
  deviceTokenTtlSec?: number;
  /** Lifetime of account tokens in seconds (default 30 days). */
  accountTokenTtlSec?: number;
  /** Lifetime of operator tokens in seconds (default 12 hours). */
  operatorTokenTtlSec?: number;
  /**
   * Verified tokens kept until their `exp` (default: a cache of 10,000 with no revocation hook); false
   * verifies every token in full.
   */
  cache?: VerifiedTokenCache<Principal> | false;
}

const ISSUER = 'satchel';
const AUDIENCE = 'satchel-sync';

/** Mints and verifies HS256 JWTs bound to an account (and, for device tokens, to one device). */
export class Tokens {
  // Imported once: given the raw bytes, jose imports a WebCrypto key at every call (~2.7× the CPU of a
  // verify with the key already imported, measured).
  private readonly key: Promise<CryptoKey>;
  readonly deviceTokenTtlSec: number;
  readonly accountTokenTtlSec: number;
  readonly operatorTokenTtlSec: number;
  /** Verified tokens, kept until they expire; `revoke` drops a principal's at once. Null when off. */
  readonly cache: VerifiedTokenCache<Principal> | null;

  /** Throws when the secret is shorter than 16 characters. */
  constructor(secret: string, options: TokenOptions = {}) {
    if (secret.length < 16)
      throw new ServerError('WEAK_SECRET', 'The token secret must have at least 16 characters');
    this.key = crypto.subtle.importKey(
      'raw',
      new TextEncoder().encode(secret),
      { name: 'HMAC', hash: 'SHA-256' },
      false,
      ['sign', 'verify'],
    );
    this.deviceTokenTtlSec = options.deviceTokenTtlSec ?? 90 * 86_400;
    this.accountTokenTtlSec = options.accountTokenTtlSec ?? 30 * 86_400;
    this.operatorTokenTtlSec = options.operatorTokenTtlSec ?? 12 * 3600;
    this.cache = options.cache === false ? null : (options.cache ?? new VerifiedTokenCache());
  }

  /** A token for `principal`, valid `ttlSec` from `now` (epoch ms). */
  async mint(
    principal: Principal,
    now = Date.now(),
    ttlSec?: number,
  ): Promise<{ token: string; expiresAt: number }> {
    const ttl =
      ttlSec ??
      (principal.kind === 'device'
        ? this.deviceTokenTtlSec
        : principal.kind === 'operator'
          ? this.operatorTokenTtlSec
          : this.accountTokenTtlSec);
    const iat = Math.floor(now / 1000);
    const exp = iat + ttl;
    const claims =
      principal.kind === 'operator'
        ? { kind: principal.kind, role: principal.role }
        : { kind: principal.kind, acc: principal.accountId };
    const subject =
      principal.kind === 'device'
        ? principal.deviceId
        : principal.kind === 'operator'
          ? principal.operatorId
          : principal.accountId;
    const token = await new SignJWT(claims)
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setSubject(subject)
      .setIssuedAt(iat)
      .setExpirationTime(exp)
      .sign(await this.key);
    return { token, expiresAt: exp * 1000 };
  }

  /** The principal of a valid token. Throws {@link AuthError} otherwise. */
  async verify(token: string, now = Date.now()): Promise<Principal> {
    const cached = this.cache?.get(token, now);
    if (cached !== undefined) return cached;
    const principal = await this.verifyUncached(token, now);
    if (this.cache?.revoked(principal.principal)) throw new AuthError('UNAUTHENTICATED', 'Revoked token');
    this.cache?.set(token, principal.principal, principal.expiresAt);
    return principal.principal;
  }

  private async verifyUncached(
    token: string,
    now: number,
  ): Promise<{ principal: Principal; expiresAt: number }> {
    try {
      const { payload } = await jwtVerify(token, await this.key, {
        issuer: ISSUER,
        audience: AUDIENCE,
        algorithms: ['HS256'],
        currentDate: new Date(now),
      });
      const acc = payload.acc;
      const sub = payload.sub;
      const expiresAt = typeof payload.exp === 'number' ? payload.exp * 1000 : now;
      if (payload.kind === 'operator' && typeof sub === 'string' && acc === undefined) {
        if (isOperatorRole(payload.role))
          return { principal: { kind: 'operator', operatorId: sub, role: payload.role }, expiresAt };
        throw new AuthError('UNAUTHENTICATED', 'Malformed token');
      }
      if (typeof acc !== 'string' || typeof sub !== 'string')
        throw new AuthError('UNAUTHENTICATED', 'Malformed token');
      if (payload.kind === 'device')
        return { principal: { kind: 'device', accountId: acc, deviceId: sub }, expiresAt };
      if (payload.kind === 'account' && sub === acc)
        return { principal: { kind: 'account', accountId: acc }, expiresAt };
      throw new AuthError('UNAUTHENTICATED', 'Malformed token');
    } catch (e) {
      if (e instanceof AuthError) throw e;
      if (e instanceof errors.JWTExpired) throw new AuthError('TOKEN_EXPIRED', 'The token has expired');
      throw new AuthError('UNAUTHENTICATED', 'Invalid token');
    }
  }
}
