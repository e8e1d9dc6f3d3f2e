import { type Static, Type } from '@sinclair/typebox'
import type { FastifyInstance } from 'fastify'
import { toPublicUser } from '../../accounts/user.ts'
import { GatehouseError } from '../../core/errors.ts'
import { CLEAR_SITE_DATA_COOKIES, NO_STORE } from '../../core/headers/index.ts'
import { hashToken } from '../../core/tokens/index.ts'
import { CSRF_COOKIE_OPTIONS, expiredCookieOptions, sessionCookieOptions } from '../browser/cookies.ts'
import { issueCsrfToken } from '../browser/csrf-protection.ts'
import { currentUser } from '../current-user.ts'
import { ErrorRef, UserRef } from '../schemas.ts'

const LoginBody = Type.Object({
  email: Type.String({ minLength: 1, maxLength: 254 }),
  password: Type.String({ minLength: 1, maxLength: 4096 }),
})
const CsrfResponse = Type.Object({ csrf_token: Type.String() })
const LoginResponse = Type.Object({ user: UserRef, csrf_token: Type.String() })

/** Cookie sessions for browsers: login, logout, and the CSRF token the front end echoes. */
export async function sessionRoutes(app: FastifyInstance): Promise<void> {
  const { accounts, cookies, csrf } = app.gatehouse
  if (!csrf) throw new Error('session routes need CSRF protection: give the gatehouse plugin a csrfSecret')
  const ttlSeconds = accounts.accessTokenTtlSeconds
  const sessionCookie = sessionCookieOptions(ttlSeconds)

  app.get(
    '/csrf',
    {
      schema: {
        tags: ['session'],
        summary: 'A CSRF token for this session (cookie + body)',
        response: { 200: CsrfResponse },
      },
    },
    async (request, reply) => {
      reply.header('cache-control', NO_STORE)
      return { csrf_token: issueCsrfToken(reply, csrf, cookies.csrf, request.cookies[cookies.session]) }
    },
  )

  app.post<{ Body: Static<typeof LoginBody> }>(
    '/login',
    {
      // Login has no session yet: the Fetch Metadata layer covers login CSRF, not the token.
      config: { csrf: false },
      schema: {
        tags: ['session'],
        summary: 'Sign in with a session cookie (form or JSON)',
        consumes: ['application/x-www-form-urlencoded', 'application/json'],
        body: LoginBody,
        response: { 200: LoginResponse, 401: ErrorRef, 422: ErrorRef },
      },
    },
    async (request, reply) => {
      const user = await accounts.authenticate(request.body.email, request.body.password)
      if (!user) throw new GatehouseError('BAD_CREDENTIALS')
      // A fresh token every time, never the one the browser sent: no session fixation (OWASP
      // Session Management Cheat Sheet, "Renew the Session ID After Any Privilege Level Change").
      const previous = request.cookies[cookies.session]
      if (previous) await accounts.revokeToken(hashToken(previous))
      const issued = await accounts.issueToken(user.id, 'session')
      reply.setCookie(cookies.session, issued.token, sessionCookie)
      reply.header('cache-control', NO_STORE)
      // Login rotates the CSRF token: one minted before login is bound to no session.
      return { user: toPublicUser(user), csrf_token: issueCsrfToken(reply, csrf, cookies.csrf, issued.token) }
    },
  )

  app.post(
    '/logout',
    {
      onRequest: currentUser({ sessionCookie: cookies.session }),
      schema: {
        tags: ['session'],
        summary: 'Revoke the current token or session',
        response: { 204: Type.Null(), 401: ErrorRef },
      },
    },
    async (request, reply) => {
      const auth = request.auth!
      await accounts.revokeToken(auth.tokenHash)
      if (auth.via === 'cookie') {
        reply.clearCookie(cookies.session, expiredCookieOptions(sessionCookie))
        reply.clearCookie(cookies.csrf, expiredCookieOptions(CSRF_COOKIE_OPTIONS))
        // W3C Clear Site Data §3.1: the browser drops every cookie of this site as well.
        reply.header('clear-site-data', CLEAR_SITE_DATA_COOKIES)
      }
      return reply.code(204).send()
    },
  )
}
