import { type Static, Type } from '@sinclair/typebox'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { AttemptLimiter } from '../../accounts/attempt-limiter.ts'
import { toPublicUser } from '../../accounts/user.ts'
import { GatehouseError } from '../../core/errors.ts'
import { currentUser } from '../current-user.ts'
import { Email, ErrorRef, UserRef } from '../schemas.ts'

export interface ProfileRoutesOptions {
  /** A session younger than this may change the email without the current password. */
  freshSessionSeconds: number
  /**
   * Counts every email change per client IP. A taken address answers 400 EMAIL_EXISTS, so email
   * changes probe which addresses have accounts just as registrations do: the server passes the
   * registration limiter, one budget for both. None: unlimited.
   */
  emailProbeLimiter?: AttemptLimiter
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
export async function profileRoutes(app: FastifyInstance, options: ProfileRoutesOptions): Promise<void> {
  const { accounts, cookies, loginThrottle } = app.gatehouse
  const authenticated = currentUser({ sessionCookie: cookies.session })
  const preferencesLimitBytes = options.preferencesLimitBytes ?? 16 * 1024

  const { emailProbeLimiter } = options
  const updateEmail = {
    onRequest: [authenticated, async (request: FastifyRequest) => emailProbeLimiter?.consume(request.ip)],
    schema: {
      tags: ['users'],
      summary: 'Change the email (needs a fresh session or the current password)',
      consumes: ['application/json', 'application/x-www-form-urlencoded'],
      body: UpdateEmailBody,
      response: { 200: UserRef, 400: ErrorRef, 401: ErrorRef, 403: ErrorRef, 422: ErrorRef, 429: ErrorRef },
    },
  }
  const handleUpdateEmail = async (request: FastifyRequest<{ Body: Static<typeof UpdateEmailBody> }>) => {
    const auth = request.auth!
    // Step-up for a sensitive change (OWASP Authentication Cheat Sheet, "Require re-authentication
    // for sensitive features"; ASVS 5.0 V7.5.1): an old or stolen session alone cannot take over
    // the account by redirecting its email.
    const ageSeconds = (Date.now() - auth.createdAt.getTime()) / 1000
    if (ageSeconds > options.freshSessionSeconds) {
      const password = request.body.current_password
      // A wrong current password is a failed check of this account, throttled like a login.
      const verified =
        password !== undefined &&
        (await loginThrottle.guard(auth.user.email, request.ip, () =>
          accounts.verifyPassword(auth.user, password),
        ))
      if (!verified) throw new GatehouseError('FRESH_SESSION_REQUIRED')
    }
    return toPublicUser(await accounts.changeEmail(auth.user.id, request.body.email))
  }
  app.post<{ Body: Static<typeof UpdateEmailBody> }>('/me', updateEmail, handleUpdateEmail)
  app.patch<{ Body: Static<typeof UpdateEmailBody> }>('/me', updateEmail, handleUpdateEmail)

  app.get(
    '/profile',
    {
      onRequest: authenticated,
      schema: { tags: ['users'], summary: 'The current user', response: { 200: UserRef, 401: ErrorRef } },
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
      onRequest: authenticated,
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
      onRequest: authenticated,
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
