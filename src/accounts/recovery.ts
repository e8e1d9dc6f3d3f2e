import { GatehouseError } from '../core/errors.ts'
import type { OutboxTable } from '../store/schema.ts'
import { assertAcceptablePassword, assertValidEmail } from './credentials.ts'
import type { DomainContext } from './domain-context.ts'
import type { ClientInfo } from './events.ts'
import { overloaded, wouldShed } from './hash-admission.ts'
import { consumeOneTimeToken, createOneTimeToken, deleteUserOneTimeTokens } from './one-time-tokens.ts'
import { enqueueMail, type PreparedMail } from './outbox.ts'
import { normalizeEmail, type User } from './user.ts'
import { findCredentialsByEmail, findUserById, markVerified, updatePasswordHash } from './users.ts'

export interface MailRequest {
  email: string
  client: ClientInfo
}

export interface ResetInput {
  token: string
  password: string
  client: ClientInfo
}

/** The outbox row fields the domain needs to turn a queued mail into one to send. */
export type OutboxRow = Pick<OutboxTable, 'purpose' | 'recipient' | 'user_id'>

/**
 * Forgot password, reset, and email verification (OWASP Forgot Password Cheat Sheet; ASVS 5.0
 * V6.4). A request naming an email does the same work whether or not an account has it — one
 * outbox row — and answers the same; whether a mail is due is decided later, by the worker, so
 * neither the answer nor its timing tells who has an account.
 */
export function createRecovery(context: DomainContext) {
  const { db, hasher, limiters, sessions, emit } = context

  async function queueRequest(
    purpose: 'password-reset' | 'verify-email',
    limiter: typeof limiters.forgotPassword,
    request: MailRequest,
  ): Promise<void> {
    // The same rule as registration: anything else is no address (and a NUL is no PostgreSQL text).
    assertValidEmail(request.email)
    if (!context.sendsMail) return
    // A refused request still "succeeds" for the caller: the limit must not become an oracle.
    if (!(await limiter.allow(request.email, request.client.ip))) return
    await enqueueMail(db, { purpose, recipient: request.email.trim(), userId: null })
    context.mailQueued()
    emit(purpose === 'password-reset' ? 'password.reset_requested' : 'email.verification_requested', {
      client: request.client,
    })
  }

  return {
    requestPasswordReset: (request: MailRequest) =>
      queueRequest('password-reset', limiters.forgotPassword, request),
    requestVerification: (request: MailRequest) => queueRequest('verify-email', limiters.verify, request),

    /**
     * Sets a new password with a mailed token. The token is used up atomically first (two requests
     * racing with one token: one succeeds), every session of the user ends
     * (the person resetting may not be the one signed in: ASVS 5.0 V7.4.3), and the email counts as
     * verified, since the link reached it.
     */
    async resetPassword(input: ResetInput): Promise<User> {
      // The policy first: a refused password must not burn the link.
      assertAcceptablePassword(context, 'password', input.password)
      // Used up before the hash: of many requests racing with one token only the winner pays for
      // argon2, and an unknown token costs none (CWE-400). Should the change then fail, the link is
      // spent and the user asks for another: never two changes from one link.
      // Shed before the link is spent when no hash slot is free: an overloaded server must not
      // burn it. (A slot taken between this check and the hash still can; the user asks again.)
      if (wouldShed(hasher)) throw overloaded()
      const grant = await consumeOneTimeToken(db, 'reset', input.token)
      if (!grant) throw new GatehouseError('RESET_TOKEN_INVALID')
      const hashedPassword = await hasher.hash(input.password)
      const user = await db.transaction().execute(async (trx) => {
        // A deactivated account stays locked: its link is used up and changes nothing.
        const owner = await findUserById(trx, grant.userId)
        if (!owner?.isActive) return null
        await updatePasswordHash(trx, grant.userId, hashedPassword)
        await deleteUserOneTimeTokens(trx, grant.userId)
        return (await markVerified(trx, grant.userId, grant.emailNormalized)) ?? owner
      })
      if (!user) throw new GatehouseError('RESET_TOKEN_INVALID')
      await sessions.revokeUser(user.id, { apiKeys: context.passwordChangeEndsApiKeys })
      emit('password.reset', { userId: user.id, client: input.client })
      return user
    },

    /** Proves the address: single use, and only while it is still the account's email. */
    async verifyEmail(input: { token: string; client: ClientInfo }): Promise<User> {
      const user = await db.transaction().execute(async (trx) => {
        const grant = await consumeOneTimeToken(trx, 'verify', input.token)
        return grant ? markVerified(trx, grant.userId, grant.emailNormalized) : null
      })
      if (!user) throw new GatehouseError('VERIFY_TOKEN_INVALID')
      await sessions.forgetUser(user.id)
      emit('email.verified', { userId: user.id, client: input.client })
      return user
    },

    /**
     * Turns a queued mail into one to send, minting its token now: the secret exists only in
     * memory and in the mail, never in the outbox. Null: nothing to send (no such account, an
     * inactive one, an address already verified or no longer the account's).
     */
    async prepareMail(row: OutboxRow): Promise<PreparedMail | null> {
      if (row.purpose === 'email-changed') return { purpose: row.purpose, to: row.recipient }
      const user =
        row.user_id !== null
          ? await findUserById(db, row.user_id)
          : ((await findCredentialsByEmail(db, row.recipient))?.user ?? null)
      if (!user?.isActive || normalizeEmail(user.email) !== normalizeEmail(row.recipient)) return null
      if (row.purpose === 'verify-email') {
        if (user.isVerified) return null
        const ttlSeconds = context.verifyTokenTtlSeconds
        const token = await createOneTimeToken(db, {
          purpose: 'verify',
          userId: user.id,
          email: user.email,
          ttlSeconds,
        })
        return { purpose: row.purpose, to: user.email, token, expiresInSeconds: ttlSeconds }
      }
      const ttlSeconds = context.resetTokenTtlSeconds
      const token = await createOneTimeToken(db, {
        purpose: 'reset',
        userId: user.id,
        email: user.email,
        ttlSeconds,
      })
      return { purpose: row.purpose, to: user.email, token, expiresInSeconds: ttlSeconds }
    },
  }
}
