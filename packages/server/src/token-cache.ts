/** Options of {@link VerifiedTokenCache}. */
export interface VerifiedTokenCacheOptions<P> {
  /** Most tokens kept; past it the oldest entry is dropped (default 10,000). */
  maxEntries?: number;
  /**
   * Asked on every hit: true when the principal's tokens no longer hold (a device deactivated, its
   * credential rotated). A revoked entry is dropped and the hit becomes a miss. Must be cheap and
   * synchronous (an in-memory lookup).
   */
  isRevoked?: (principal: P) => boolean;
}

/**
 * Tokens whose signature was verified, kept until their `exp` so each is verified (HMAC) once rather than
 * at every request: a hit costs a map lookup, a miss the full verification. Never extends a token's life:
 * past `expiresAt` an entry is a miss, and the verifier refuses the token as before. Revocation is
 * honoured: the {@link VerifiedTokenCacheOptions.isRevoked} hook is asked on every hit, and
 * {@link revoke} drops the entries of principals revoked by push.
 */
export class VerifiedTokenCache<P> {
  private readonly entries = new Map<string, { principal: P; expiresAt: number }>();
  private readonly maxEntries: number;
  private readonly isRevoked: ((principal: P) => boolean) | undefined;

  constructor(options: VerifiedTokenCacheOptions<P> = {}) {
    this.maxEntries = options.maxEntries ?? 10_000;
    this.isRevoked = options.isRevoked;
  }

  /** The principal of a cached token at `now` (epoch ms), or undefined: absent, expired or revoked. */
  get(token: string, now: number): P | undefined {
    const entry = this.entries.get(token);
    if (entry === undefined) return undefined;
    if (now >= entry.expiresAt || this.revoked(entry.principal)) {
      this.entries.delete(token);
      return undefined;
    }
    return entry.principal;
  }

  /** Keeps a token just verified, until `expiresAt` (epoch ms, the token's `exp`). */
  set(token: string, principal: P, expiresAt: number): void {
    if (this.entries.size >= this.maxEntries && !this.entries.has(token)) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
    this.entries.set(token, { principal, expiresAt });
  }

  /** True when the revocation hook says the principal's tokens no longer hold. */
  revoked(principal: P): boolean {
    return this.isRevoked?.(principal) === true;
  }

  /** Drops every entry whose principal `matches`; returns how many were dropped. */
  revoke(matches: (principal: P) => boolean): number {
    let dropped = 0;
    for (const [token, entry] of this.entries) {
      if (matches(entry.principal)) {
        this.entries.delete(token);
        dropped++;
      }
    }
    return dropped;
  }

  /** Tokens currently kept. */
  get size(): number {
    return this.entries.size;
  }
}
