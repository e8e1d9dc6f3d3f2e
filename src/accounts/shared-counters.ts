import type { RateLimiterLike } from 'rate-limiter-flexible'

/**
 * A store of throttle counters shared by several processes (Redis, or the primary of a
 * node:cluster): a per-process counter would multiply the allowed guesses by the number of
 * processes (OWASP Authentication Cheat Sheet, "Protect against automated attacks"; ASVS 5.0
 * V6.3.1). When it cannot be reached, each process counts in its own bounded memory and writes
 * what it counted back once it can (src/accounts/write-back.ts).
 */
/**
 * The count a blocked key holds (any count above half of it is a block): far above every limit,
 * so an outage's count added to a block is still a block.
 */
export const BLOCKED_POINTS = 2 ** 30

/** What a merge needs to know of the limiter: its limit, and how long reaching it blocks. */
export interface MergeLimits {
  limit: number
  /** A merged count that reaches `limit` becomes a block this long (0: none, it stays a count). */
  blockMs: number
}

export interface SharedCounters {
  /**
   * A limiter whose counts live in the shared store. An unreachable store rejects with an
   * Error (never a RateLimiterRes, which means "over the limit"). Keys are `<keyPrefix>:<key>`.
   */
  limiter(options: SharedLimiterOptions): RateLimiterLike
  /**
   * Adds `points` counted while the store was unreachable to the shared count of `rlKey` (the
   * full key), whose expiry becomes the later of its own and `msBeforeNext` from now (-1: never).
   * Added, not replaced: what another process counted meanwhile stays counted. A sum that reaches
   * the limit without being a block becomes one for `blockMs`: two outages' worth of failures,
   * each under the limit, are still that many failures (and would otherwise sit at the limit as
   * if in flight, refused for good with a one-second Retry-After).
   */
  merge(rlKey: string, points: number, msBeforeNext: number, limits: MergeLimits): Promise<void>
  /** Calls `listener` whenever the store becomes reachable again; returns the unsubscribe. */
  onReachable?(listener: () => void): () => void
}

export interface SharedLimiterOptions {
  points: number
  /** Seconds a key is blocked once its count reaches `points` (0: a plain count, no block). */
  blockSeconds?: number
  /** Seconds of a window from a key's first point. */
  duration: number
  keyPrefix: string
}
