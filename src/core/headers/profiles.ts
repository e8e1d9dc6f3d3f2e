import { API_CSP, DOCS_CSP, HTML_CSP, serializeCsp } from './csp.ts'

/**
 * Security headers as data: every default on one screen (OWASP HTTP Headers Cheat Sheet; OWASP
 * REST Security Cheat Sheet for the API profile). Names are lowercase, as HTTP/2 sends them.
 * Deliberately absent: `X-XSS-Protection` (OWASP HTTP Headers Cheat Sheet: do not set it; the legacy
 * filter could itself open holes, and CSP replaces it) and `X-Powered-By`.
 */
export type HeaderProfile = 'api' | 'html' | 'docs'
export type HeaderTable = Readonly<Record<string, string>>

/**
 * Denies powerful features none of our pages use, so injected or third-party script cannot ask for
 * them (OWASP HTTP Headers Cheat Sheet, "Permissions-Policy"). `browsing-topics` opts out of the
 * Topics API; its predecessor `interest-cohort` (FLoC) was withdrawn, so it is not listed.
 * `publickey-credentials-get` stays allowed for passkeys.
 */
export const PERMISSIONS_POLICY = [
  'accelerometer=()',
  'autoplay=()',
  'browsing-topics=()',
  'camera=()',
  'display-capture=()',
  'geolocation=()',
  'gyroscope=()',
  'magnetometer=()',
  'microphone=()',
  'payment=()',
  'usb=()',
].join(', ')

export const COMMON_HEADERS: HeaderTable = Object.freeze({
  // Browsers must not guess a script or a page out of a JSON body (OWASP HTTP Headers Cheat Sheet).
  'x-content-type-options': 'nosniff',
  // Clickjacking, for browsers without CSP frame-ancestors (OWASP Clickjacking Defense Cheat Sheet).
  'x-frame-options': 'DENY',
  // A page we open, or that opens us, gets no window handle to us (OWASP HTTP Headers Cheat Sheet).
  'cross-origin-opener-policy': 'same-origin',
  // No other origin may embed our responses as no-cors subresources (<script>, <img>): the
  // Spectre-style reads CORP exists for. It does NOT block CORS: Fetch standard, "cross-origin
  // resource policy internal check" returns allowed at once when the request's mode is not
  // "no-cors", so the demo on http://localhost:9000 fetching the API on :8000 is governed by the
  // CORS allowlist alone. `same-origin` is stricter than OWASP's `same-site` floor, on purpose: the
  // CSRF check refuses sibling subdomains too, and one trust boundary is easier to reason about.
  'cross-origin-resource-policy': 'same-origin',
  'permissions-policy': PERMISSIONS_POLICY,
})

export const PROFILE_HEADERS: Readonly<Record<HeaderProfile, HeaderTable>> = Object.freeze({
  api: Object.freeze({
    ...COMMON_HEADERS,
    'content-security-policy': serializeCsp(API_CSP),
    // An API response has no business telling anyone where the user came from (OWASP REST
    // Security Cheat Sheet); tokens in URLs of the calling page must not leak either.
    'referrer-policy': 'no-referrer',
  }),
  html: Object.freeze({
    ...COMMON_HEADERS,
    'content-security-policy': serializeCsp(HTML_CSP),
    // Full URL to our own origin, only the origin elsewhere, nothing on a downgrade to http
    // (OWASP HTTP Headers Cheat Sheet, "Referrer-Policy"; the browsers' default).
    'referrer-policy': 'strict-origin-when-cross-origin',
  }),
  docs: Object.freeze({
    ...COMMON_HEADERS,
    'content-security-policy': serializeCsp(DOCS_CSP),
    'referrer-policy': 'strict-origin-when-cross-origin',
  }),
})

/**
 * One year on every subdomain (RFC 6797 §6.1; OWASP HTTP Strict Transport Security Cheat Sheet).
 * Only sent when asked: on http://localhost it would pin the host to https for a year. `preload`
 * is a commitment to the browsers' preload list, left to an explicit override.
 */
export const HSTS_HEADER: readonly [string, string] = Object.freeze([
  'strict-transport-security',
  'max-age=31536000; includeSubDomains',
])

/** Cache-Control for authenticated responses: no shared or browser cache may keep them (RFC 9111 §5.2.2.5; OWASP REST Security Cheat Sheet). */
export const NO_STORE = 'no-store'

/** Clear-Site-Data value for logout: the browser drops this origin's cookies (W3C Clear Site Data §3.1). */
export const CLEAR_SITE_DATA_COOKIES = '"cookies"'
