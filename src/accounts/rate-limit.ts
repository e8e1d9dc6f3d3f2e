import type { Redis } from 'ioredis'
import type { RateLimiterLike } from 'rate-limiter-flexible'
import { GatehouseError } from '../core/errors.ts'
import type { BoundedMemoryStore } from './bounded-memory-store.ts'
import { MemoryLimiter } from './memory-limiter.ts'
import { redisCounters } from './redis-write-back.ts'
import type { SharedCounters } from './shared-counters.ts'
import { SharedLimiter } from './shared-limiter.ts'

/** The store behind the login throttle and the attempt limiter: one counter per key. */
export interface CounterOptions {
  points: number
  durationSeconds: number
  keyPrefix: string
  /** This process's bounded memory: the store itself without a shared one, its fallback with it. */
  memory: BoundedMemoryStore
  redis?: Redis | null
  /** Counters shared with other processes when there is no Redis (the cluster primary). */
  shared?: SharedCounters | null
  /** How long a key that reaches `points` is blocked (the login throttle's block). */
  blockSeconds?: number
}

export function counterLimiter(options: CounterOptions): RateLimiterLike {
  const { points, durationSeconds: duration, keyPrefix, memory, redis } = options
  const shared = redis ? redisCounters(redis) : options.shared
  if (!shared) return new MemoryLimiter(memory, { points, duration, keyPrefix })
  // Shared store unreachable: this process's memory takes over, and what it counts meanwhile is
  // written back when the store returns (src/accounts/shared-limiter.ts says what holds).
  return new SharedLimiter(shared, memory, {
    points,
    duration,
    keyPrefix,
    blockSeconds: options.blockSeconds,
  })
}

/** A refusal that says when to try again (whole seconds, at least one). */
export function rateLimited(msBeforeNext: number, detail: string): GatehouseError {
  return new GatehouseError('RATE_LIMITED', {
    detail,
    retryAfterSeconds: Math.max(1, Math.ceil(msBeforeNext / 1000)),
  })
}
