import type { FastifyRequest } from 'fastify'
import { GatehouseError } from '../core/errors.ts'
import type { RequestAuth } from './decorations.ts'
import { type DeclaredScheme, defineSecurityDependency, type SecurityDependency } from './security/types.ts'

export interface CurrentUserOptions {
  /** Where the password flow issues tokens, for the docs' Authorize button. */
  tokenUrl?: string
  /** Name of the session cookie to accept as well; null accepts the bearer header only. */
  sessionCookie: string | null
}

// RFC 7235 §2.1: the auth-scheme is case-insensitive; RFC 6750 §2.1: b64token after one space.
const BEARER = /^bearer +([A-Za-z0-9\-._~+/]+=*)$/i

// RFC 6750 §3.1: no error code when the request carried no credentials at all.
const CHALLENGE = { 'www-authenticate': 'Bearer' }
const INVALID_TOKEN_CHALLENGE = { 'www-authenticate': 'Bearer error="invalid_token"' }

/**
 * The signed-in user from `Authorization: Bearer <token>` or, failing that, the session cookie.
 * Sets `request.auth` / `request.user`, or answers 401. The header wins when both are sent, so an
 * API client is never silently authenticated by a stale browser cookie.
 */
export function currentUser(options: CurrentUserOptions): SecurityDependency {
  const tokenUrl = options.tokenUrl ?? '/token'
  const { sessionCookie } = options

  async function authenticate(request: FastifyRequest): Promise<void> {
    const { accounts } = request.server.gatehouse
    const header = request.headers.authorization
    let token: string | undefined
    let via: RequestAuth['via'] = 'bearer'
    if (header !== undefined) {
      token = BEARER.exec(header)?.[1]
      if (token === undefined) throw new GatehouseError('INVALID_TOKEN', { headers: INVALID_TOKEN_CHALLENGE })
    } else if (sessionCookie) {
      token = request.cookies?.[sessionCookie]
      via = 'cookie'
    }
    if (!token) throw new GatehouseError('NOT_AUTHENTICATED', { headers: CHALLENGE })
    const context = await accounts.validateToken(token)
    if (!context) throw new GatehouseError('INVALID_TOKEN', { headers: INVALID_TOKEN_CHALLENGE })
    request.auth = { ...context, via }
    request.user = context.user
  }

  const schemes: DeclaredScheme[] = [
    {
      name: 'OAuth2PasswordBearer',
      definition: { type: 'oauth2', flows: { password: { tokenUrl, scopes: {} } } },
    },
  ]
  if (sessionCookie) {
    schemes.push({ name: 'APIKeyCookie', definition: { type: 'apiKey', in: 'cookie', name: sessionCookie } })
  }
  return defineSecurityDependency(authenticate, schemes)
}
