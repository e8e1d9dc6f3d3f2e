import { canonicalOrigins, normalizeOrigin } from '../cors/origin.ts'
import { isUnsafeMethod } from './methods.ts'

/**
 * First CSRF layer, before the token: refuse unsafe requests that a browser says come from another
 * site (OWASP CSRF Prevention Cheat Sheet, "Fetch Metadata headers" and "Verifying Origin with
 * standard headers"; W3C Fetch Metadata Request Headers §2.4). Browsers set `Sec-Fetch-Site` and
 * `Origin` themselves (forbidden header names), so a page cannot forge them.
 */
export interface CrossSiteCheckOptions {
  /** Front ends on other origins allowed to call the API with the user's cookies, e.g. `http://localhost:9000`. */
  trustedOrigins: string[]
}

export interface CrossSiteRequest {
  method: string
  secFetchSite?: string
  origin?: string
  /** The `Host` header, used to derive the server's own origin when `Sec-Fetch-Site` is absent. */
  host?: string
  protocolIsHttps?: boolean
}

/** Returns true when the request must be REFUSED as cross-site. */
export type CrossSiteCheck = (request: CrossSiteRequest) => boolean

export function createCrossSiteCheck(options: CrossSiteCheckOptions): CrossSiteCheck {
  const trusted = new Set(validateTrustedOrigins(options.trustedOrigins))
  const isTrusted = (origin: string | undefined): boolean => {
    if (origin === undefined) return false
    const canonical = normalizeOrigin(origin)
    return canonical !== null && trusted.has(canonical)
  }

  return function isRefusedAsCrossSite(request: CrossSiteRequest): boolean {
    if (!isUnsafeMethod(request.method)) return false
    switch (request.secFetchSite) {
      case 'same-origin':
      case 'none': // user-initiated (address bar, bookmark): no other site was involved
        return false
      // `same-site` is refused too: "site" ignores subdomains (and ports), so a compromised or
      // hostile sibling subdomain would pass (OWASP CSRF Prevention Cheat Sheet, "Fetch Metadata
      // headers": same-site is not same-origin). Both a configured front end on another port of
      // localhost (same-site) and one on another domain (cross-site) get in through the allowlist.
      case 'same-site':
      case 'cross-site':
        return !isTrusted(request.origin)
      case undefined:
        return isRefusedByOrigin(request, isTrusted)
      default:
        // The spec defines four values; anything else did not come from a browser we understand.
        return true
    }
  }
}

/**
 * Fallback for browsers without Fetch Metadata (OWASP CSRF Prevention Cheat Sheet, "Verifying
 * Origin with standard headers"). No Origin at all means no browser made a cross-origin request
 * (curl, a server, an old same-origin form), so there is nothing to refuse. `Origin: null` is what
 * sandboxed iframes, `data:` and `file:` pages send (RFC 6454 §7.3): attacker-controllable, refused.
 */
function isRefusedByOrigin(request: CrossSiteRequest, isTrusted: (origin: string) => boolean): boolean {
  const { origin } = request
  if (origin === undefined) return false
  if (origin === 'null') return true
  const canonical = normalizeOrigin(origin)
  if (canonical === null) return true
  return canonical !== ownOrigin(request) && !isTrusted(canonical)
}

function ownOrigin(request: CrossSiteRequest): string | null {
  if (request.host === undefined || request.host.length === 0) return null
  return normalizeOrigin(`${request.protocolIsHttps === true ? 'https' : 'http'}://${request.host}`)
}

function validateTrustedOrigins(trustedOrigins: unknown): string[] {
  if (!Array.isArray(trustedOrigins)) {
    throw new TypeError('createCrossSiteCheck: trustedOrigins must be an array of origins')
  }
  // '*' is refused too: trusting every origin would switch the check off.
  return canonicalOrigins(
    trustedOrigins,
    'createCrossSiteCheck: trustedOrigins',
    'scheme://host[:port] with http or https, no path, no wildcard',
  )
}
