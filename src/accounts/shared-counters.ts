import type { RateLimiterLike } from 'rate-limiter-flexible'

/**
 * A store of throttle counters shared by several processes (Redis, or the primary of a
 * node:cluster): a per-process counter would multiply the allowed guesses by the number of
 * processes (OWASP Authentication Cheat Sheet, "Protect against automated attacks"; ASVS 5.0
 * V6.3.1). When it cannot be reached, each process counts in its own bounded memory and writes
 * what it counted back once it can (src/accounts/write-back.ts).
 */
export interface SharedCounters {
  /**
   * A limiter whose counts live in the shared store. An unreachable store rejects with an
   * Error (never a RateLimiterRes, which means "over the limit"). Keys are `<keyPrefix>:<key>`.
   */
  limiter(options: SharedLimiterOptions): RateLimiterLike
  /**
   * Adds `points` counted while the store was unreachable to the shared count of `rlKey` (the
   * full key), whose expiry becomes the later of its own and `msBeforeNext` from now (-1: never).
   * Added, not replaced: what another process counted meanwhile stays counted. `limit` is the
   * limiter's points (a count above it is blocked).
   */
  merge(rlKey: string, points: number, msBeforeNext: number, limit: number): Promise<void>
  /** Calls `listener` whenever the store becomes reachable again; returns the unsubscribe. */
  onReachable?(listener: () => void): () => void
}

export interface SharedLimiterOptions {
  points: number
  /** Seconds of a window from a key's first point. */
  duration: number
  keyPrefix: string
}
