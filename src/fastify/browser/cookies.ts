import type { CookieSerializeOptions } from '@fastify/cookie'

/**
 * Cookie attributes (OWASP Session Management Cheat Sheet, "Cookies"; RFC 6265bis §4.1.2):
 * HttpOnly keeps the session token out of reach of injected script, Secure keeps it off plain
 * http (browsers treat http://localhost as secure, so development still works), SameSite=Lax stops
 * it riding along on cross-site subrequests and POSTs, Path=/ and no Domain keep it host-only
 * (which the `__Host-` prefix of the production names also enforces).
 */
export function sessionCookieOptions(maxAgeSeconds: number): CookieSerializeOptions {
  return { httpOnly: true, secure: true, sameSite: 'lax', path: '/', maxAge: maxAgeSeconds }
}

/**
 * The CSRF cookie is readable by the page's own script (the book's pages copy it into the header),
 * which is safe: it is signed and bound to the session, so knowing it grants nothing elsewhere.
 */
export const CSRF_COOKIE_OPTIONS: CookieSerializeOptions = {
  httpOnly: false,
  secure: true,
  sameSite: 'lax',
  path: '/',
}

/** Expiring a cookie needs the same path/secure/sameSite it was set with. */
export function expiredCookieOptions(options: CookieSerializeOptions): CookieSerializeOptions {
  return { ...options, maxAge: 0, expires: new Date(0) }
}
