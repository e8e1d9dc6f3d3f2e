import {
  type Argon2Parameters,
  DEFAULT_ARGON2_PARAMETERS,
  hashArgon2id,
  isArgon2idOutdated,
  verifyArgon2id,
} from './argon2id.ts'
import { BCRYPT_MAX_BYTES, isBcryptHash, verifyBcrypt } from './bcrypt.ts'
import type { HashThreads } from './hash-threads.ts'

export interface VerifyResult {
  valid: boolean
  /** A fresh argon2id hash to store when the stored one is legacy or has outdated parameters. */
  upgradedHash: string | null
}

export interface PasswordHasher {
  hash(password: string): Promise<string>
  /** Verifies against argon2id (any parameters) or bcrypt, and says when to rehash. */
  verifyAndUpgrade(password: string, storedHash: string): Promise<VerifyResult>
  /**
   * Spends one verify's worth of time for an unknown account so response time does not reveal
   * whether an email is registered (OWASP Authentication Cheat Sheet, "Authentication responses").
   */
  verifyDummy(password: string): Promise<false>
}

export interface HasherOptions {
  /** Hash on these threads (`hashThreads(n, niceness)`) instead of libuv's pool. */
  threads?: HashThreads
}

export function createPasswordHasher(
  parameters: Argon2Parameters = DEFAULT_ARGON2_PARAMETERS,
  options: HasherOptions = {},
): PasswordHasher {
  const { threads } = options
  // Made once, up front and with the same parameters, so a dummy verify costs what a real one does.
  const dummyHash = hashArgon2id('gatehouse-dummy-password', parameters, threads)

  return {
    hash: (password) => hashArgon2id(password, parameters, threads),

    async verifyAndUpgrade(password, storedHash) {
      const isLegacy = isBcryptHash(storedHash)
      const valid = isLegacy
        ? await verifyBcrypt(storedHash, password)
        : await verifyArgon2id(storedHash, password, threads)
      if (!valid) return { valid, upgradedHash: null }
      // bcrypt reads only the first 72 bytes: a longer password that verified may differ from the
      // real one after byte 72, and rehashing it would silently replace the user's password.
      if (isLegacy && Buffer.byteLength(password) > BCRYPT_MAX_BYTES) return { valid, upgradedHash: null }
      const isOutdated = isLegacy || isArgon2idOutdated(storedHash, parameters)
      return { valid, upgradedHash: isOutdated ? await hashArgon2id(password, parameters, threads) : null }
    },

    async verifyDummy(password) {
      await verifyArgon2id(await dummyHash, password, threads)
      return false
    },
  }
}
