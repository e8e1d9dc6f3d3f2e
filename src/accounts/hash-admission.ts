import { availableParallelism } from 'node:os'
import { GatehouseError } from '../core/errors.ts'
import type { PasswordHasher } from '../core/passwords/index.ts'

/**
 * Admission control for password hashing (OWASP Denial of Service Cheat Sheet, "limit the
 * resources a request can consume"): argon2 is the one thing a client can make the server spend
 * ~50 ms of CPU on, so at most `maxInFlight` hashes run and `maxQueued` wait; beyond that a check
 * is refused with 503 OVERLOADED at once, before any hashing, instead of queueing without bound
 * and starving every other request.
 */
export interface HashAdmissionOptions {
  /** Hashes computed at once; default: one core fewer than the machine has (at least 1). */
  maxInFlight?: number
  /** Checks waiting for a slot; default 16. */
  maxQueued?: number
}

export const defaultHashConcurrency = () => Math.max(1, availableParallelism() - 1)

export function admitHashing(hasher: PasswordHasher, options: HashAdmissionOptions = {}): PasswordHasher {
  const maxInFlight = options.maxInFlight || defaultHashConcurrency()
  const maxQueued = options.maxQueued ?? 16
  let inFlight = 0
  const waiting: (() => void)[] = []

  const admitted = async <T>(work: () => Promise<T>): Promise<T> => {
    if (inFlight >= maxInFlight) {
      if (waiting.length >= maxQueued) throw new GatehouseError('OVERLOADED', { retryAfterSeconds: 1 })
      await new Promise<void>((resolve) => waiting.push(resolve))
    } else {
      inFlight++
    }
    try {
      return await work()
    } finally {
      // The slot passes straight to the next in line, so inFlight never overshoots.
      const next = waiting.shift()
      if (next) next()
      else inFlight--
    }
  }

  return {
    hash: (password) => admitted(() => hasher.hash(password)),
    verifyAndUpgrade: (password, storedHash) => admitted(() => hasher.verifyAndUpgrade(password, storedHash)),
    verifyDummy: (password) => admitted(() => hasher.verifyDummy(password)),
  }
}
