import { Type } from '@sinclair/typebox'
import type { FastifyInstance } from 'fastify'
import { requireScopes } from '../current-user.ts'
import { ErrorRef } from '../schemas.ts'

/** What the route reads: the trail's newest entries of one user. */
export interface AuditTrailReader {
  listForUser(
    userId: number,
    limit?: number,
  ): Promise<
    {
      at: Date
      type: string
      sessionId: string | null
      ip: string | null
      userAgent: string | null
      reason: string | null
    }[]
  >
}

const AuditEntrySchema = Type.Object({
  at: Type.String({ format: 'date-time' }),
  type: Type.String(),
  session_id: Type.Union([Type.String(), Type.Null()]),
  ip: Type.Union([Type.String(), Type.Null()]),
  user_agent: Type.Union([Type.String(), Type.Null()]),
  reason: Type.Union([Type.String(), Type.Null()]),
})

/** The caller's own security events, newest first (the last 50): sign-ins, failures, changes. */
export async function auditRoutes(app: FastifyInstance, options: { trail: AuditTrailReader }): Promise<void> {
  const authenticated = requireScopes(['audit:read'], { sessionCookie: app.gatehouse.cookies.session })
  app.get(
    '/me/audit',
    {
      onRequest: authenticated,
      schema: {
        tags: ['users'],
        summary: 'Your last 50 security events',
        response: { 200: Type.Array(AuditEntrySchema), 401: ErrorRef, 403: ErrorRef },
      },
    },
    async (request) =>
      (await options.trail.listForUser(request.user!.id, 50)).map((entry) => ({
        at: entry.at.toISOString(),
        type: entry.type,
        session_id: entry.sessionId,
        ip: entry.ip,
        user_agent: entry.userAgent,
        reason: entry.reason,
      })),
  )
}
