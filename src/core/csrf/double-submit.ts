import { safeEqual } from '../tokens/opaque-token.ts'

// A real CSRF token is 87 characters; anything far longer is refused before comparing.
const MAX_COMPARED_LENGTH = 200

/**
 * The double-submit comparison: the token in the cookie must equal the one in the header, which a
 * cross-site page cannot set (OWASP CSRF Prevention Cheat Sheet, "Signed Double-Submit Cookie").
 * Constant time, so the comparison does not reveal how much of a guess was right.
 */
export function isSameToken(cookieValue: string | undefined, headerValue: string | undefined): boolean {
  if (typeof cookieValue !== 'string' || typeof headerValue !== 'string') return false
  if (cookieValue.length === 0 || headerValue.length === 0) return false
  if (cookieValue.length > MAX_COMPARED_LENGTH || headerValue.length > MAX_COMPARED_LENGTH) return false
  return safeEqual(cookieValue, headerValue)
}
