import crypto, { randomBytes, timingSafeEqual } from 'node:crypto'

/**
 * Opaque access tokens: `gth_` + 256 random bits in base64url.
 * - 256 bits from the CSPRNG: unguessable (OWASP Session Management Cheat Sheet, "Session ID
 *   entropy" asks for at least 64 bits).
 * - A fixed prefix lets secret scanners recognise a leaked token.
 * - Only SHA-256(token) is stored, so a database dump yields no usable token; a fast hash is
 *   enough because the secret has full entropy (nothing to brute-force).
 */
export const TOKEN_PREFIX = 'gth_'
const SECRET_BYTES = 32
const TOKEN_PATTERN = /^gth_[A-Za-z0-9_-]{43}$/

export interface IssuedToken {
  /** Given to the client once; never stored. */
  token: string
  /** Stored and used for lookup. */
  tokenHash: string
}

export function generateToken(): IssuedToken {
  const token = TOKEN_PREFIX + randomBytes(SECRET_BYTES).toString('base64url')
  return { token, tokenHash: hashToken(token) }
}

// crypto.hash (Node >= 20.12) is the one-shot form: no Hash object per request on the hot path.
const sha256Hex: (value: string) => string =
  typeof crypto.hash === 'function'
    ? (value) => crypto.hash('sha256', value, 'hex')
    : (value) => crypto.createHash('sha256').update(value).digest('hex')

export function hashToken(token: string): string {
  return sha256Hex(token)
}

/** Cheap shape check before any database work: garbage never reaches the store. */
export function isWellFormedToken(value: string): boolean {
  return TOKEN_PATTERN.test(value)
}

/** Constant-time string equality (no early exit on the first differing byte). */
export function safeEqual(a: string, b: string): boolean {
  // UTF-16 code units, not UTF-8: UTF-8 turns every lone surrogate into U+FFFD, so different
  // strings could encode to equal bytes.
  const left = Buffer.from(a, 'utf16le')
  const right = Buffer.from(b, 'utf16le')
  // timingSafeEqual needs equal lengths; comparing against itself keeps the time independent of b.
  if (left.length !== right.length) {
    timingSafeEqual(left, left)
    return false
  }
  return timingSafeEqual(left, right)
}
