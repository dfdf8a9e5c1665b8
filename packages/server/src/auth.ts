import { errors, type JWTPayload, jwtVerify, SignJWT } from 'jose';
import { ServerError } from './errors.js';
import { isOperatorRole, type OperatorPrincipal } from './operators.js';
import { VerifiedTokenCache } from './token-cache.js';

/**
 * Who a request speaks for: a device of an account, the account itself (enrolment), or an operator of
 * the service (`support` reads, `admin` also changes; docs/operations.md). A device principal carries its
 * credential `generation` (0 when not given): a device token is honoured only while it names the
 * device's current generation, and its device is not deactivated (`credentials.ts`, checked on every
 * request). A new kind is a member here and a branch in `principalFromClaims`.
 */
export type Principal =
  | {
      readonly kind: 'device';
      readonly accountId: string;
      readonly deviceId: string;
      readonly generation?: number;
    }
  | { readonly kind: 'account'; readonly accountId: string }
  | OperatorPrincipal;

/** A principal that belongs to one account (a device or the account). */
export type MemberPrincipal = Exclude<Principal, OperatorPrincipal>;

/** The signing secret used when none is configured: accepted in development only. */
export const DEVELOPMENT_TOKEN_SECRET = 'satchel-development-secret-change-me';

/** A token was missing, malformed, forged, revoked or expired (`code`: UNAUTHENTICATED or TOKEN_EXPIRED). */
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

/** The fewest characters a production signing secret may have. */
export const MIN_PRODUCTION_SECRET_CHARS = 32;
/** The least estimated entropy, in bits, of a production signing secret. */
export const MIN_PRODUCTION_SECRET_BITS = 128;

/**
 * An estimate of a secret's entropy in bits: its length times the Shannon entropy of its own character
 * frequencies. It cannot prove a secret random, but it catches what people type or repeat: `aaaa…` is 0,
 * `passwordpassword…` about 2.8 bits a character, while `openssl rand -base64 32` gives about 200.
 */
export function estimatedEntropyBits(secret: string): number {
  const chars = [...secret];
  const counts = new Map<string, number>();
  for (const c of chars) counts.set(c, (counts.get(c) ?? 0) + 1);
  let perChar = 0;
  for (const n of counts.values()) {
    const p = n / chars.length;
    perChar -= p * Math.log2(p);
  }
  return perChar * chars.length;
}

/**
 * Why `secret` is not fit to sign production tokens, or null when it is: it must not be the development
 * secret, must have at least {@link MIN_PRODUCTION_SECRET_CHARS} characters, must not be one piece
 * repeated, and must have an
 * {@link estimatedEntropyBits} of at least {@link MIN_PRODUCTION_SECRET_BITS}. Never throws.
 */
export function productionSecretProblem(secret: string | undefined): string | null {
  if (secret === undefined || secret === '') return 'SATCHEL_TOKEN_SECRET is not set';
  if (secret === DEVELOPMENT_TOKEN_SECRET) return 'SATCHEL_TOKEN_SECRET is the public development secret';
  if ([...secret].length < MIN_PRODUCTION_SECRET_CHARS)
    return `SATCHEL_TOKEN_SECRET has fewer than ${MIN_PRODUCTION_SECRET_CHARS} characters`;
  if (/^(.+?)\1+$/su.test(secret)) return 'SATCHEL_TOKEN_SECRET is one piece repeated: it looks guessable';
  const bits = estimatedEntropyBits(secret);
  if (bits < MIN_PRODUCTION_SECRET_BITS) {
    return `SATCHEL_TOKEN_SECRET looks guessable (about ${Math.floor(bits)} bits, at least ${MIN_PRODUCTION_SECRET_BITS} needed): generate one with 'openssl rand -base64 32'`;
  }
  return null;
}

const ISSUER = 'satchel';
const AUDIENCE = 'satchel-sync';

const malformed = () => new AuthError('UNAUTHENTICATED', 'Malformed token');

function principalFromClaims(payload: JWTPayload): Principal {
  const { acc, sub, kind, gen } = payload;
  if (kind === 'operator' && typeof sub === 'string' && acc === undefined) {
    if (isOperatorRole(payload.role)) return { kind: 'operator', operatorId: sub, role: payload.role };
    throw malformed();
  }
  if (typeof acc !== 'string' || typeof sub !== 'string') throw malformed();
  if (kind === 'device') {
    if (gen !== undefined && !(Number.isSafeInteger(gen) && (gen as number) >= 0)) throw malformed();
    return { kind: 'device', accountId: acc, deviceId: sub, generation: (gen as number | undefined) ?? 0 };
  }
  if (kind === 'account' && sub === acc) return { kind: 'account', accountId: acc };
  throw malformed();
}

/**
 * Mints and verifies HS256 JWTs bound to an account (and, for device tokens, to one device and its
 * credential generation). Every token carries `iss`, `aud`, `sub`, `iat` and `exp`; one without any of
 * them is refused.
 */
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

  /** A token for `principal`, valid `ttlSec` from `now` (epoch ms); `expiresAt` is epoch ms. */
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
    const claims: JWTPayload =
      principal.kind === 'operator'
        ? { kind: principal.kind, role: principal.role }
        : { kind: principal.kind, acc: principal.accountId };
    if (principal.kind === 'device') claims.gen = principal.generation ?? 0;
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

  /**
   * The principal of a token whose signature, issuer, audience and `exp` hold at `now`. Throws
   * {@link AuthError} otherwise (`TOKEN_EXPIRED` past `exp`). Says nothing of revocation: the HTTP layer
   * checks a device principal against its credential on every request.
   */
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
        requiredClaims: ['exp', 'iat', 'sub'],
      });
      const expiresAt = typeof payload.exp === 'number' ? payload.exp * 1000 : now;
      return { principal: principalFromClaims(payload), expiresAt };
    } catch (e) {
      if (e instanceof AuthError) throw e;
      if (e instanceof errors.JWTExpired) throw new AuthError('TOKEN_EXPIRED', 'The token has expired');
      throw new AuthError('UNAUTHENTICATED', 'Invalid token');
    }
  }
}
