import { type Static, Type } from '@sinclair/typebox'
import type { FastifyInstance } from 'fastify'
import type { SessionSummary } from '../../accounts/session.ts'
import { clearSessionCookies } from '../browser/session.ts'
import { clientOf } from '../client-info.ts'
import { currentUser } from '../current-user.ts'
import { ErrorRef } from '../schemas.ts'

/** A session as anyone may see it listed: its owner (with `current`) or a superuser. */
export const SessionSummarySchema = Type.Object({
  id: Type.String(),
  kind: Type.Union([Type.Literal('bearer'), Type.Literal('session')]),
  created_at: Type.String({ format: 'date-time' }),
  last_used_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  expires_at: Type.String({ format: 'date-time' }),
  user_agent: Type.Union([Type.String(), Type.Null()]),
  ip: Type.Union([Type.String(), Type.Null()]),
})
const SessionSchema = Type.Object({ ...SessionSummarySchema.properties, current: Type.Boolean() })
/** A public session id is 22 base64url characters; nothing else is ever looked up. */
const SessionIdParams = Type.Object({ id: Type.String({ pattern: '^[A-Za-z0-9_-]{22}$' }) })

export function sessionSummaryToWire(
  session: Omit<SessionSummary, 'current'>,
): Static<typeof SessionSummarySchema> {
  return {
    id: session.id,
    kind: session.kind,
    created_at: session.createdAt.toISOString(),
    last_used_at: session.lastUsedAt?.toISOString() ?? null,
    expires_at: session.expiresAt.toISOString(),
    user_agent: session.userAgent,
    ip: session.ip,
  }
}

const toWire = (session: SessionSummary): Static<typeof SessionSchema> => ({
  ...sessionSummaryToWire(session),
  current: session.current,
})

/**
 * The caller's sessions, to recognise and end (ASVS 5.0 V7.5.2). An ended session is refused on
 * its next request on this instance; other instances' token caches answer for it at most
 * `TOKEN_CACHE_SECONDS` (5 s by default) longer.
 */
export async function sessionListRoutes(app: FastifyInstance): Promise<void> {
  const { accounts, cookies } = app.gatehouse
  const authenticated = currentUser({ sessionCookie: cookies.session })

  app.get(
    '/sessions',
    {
      onRequest: authenticated,
      schema: {
        tags: ['session'],
        summary: 'Your live sessions and tokens',
        response: { 200: Type.Array(SessionSchema), 401: ErrorRef },
      },
    },
    async (request) => (await accounts.listSessions(request.auth!)).map(toWire),
  )

  app.delete<{ Params: Static<typeof SessionIdParams> }>(
    '/sessions/:id',
    {
      onRequest: authenticated,
      schema: {
        tags: ['session'],
        summary: 'End one of your sessions (another user’s id is a 404)',
        params: SessionIdParams,
        response: { 204: Type.Null(), 401: ErrorRef, 404: ErrorRef },
      },
    },
    async (request, reply) => {
      const auth = request.auth!
      await accounts.revokeSession(auth, request.params.id, clientOf(request))
      // Ending this very session is a logout: the browser drops its cookies too.
      if (request.params.id === auth.sessionId && auth.via === 'cookie') clearSessionCookies(request, reply)
      return reply.code(204).send()
    },
  )

  app.delete(
    '/sessions',
    {
      onRequest: authenticated,
      schema: {
        tags: ['session'],
        summary: 'End every session but this one',
        response: { 204: Type.Null(), 401: ErrorRef },
      },
    },
    async (request, reply) => {
      await accounts.revokeOtherSessions(request.auth!, clientOf(request))
      return reply.code(204).send()
    },
  )
}
