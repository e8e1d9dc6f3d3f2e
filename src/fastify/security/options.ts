/**
 * Option checks shared by the security dependency factories. They run once, when a factory is
 * called, so a misconfiguration stops the app at boot instead of surfacing on some request
 * (the fastify-bearer-auth habit: validate options in the factory, keep the hook tiny).
 */

/** RFC 9110 §5.6.2 `token`: header field names, auth-schemes and cookie-names (RFC 6265 §4.1.1). */
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/

/** OpenAPI 3.1 §4.8.7.1: keys of the Components Object MUST match this expression. */
const COMPONENT_KEY = /^[a-zA-Z0-9.\-_]+$/

export function requireFunction<F>(value: unknown, option: string): F {
  if (typeof value !== 'function') throw new TypeError(`option "${option}" must be a function`)
  return value as F
}

export function requireNonEmptyString(value: unknown, option: string): string {
  if (typeof value !== 'string' || value.length === 0) {
    throw new TypeError(`option "${option}" must be a non-empty string`)
  }
  return value
}

export function requireToken(value: unknown, option: string): string {
  const text = requireNonEmptyString(value, option)
  if (!TOKEN.test(text)) {
    throw new TypeError(
      `option "${option}" must be an HTTP token (RFC 9110 §5.6.2), got ${JSON.stringify(text)}`,
    )
  }
  return text
}

export function optionalString(value: unknown, option: string): string | undefined {
  if (value === undefined) return undefined
  return requireNonEmptyString(value, option)
}

export function schemeNameOption(value: unknown, fallback: string): string {
  if (value === undefined) return fallback
  const name = requireNonEmptyString(value, 'schemeName')
  if (!COMPONENT_KEY.test(name)) {
    throw new TypeError(`option "schemeName" must match ^[a-zA-Z0-9.\\-_]+$ (OpenAPI components key)`)
  }
  return name
}

export function errorStatusOption(value: unknown): 401 | 403 {
  if (value === undefined || value === 401) return 401
  if (value === 403) return 403
  throw new TypeError('option "errorStatus" must be 401 or 403')
}

export function requireOptionsObject(value: unknown, factory: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null)
    throw new TypeError(`${factory}: options object is required`)
  return value as Record<string, unknown>
}

/** RFC 5234 Appendix B.1 CTL (%x00-1F / %x7F). A loop, not a regex: no control characters in source. */
export function hasControlCharacter(text: string): boolean {
  for (let index = 0; index < text.length; index++) {
    const code = text.charCodeAt(index)
    if (code < 0x20 || code === 0x7f) return true
  }
  return false
}
