/**
 * Serialised origins (RFC 6454 §6.2): `scheme://host[:port]`, nothing more. Shared by the CORS
 * allowlist and the CSRF Origin check so both compare origins the same way.
 */

// A browser never sends anything longer: DNS names stop at 253 characters (RFC 1035 §2.3.4), and
// a cap keeps an oversized header from reaching the URL parser.
const MAX_ORIGIN_LENGTH = 300

// No path, query, fragment or userinfo may follow the authority: `http://a.com/` and
// `http://user@a.com` are configuration mistakes, not origins. The backslash is excluded because
// the WHATWG URL parser treats it as a path separator in http(s) URLs.
const ORIGIN_SHAPE = /^[a-z][a-z0-9+.-]*:\/\/[^/?#@\\\s]+$/i

// What a host looks like after WHATWG parsing: an ASCII (punycode) DNS name, an IPv4 address or a
// bracketed IPv6 address. The parser lets characters like `*` through, so `http://*.example.com`
// would otherwise pass as a literal origin that no browser ever sends, hiding a wildcard mistake.
const PARSED_HOSTNAME = /^(?:[a-z0-9_-]+(?:\.[a-z0-9_-]+)*\.?|\[[0-9a-f:.]+\])$/

/**
 * Returns the origin in its canonical form (lowercase scheme and host, IDN as punycode, default
 * port dropped), exactly as a browser serialises it in the `Origin` header, or null when the value
 * is not an http(s) origin. The WHATWG URL parser is used because it is the one browsers use.
 */
export function normalizeOrigin(value: string): string | null {
  if (value.length === 0 || value.length > MAX_ORIGIN_LENGTH || !ORIGIN_SHAPE.test(value)) return null
  let url: URL
  try {
    url = new URL(value)
  } catch {
    return null
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return null
  if (!PARSED_HOSTNAME.test(url.hostname)) return null
  return url.origin
}

/**
 * Parses the `CORS_ORIGINS` environment variable: comma-separated, whitespace trimmed, empty
 * entries dropped. Validation is left to `createCorsPolicy`, so a bad entry fails with its name.
 */
export function parseOriginList(csv: string): string[] {
  return csv
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry.length > 0)
}

/**
 * Canonical forms of configured origins, or an error naming the bad entry (`where[index]`): the
 * one validation the CORS allowlist and the CSRF trusted origins share.
 */
export function canonicalOrigins(values: readonly unknown[], where: string, expected: string): string[] {
  return values.map((origin, index) => {
    const canonical = typeof origin === 'string' ? normalizeOrigin(origin) : null
    if (canonical === null) {
      throw new Error(`${where}[${index}] ${JSON.stringify(origin)} is not an origin; expected ${expected}`)
    }
    return canonical
  })
}
