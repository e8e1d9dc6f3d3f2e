import { isCommonPassword } from './blocklist.ts'

/**
 * Password length rule: a configurable minimum (8 by default, never lower) up to 1024 characters
 * (Unicode code points). The upper bound is checked before any hashing so a huge password cannot
 * be used to burn CPU (OWASP Password Storage Cheat Sheet, "Maximum password lengths"; ASVS 5.0
 * V6.2.1/V6.2.9).
 */
export const PASSWORD_MIN_LENGTH = 8
export const PASSWORD_MAX_LENGTH = 1024

const WELL_FORMED = 'Password must be well-formed Unicode text'
const TOO_LONG = `Password must be at most ${PASSWORD_MAX_LENGTH} characters`
const TOO_COMMON = 'This password is too common: choose another'

/** A UTF-16 surrogate not paired with its other half: no Unicode character at all. */
const LONE_SURROGATE = /\p{Cs}/u

export interface PasswordViolation {
  code: 'PASSWORD_POLICY' | 'PASSWORD_TOO_COMMON'
  message: string
}

export interface PasswordPolicy {
  minLength: number
  maxLength: number
  /** Why a new password is refused, or null when it may be set. */
  violation(password: string): PasswordViolation | null
}

/**
 * The length in code points, counting no further than one past `cap`, so a megabyte-long input
 * costs no more than a 1025-character one. Code points, not UTF-16 units, so an emoji is one
 * character as the user sees it.
 */
function codePointsUpTo(password: string, cap: number): number {
  let length = 0
  for (const _ of password) {
    length++
    if (length > cap) break
  }
  return length
}

function lengthViolation(password: string, minLength: number): string | null {
  // A lone surrogate has no UTF-8 form: the hasher would encode it as U+FFFD, so `pass\ud800word`
  // and `pass\udfffword` would be one password (ASVS 5.0 V6.2.9 takes any printable Unicode, but
  // only characters: RFC 3629 §3 forbids encoding surrogates).
  if (LONE_SURROGATE.test(password)) return WELL_FORMED
  const length = codePointsUpTo(password, PASSWORD_MAX_LENGTH)
  if (length > PASSWORD_MAX_LENGTH) return TOO_LONG
  if (length < minLength) return `Password must be at least ${minLength} characters`
  return null
}

/**
 * NIST SP 800-63B-4 §3.1.1.2: at least 8 characters, 15 when the password is the only factor;
 * a minimum above the maximum would refuse every password.
 */
function checkedMinLength(minLength: number): number {
  if (!Number.isInteger(minLength) || minLength < PASSWORD_MIN_LENGTH || minLength > PASSWORD_MAX_LENGTH) {
    throw new RangeError(
      `minLength must be an integer from ${PASSWORD_MIN_LENGTH} to ${PASSWORD_MAX_LENGTH}, got ${String(minLength)}`,
    )
  }
  return minLength
}

/**
 * The rule for a password being set (registration, change, reset): length and well-formedness
 * first, then the common-password blocklist (ASVS 5.0 V6.2.4; NIST SP 800-63B-4 §3.1.1.2).
 */
export function createPasswordPolicy(options: { minLength?: number } = {}): PasswordPolicy {
  const minLength = checkedMinLength(options.minLength ?? PASSWORD_MIN_LENGTH)
  return {
    minLength,
    maxLength: PASSWORD_MAX_LENGTH,
    violation(password) {
      const message = lengthViolation(password, minLength)
      if (message) return { code: 'PASSWORD_POLICY', message }
      if (isCommonPassword(password)) return { code: 'PASSWORD_TOO_COMMON', message: TOO_COMMON }
      return null
    },
  }
}

/** The length rule alone, with the default minimum: why the password is refused, or null. */
export function passwordPolicyViolation(password: string): string | null {
  return lengthViolation(password, PASSWORD_MIN_LENGTH)
}

/**
 * What a login may hash: 1 to 1024 code points of well-formed Unicode. No minimum nor blocklist:
 * a password set under an older, lower minimum, or before the blocklist, must still log in (the
 * upper bound still keeps a huge input away from the hasher).
 */
export function isVerifiablePassword(password: string): boolean {
  if (password.length === 0 || LONE_SURROGATE.test(password)) return false
  return codePointsUpTo(password, PASSWORD_MAX_LENGTH) <= PASSWORD_MAX_LENGTH
}

/**
 * Passwords are NFKC-normalized before argon2id hashing so the same password typed on another
 * keyboard or OS (composed vs decomposed accents) still matches (NIST SP 800-63B-4 §3.1.1.2).
 */
export function normalizePassword(password: string): string {
  return password.normalize('NFKC')
}
