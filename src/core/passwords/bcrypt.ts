import bcrypt from 'bcryptjs'

/** bcrypt ignores everything after the 72nd byte of the password. */
export const BCRYPT_MAX_BYTES = 72

const BCRYPT_PREFIX = /^\$2[aby]\$\d{2}\$/

export function isBcryptHash(stored: string): boolean {
  return BCRYPT_PREFIX.test(stored)
}

/**
 * Legacy verifier for hashes imported from passlib/bcrypt apps (the book's `CryptContext`).
 * No normalization here: those hashes were made from the raw password.
 */
export async function verifyBcrypt(stored: string, password: string): Promise<boolean> {
  try {
    return await bcrypt.compare(password, stored)
  } catch {
    return false
  }
}
