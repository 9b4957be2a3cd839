export interface BackoffOptions {
  /** First retry delay, ms. */
  baseMs: number;
  /** Upper bound of any computed delay, ms. */
  maxMs: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { baseMs: 1000, maxMs: 60_000 };

/**
 * Delay before retry number `attempt` (1 = first retry): exponential growth
 * with "equal jitter" (half fixed, half random), so clients that failed
 * together do not retry together. A server `Retry-After` is a floor.
 */
export function retryDelay(
  attempt: number,
  retryAfterMs: number | undefined,
  opts: BackoffOptions = DEFAULT_BACKOFF,
  random: () => number = Math.random,
): number {
  const exp = Math.min(opts.maxMs, opts.baseMs * 2 ** Math.max(0, attempt - 1));
  const jittered = exp / 2 + random() * (exp / 2);
  if (retryAfterMs === undefined) return Math.round(jittered);
  // Honour the server, plus a little jitter so a crowd does not return at once.
  return Math.round(retryAfterMs + random() * Math.min(1000, exp / 2));
}

/** Parses a `Retry-After` header (delta-seconds or HTTP date) into ms from `now`. */
export function parseRetryAfter(value: string | null, now: number): number | undefined {
  if (value === null || value.trim() === "") return undefined;
  const trimmed = value.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}
