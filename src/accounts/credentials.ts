import { emailViolation } from '../core/email/index.ts'
import { GatehouseError } from '../core/errors.ts'
import { isVerifiablePassword } from '../core/passwords/index.ts'
import { hashToken } from '../core/tokens/index.ts'
import type { DomainContext } from './domain-context.ts'
import type { ClientInfo } from './events.ts'
import { overloaded, wouldShed } from './hash-admission.ts'
import { NoVerdict } from './login-throttle.ts'
import { deleteUserOneTimeTokens } from './one-time-tokens.ts'
import { enqueueMail } from './outbox.ts'
import type { AccessTokenContext, IssuedAccessToken, TokenKind } from './session.ts'
import { assertNotApiKey, isFreshSession } from './step-up.ts'
import { normalizeEmail, type User } from './user.ts'
import {
  findCredentialsByEmail,
  findPasswordHash,
  findUserById,
  insertUser,
  replacePasswordHash,
  updateEmail,
  updatePasswordHash,
} from './users.ts'

export interface LoginInput {
  email: string
  password: string
  kind: TokenKind
  client: ClientInfo
  /**
   * The session token the client already holds, if any: revoked, so login always hands out a
   * fresh one (OWASP Session Management Cheat Sheet, "Renew the Session ID After Any Privilege
   * Level Change": no session fixation).
   */
  replacesToken?: string | null
}

export interface ChangeEmailInput {
  session: AccessTokenContext
  email: string
  /** Needed once the session is older than the fresh-session window. */
  currentPassword?: string
  client: ClientInfo
}

export interface ChangePasswordInput {
  session: AccessTokenContext
  currentPassword: string
  newPassword: string
  /** Keep the user's other sessions alive (default: they are all ended). */
  keepOtherSessions?: boolean
  client: ClientInfo
}

/**
 * A password check's failures that teach nothing about the password, so the throttle gives the
 * attempt back (issue 8, §1 and §2): the account's lookup (whatever the store throws, no hash was
 * compared yet), and a hashing shed by admission (OVERLOADED is thrown before anything is hashed).
 * Any other error of a verify may come after its comparison and stays a counted failure.
 */
async function lookupBeforeVerdict<T>(lookup: Promise<T>): Promise<T> {
  try {
    return await lookup
  } catch (error) {
    throw new NoVerdict(error)
  }
}

async function unlessShed<T>(hashing: Promise<T>): Promise<T> {
  try {
    return await hashing
  } catch (error) {
    throw error instanceof GatehouseError && error.code === 'OVERLOADED' ? new NoVerdict(error) : error
  }
}

/** Refuses a field with the domain's name for it; an adapter places it in its own input shape. */
export function refuseField(code: GatehouseError['code'], field: string, message: string): never {
  throw new GatehouseError(code, { detail: message, field })
}

export function assertAcceptablePassword(context: DomainContext, field: string, password: string): void {
  const violation = context.passwordRules.violation(password)
  if (violation) refuseField(violation.code, field, violation.message)
}

export function assertValidEmail(email: string): void {
  const violation = emailViolation(email)
  if (violation) refuseField('VALIDATION_FAILED', 'email', violation)
}

/** Logging in, proving the password again, and changing the credentials. */
export function createCredentials(context: DomainContext) {
  const { db, hasher, limiters, sessions, emit } = context
  const reportBackground = context.onBackgroundError

  /**
   * The user for these credentials, or null; unknown email, wrong password and inactive account
   * all look the same and cost the same (OWASP Authentication Cheat Sheet, "Authentication and
   * error messages"). `accountId` names the account the email belongs to, for the audit trail only.
   * Throws NoVerdict when no password was compared (store down, hashing shed), and nothing once
   * one was: the verdict is the only thing the outcome may depend on.
   */
  async function checkCredentials(email: string, password: string) {
    if (!isVerifiablePassword(password)) {
      // Still costs one verify: an over-long or empty password must not time differently.
      await unlessShed(hasher.verifyDummy(password.slice(0, 1024)))
      return { user: null, accountId: null }
    }
    const found = await lookupBeforeVerdict(findCredentialsByEmail(db, email))
    if (!found) {
      await unlessShed(hasher.verifyDummy(password))
      return { user: null, accountId: null }
    }
    const { valid, upgradedHash } = await unlessShed(hasher.verifyAndUpgrade(password, found.hashedPassword))
    if (!valid || !found.user.isActive) return { user: null, accountId: found.user.id }
    const verifiedHashes = [found.hashedPassword]
    if (upgradedHash) {
      verifiedHashes.push(
        ...(await upgradeStoredHash(found.user.id, found.hashedPassword, upgradedHash, password)),
      )
    }
    return { user: found.user, accountId: found.user.id, verifiedHashes }
  }

  /**
   * Replaces an outdated hash only if it is still the one this login read. A reset or change
   * committed while the login was hashing is never overwritten with the old password's hash
   * (which would undo it). If another write won, and it was a concurrent login's own upgrade (the
   * same password under another salt), that hash still verifies and the login may rely on it; a
   * reset's hash does not. Best effort: a failed write would answer 5xx to a right password only,
   * telling it from a wrong one; the old hash still verifies and is upgraded at the next login.
   * Returns the hashes, besides the one read, that this login's token may be issued against.
   */
  async function upgradeStoredHash(userId: number, readHash: string, upgradedHash: string, password: string) {
    try {
      if (await replacePasswordHash(db, userId, readHash, upgradedHash)) return [upgradedHash]
      const current = await findPasswordHash(db, userId)
      if (
        current !== null &&
        current !== readHash &&
        (await hasher.verifyAndUpgrade(password, current)).valid
      ) {
        return [current]
      }
    } catch (error) {
      reportBackground(error)
    }
    return []
  }

  /**
   * A password check counted by the login throttle: the user, or null with the id of the account
   * the email names (for the audit trail). A block is reported and rethrown.
   */
  async function guardedCheck(email: string, password: string, client: ClientInfo, userId: number | null) {
    let accountId: number | null = userId
    let verifiedHashes: string[] = []
    // Shed before the throttle and the lookup, as the admission would after them (OWASP Denial
    // of Service Cheat Sheet): the same for every email, so it tells nothing about accounts.
    if (wouldShed(hasher)) throw overloaded()
    try {
      const user = await limiters.login.guard(email, client.ip, async () => {
        const outcome = await checkCredentials(email, password)
        accountId = outcome.accountId
        verifiedHashes = outcome.verifiedHashes ?? []
        return outcome.user
      })
      return { user, accountId, verifiedHashes }
    } catch (caught) {
      // A throttle of the library user's own may not know NoVerdict: what it wraps leaves.
      const error = caught instanceof NoVerdict ? caught.error : caught
      if (error instanceof GatehouseError && error.code === 'RATE_LIMITED') {
        emit('login.throttled', { userId, client })
      }
      throw error
    }
  }

  /** Re-checks the current password of a signed-in user; counted like a login attempt. */
  async function verifyPassword(user: User, password: string, client: ClientInfo): Promise<boolean> {
    const { user: checked } = await guardedCheck(user.email, password, client, user.id)
    return checked !== null && checked.id === user.id
  }

  /**
   * A recent login, or the current password (counted like a login, and a wrong one is in the
   * trail), before a sensitive change (OWASP Authentication Cheat Sheet, "Require
   * re-authentication for sensitive features"; ASVS 5.0 V7.5.1).
   */
  async function requireStepUp(
    session: AccessTokenContext,
    currentPassword: string | undefined,
    client: ClientInfo,
  ): Promise<void> {
    if (isFreshSession(session, context.freshSessionSeconds)) return
    if (currentPassword === undefined) throw new GatehouseError('FRESH_SESSION_REQUIRED')
    if (!(await verifyPassword(session.user, currentPassword, client))) {
      emit('login.failed', { userId: session.user.id, client, reason: 'wrong_current_password' })
      throw new GatehouseError('FRESH_SESSION_REQUIRED')
    }
  }

  async function createAccount(email: string, password: string, isSuperuser: boolean): Promise<User> {
    assertValidEmail(email)
    assertAcceptablePassword(context, 'password', password)
    const hashedPassword = await hasher.hash(password)
    const user = await db.transaction().execute(async (trx) => {
      const created = await insertUser(trx, { email, hashedPassword, isSuperuser })
      if (context.sendsMail) {
        await enqueueMail(trx, { purpose: 'verify-email', recipient: created.email, userId: created.id })
      }
      return created
    })
    if (context.sendsMail) context.mailQueued()
    return user
  }

  return {
    createAccount,

    /**
     * Signs in: brute-force throttled per account and per client (OWASP Authentication Cheat
     * Sheet, "Protect against automated attacks"; ASVS 5.0 V6.3.1), then a fresh token.
     */
    async login(input: LoginInput): Promise<{ user: User; issued: IssuedAccessToken }> {
      const { user, accountId, verifiedHashes } = await guardedCheck(
        input.email,
        input.password,
        input.client,
        null,
      )
      if (!user) {
        emit('login.failed', { userId: accountId, client: input.client, reason: 'bad_credentials' })
        throw new GatehouseError('BAD_CREDENTIALS')
      }
      if (context.requireVerifiedEmail && !user.isVerified) {
        // Only after the password matched: it tells nothing a wrong guess could learn.
        emit('login.failed', { userId: user.id, client: input.client, reason: 'unverified' })
        throw new GatehouseError('EMAIL_NOT_VERIFIED')
      }
      if (input.replacesToken) await sessions.revokeToken(hashToken(input.replacesToken))
      // Issued only while the password verified is still the account's and the account is active:
      // a password change, reset, deactivation or deletion committed while this login was hashing
      // must not leave it a session that the change's revocation already swept past.
      const issued = await sessions.issueForLogin(user.id, input.kind, input.client, verifiedHashes)
      if (issued === null) {
        emit('login.failed', { userId: user.id, client: input.client, reason: 'credentials_changed' })
        throw new GatehouseError('BAD_CREDENTIALS')
      }
      emit('login.succeeded', { userId: user.id, sessionId: issued.sessionId, client: input.client })
      return { user, issued }
    },

    verifyPassword,
    requireStepUp,

    /**
     * Changes the email. Step-up once the session is older than the fresh window (OWASP
     * Authentication Cheat Sheet, "Require re-authentication for sensitive features"; ASVS 5.0
     * V7.5.1): an old or stolen session alone cannot redirect the account's mail. A taken address
     * answers EMAIL_EXISTS, so changes are counted with registrations (one probing budget).
     */
    async changeEmail(input: ChangeEmailInput): Promise<User> {
      const { session, client } = input
      assertValidEmail(input.email)
      await limiters.register.consume(client.ip)
      assertNotApiKey(session)
      await requireStepUp(session, input.currentPassword, client)
      const previous = await findUserById(db, session.user.id)
      if (!previous) throw new GatehouseError('INVALID_TOKEN')
      const user = await db.transaction().execute(async (trx) => {
        const changed = await updateEmail(trx, session.user.id, input.email)
        if (normalizeEmail(changed.email) === normalizeEmail(previous.email)) return changed
        // Links mailed to the old address must not verify or reset anything any more.
        await deleteUserOneTimeTokens(trx, changed.id)
        if (context.sendsMail) {
          await enqueueMail(trx, { purpose: 'verify-email', recipient: changed.email, userId: changed.id })
          await enqueueMail(trx, { purpose: 'email-changed', recipient: previous.email, userId: changed.id })
        }
        return changed
      })
      await sessions.forgetUser(user.id)
      if (normalizeEmail(user.email) !== normalizeEmail(previous.email)) {
        if (context.sendsMail) context.mailQueued()
        emit('email.changed', { userId: user.id, sessionId: session.sessionId, client })
      }
      return user
    },

    /**
     * Changes the password: the current one is required whatever the session's age (ASVS 5.0
     * V6.2.3), every other session ends unless asked otherwise (ASVS 5.0 V7.4.3), and pending reset
     * links die.
     */
    async changePassword(input: ChangePasswordInput): Promise<void> {
      const { session, client } = input
      assertNotApiKey(session)
      assertAcceptablePassword(context, 'newPassword', input.newPassword)
      if (!(await verifyPassword(session.user, input.currentPassword, client))) {
        emit('login.failed', { userId: session.user.id, client, reason: 'wrong_current_password' })
        throw new GatehouseError('INVALID_CURRENT_PASSWORD')
      }
      const hashedPassword = await hasher.hash(input.newPassword)
      await db.transaction().execute(async (trx) => {
        await updatePasswordHash(trx, session.user.id, hashedPassword)
        await deleteUserOneTimeTokens(trx, session.user.id)
      })
      if (input.keepOtherSessions !== true) {
        const ended = await sessions.revokeUser(session.user.id, {
          exceptTokenId: session.tokenId,
          apiKeys: context.passwordChangeEndsApiKeys,
        })
        if (ended > 0)
          emit('session.revoked', { userId: session.user.id, client, reason: 'password_changed' })
      } else if (context.passwordChangeEndsApiKeys) {
        // Keeping one's other sessions is a choice about browsers, not about scripts' keys.
        await sessions.revokeApiKeys(session.user.id)
      }
      emit('password.changed', { userId: session.user.id, sessionId: session.sessionId, client })
    },
  }
}
