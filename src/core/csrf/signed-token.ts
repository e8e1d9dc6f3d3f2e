import { createHmac, createSecretKey, type KeyObject, randomBytes, timingSafeEqual } from 'node:crypto'

/**
 * CSRF tokens in OWASP's recommended form (OWASP CSRF Prevention Cheat Sheet, "Signed
 * Double-Submit Cookie (recommended)"): `base64url(nonce) + '.' + base64url(HMAC-SHA256(secret,
 * message))`, the message binding the token to one session. An attacker who can plant a cookie
 * (a sibling subdomain, a man-in-the-middle on http) still cannot mint a token that verifies for
 * the victim's session, and a token minted before login is refused after it (login CSRF).
 */
export interface CsrfTokens {
  /** `sessionBinding`: SHA-256 hex of the session token, or '' before login. */
  issue(sessionBinding: string): string
  /** False for every malformed, foreign or tampered token; never throws. */
  verify(token: string, sessionBinding: string): boolean
}

const PURPOSE = 'gatehouse-csrf-v1'
const MIN_SECRET_LENGTH = 32
// 256 random bits per token (OWASP CSRF Prevention Cheat Sheet: a CSPRNG value, unpredictable).
const NONCE_BYTES = 32
const MAC_BYTES = 32
// Refused before any decoding or HMAC work, so an oversized header costs nothing (a real token is 87).
const MAX_TOKEN_LENGTH = 200
// 32 bytes are 43 base64url characters without padding.
const TOKEN_SHAPE = /^[A-Za-z0-9_-]{43}\.[A-Za-z0-9_-]{43}$/

export function createCsrfTokens(secret: string): CsrfTokens {
  if (typeof secret !== 'string' || secret.length < MIN_SECRET_LENGTH) {
    throw new TypeError(
      `createCsrfTokens: secret must be a string of at least ${MIN_SECRET_LENGTH} characters`,
    )
  }
  const key = createSecretKey(Buffer.from(secret, 'utf8'))

  return {
    issue(sessionBinding: string): string {
      if (typeof sessionBinding !== 'string') {
        throw new TypeError('CsrfTokens.issue: sessionBinding must be a string')
      }
      const nonce = randomBytes(NONCE_BYTES)
      return `${nonce.toString('base64url')}.${sign(key, sessionBinding, nonce).toString('base64url')}`
    },

    verify(token: string, sessionBinding: string): boolean {
      if (typeof token !== 'string' || typeof sessionBinding !== 'string') return false
      if (token.length > MAX_TOKEN_LENGTH || !TOKEN_SHAPE.test(token)) return false
      const [encodedNonce = '', encodedMac = ''] = token.split('.')
      const nonce = decodeCanonical(encodedNonce, NONCE_BYTES)
      const mac = decodeCanonical(encodedMac, MAC_BYTES)
      if (nonce === null || mac === null) return false
      // Constant-time: the comparison time must not reveal how many leading bytes matched.
      return timingSafeEqual(mac, sign(key, sessionBinding, nonce))
    },
  }
}

/**
 * The message is length-prefixed: every part is preceded by its byte length as a 32-bit big-endian
 * integer. A separator would need a character that cannot occur in any part, but the binding is an
 * opaque caller string; with lengths, no choice of binding can shift bytes into the nonce or the
 * purpose, so two different (purpose, binding, nonce) triples never produce the same message.
 */
function sign(key: KeyObject, sessionBinding: string, nonce: Buffer): Buffer {
  const hmac = createHmac('sha256', key)
  for (const part of [Buffer.from(PURPOSE, 'utf8'), Buffer.from(sessionBinding, 'utf8'), nonce]) {
    const length = Buffer.alloc(4)
    length.writeUInt32BE(part.length)
    hmac.update(length).update(part)
  }
  return hmac.digest()
}

/**
 * Node's base64url decoder is lenient (it ignores unused trailing bits), so several strings decode
 * to the same bytes. Only the canonical spelling is accepted: one token, one string, which keeps the
 * cookie/header comparison of double-submit meaningful.
 */
function decodeCanonical(encoded: string, expectedBytes: number): Buffer | null {
  const bytes = Buffer.from(encoded, 'base64url')
  if (bytes.length !== expectedBytes || bytes.toString('base64url') !== encoded) return null
  return bytes
}
