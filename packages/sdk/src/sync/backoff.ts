/** Exponential backoff with full jitter: a uniform delay in [0, min(maxMs, baseMs * 2^attempt)). */
export function fullJitterDelay(
  attempt: number,
  baseMs: number,
  maxMs: number,
  random: () => number,
): number {
  const cap = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt));
  return Math.floor(random() * cap);
}

/** The delay before retry `attempt` (0-based): never shorter than what the server asked for. */
export function retryDelay(
  attempt: number,
  retryAfterMs: number | null,
  options: { baseMs: number; maxMs: number },
  random: () => number,
): number {
  const jitter = fullJitterDelay(attempt, options.baseMs, options.maxMs, random);
  return retryAfterMs === null ? jitter : Math.max(retryAfterMs, jitter);
}
