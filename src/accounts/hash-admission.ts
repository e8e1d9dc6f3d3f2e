import { availableParallelism } from 'node:os'
import { GatehouseError } from '../core/errors.ts'
import type { PasswordHasher } from '../core/passwords/index.ts'

/**
 * Admission control for password hashing (OWASP Denial of Service Cheat Sheet, "limit the
 * resources a request can consume"; OWASP Password Storage Cheat Sheet, "a slow hash is a DoS
 * vector"): argon2 is the one thing a client can make the server spend ~30 ms of a core and 19 MiB
 * on, so at most `maxInFlight` hashes run and `maxQueued` wait; beyond that the call is refused
 * with 503 OVERLOADED at once, before any hashing, instead of queueing without bound and starving
 * every other request. Every hash counts alike: verify, dummy verify (unknown email), and the hash
 * of a new password (register, change, reset). A verify that rehashes an outdated hash does both
 * in one slot.
 */
export interface HashAdmissionOptions {
  /** Hashes computed at once; 0 or absent: `defaultHashConcurrency()`. */
  maxInFlight?: number
  /** Calls waiting for a slot; default 16. 0: none wait (refused as soon as every slot is busy). */
  maxQueued?: number
}

export const DEFAULT_HASH_QUEUE = 16

/**
 * One core fewer than the machine has, and one thread fewer than libuv's pool, at least 1. The
 * async argon2 runs on the pool: a core kept free of hashing serves every other request (the
 * event loop is one thread), and a pool thread kept free serves the pool's other users (fs,
 * dns.lookup, async crypto) without queueing behind a flood. On 2 cores that is 1 hash at a time,
 * about 40 logins/s; bench/login-flood.ts measures what it leaves to GET /protected-route.
 */
export function defaultHashConcurrency(
  cores = availableParallelism(),
  threadPool = Number(process.env.UV_THREADPOOL_SIZE) || 4,
): number {
  return Math.max(1, Math.min(cores - 1, threadPool - 1))
}

function count(name: string, value: number | undefined, fallback: number, min: number): number {
  if (value === undefined) return fallback
  if (!Number.isSafeInteger(value) || value < min) {
    throw new RangeError(`${name} must be an integer of at least ${min}`)
  }
  return value
}

/** The admitted hashers' "is every slot and queue place taken", for `wouldShed`. */
const saturation = new WeakMap<PasswordHasher, () => boolean>()

/**
 * Whether a hash asked of this hasher now would be refused (false for a hasher without admission).
 * A login checks it first, so a shed attempt costs no throttle count and no store lookup: under a
 * flood that ignores Retry-After the 503s are most of the requests, and they must stay cheap.
 */
export function wouldShed(hasher: PasswordHasher): boolean {
  return saturation.get(hasher)?.() ?? false
}

/** OVERLOADED without a stack trace: nothing to debug in it, and it is thrown at flood rate. */
export function overloaded(): GatehouseError {
  const { stackTraceLimit } = Error
  Error.stackTraceLimit = 0
  try {
    // RFC 9110 §10.2.3: a 503 says when to retry; a queue of 16 drains in well under a second.
    return new GatehouseError('OVERLOADED', { retryAfterSeconds: 1 })
  } finally {
    Error.stackTraceLimit = stackTraceLimit
  }
}

export function admitHashing(hasher: PasswordHasher, options: HashAdmissionOptions = {}): PasswordHasher {
  // A negative or fractional bound would park every call in a queue nobody drains: refused early.
  const maxInFlight = count('maxInFlight', options.maxInFlight, 0, 0) || defaultHashConcurrency()
  const maxQueued = count('maxQueued', options.maxQueued, DEFAULT_HASH_QUEUE, 0)
  let inFlight = 0
  const waiting: (() => void)[] = []

  const admitted = async <T>(work: () => Promise<T>): Promise<T> => {
    if (inFlight < maxInFlight) {
      inFlight++
    } else if (waiting.length < maxQueued) {
      // Resolved by a finishing call that hands its slot over (inFlight unchanged).
      await new Promise<void>((resolve) => waiting.push(resolve))
    } else {
      throw overloaded()
    }
    try {
      return await work()
    } finally {
      // The slot passes straight to the first in line: a call arriving meanwhile still sees every
      // slot taken and queues behind it (FIFO, and inFlight never exceeds maxInFlight).
      const next = waiting.shift()
      if (next) next()
      else inFlight--
    }
  }

  const admittedHasher: PasswordHasher = {
    hash: (password) => admitted(() => hasher.hash(password)),
    verifyAndUpgrade: (password, storedHash) => admitted(() => hasher.verifyAndUpgrade(password, storedHash)),
    verifyDummy: (password) => admitted(() => hasher.verifyDummy(password)),
  }
  saturation.set(admittedHasher, () => inFlight >= maxInFlight && waiting.length >= maxQueued)
  return admittedHasher
}
