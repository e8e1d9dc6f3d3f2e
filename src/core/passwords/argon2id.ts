import { type Algorithm, hash, verify } from '@node-rs/argon2'
import type { HashThreads } from './hash-threads.ts'
import { normalizePassword } from './policy.ts'

export interface Argon2Parameters {
  /** KiB of memory per hash. */
  memoryCost: number
  /** Iterations. */
  timeCost: number
  parallelism: number
}

/**
 * OWASP Password Storage Cheat Sheet minimum for argon2id is m=19456 KiB, t=2, p=1. We default
 * higher on memory (still ~20-30 ms per hash on the 2-core CI machine) since memory cost is what
 * hurts GPU attackers most.
 */
export const DEFAULT_ARGON2_PARAMETERS: Argon2Parameters = { memoryCost: 19456, timeCost: 2, parallelism: 1 }

// @node-rs/argon2's Algorithm is a const enum, which isolated modules cannot read: Argon2id is 2.
const ARGON2ID = 2 as Algorithm

const PHC_ARGON2ID = /^\$argon2id\$v=(\d+)\$m=(\d+),t=(\d+),p=(\d+)\$/

/** The parameters a stored argon2id PHC string was made with, or null if it is not argon2id. */
export function argon2idParameters(phc: string): (Argon2Parameters & { version: number }) | null {
  const match = PHC_ARGON2ID.exec(phc)
  if (!match) return null
  return {
    version: Number(match[1]),
    memoryCost: Number(match[2]),
    timeCost: Number(match[3]),
    parallelism: Number(match[4]),
  }
}

/**
 * Hashes on `threads` when given, else on libuv's thread pool (async API only): the event loop
 * stays free while it runs either way.
 */
export function hashArgon2id(
  password: string,
  parameters: Argon2Parameters,
  threads?: HashThreads,
): Promise<string> {
  const options = { ...parameters, algorithm: ARGON2ID }
  return threads
    ? threads.hash(normalizePassword(password), options)
    : hash(normalizePassword(password), options)
}

export async function verifyArgon2id(phc: string, password: string, threads?: HashThreads): Promise<boolean> {
  // Only argon2id: the library would also verify argon2i/argon2d strings, which we never issue.
  if (argon2idParameters(phc) === null) return false
  if (threads) return threads.verify(phc, normalizePassword(password))
  try {
    return await verify(phc, normalizePassword(password))
  } catch {
    // A corrupt stored hash is a failed login, not a server error.
    return false
  }
}

/** True when the hash was made with weaker parameters than the current ones (rehash on login). */
export function isArgon2idOutdated(phc: string, current: Argon2Parameters): boolean {
  const stored = argon2idParameters(phc)
  if (!stored) return true
  return (
    stored.version !== 19 ||
    stored.memoryCost < current.memoryCost ||
    stored.timeCost < current.timeCost ||
    stored.parallelism < current.parallelism
  )
}
