/**
 * Password length rule: 8..1024 characters (Unicode code points).
 * The upper bound is checked before any hashing so a huge password cannot be used to burn CPU
 * (OWASP Password Storage Cheat Sheet, "Maximum password lengths"; ASVS 5.0 V6.2.1/V6.2.9).
 */
export const PASSWORD_MIN_LENGTH = 8
export const PASSWORD_MAX_LENGTH = 1024

/** A UTF-16 surrogate not paired with its other half: no Unicode character at all. */
const LONE_SURROGATE = /\p{Cs}/u

/** Returns why the password is refused, or null when it is acceptable. */
export function passwordPolicyViolation(password: string): string | null {
  // A lone surrogate has no UTF-8 form: the hasher would encode it as U+FFFD, so `pass\ud800word`
  // and `pass\udfffword` would be one password (ASVS 5.0 V6.2.9 takes any printable Unicode, but
  // only characters: RFC 3629 §3 forbids encoding surrogates).
  if (LONE_SURROGATE.test(password)) return 'Password must be well-formed Unicode text'
  // Counting code points, not UTF-16 units, so an emoji is one character as the user sees it.
  let length = 0
  for (const _ of password) {
    length++
    if (length > PASSWORD_MAX_LENGTH) {
      return `Password must be at most ${PASSWORD_MAX_LENGTH} characters`
    }
  }
  if (length < PASSWORD_MIN_LENGTH) return `Password must be at least ${PASSWORD_MIN_LENGTH} characters`
  return null
}

/**
 * Passwords are NFKC-normalized before argon2id hashing so the same password typed on another
 * keyboard or OS (composed vs decomposed accents) still matches (NIST SP 800-63B §5.1.1.2).
 */
export function normalizePassword(password: string): string {
  return password.normalize('NFKC')
}
