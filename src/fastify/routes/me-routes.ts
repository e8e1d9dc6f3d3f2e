import type { FastifyInstance } from 'fastify'
import { toPublicUser } from '../../accounts/user.ts'
import { requireScopes } from '../current-user.ts'
import { ErrorRef, UserRef } from '../schemas.ts'

export async function meRoutes(app: FastifyInstance): Promise<void> {
  const authenticated = requireScopes(['profile:read'], { sessionCookie: app.gatehouse.cookies.session })
  const schema = { tags: ['users'], response: { 200: UserRef, 401: ErrorRef, 403: ErrorRef } }

  app.get(
    '/me',
    { onRequest: authenticated, schema: { ...schema, summary: 'The current user' } },
    (request) => toPublicUser(request.user!),
  )
  // The book's name for the same thing.
  app.get(
    '/protected-route',
    { onRequest: authenticated, schema: { ...schema, summary: 'A route that needs a valid token' } },
    (request) => toPublicUser(request.user!),
  )
}
