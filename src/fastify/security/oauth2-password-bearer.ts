import type { OpenAPIV3 } from 'openapi-types'
import { bearerDependency } from './bearer.ts'
import {
  hasControlCharacter,
  optionalString,
  requireFunction,
  requireNonEmptyString,
  requireOptionsObject,
  schemeNameOption,
} from './options.ts'
import type { SecurityDependency } from './types.ts'
import type { CredentialVerifier } from './verify.ts'

export interface OAuth2PasswordBearerOptions {
  /** Where the docs' Authorize button posts username/password (relative to the server, or absolute). */
  tokenUrl: string
  verify: CredentialVerifier<string>
  /** Scopes the token endpoint can grant, name → description (OpenAPI `flows.password.scopes`). */
  scopes?: Record<string, string>
  realm?: string
  schemeName?: string
  description?: string
}

/** RFC 6749 §3.3: `scope-token = 1*( %x21 / %x23-5B / %x5D-7E )`. */
const SCOPE_TOKEN = /^[\x21\x23-\x5b\x5d-\x7e]+$/

/**
 * A URL reference (relative like FastAPI's `tokenUrl="token"`, or absolute). Absolute URLs must be
 * http(s): the docs UI posts passwords there, so `javascript:` or `data:` would be an injection.
 */
function tokenUrlOption(value: unknown): string {
  const tokenUrl = requireNonEmptyString(value, 'tokenUrl')
  if (
    /\s/.test(tokenUrl) ||
    hasControlCharacter(tokenUrl) ||
    !URL.canParse(tokenUrl, 'http://relative.invalid/')
  ) {
    throw new TypeError('option "tokenUrl" must be a URL or a path without spaces or control characters')
  }
  const resolved = new URL(tokenUrl, 'http://relative.invalid/')
  if (resolved.protocol !== 'http:' && resolved.protocol !== 'https:') {
    throw new TypeError('option "tokenUrl" must be a relative path or an http(s) URL')
  }
  return tokenUrl
}

function scopesOption(value: unknown): Record<string, string> {
  if (value === undefined) return {}
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new TypeError('option "scopes" must be an object of scope name → description')
  }
  const scopes: Record<string, string> = {}
  for (const [scope, description] of Object.entries(value)) {
    if (!SCOPE_TOKEN.test(scope))
      throw new TypeError(`option "scopes": ${JSON.stringify(scope)} is no scope-token`)
    if (typeof description !== 'string') throw new TypeError(`option "scopes.${scope}" must be a string`)
    scopes[scope] = description
  }
  return scopes
}

/**
 * FastAPI's `OAuth2PasswordBearer`: reads `Authorization: Bearer` like httpBearer, but documents an
 * OAuth2 password flow so the docs UI can fetch a token from `tokenUrl` (RFC 6749 §4.3).
 */
export function oauth2PasswordBearer(input: OAuth2PasswordBearerOptions): SecurityDependency {
  const options = requireOptionsObject(input, 'oauth2PasswordBearer')
  const tokenUrl = tokenUrlOption(options.tokenUrl)
  const verify = requireFunction<CredentialVerifier<string>>(options.verify, 'verify')
  const description = optionalString(options.description, 'description')
  const definition: OpenAPIV3.OAuth2SecurityScheme = {
    type: 'oauth2',
    flows: { password: { tokenUrl, scopes: scopesOption(options.scopes) } },
  }
  if (description !== undefined) definition.description = description
  return bearerDependency(verify, optionalString(options.realm, 'realm'), {
    name: schemeNameOption(options.schemeName, 'OAuth2PasswordBearer'),
    definition,
  })
}
