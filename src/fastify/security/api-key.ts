import type { FastifyRequest } from 'fastify'
import type { OpenAPIV3 } from 'openapi-types'
import { GatehouseError } from '../../core/errors.ts'
import { safeEqual } from '../../core/tokens/opaque-token.ts'
import { challengeHeaders } from './challenge.ts'
import {
  errorStatusOption,
  optionalString,
  requireFunction,
  requireNonEmptyString,
  requireOptionsObject,
  requireToken,
  schemeNameOption,
} from './options.ts'
import { defineSecurityDependency, type SecurityDependency } from './types.ts'
import { type CredentialVerifier, isVerified } from './verify.ts'

interface ApiKeyCommonOptions {
  /** Header, cookie or query parameter name carrying the key. */
  name: string
  /** Key in `components.securitySchemes`; FastAPI's class name by default. */
  schemeName?: string
  description?: string
  /**
   * 401 (default) answers with `WWW-Authenticate: APIKey`; 403 answers `{"detail": "Not
   * authenticated"}` without a challenge, like FastAPI's APIKey* classes did (the book's examples).
   */
  errorStatus?: 401 | 403
}

export type ApiKeyOptions = ApiKeyCommonOptions &
  (
    | { verify: CredentialVerifier<string>; keys?: never }
    /** Accepted keys, each compared in constant time against the candidate. */
    | { keys: readonly string[]; verify?: never }
  )

type Location = 'header' | 'cookie' | 'query'

const FACTORY: Record<Location, string> = {
  header: 'apiKeyHeader',
  cookie: 'apiKeyCookie',
  query: 'apiKeyQuery',
}
/** FastAPI's default scheme names, so documents and clients written for it keep working. */
const DEFAULT_SCHEME_NAME: Record<Location, string> = {
  header: 'APIKeyHeader',
  cookie: 'APIKeyCookie',
  query: 'APIKeyQuery',
}

/**
 * RFC 9110 §15.5.2 (401) requires a WWW-Authenticate challenge, yet no auth-scheme is registered
 * for API keys; `APIKey` is the custom challenge FastAPI sends for the same reason.
 */
const API_KEY_CHALLENGE = challengeHeaders('APIKey')

type Reader = (request: FastifyRequest, name: string) => unknown

const READERS: Record<Location, Reader> = {
  // Node lower-cases incoming header names; the option is lower-cased once at factory time.
  header: (request, name) => request.headers[name],
  cookie: (request, name) => {
    const cookies = (request as { cookies?: Record<string, string | undefined> }).cookies
    // Without @fastify/cookie every request would look unauthenticated: fail loudly instead.
    if (cookies === undefined) throw new Error('apiKeyCookie needs @fastify/cookie registered on the app')
    return cookies[name]
  },
  // A repeated parameter parses to an array and is refused below like any non-string value.
  query: (request, name) => (request.query as Record<string, unknown> | undefined)?.[name],
}

/** Every key is compared, match or not: the loop never exits early to reveal which key matched. */
function keysVerifier(value: unknown): CredentialVerifier<string> {
  if (!Array.isArray(value) || value.length === 0) {
    throw new TypeError('option "keys" must be a non-empty array of strings')
  }
  const keys = value.map((key, index) => requireNonEmptyString(key, `keys[${index}]`))
  return (candidate) => {
    let matched = false
    for (const key of keys) {
      if (safeEqual(key, candidate)) matched = true
    }
    return matched
  }
}

function apiKeyDependency(location: Location, input: ApiKeyOptions): SecurityDependency {
  const factory = FACTORY[location]
  const options = requireOptionsObject(input, factory)
  const name =
    location === 'query' ? requireNonEmptyString(options.name, 'name') : requireToken(options.name, 'name')
  if (options.verify !== undefined && options.keys !== undefined) {
    throw new TypeError(`${factory}: give either option "verify" or option "keys", not both`)
  }
  const verify =
    options.keys !== undefined
      ? keysVerifier(options.keys)
      : requireFunction<CredentialVerifier<string>>(options.verify, 'verify')
  const errorStatus = errorStatusOption(options.errorStatus)
  const description = optionalString(options.description, 'description')
  const definition: OpenAPIV3.ApiKeySecurityScheme = { type: 'apiKey', in: location, name }
  if (description !== undefined) definition.description = description

  const read = READERS[location]
  const lookupName = location === 'header' ? name.toLowerCase() : name
  // Missing and wrong keys get the same answer: the client learns nothing about which it was.
  const deny =
    errorStatus === 403
      ? () => new GatehouseError('INVALID_API_KEY')
      : () => new GatehouseError('NOT_AUTHENTICATED', { headers: API_KEY_CHALLENGE })

  return defineSecurityDependency(
    async (request) => {
      const candidate = read(request, lookupName)
      // An empty value is no credential (FastAPI treats it as missing too).
      if (typeof candidate !== 'string' || candidate.length === 0) throw deny()
      if (!(await isVerified(verify, candidate, request))) throw deny()
    },
    [{ name: schemeNameOption(options.schemeName, DEFAULT_SCHEME_NAME[location]), definition }],
  )
}

/** FastAPI's `APIKeyHeader`: the key in a request header (e.g. `X-API-Key`). */
export function apiKeyHeader(options: ApiKeyOptions): SecurityDependency {
  return apiKeyDependency('header', options)
}

/** FastAPI's `APIKeyCookie`: the key in a cookie; needs @fastify/cookie on the app. */
export function apiKeyCookie(options: ApiKeyOptions): SecurityDependency {
  return apiKeyDependency('cookie', options)
}

/**
 * FastAPI's `APIKeyQuery`. Prefer a header: URLs end up in access logs, proxies and browser
 * history (OWASP REST Security Cheat Sheet, "Sensitive information in HTTP requests").
 */
export function apiKeyQuery(options: ApiKeyOptions): SecurityDependency {
  return apiKeyDependency('query', options)
}
