import type { Redis } from 'ioredis'
import { RateLimiterRes } from 'rate-limiter-flexible'
import { BoundedMemoryStore } from './bounded-memory-store.ts'
import { counterLimiter, rateLimited } from './rate-limit.ts'
import type { SharedCounters } from './shared-counters.ts'
import { accountKey, clientKey } from './throttle-keys.ts'

/**
 * Anti-automation for actions that check no secret, such as registration (OWASP Authentication
 * Cheat Sheet, "Protect against automated attacks"; ASVS 5.0 V2.4.1, anti-automation controls):
 * every attempt counts, success or not, per client IP (IPv6 by /64), `maxAttempts` in a fixed
 * window of `windowSeconds` from the client's first attempt; beyond it RATE_LIMITED (429) with
 * Retry-After until the window ends. A refused attempt adds to a count that already exists (no new
 * key) and does not extend the window.
 */
export interface AttemptLimiterOptions {
  /** Attempts per client within a window; 0: off. */
  maxAttempts?: number
  windowSeconds?: number
  /** Counts shared by every instance on this Redis; this process's memory when absent. */
  redis?: Redis | null
  /** Counts shared with other processes without Redis (the cluster primary's). */
  shared?: SharedCounters | null
  /** Keys are `<keyPrefix>:ip:<address>` (or `<keyPrefix>:account:<sha256 of the email>`). */
  keyPrefix?: string
  /** What is counted: a client IP (default), or an account named by its email. */
  per?: 'ip' | 'account'
  /** A store error that could not be absorbed (the attempt is then let through). */
  onStoreError?: (error: unknown) => void
  /** The most clients counted in this process (the store, or Redis's insurance); default 100 000. */
  maxKeys?: number
  /** This process's store; a new one of `maxKeys` when absent. */
  memoryStore?: BoundedMemoryStore
}

export interface AttemptLimiter {
  /**
   * Counts an attempt by `subject` (the client's IP as the adapter resolved it, see
   * LoginThrottle.guard; or an email with `per: 'account'`), or throws RATE_LIMITED when it is
   * over its limit.
   */
  consume(subject: string): Promise<void>
}

/** 20 an hour: more than a household registers, few enough to make mass sign-up slow. */
export const REGISTER_LIMIT_DEFAULTS = { maxAttempts: 20, windowSeconds: 3600 } as const

export const ATTEMPTS_LIMITED_DETAIL = 'Too many attempts, try again later'

export function createAttemptLimiter(options: AttemptLimiterOptions = {}): AttemptLimiter {
  const maxAttempts = options.maxAttempts ?? REGISTER_LIMIT_DEFAULTS.maxAttempts
  if (maxAttempts <= 0) return { consume: async () => {} }
  const onStoreError = options.onStoreError ?? (() => {})
  const per = options.per ?? 'ip'
  const keyOf = per === 'ip' ? clientKey : accountKey
  const limiter = counterLimiter({
    points: maxAttempts,
    durationSeconds: options.windowSeconds ?? REGISTER_LIMIT_DEFAULTS.windowSeconds,
    keyPrefix: `${options.keyPrefix ?? 'gatehouse:register'}:${per}`,
    memory: options.memoryStore ?? new BoundedMemoryStore({ maxKeys: options.maxKeys }),
    redis: options.redis,
    shared: options.shared,
  })
  return {
    async consume(subject: string): Promise<void> {
      try {
        // One atomic count (no read first): concurrent attempts cannot race past the limit.
        await limiter.consume(keyOf(subject))
      } catch (error) {
        if (error instanceof RateLimiterRes) throw rateLimited(error.msBeforeNext, ATTEMPTS_LIMITED_DETAIL)
        onStoreError(error)
      }
    },
  }
}
