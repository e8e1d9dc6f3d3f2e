import type { FastifyReply, FastifyRequest } from 'fastify'
import type { User } from '../../accounts/user.ts'
import { NO_STORE } from '../../core/headers/index.ts'
import { hashToken } from '../../core/tokens/index.ts'
import type { GatehouseContext } from '../decorations.ts'
import { CSRF_COOKIE_OPTIONS, sessionCookieOptions } from './cookies.ts'
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
 * Signs the user in with a session cookie and returns the session's CSRF token.
 * A fresh token every time, never the one the browser sent, which is revoked: no session fixation
 * (OWASP Session Management Cheat Sheet, "Renew the Session ID After Any Privilege Level Change").
 * The CSRF token rotates with it: one minted before login is bound to no session.
 */
export async function startSession(
  request: FastifyRequest,
  reply: FastifyReply,
  user: User,
): Promise<string> {
  const { accounts, cookies } = request.server.gatehouse
  csrfSigner(request.server.gatehouse)
  const previous = request.cookies[cookies.session]
  if (previous) await accounts.revokeToken(hashToken(previous))
  const issued = await accounts.issueToken(user.id, 'session')
  reply.setCookie(cookies.session, issued.token, sessionCookieOptions(accounts.accessTokenTtlSeconds))
  return issueCsrfToken(request, reply, issued.token)
}
