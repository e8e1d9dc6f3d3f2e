import type { Redis } from 'ioredis'
import { type RateLimiterLike, RateLimiterRedis } from 'rate-limiter-flexible'
import { GatehouseError } from '../core/errors.ts'
import type { BoundedMemoryStore } from './bounded-memory-store.ts'
import { MemoryLimiter } from './memory-limiter.ts'

/** The store behind the login throttle and the attempt limiter: one counter per key. */
export interface CounterOptions {
  points: number
  durationSeconds: number
  keyPrefix: string
  /** This process's bounded memory: the store itself without Redis, Redis's insurance with it. */
  memory: BoundedMemoryStore
  redis?: Redis | null
}

export function counterLimiter(options: CounterOptions): RateLimiterLike {
  const { points, durationSeconds: duration, keyPrefix, memory, redis } = options
  const local = new MemoryLimiter(memory, { points, duration, keyPrefix })
  if (!redis) return local
  // Redis down: the insurance limiter (this process's memory) takes over. Failing open would hand
  // an attacker unlimited attempts for as long as an outage lasts (one he may cause); failing
  // closed would lock every user out. Per-instance counters keep the limits until Redis is back.
  return new RateLimiterRedis({
    storeClient: redis,
    keyPrefix,
    points,
    duration,
    rejectIfRedisNotReady: true,
    insuranceLimiter: local,
  })
}

/** A refusal that says when to try again (whole seconds, at least one). */
export function rateLimited(msBeforeNext: number, detail: string): GatehouseError {
  return new GatehouseError('RATE_LIMITED', {
    detail,
    retryAfterSeconds: Math.max(1, Math.ceil(msBeforeNext / 1000)),
  })
}
