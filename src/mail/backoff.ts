export interface Backoff {
  /** The delay before the second attempt. */
  initialMs: number
  /** No delay grows past this. */
  maxMs: number
}

export const DEFAULT_BACKOFF: Backoff = { initialMs: 5_000, maxMs: 3_600_000 }

/**
 * The wait after the `attempts`-th failed attempt: doubling from `initialMs`, capped at `maxMs`,
 * then drawn from its upper half ("equal jitter") so instances that failed together on one outage
 * do not all retry in the same instant, yet none retries at once.
 */
export function retryDelayMs(
  attempts: number,
  backoff: Backoff = DEFAULT_BACKOFF,
  random = Math.random,
): number {
  const exponent = Math.max(0, Math.min(attempts - 1, 40))
  const ceiling = Math.min(backoff.maxMs, backoff.initialMs * 2 ** exponent)
  return Math.ceil(ceiling / 2 + random() * (ceiling / 2))
}
