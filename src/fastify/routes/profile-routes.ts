import { type Static, Type } from '@sinclair/typebox'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { toPublicUser } from '../../accounts/user.ts'
import { GatehouseError } from '../../core/errors.ts'
import { clientOf } from '../client-info.ts'
import { currentUser, requireScopes } from '../current-user.ts'
import { Email, ErrorRef, UserRef } from '../schemas.ts'

export interface ProfileRoutesOptions {
  /** Largest stored preferences document, in bytes of JSON. */
  preferencesLimitBytes?: number
}

// The email and the step-up password, nothing else: `is_superuser` here is a 422, never a change
// (OWASP Mass Assignment Cheat Sheet).
const UpdateEmailBody = Type.Object(
  {
    email: Email,
    current_password: Type.Optional(Type.String({ maxLength: 4096 })),
  },
  { additionalProperties: false },
)
const UserIdParams = Type.Object({ user_id: Type.String({ pattern: '^[0-9]{1,15}$' }) })
/** A free-form JSON document of the user's own, stored whole as one value: no column is set from it. */
const PreferencesBody = Type.Object({}, { additionalProperties: true })

/** The signed-in user's own data: email change, profile, preferences (the strict-headers article). */
export async function profileRoutes(app: FastifyInstance, options: ProfileRoutesOptions = {}): Promise<void> {
  const { accounts, cookies } = app.gatehouse
  // Changing the email is a credential change: no API key, whatever its scopes.
  const authenticated = currentUser({ sessionCookie: cookies.session })
  const scoped = (scope: string) => requireScopes([scope], { sessionCookie: cookies.session })
  const preferencesLimitBytes = options.preferencesLimitBytes ?? 16 * 1024

  const updateEmail = {
    onRequest: authenticated,
    schema: {
      tags: ['users'],
      summary: 'Change the email (needs a fresh session or the current password)',
      consumes: ['application/json', 'application/x-www-form-urlencoded'],
      body: UpdateEmailBody,
      response: { 200: UserRef, 400: ErrorRef, 401: ErrorRef, 403: ErrorRef, 422: ErrorRef, 429: ErrorRef },
    },
  }
  // The step-up (fresh session or current password) and the probing budget are the domain's.
  const handleUpdateEmail = async (request: FastifyRequest<{ Body: Static<typeof UpdateEmailBody> }>) => {
    const { email, current_password: currentPassword } = request.body
    const user = await accounts.changeEmail({
      session: request.auth!,
      email,
      currentPassword,
      client: clientOf(request),
    })
    return toPublicUser(user)
  }
  app.post<{ Body: Static<typeof UpdateEmailBody> }>('/me', updateEmail, handleUpdateEmail)
  app.patch<{ Body: Static<typeof UpdateEmailBody> }>('/me', updateEmail, handleUpdateEmail)

  app.get(
    '/profile',
    {
      onRequest: scoped('profile:read'),
      schema: {
        tags: ['users'],
        summary: 'The current user',
        response: { 200: UserRef, 401: ErrorRef, 403: ErrorRef },
      },
    },
    (request) => toPublicUser(request.user!),
  )

  /** Only the owner: a guessable id in the path must not open another user's data (OWASP IDOR). */
  function ownerId(request: FastifyRequest<{ Params: Static<typeof UserIdParams> }>): number {
    const userId = Number(request.params.user_id)
    if (userId !== request.user!.id) throw new GatehouseError('FORBIDDEN')
    return userId
  }
  const prefsSchema = {
    tags: ['users'],
    params: UserIdParams,
    response: { 400: ErrorRef, 401: ErrorRef, 403: ErrorRef },
  }

  app.get<{ Params: Static<typeof UserIdParams> }>(
    '/prefs/:user_id',
    {
      onRequest: scoped('prefs:read'),
      schema: {
        ...prefsSchema,
        summary: "A user's own preferences",
        response: { ...prefsSchema.response, 200: PreferencesBody },
      },
    },
    (request) => accounts.readPreferences(ownerId(request)),
  )
  app.post<{ Params: Static<typeof UserIdParams>; Body: Record<string, unknown> }>(
    '/prefs/:user_id',
    {
      onRequest: scoped('prefs:write'),
      bodyLimit: preferencesLimitBytes,
      schema: {
        ...prefsSchema,
        summary: "Replace a user's own preferences (a JSON object)",
        body: PreferencesBody,
        response: { ...prefsSchema.response, 200: PreferencesBody, 413: ErrorRef, 422: ErrorRef },
      },
    },
    (request) => accounts.writePreferences(ownerId(request), request.body),
  )
}
