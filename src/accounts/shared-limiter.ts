import { RateLimiterCompatibleAbstract, type RateLimiterLike, RateLimiterRes } from 'rate-limiter-flexible'
import type { BoundedMemoryStore } from './bounded-memory-store.ts'
import { MemoryLimiter } from './memory-limiter.ts'
import type { MergeLimits, SharedCounters } from './shared-counters.ts'
import { type WriteBack, writeBackFor } from './write-back.ts'

type Outcome<T> = { ok: true; value: T } | { ok: false; value: RateLimiterRes }

/**
 * A limiter on a shared store (Redis, the cluster primary), with this process's bounded memory
 * for when the store cannot be reached. Failing open would hand an attacker unlimited attempts
 * for as long as an outage lasts (one he may cause); failing closed would lock every user out: per-
 * process counters keep the limits meanwhile (OWASP Authentication Cheat Sheet, "Protect against
 * automated attacks").
 *
 * What holds across an outage (and what does not):
 * - a key blocked (or counted) in memory during the outage is merged into the store before this
 *   process next uses that key there, and in the background as soon as the store is back, so it
 *   stays blocked for the rest of its block here and, once merged, on every other process;
 * - a key this process saw over its limit in the store (it set the block, or read it) is mirrored
 *   in memory, so the block holds here during a later outage (and is written back if an attempt
 *   met it then); a process that never saw it, and counts below the limit, start afresh in memory
 *   for the outage (at most one limit's worth of attempts per process and outage);
 * - after a failed command, operations go to memory for a second (WriteBack.quiet) rather than
 *   each waiting out the command timeout of a store that drops packets.
 */
export class SharedLimiter extends RateLimiterCompatibleAbstract {
  // Own fields shadow the base class's accessors (which only throw "implement me").
  override readonly keyPrefix: string
  override blockDuration = 0
  override execEvenly = false
  readonly points: number
  readonly duration: number
  readonly #shared: RateLimiterLike
  readonly #local: MemoryLimiter
  readonly #memory: BoundedMemoryStore
  readonly #writeBack: WriteBack
  readonly #limits: MergeLimits

  constructor(
    shared: SharedCounters,
    memory: BoundedMemoryStore,
    options: { points: number; duration: number; keyPrefix: string; blockSeconds?: number },
  ) {
    super()
    this.keyPrefix = options.keyPrefix
    this.points = options.points
    this.duration = options.duration
    this.#shared = shared.limiter(options)
    this.#local = new MemoryLimiter(memory, options)
    this.#memory = memory
    this.#writeBack = writeBackFor(shared, memory)
    this.#limits = { limit: options.points, blockMs: (options.blockSeconds ?? 0) * 1000 }
  }

  getKey(key: string | number): string {
    return `${this.keyPrefix}:${key}`
  }

  override consume(key: string | number, points = 1): Promise<RateLimiterRes> {
    return this.#run(key, true, (limiter) => limiter.consume(key, points))
  }

  override penalty(key: string | number, points = 1): Promise<RateLimiterRes> {
    return this.#run(key, true, (limiter) => limiter.penalty(key, points))
  }

  override reward(key: string | number, points = 1): Promise<RateLimiterRes> {
    return this.#run(key, true, (limiter) => limiter.reward(key, points))
  }

  override get(key: string | number): Promise<RateLimiterRes | null> {
    return this.#run(key, false, (limiter) => limiter.get(key))
  }

  override set(key: string | number, points: number, secDuration: number): Promise<RateLimiterRes> {
    return this.#run(key, true, (limiter) => limiter.set(key, points, secDuration))
  }

  override block(key: string | number, secDuration: number): Promise<RateLimiterRes> {
    return this.set(key, this.points + 1, secDuration)
  }

  override delete(key: string | number): Promise<boolean> {
    // A deletion made during an outage is not written back: the store may hold a block another
    // process set meanwhile, and forgetting less is the safe side.
    return this.#run(key, false, (limiter) => limiter.delete(key))
  }

  async #run<T>(
    key: string | number,
    changes: boolean,
    operation: (limiter: RateLimiterLike) => Promise<T>,
  ): Promise<T> {
    const rlKey = this.getKey(key)
    let outcome: Outcome<T> | null = null
    if (!this.#writeBack.quiet) {
      try {
        const pending = this.#writeBack.settle(rlKey)
        if (pending) await pending
        outcome = await settled(operation(this.#shared))
      } catch {
        // The store is unreachable (a refusal is a RateLimiterRes, caught by `settled`).
        this.#writeBack.unreachable()
      }
    }
    if (!outcome) {
      const local = await settled(operation(this.#local))
      // A block read from the mirror is written back too: the store may have lost it (a restart
      // without persistence), and adding a block to a block leaves it one.
      if (changes || this.#over(local.value)) this.#writeBack.changedLocally(rlKey, this.#limits)
      return unwrap(local)
    }
    this.#mirror(rlKey, outcome.value)
    this.#writeBack.reachable()
    return unwrap(outcome)
  }

  #over(value: unknown): value is RateLimiterRes {
    return value instanceof RateLimiterRes && value.consumedPoints > this.points && value.msBeforeNext !== 0
  }

  /** Keeps in memory what the store says of a key over its limit, for the next outage. */
  #mirror(rlKey: string, value: unknown): void {
    if (this.#over(value)) {
      // The store's -1 (no expiry) is the memory's 0.
      this.#memory.set(rlKey, value.consumedPoints, Math.max(value.msBeforeNext, 0), this.points)
    } else {
      this.#memory.delete(rlKey)
    }
  }
}

async function settled<T>(promise: Promise<T>): Promise<Outcome<T>> {
  try {
    return { ok: true, value: await promise }
  } catch (error) {
    if (error instanceof RateLimiterRes) return { ok: false, value: error }
    throw error
  }
}

function unwrap<T>(outcome: Outcome<T>): T {
  if (outcome.ok) return outcome.value
  throw outcome.value
}
