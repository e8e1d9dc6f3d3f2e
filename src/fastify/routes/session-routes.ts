import { type Static, Type } from '@sinclair/typebox'
import type { FastifyInstance } from 'fastify'
import { toPublicUser } from '../../accounts/user.ts'
import { clearSessionCookies, issueCsrfToken, signIn } from '../browser/session.ts'
import { clientOf } from '../client-info.ts'
import { currentUser } from '../current-user.ts'
import { ErrorRef, UserRef } from '../schemas.ts'
import { shedWhenOverloaded } from '../shed-overloaded.ts'

// Only these fields: any other is a 422 naming it (OWASP Mass Assignment Cheat Sheet).
const LoginBody = Type.Object(
  {
    email: Type.String({ minLength: 1, maxLength: 254 }),
    password: Type.String({ minLength: 1, maxLength: 4096 }),
  },
  { additionalProperties: false },
)
const CsrfResponse = Type.Object({ csrf_token: Type.String() })
const LoginResponse = Type.Object({ user: UserRef, csrf_token: Type.String() })

/** Cookie sessions for browsers: login, logout, and the CSRF token the front end echoes. */
export async function sessionRoutes(app: FastifyInstance): Promise<void> {
  const { accounts, cookies, csrf } = app.gatehouse
  if (!csrf) throw new Error('session routes need CSRF protection: give the gatehouse plugin a csrfSecret')

  app.get(
    '/csrf',
    {
      schema: {
        tags: ['session'],
        summary: 'A CSRF token for this session (cookie + body)',
        response: { 200: CsrfResponse },
      },
    },
    async (request, reply) => ({ csrf_token: issueCsrfToken(request, reply) }),
  )

  app.post<{ Body: Static<typeof LoginBody> }>(
    '/login',
    {
      onRequest: shedWhenOverloaded(app.gatehouse.accounts),
      // Login has no session yet: the Fetch Metadata layer covers login CSRF, not the token.
      config: { csrf: false },
      schema: {
        tags: ['session'],
        summary: 'Sign in with a session cookie (form or JSON)',
        consumes: ['application/x-www-form-urlencoded', 'application/json'],
        body: LoginBody,
        response: {
          200: LoginResponse,
          401: ErrorRef,
          403: ErrorRef,
          422: ErrorRef,
          429: ErrorRef,
          503: ErrorRef,
        },
      },
    },
    async (request, reply) => {
      const { email, password } = request.body
      const { user, csrfToken } = await signIn(request, reply, { email, password })
      return { user: toPublicUser(user), csrf_token: csrfToken }
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
      await accounts.logout(auth, clientOf(request))
      if (auth.via === 'cookie') clearSessionCookies(request, reply)
      return reply.code(204).send()
    },
  )
}
