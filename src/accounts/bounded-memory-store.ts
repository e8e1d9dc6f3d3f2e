/**
 * Throttle counters in this process's memory, at most `maxKeys` of them, with no timer per key:
 * an expired count is dropped when next read or when room is needed. Whoever picks the keys (an
 * email, an address) must not pick how much memory we hold (CWE-770, allocation without limits).
 */
export const DEFAULT_MAX_KEYS = 100_000

/** A count as the limiters see it: `msBeforeNext` is -1 for a count that never expires. */
export interface Count {
  points: number
  msBeforeNext: number
  /** True when this call started the count (the first attempt of its window). */
  created: boolean
}

/** Updated in place; an entry that changes position (moved, or set anew) is a new object. */
class Entry {
  constructor(
    public points: number,
    readonly expiresAt: number,
  ) {}
}

/** A Map (insertion order) that finds its oldest entry in O(1) amortised. */
class InsertionOrder {
  readonly map = new Map<string, Entry>()
  // `map.keys().next()` walks the holes deletions leave at the front (quadratic under churn); a
  // live iterator only ever moves forward, and everything behind it has been deleted. The head
  // is still the oldest while the map holds that very object (re-insertion makes a new one).
  #cursor: Iterator<[string, Entry]> | null = null
  #head: [string, Entry] | null = null

  oldest(): [string, Entry] | undefined {
    for (;;) {
      if (this.#head && this.map.get(this.#head[0]) === this.#head[1]) return this.#head
      this.#cursor ??= this.map.entries()
      const next = this.#cursor.next()
      if (next.done) {
        // An exhausted iterator stays exhausted: start a new one once entries come back.
        this.#cursor = null
        this.#head = null
        return undefined
      }
      this.#head = next.value
    }
  }
}

export interface BoundedMemoryStoreOptions {
  /** The most counters kept (default 100 000: about 22 MB when full, see bench/README.md). */
  maxKeys?: number
  /** The clock, in ms (tests). */
  now?: () => number
}

export class BoundedMemoryStore {
  readonly maxKeys: number
  readonly #now: () => number
  // Counts within their limit, and counts over it (blocked): the eviction policy treats them apart.
  readonly #counting = new InsertionOrder()
  readonly #blocked = new InsertionOrder()

  constructor(options: BoundedMemoryStoreOptions = {}) {
    const maxKeys = options.maxKeys ?? DEFAULT_MAX_KEYS
    if (!Number.isSafeInteger(maxKeys) || maxKeys < 1) {
      throw new RangeError('maxKeys must be a positive integer')
    }
    this.maxKeys = maxKeys
    this.#now = options.now ?? Date.now
  }

  /** Counters held, expired ones not yet dropped included (what the memory bound is about). */
  get size(): number {
    return this.#counting.map.size + this.#blocked.map.size
  }

  /** The live count of `key`, creating nothing. */
  get(key: string): Count | null {
    const now = this.#now()
    const entry = this.#live(key, now)
    return entry ? count(entry, now, false) : null
  }

  /**
   * Adds `points` to the count of `key`, or starts a count of `durationMs` (0: never expires);
   * a count above `limit` is blocked. Negative points give back: on a missing key they create
   * nothing, and a count given back to zero is forgotten (it would say nothing).
   */
  add(key: string, points: number, durationMs: number, limit: number): Count {
    const now = this.#now()
    const entry = this.#live(key, now)
    if (!entry) {
      if (points <= 0) return { points: 0, msBeforeNext: 0, created: false }
      return this.#insert(key, new Entry(points, expiry(now, durationMs)), limit, now, true)
    }
    const total = entry.points + points
    if (total <= 0) {
      this.delete(key)
      return { points: total, msBeforeNext: 0, created: false }
    }
    const wasBlocked = this.#blocked.map.get(key) === entry
    if (total > limit === wasBlocked) {
      // Same map, same place: a count keeps its age (insertion order) while it is counted.
      entry.points = total
      return count(entry, now, false)
    }
    // Crossing its limit (either way) makes it the newest entry of the other map.
    this.delete(key)
    const moved = new Entry(total, entry.expiresAt)
    ;(wasBlocked ? this.#counting : this.#blocked).map.set(key, moved)
    return count(moved, now, false)
  }

  /** Sets the count of `key` for `durationMs` from now (0: never expires), as a new entry. */
  set(key: string, points: number, durationMs: number, limit: number): Count {
    const now = this.#now()
    this.delete(key)
    const entry = new Entry(points, expiry(now, durationMs))
    if (points <= 0) return count(entry, now, false)
    // Last in order: the blocked entries stay sorted by when their block started.
    return this.#insert(key, entry, limit, now, false)
  }

  delete(key: string): boolean {
    return this.#counting.map.delete(key) || this.#blocked.map.delete(key)
  }

  #live(key: string, now: number): Entry | undefined {
    const entry = this.#counting.map.get(key) ?? this.#blocked.map.get(key)
    if (entry && entry.expiresAt <= now) {
      this.delete(key)
      return undefined
    }
    return entry
  }

  #insert(key: string, entry: Entry, limit: number, now: number, created: boolean): Count {
    this.#dropExpiredHeads(now)
    while (this.size >= this.maxKeys && this.#evictOne(now)) {}
    ;(entry.points > limit ? this.#blocked : this.#counting).map.set(key, entry)
    return count(entry, now, created)
  }

  /** Amortised clean-up without timers: drop a few expired entries from the front of each map. */
  #dropExpiredHeads(now: number): void {
    for (const order of [this.#counting, this.#blocked]) {
      for (let i = 0; i < 2; i++) {
        const oldest = order.oldest()
        if (!oldest || oldest[1].expiresAt > now) break
        order.map.delete(oldest[0])
      }
    }
  }

  /**
   * Room for a new key. Evicting a block would hand whoever earned it fresh guesses before its end
   * (OWASP Authentication Cheat Sheet, "Account Lockout": a lock lasts its lockout duration), so
   * the oldest count still within its limit goes first: flooding the store with new keys only
   * evicts other unblocked counts (each of those keys costs the attacker an attempt that got
   * through, i.e. a password hash, since refused attempts store nothing). Only when every entry
   * is blocked does the oldest block (the first to end) go: the bound holds, and unblocking one
   * key takes `maxKeys` other blocks first, each earned by a limit's worth of attempts.
   */
  #evictOne(now: number): boolean {
    const oldestBlocked = this.#blocked.oldest()
    const oldestCounting = this.#counting.oldest()
    if (oldestBlocked && (oldestBlocked[1].expiresAt <= now || !oldestCounting)) {
      return this.#blocked.map.delete(oldestBlocked[0])
    }
    return oldestCounting ? this.#counting.map.delete(oldestCounting[0]) : false
  }
}

function expiry(now: number, durationMs: number): number {
  return durationMs > 0 ? now + durationMs : Number.POSITIVE_INFINITY
}

function count(entry: Entry, now: number, created: boolean): Count {
  const msBeforeNext = Number.isFinite(entry.expiresAt) ? Math.max(0, entry.expiresAt - now) : -1
  return { points: entry.points, msBeforeNext, created }
}
