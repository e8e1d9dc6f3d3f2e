import { canonicalOrigins, normalizeOrigin } from './origin.ts'

/**
 * The CORS allowlist, validated once at boot so a misconfiguration fails the start, never a request
 * (OWASP HTML5 Security Cheat Sheet, "Cross Origin Resource Sharing": explicit allowlist, no '*'
 * for authenticated resources).
 */
export interface CorsPolicyOptions {
  origins: string[]
  credentials?: boolean
  maxAgeSeconds?: number
  methods?: string[]
  allowedHeaders?: string[]
  exposedHeaders?: string[]
}

export interface CorsPolicy {
  /** Canonical origins (see normalizeOrigin), or exactly `['*']`. */
  readonly origins: readonly string[]
  readonly credentials: boolean
  readonly maxAgeSeconds: number
  readonly methods: readonly string[]
  /** Lowercase: header names are case-insensitive (RFC 9110 §5.1). */
  readonly allowedHeaders: readonly string[]
  readonly exposedHeaders: readonly string[]
  isAllowedOrigin(origin: string | undefined): boolean
}

export const WILDCARD_ORIGIN = '*'
export const DEFAULT_CORS_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const
export const DEFAULT_CORS_ALLOWED_HEADERS = ['content-type', 'x-csrftoken', 'authorization'] as const
// Ten minutes: long enough to spare most preflights, short enough that a tightened policy reaches
// browsers soon (Chromium caps Access-Control-Max-Age at 2 hours anyway).
export const DEFAULT_CORS_MAX_AGE_SECONDS = 600

const REMEMBERED_ORIGINS = 256

// RFC 9110 §5.6.2 `token`: the grammar of both method and field names.
const HTTP_TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/

export function createCorsPolicy(options: CorsPolicyOptions): CorsPolicy {
  const credentials = options.credentials ?? true
  if (typeof credentials !== 'boolean') throw new TypeError('createCorsPolicy: credentials must be a boolean')
  const maxAgeSeconds = options.maxAgeSeconds ?? DEFAULT_CORS_MAX_AGE_SECONDS
  if (!Number.isSafeInteger(maxAgeSeconds) || maxAgeSeconds < 0) {
    throw new RangeError(
      `createCorsPolicy: maxAgeSeconds must be a non-negative integer, got ${maxAgeSeconds}`,
    )
  }
  const origins = normalizeOrigins(options.origins, credentials)
  const methods = normalizeTokens('methods', options.methods ?? DEFAULT_CORS_METHODS, credentials, false)
  const allowedHeaders = normalizeTokens(
    'allowedHeaders',
    options.allowedHeaders ?? DEFAULT_CORS_ALLOWED_HEADERS,
    credentials,
    true,
  )
  const exposedHeaders = normalizeTokens('exposedHeaders', options.exposedHeaders ?? [], credentials, true)

  const allowsAnyOrigin = origins[0] === WILDCARD_ORIGIN
  const allowed = new Set(origins)
  // Answers per raw Origin value: a front end sends the same few on every request, and each one
  // is a URL parse. Bounded, so a client sending a new Origin each time gets the uncached answer.
  const remembered = new Map<string, boolean>()
  return Object.freeze({
    origins,
    credentials,
    maxAgeSeconds,
    methods,
    allowedHeaders,
    exposedHeaders,
    isAllowedOrigin(origin: string | undefined): boolean {
      if (typeof origin !== 'string' || origin.length === 0) return false
      if (allowsAnyOrigin) return true
      // Exact match of canonical forms only. Suffix or substring matching is how allowlists get
      // bypassed: `localhost:9000` is a substring of `http://evil-localhost:9000`, and
      // `https://example.com.attacker.net` starts with `https://example.com` (PortSwigger,
      // "Exploiting CORS misconfigurations"; OWASP WSTG-CLNT-07).
      const known = remembered.get(origin)
      if (known !== undefined) return known
      const canonical = normalizeOrigin(origin)
      const answer = canonical !== null && allowed.has(canonical)
      if (remembered.size < REMEMBERED_ORIGINS) remembered.set(origin, answer)
      return answer
    },
  })
}

function normalizeOrigins(origins: unknown, credentials: boolean): readonly string[] {
  if (!Array.isArray(origins)) throw new TypeError('createCorsPolicy: origins must be an array of origins')
  if (origins.includes(WILDCARD_ORIGIN)) {
    // Fetch standard, CORS protocol: `Access-Control-Allow-Origin: *` is ignored for credentialed
    // requests, and reflecting any origin instead would hand every site the user's session.
    if (credentials) {
      throw new Error(
        "createCorsPolicy: origin '*' cannot be used with credentials; list the origins instead",
      )
    }
    if (origins.length > 1) {
      throw new Error("createCorsPolicy: origin '*' already allows every origin; do not list others with it")
    }
    return Object.freeze([WILDCARD_ORIGIN])
  }
  const canonical = canonicalOrigins(
    origins,
    'createCorsPolicy: origins',
    'scheme://host[:port] with http or https, no path, query, trailing slash or userinfo',
  )
  return Object.freeze([...new Set(canonical)])
}

function normalizeTokens(
  name: string,
  values: readonly unknown[],
  credentials: boolean,
  caseInsensitive: boolean,
): readonly string[] {
  if (!Array.isArray(values)) throw new TypeError(`createCorsPolicy: ${name} must be an array of strings`)
  const tokens = values.map((value, index) => {
    if (typeof value !== 'string' || !HTTP_TOKEN.test(value)) {
      throw new Error(`createCorsPolicy: ${name}[${index}] ${JSON.stringify(value)} is not an HTTP token`)
    }
    // Fetch standard: '*' is a wildcard only for requests without credentials; with credentials a
    // browser reads it as a literal name, which is never what was meant.
    if (value === '*' && credentials) {
      throw new Error(`createCorsPolicy: ${name} cannot contain '*' when credentials are allowed`)
    }
    // Methods are case-sensitive (RFC 9110 §9.1); field names are not (RFC 9110 §5.1).
    return caseInsensitive ? value.toLowerCase() : value
  })
  return Object.freeze([...new Set(tokens)])
}
