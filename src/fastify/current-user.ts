import type { FastifyRequest } from 'fastify'
import type { AccessTokenContext } from '../accounts/index.ts'
import { GatehouseError } from '../core/errors.ts'
import { API_KEY_PREFIX } from '../core/tokens/index.ts'
import type { RequestAuth } from './decorations.ts'
import { bearerChallenges, readBearerToken } from './security/bearer.ts'
import { challenge, challengeHeaders } from './security/challenge.ts'
import { type DeclaredScheme, defineSecurityDependency, type SecurityDependency } from './security/types.ts'

export interface CurrentUserOptions {
  /** Where the password flow issues tokens, for the docs' Authorize button. */
  tokenUrl?: string
  /** Name of the session cookie to accept as well; null accepts the bearer header only. */
  sessionCookie: string | null
  /**
   * The scopes the route needs. With them, a personal API key (`ghk_…`) carrying all of them is
   * accepted too; without them, a key is refused: a key opens only what names its scopes. The
   * user's own session or token carries every scope.
   */
  scopes?: readonly string[]
}

/** The schemes' names in the OpenAPI document (and the docs' Authorize dialog). */
export const PASSWORD_FLOW_SCHEME = 'OAuth2PasswordBearer'
export const API_KEY_SCHEME = 'APIKeyBearer'

/**
 * One frozen `request.auth` per validated context: the token cache hands back the same context
 * for every request with that token, so this is one object per token, not one per request. A
 * context is of one kind and a kind travels one way, so `via` never differs for the same context.
 */
const auths = new WeakMap<AccessTokenContext, RequestAuth>()
function authOf(context: AccessTokenContext, via: RequestAuth['via']): RequestAuth {
  const known = auths.get(context)
  if (known !== undefined && known.via === via) return known
  const auth: RequestAuth = Object.freeze({ ...context, via })
  auths.set(context, auth)
  return auth
}

/**
 * The signed-in user from `Authorization: Bearer <token>` or, failing that, the session cookie.
 * Sets `request.auth` / `request.user`, or answers per RFC 6750 §3.1 (401, or 400 for a malformed
 * header). The header wins when both are sent, so an API client is never silently authenticated
 * by a stale browser cookie.
 */
export function currentUser(options: CurrentUserOptions): SecurityDependency {
  const tokenUrl = options.tokenUrl ?? '/token'
  const { sessionCookie } = options
  const requiredScopes = options.scopes === undefined ? null : [...new Set(options.scopes)]
  const challenges = bearerChallenges(undefined)
  // RFC 6750 §3.1 insufficient_scope, with §3 `scope`: what the route needs, never what was sent.
  const insufficientScope = challengeHeaders(
    challenge('Bearer', [
      ['error', '"insufficient_scope"'],
      ...(requiredScopes && requiredScopes.length > 0
        ? ([['scope', `"${requiredScopes.join(' ')}"`]] as [string, string][])
        : []),
    ]),
  )

  async function authenticate(request: FastifyRequest): Promise<void> {
    const header = request.headers.authorization
    let token: string | undefined
    let via: RequestAuth['via'] = 'bearer'
    if (header) {
      token = readBearerToken(header, challenges)
    } else if (sessionCookie) {
      // Never an API key from a cookie: a key is no ambient credential (no CSRF exposure).
      token = request.cookies[sessionCookie]
      via = 'cookie'
    }
    if (!token) throw new GatehouseError('NOT_AUTHENTICATED', { headers: challenges.missing })
    const { accounts } = request.server.gatehouse
    let context: AccessTokenContext | null
    if (via === 'bearer' && token.startsWith(API_KEY_PREFIX)) {
      // Refused before any lookup on a route that names no scope: nothing is learnt of the key.
      if (requiredScopes === null)
        throw new GatehouseError('API_KEY_NOT_ALLOWED', { headers: insufficientScope })
      context = await accounts.validateApiKey(token)
    } else {
      context = await accounts.validateToken(token, via === 'cookie' ? 'session' : 'bearer')
    }
    if (!context) throw new GatehouseError('INVALID_TOKEN', { headers: challenges.invalid })
    if (requiredScopes !== null && context.scopes !== null) {
      const granted = context.scopes
      if (!requiredScopes.every((scope) => granted.has(scope))) {
        throw new GatehouseError('INSUFFICIENT_SCOPE', { headers: insufficientScope })
      }
    }
    request.auth = authOf(context, via)
    request.user = context.user
  }

  const scopes = requiredScopes ?? []
  const schemes: DeclaredScheme[] = [
    {
      name: PASSWORD_FLOW_SCHEME,
      definition: { type: 'oauth2', flows: { password: { tokenUrl, scopes: {} } } },
      scopes,
    },
  ]
  if (requiredScopes !== null) {
    schemes.push({
      name: API_KEY_SCHEME,
      definition: {
        type: 'http',
        scheme: 'bearer',
        bearerFormat: 'ghk_ personal API key',
        description: 'A personal API key (POST /api-keys), sent as `Authorization: Bearer ghk_…`.',
      },
      scopes,
    })
  }
  if (sessionCookie) {
    schemes.push({ name: 'APIKeyCookie', definition: { type: 'apiKey', in: 'cookie', name: sessionCookie } })
  }
  return defineSecurityDependency(authenticate, schemes)
}

/**
 * A security dependency for a route that API keys may use: the signed-in user (who holds every
 * scope) or a key carrying all of `scopes`; 403 `insufficient_scope` otherwise (RFC 6750 §3.1).
 */
export function requireScopes(
  scopes: readonly string[],
  options: Omit<CurrentUserOptions, 'scopes'>,
): SecurityDependency {
  if (scopes.length === 0) throw new TypeError('requireScopes: name at least one scope')
  return currentUser({ ...options, scopes })
}
