import { type Static, Type } from '@sinclair/typebox'
import type { FastifyInstance } from 'fastify'
import type { MailRequest } from '../../accounts/recovery.ts'
import { toPublicUser } from '../../accounts/user.ts'
import { clientOf } from '../client-info.ts'
import { currentUser } from '../current-user.ts'
import { Email, ErrorRef, Password, UserRef } from '../schemas.ts'

// Each body names exactly its fields; any other is a 422 naming it (OWASP Mass Assignment Cheat Sheet).
const ChangePasswordBody = Type.Object(
  {
    current_password: Type.String({ minLength: 1, maxLength: 4096 }),
    new_password: Password,
    // A form sends text: its checkbox arrives as "on" (or "true"/"false"), JSON as a boolean.
    keep_other_sessions: Type.Optional(
      Type.Union([Type.Boolean(), Type.Literal('true'), Type.Literal('false'), Type.Literal('on')]),
    ),
  },
  { additionalProperties: false },
)
const EmailBody = Type.Object({ email: Email }, { additionalProperties: false })
/** A token is 48 characters or so; anything far longer is not one (and is never looked up). */
const MailedToken = Type.String({ minLength: 1, maxLength: 128 })
const ResetBody = Type.Object({ token: MailedToken, password: Password }, { additionalProperties: false })
const VerifyBody = Type.Object({ token: MailedToken }, { additionalProperties: false })
const Accepted = Type.Object({ detail: Type.String() })
const FORMS = ['application/json', 'application/x-www-form-urlencoded']

/**
 * One answer for every forgot-password / verification request, whether or not the account exists:
 * neither the body nor the status tells (OWASP Forgot Password Cheat Sheet, "consistent message").
 */
const ACCEPTED = { detail: 'If an account has this email, a message is on its way' }

export interface AccountRoutesOptions {
  /** Forgot/reset password and email verification (they need mail); default true. */
  recovery?: boolean
}

/** Password change, forgot/reset password and email verification. */
export async function accountRoutes(app: FastifyInstance, options: AccountRoutesOptions = {}): Promise<void> {
  const { accounts, cookies } = app.gatehouse
  const authenticated = currentUser({ sessionCookie: cookies.session })

  app.post<{ Body: Static<typeof ChangePasswordBody> }>(
    '/me/password',
    {
      onRequest: authenticated,
      schema: {
        tags: ['users'],
        summary: 'Change the password (the current one is required); ends your other sessions',
        consumes: FORMS,
        body: ChangePasswordBody,
        response: {
          204: Type.Null(),
          400: ErrorRef,
          401: ErrorRef,
          403: ErrorRef,
          422: ErrorRef,
          429: ErrorRef,
        },
      },
    },
    async (request, reply) => {
      const { current_password, new_password, keep_other_sessions } = request.body
      await accounts.changePassword({
        session: request.auth!,
        currentPassword: current_password,
        newPassword: new_password,
        keepOtherSessions:
          keep_other_sessions === true || keep_other_sessions === 'true' || keep_other_sessions === 'on',
        client: clientOf(request),
      })
      return reply.code(204).send()
    },
  )

  if (options.recovery === false) return

  /** A request that queues a mail: one answer, 202, whatever becomes of it. */
  const mailRequestRoute = (path: string, summary: string, queue: (request: MailRequest) => Promise<void>) =>
    app.post<{ Body: Static<typeof EmailBody> }>(
      path,
      {
        schema: {
          tags: ['auth'],
          summary: `${summary} (the same answer whether or not the account exists)`,
          consumes: FORMS,
          body: EmailBody,
          response: { 202: Accepted, 422: ErrorRef },
        },
      },
      async (request, reply) => {
        await queue({ email: request.body.email, client: clientOf(request) })
        return reply.code(202).send(ACCEPTED)
      },
    )

  mailRequestRoute('/forgot-password', 'Mail a password-reset link', accounts.requestPasswordReset)
  mailRequestRoute('/request-verify-token', 'Mail an email-verification link', accounts.requestVerification)

  app.post<{ Body: Static<typeof ResetBody> }>(
    '/reset-password',
    {
      schema: {
        tags: ['auth'],
        summary: 'Set a new password with the token from the mail; ends every session',
        consumes: FORMS,
        body: ResetBody,
        response: { 200: UserRef, 400: ErrorRef, 422: ErrorRef },
      },
    },
    async (request) => {
      const { token, password } = request.body
      return toPublicUser(await accounts.resetPassword({ token, password, client: clientOf(request) }))
    },
  )

  app.post<{ Body: Static<typeof VerifyBody> }>(
    '/verify',
    {
      schema: {
        tags: ['auth'],
        summary: 'Verify the email with the token from the mail',
        consumes: FORMS,
        body: VerifyBody,
        response: { 200: UserRef, 400: ErrorRef, 422: ErrorRef },
      },
    },
    async (request) =>
      toPublicUser(await accounts.verifyEmail({ token: request.body.token, client: clientOf(request) })),
  )
}
