import { RateLimiterCompatibleAbstract, RateLimiterRes } from 'rate-limiter-flexible'
import type { BoundedMemoryStore, Count } from './bounded-memory-store.ts'

/**
 * rate-limiter-flexible's limiter interface over a BoundedMemoryStore, so the same bounded store
 * serves alone and as RateLimiterRedis's insurance limiter (which must be an instance of one of
 * its abstract classes; of those the package exports only RateLimiterCompatibleAbstract). Unlike
 * RateLimiterMemory it keeps no timer per key and never grows past the store's bound. Fixed
 * windows of `duration` seconds from a key's first point, like rate-limiter-flexible's.
 */
export class MemoryLimiter extends RateLimiterCompatibleAbstract {
  // Own fields shadow the base class's accessors (which only throw "implement me").
  override readonly keyPrefix: string
  /** Set by RateLimiterRedis to its own (0 here: our throttles block with `set`). */
  override blockDuration = 0
  /** Set by RateLimiterRedis to its own; not supported (our limiters never delay). */
  override execEvenly = false
  readonly points: number
  readonly duration: number
  readonly #store: BoundedMemoryStore

  constructor(store: BoundedMemoryStore, options: { points: number; duration: number; keyPrefix: string }) {
    super()
    this.#store = store
    this.points = options.points
    this.duration = options.duration
    this.keyPrefix = options.keyPrefix
  }

  getKey(key: string | number): string {
    return `${this.keyPrefix}:${key}`
  }

  override consume(key: string | number, pointsToConsume = 1): Promise<RateLimiterRes> {
    const rlKey = this.getKey(key)
    const counted = this.#store.add(rlKey, pointsToConsume, this.duration * 1000, this.points)
    if (counted.points <= this.points) return Promise.resolve(this.#res(counted))
    // rate-limiter-flexible's blockDuration: the consume that first goes over blocks the key.
    if (this.blockDuration > 0 && counted.points <= this.points + pointsToConsume) {
      this.#store.set(rlKey, counted.points, this.blockDuration * 1000, this.points)
      return Promise.reject(new RateLimiterRes(0, this.blockDuration * 1000, counted.points, false))
    }
    return Promise.reject(this.#res(counted))
  }

  override penalty(key: string | number, points = 1): Promise<RateLimiterRes> {
    return Promise.resolve(
      this.#res(this.#store.add(this.getKey(key), points, this.duration * 1000, this.points)),
    )
  }

  override reward(key: string | number, points = 1): Promise<RateLimiterRes> {
    return Promise.resolve(
      this.#res(this.#store.add(this.getKey(key), -points, this.duration * 1000, this.points)),
    )
  }

  override get(key: string | number): Promise<RateLimiterRes | null> {
    const counted = this.#store.get(this.getKey(key))
    return Promise.resolve(counted ? this.#res(counted) : null)
  }

  /** rate-limiter-flexible's `set`: 0 s never expires, a negative duration is the window's. */
  override set(key: string | number, points: number, secDuration: number): Promise<RateLimiterRes> {
    const ms = (secDuration >= 0 ? secDuration : this.duration) * 1000
    return Promise.resolve(this.#res(this.#store.set(this.getKey(key), points, ms, this.points)))
  }

  override block(key: string | number, secDuration: number): Promise<RateLimiterRes> {
    return this.set(key, this.points + 1, secDuration)
  }

  override delete(key: string | number): Promise<boolean> {
    return Promise.resolve(this.#store.delete(this.getKey(key)))
  }

  #res(counted: Count): RateLimiterRes {
    const remaining = Math.max(this.points - counted.points, 0)
    return new RateLimiterRes(remaining, counted.msBeforeNext, counted.points, counted.created)
  }
}
