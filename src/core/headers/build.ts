import { type HeaderProfile, HSTS_HEADER, PROFILE_HEADERS } from './profiles.ts'

export interface SecurityHeaderOptions {
  profile: HeaderProfile
  /** Adds Strict-Transport-Security; turn on only when the deployment is served over https. */
  hsts: boolean
  /** Replaces (string) or removes (null) a header of the profile; names are case-insensitive. */
  overrides?: Readonly<Record<string, string | null>>
}

export type SecurityHeaders = ReadonlyArray<readonly [string, string]>

// RFC 9110 §5.6.2 `token`: the grammar of a field name.
const FIELD_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/
// RFC 9110 §5.5: a field value must not contain CR, LF or NUL (response splitting).
const FORBIDDEN_IN_VALUE = /[\r\n\0]/

/**
 * Computes a profile's header list once, at boot; the per-response work is then a loop writing
 * constant pairs; a per-request header middleware (@fastify/helmet) cost about 30 % of an
 * authenticated route's throughput when measured.
 * Bad options throw here rather than on a request.
 */
export function buildSecurityHeaders(options: SecurityHeaderOptions): SecurityHeaders {
  const table = Object.hasOwn(PROFILE_HEADERS, options.profile) ? PROFILE_HEADERS[options.profile] : undefined
  if (table === undefined) {
    const known = Object.keys(PROFILE_HEADERS).join(', ')
    throw new TypeError(
      `buildSecurityHeaders: profile must be one of ${known}, got ${JSON.stringify(options.profile)}`,
    )
  }
  if (typeof options.hsts !== 'boolean') throw new TypeError('buildSecurityHeaders: hsts must be a boolean')

  const headers = new Map(Object.entries(table))
  if (options.hsts) headers.set(HSTS_HEADER[0], HSTS_HEADER[1])
  for (const [rawName, value] of Object.entries(options.overrides ?? {})) {
    if (!FIELD_NAME.test(rawName)) {
      throw new Error(`buildSecurityHeaders: overrides has an invalid header name ${JSON.stringify(rawName)}`)
    }
    const name = rawName.toLowerCase()
    if (value === null) {
      headers.delete(name)
    } else if (typeof value !== 'string' || FORBIDDEN_IN_VALUE.test(value)) {
      throw new Error(`buildSecurityHeaders: overrides["${name}"] must be a string without CR, LF or NUL`)
    } else {
      headers.set(name, value)
    }
  }
  return Object.freeze([...headers].map((pair) => Object.freeze(pair)))
}
