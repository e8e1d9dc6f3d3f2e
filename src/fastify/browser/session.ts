import type { FastifyReply, FastifyRequest } from 'fastify'
import type { User } from '../../accounts/user.ts'
import { CLEAR_SITE_DATA_COOKIES, NO_STORE } from '../../core/headers/index.ts'
import { clientOf } from '../client-info.ts'
import type { GatehouseContext } from '../decorations.ts'
import { CSRF_COOKIE_OPTIONS, expiredCookieOptions, sessionCookieOptions } from './cookies.ts'
import { sessionBinding } from './csrf-protection.ts'

function csrfSigner(context: GatehouseContext) {
  if (!context.csrf)
    throw new Error('cookie sessions need CSRF protection: give the gatehouse plugin a csrfSecret')
  return context.csrf
}

/**
 * Mints a CSRF token bound to the session (the request's session cookie unless another token is
 * given), sets it as the CSRF cookie and returns it, for the body: a front end on another origin
 * cannot read the API's cookies.
 */
export function issueCsrfToken(
  request: FastifyRequest,
  reply: FastifyReply,
  sessionToken: string | undefined = request.cookies[request.server.gatehouse.cookies.session],
): string {
  const context = request.server.gatehouse
  const token = csrfSigner(context).issue(sessionBinding(sessionToken))
  reply.setCookie(context.cookies.csrf, token, CSRF_COOKIE_OPTIONS)
  reply.header('cache-control', NO_STORE)
  return token
}

/**
 * Signs the browser in: `accounts.login` (brute-force throttled, and the session token the
 * browser held is revoked, so no session fixation), then the new session cookie and a CSRF token
 * bound to it (one minted before login is bound to no session). Returns the user and that token.
 */
export async function signIn(
  request: FastifyRequest,
  reply: FastifyReply,
  credentials: { email: string; password: string },
): Promise<{ user: User; csrfToken: string }> {
  const { accounts, cookies } = request.server.gatehouse
  csrfSigner(request.server.gatehouse)
  const { user, issued } = await accounts.login({
    ...credentials,
    kind: 'session',
    client: clientOf(request),
    replacesToken: request.cookies[cookies.session],
  })
  reply.setCookie(cookies.session, issued.token, sessionCookieOptions(accounts.accessTokenTtlSeconds))
  return { user, csrfToken: issueCsrfToken(request, reply, issued.token) }
}

/**
 * The browser forgets the ended session: both cookies expire, and Clear-Site-Data (W3C Clear Site
 * Data §3.1) drops every cookie of this site as well.
 */
export function clearSessionCookies(request: FastifyRequest, reply: FastifyReply): void {
  const { accounts, cookies } = request.server.gatehouse
  reply.clearCookie(
    cookies.session,
    expiredCookieOptions(sessionCookieOptions(accounts.accessTokenTtlSeconds)),
  )
  reply.clearCookie(cookies.csrf, expiredCookieOptions(CSRF_COOKIE_OPTIONS))
  reply.header('clear-site-data', CLEAR_SITE_DATA_COOKIES)
}
