import crypto, { randomBytes, timingSafeEqual } from 'node:crypto'

/**
 * Opaque tokens: a prefix naming the kind + 256 random bits in base64url. Access tokens are
 * `gth_…`, password-reset tokens `gthr_…`, email-verification tokens `gthv_…`, personal API keys
 * `ghk_…`: a token of one kind is never well formed as another, and a leaked one says what it opens.
 * - 256 bits from the CSPRNG: unguessable (OWASP Session Management Cheat Sheet, "Session ID
 *   entropy" asks for at least 64 bits).
 * - A fixed prefix lets secret scanners recognise a leaked token.
 * - Only SHA-256(token) is stored, so a database dump yields no usable token; a fast hash is
 *   enough because the secret has full entropy (nothing to brute-force).
 */
export const TOKEN_PREFIX = 'gth_'
export const RESET_TOKEN_PREFIX = 'gthr_'
export const VERIFY_TOKEN_PREFIX = 'gthv_'
export const API_KEY_PREFIX = 'ghk_'
export type TokenPrefix =
  | typeof TOKEN_PREFIX
  | typeof RESET_TOKEN_PREFIX
  | typeof VERIFY_TOKEN_PREFIX
  | typeof API_KEY_PREFIX
const SECRET_BYTES = 32
const SECRET_PATTERN = '[A-Za-z0-9_-]{43}'
const PATTERNS: Record<TokenPrefix, RegExp> = {
  [TOKEN_PREFIX]: new RegExp(`^${TOKEN_PREFIX}${SECRET_PATTERN}$`),
  [RESET_TOKEN_PREFIX]: new RegExp(`^${RESET_TOKEN_PREFIX}${SECRET_PATTERN}$`),
  [VERIFY_TOKEN_PREFIX]: new RegExp(`^${VERIFY_TOKEN_PREFIX}${SECRET_PATTERN}$`),
  [API_KEY_PREFIX]: new RegExp(`^${API_KEY_PREFIX}${SECRET_PATTERN}$`),
}

/**
 * The pattern a secret scanner can match for each kind (documented for GitHub custom patterns,
 * gitleaks, trufflehog): the prefix, then exactly 43 base64url characters.
 */
export const TOKEN_PATTERNS: Readonly<Record<TokenPrefix, RegExp>> = PATTERNS

export interface IssuedToken {
  /** Given to the client once; never stored. */
  token: string
  /** Stored and used for lookup. */
  tokenHash: string
}

export function generateToken(prefix: TokenPrefix = TOKEN_PREFIX): IssuedToken {
  const token = prefix + randomBytes(SECRET_BYTES).toString('base64url')
  return { token, tokenHash: hashToken(token) }
}

/**
 * A public identifier (a session's, shown in lists and named in URLs): 128 random bits, drawn
 * apart from the secret, so knowing it reveals neither the token nor its hash.
 */
export function generatePublicId(): string {
  return randomBytes(16).toString('base64url')
}

const PUBLIC_ID_PATTERN = /^[A-Za-z0-9_-]{22}$/
export function isWellFormedPublicId(value: string): boolean {
  return PUBLIC_ID_PATTERN.test(value)
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
export function isWellFormedToken(value: string, prefix: TokenPrefix = TOKEN_PREFIX): boolean {
  return PATTERNS[prefix].test(value)
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
