import type { BoundedMemoryStore } from './bounded-memory-store.ts'
import type { MergeLimits, SharedCounters } from './shared-counters.ts'

/** Keys written back at once after an outage (each is one round trip, pipelined). */
const BATCH = 64
/** Keys looked at to find a forgotten one when the set of pending keys is full. */
const PRUNE_SCAN = 64
/** How often a write-back is retried while keys are pending, whatever the traffic. */
const RETRY_MS = 1000
/**
 * After a failure, how long operations go straight to memory: a store that drops packets makes
 * each command wait out its timeout (1 s, src/server/redis.ts), and a login makes three.
 */
const QUIET_MS = 1000

/**
 * The counts and blocks this process kept in its memory while the shared store was unreachable,
 * and their write-back once it is reachable again. Without it, a block set during an outage is
 * forgotten when the store returns (reads go to the store, which never saw it): each outage, which
 * an attacker may cause, would give every account a fresh set of guesses (issue 8; OWASP
 * Authentication Cheat Sheet, "Account Lockout": a lock lasts its lockout duration).
 *
 * - Before any operation on a key reaches the shared store, that key's pending count is merged
 *   into it (`settle`): this process never reads the store without what it counted meanwhile.
 * - When the store is reachable again (its `onReachable` event, any operation that succeeds, or a
 *   retry each second while keys are pending), every pending key is merged, so the other processes
 *   see the blocks too.
 * - Once merged, the key is forgotten locally: the shared store is its authority again.
 *
 * Bounded like the memory it mirrors (CWE-770): the pending keys are keys of `memory`, at most
 * its `maxKeys`; a key the memory has dropped is dropped here too.
 */
export class WriteBack {
  readonly #shared: SharedCounters
  readonly #memory: BoundedMemoryStore
  /** Pending full keys, oldest first, with their limiter's limit and block. */
  readonly #pending = new Map<string, MergeLimits>()
  readonly #inFlight = new Map<string, Promise<void>>()
  #flushing = false
  #unsubscribe: (() => void) | null = null
  #retry: NodeJS.Timeout | null = null
  #quietUntil = 0

  constructor(shared: SharedCounters, memory: BoundedMemoryStore) {
    this.#shared = shared
    this.#memory = memory
  }

  /** Keys counted locally and not yet merged (tests, metrics). */
  get pending(): number {
    return this.#pending.size
  }

  /** True for a moment after the store failed: don't wait on it again yet. */
  get quiet(): boolean {
    return this.#quietUntil > Date.now()
  }

  /** An operation on the store failed (not a refusal): the next ones go to memory for a while. */
  unreachable(): void {
    this.#quietUntil = Date.now() + QUIET_MS
    this.#watch()
  }

  /** `rlKey` was changed in memory while the store was unreachable. */
  changedLocally(rlKey: string, limits: MergeLimits): void {
    if (!this.#pending.has(rlKey)) this.#pending.set(rlKey, limits)
    if (this.#pending.size > this.#memory.maxKeys) this.#prune()
    this.#watch()
    if (!this.#retry) {
      // Unref'd: a pending write-back never keeps a process alive.
      this.#retry = setInterval(() => void this.flush(), RETRY_MS)
      this.#retry.unref()
    }
  }

  /**
   * Merges the pending count of `rlKey` into the shared store; null (nothing to wait for) when it
   * has none. Rejects when the store is still unreachable (the count stays pending).
   */
  settle(rlKey: string): Promise<void> | null {
    if (!this.#pending.has(rlKey)) return null
    let merging = this.#inFlight.get(rlKey)
    if (!merging) {
      merging = this.#merge(rlKey).finally(() => this.#inFlight.delete(rlKey))
      this.#inFlight.set(rlKey, merging)
    }
    return merging
  }

  /** The store answered: merge everything pending, unless that is already under way. */
  reachable(): void {
    if (this.#pending.size > 0 && !this.#flushing) void this.flush()
  }

  /** Merges every pending key, a batch at a time; stops at the first failure (retried later). */
  async flush(): Promise<void> {
    if (this.#flushing) return
    this.#flushing = true
    try {
      while (this.#pending.size > 0) {
        const batch = [...this.#pending.keys()].slice(0, BATCH)
        await Promise.all(batch.map((rlKey) => this.settle(rlKey)))
      }
      this.#unsubscribe?.()
      this.#unsubscribe = null
      if (this.#retry) clearInterval(this.#retry)
      this.#retry = null
    } catch {
      // Unreachable again: the keys stay pending until the next recovery.
    } finally {
      this.#flushing = false
    }
  }

  /** The store's own word that it is back ends the quiet at once, and starts the write-back. */
  #watch(): void {
    if (this.#unsubscribe || !this.#shared.onReachable) return
    this.#unsubscribe = this.#shared.onReachable(() => {
      this.#quietUntil = 0
      void this.flush()
    })
  }

  async #merge(rlKey: string): Promise<void> {
    const limits = this.#pending.get(rlKey) as MergeLimits
    const count = this.#memory.get(rlKey)
    if (count && count.points > 0) {
      await this.#shared.merge(rlKey, count.points, count.msBeforeNext, limits)
    }
    this.#pending.delete(rlKey)
    this.#memory.delete(rlKey)
  }

  /** Drops keys the memory no longer holds; if it holds them all, the oldest pending one goes. */
  #prune(): void {
    let scanned = 0
    for (const rlKey of this.#pending.keys()) {
      if (this.#memory.get(rlKey) === null && !this.#inFlight.has(rlKey)) {
        this.#pending.delete(rlKey)
        return
      }
      if (++scanned >= PRUNE_SCAN) break
    }
    const oldest = this.#pending.keys().next()
    if (!oldest.done) this.#pending.delete(oldest.value)
  }
}

const writeBacks = new WeakMap<SharedCounters, WeakMap<BoundedMemoryStore, WriteBack>>()

/** One write-back per shared store and memory: the limiters sharing a memory share its pending keys. */
export function writeBackFor(shared: SharedCounters, memory: BoundedMemoryStore): WriteBack {
  let byMemory = writeBacks.get(shared)
  if (!byMemory) {
    byMemory = new WeakMap()
    writeBacks.set(shared, byMemory)
  }
  let writeBack = byMemory.get(memory)
  if (!writeBack) {
    writeBack = new WriteBack(shared, memory)
    byMemory.set(memory, writeBack)
  }
  return writeBack
}
