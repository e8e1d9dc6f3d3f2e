import type { FastifyInstance, FastifyRequest, RouteOptions } from 'fastify'
import fastifyPlugin from 'fastify-plugin'
import { type CsrfTokens, createCrossSiteCheck, isSameToken, isUnsafeMethod } from '../../core/csrf/index.ts'
import { GatehouseError } from '../../core/errors.ts'
import { hashToken } from '../../core/tokens/index.ts'
import { isSecurityDependency } from '../security/types.ts'
import './route-config.ts'

function credentialCookiesOf(onRequest: RouteOptions['onRequest']): string[] {
  const hooks: unknown[] = onRequest === undefined ? [] : Array.isArray(onRequest) ? onRequest : [onRequest]
  return hooks
    .filter(isSecurityDependency)
    .flatMap((dependency) => dependency.securitySchemes)
    .flatMap(({ definition }) =>
      definition.type === 'apiKey' && definition.in === 'cookie' ? [definition.name] : [],
    )
}

export interface CsrfProtectionOptions {
  tokens: CsrfTokens
  /** Other origins whose pages may send unsafe requests (the CORS allowlist). */
  trustedOrigins: string[]
  sessionCookie: string
  csrfCookie: string
  /** starlette-csrf's and the book's header name. */
  headerName?: string
  /** Told of every refusal (for the audit trail); must not throw. */
  onRefused?: (request: FastifyRequest, reason: 'cross_site' | 'bad_token') => void
}

// Responses to unsafe requests depend on these request headers (RFC 9110 §12.5.5).
const VARY = 'Origin, Sec-Fetch-Site'

/** The session a CSRF token is bound to: the hash of the session cookie, '' when signed out. */
export function sessionBinding(sessionToken: string | undefined): string {
  return sessionToken ? hashToken(sessionToken) : ''
}

/**
 * Two layers on every unsafe request (OWASP CSRF Prevention Cheat Sheet):
 * 1. Fetch Metadata / Origin: a request a browser marks as coming from an untrusted site is refused
 *    before any work — /login and /register included (login CSRF).
 * 2. Signed double-submit, bound to the session: when the request carries the session cookie (the
 *    ambient credential) and no Authorization header, `x-csrftoken` must equal the CSRF cookie and
 *    carry a valid HMAC for this very session. Bearer and API-key requests carry no ambient
 *    credential, so a cross-site page cannot make them: they are exempt.
 */
async function csrfProtection(app: FastifyInstance, options: CsrfProtectionOptions): Promise<void> {
  const isCrossSite = createCrossSiteCheck({ trustedOrigins: options.trustedOrigins })
  const headerName = (options.headerName ?? 'x-csrftoken').toLowerCase()
  const { tokens, sessionCookie, csrfCookie } = options

  function hasValidToken(request: FastifyRequest, session: string): boolean {
    const header = request.headers[headerName]
    if (typeof header !== 'string') return false
    return isSameToken(request.cookies[csrfCookie], header) && tokens.verify(header, sessionBinding(session))
  }

  // Every cookie a route's security dependencies read as a credential (an `apiKeyCookie` under its
  // own name) is ambient like the session cookie, so it gets the same check (OWASP CSRF
  // Prevention Cheat Sheet: any cookie-based authentication needs CSRF protection).
  app.addHook('onRoute', (routeOptions) => {
    const names = credentialCookiesOf(routeOptions.onRequest).filter((name) => name !== sessionCookie)
    if (names.length > 0) routeOptions.config = { ...routeOptions.config, credentialCookies: names }
  })

  /** The refusal for this unsafe request, or null to let it through. */
  function refusalOf(request: FastifyRequest): GatehouseError | null {
    const refused = isCrossSite({
      method: request.method,
      secFetchSite: request.headers['sec-fetch-site'] as string | undefined,
      origin: request.headers.origin,
      host: request.headers.host,
      protocolIsHttps: request.protocol === 'https',
    })
    if (refused) {
      options.onRefused?.(request, 'cross_site')
      return new GatehouseError('CROSS_SITE_REQUEST')
    }
    if (request.routeOptions.config.csrf === false) return null
    // The token is bound to the credential the request carries: the session, else the route's
    // API-key cookie (its front end gets a token with `issueCsrfToken(request, reply, key)`).
    const credential =
      request.cookies[sessionCookie] ||
      request.routeOptions.config.credentialCookies?.map((name) => request.cookies[name]).find(Boolean)
    // Only a non-empty Authorization header replaces the cookie as the credential (currentUser
    // treats an empty one as absent and falls back to the cookie); a cross-site page cannot send
    // one without passing CORS.
    if (!credential || request.headers.authorization) return null
    if (!hasValidToken(request, credential)) {
      options.onRefused?.(request, 'bad_token')
      return new GatehouseError('CSRF_FAILED')
    }
    return null
  }

  // A callback hook, not an async one: safe methods, most of the traffic, leave at once without a
  // promise and a microtask each.
  app.addHook('onRequest', (request, reply, done) => {
    if (!isUnsafeMethod(request.method)) return done()
    reply.header('vary', VARY)
    const refusal = refusalOf(request)
    if (refusal) done(refusal)
    else done()
  })
}

export const csrfProtectionPlugin = fastifyPlugin(csrfProtection, {
  name: 'gatehouse-csrf',
  fastify: '5.x',
  dependencies: ['@fastify/cookie'],
})
