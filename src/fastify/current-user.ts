import type { FastifyRequest } from 'fastify'
import type { AccessTokenContext } from '../accounts/index.ts'
import { GatehouseError } from '../core/errors.ts'
import type { RequestAuth } from './decorations.ts'
import { bearerChallenges, readBearerToken } from './security/bearer.ts'
import { type DeclaredScheme, defineSecurityDependency, type SecurityDependency } from './security/types.ts'

export interface CurrentUserOptions {
  /** Where the password flow issues tokens, for the docs' Authorize button. */
  tokenUrl?: string
  /** Name of the session cookie to accept as well; null accepts the bearer header only. */
  sessionCookie: string | null
}

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
  const challenges = bearerChallenges(undefined)

  async function authenticate(request: FastifyRequest): Promise<void> {
    const header = request.headers.authorization
    let token: string | undefined
    let via: RequestAuth['via'] = 'bearer'
    if (header) {
      token = readBearerToken(header, challenges)
    } else if (sessionCookie) {
      token = request.cookies[sessionCookie]
      via = 'cookie'
    }
    if (!token) throw new GatehouseError('NOT_AUTHENTICATED', { headers: challenges.missing })
    const context = await request.server.gatehouse.accounts.validateToken(
      token,
      via === 'cookie' ? 'session' : 'bearer',
    )
    if (!context) throw new GatehouseError('INVALID_TOKEN', { headers: challenges.invalid })
    request.auth = authOf(context, via)
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
