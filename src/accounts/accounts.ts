import type { Kysely } from 'kysely'
import { GatehouseError } from '../core/errors.ts'
import { createPasswordPolicy, type PasswordHasher } from '../core/passwords/index.ts'
import { NO_SCOPES, type ScopeRegistry } from '../core/scopes/index.ts'
import type { Database } from '../store/schema.ts'
import { createAdministration } from './administration.ts'
import { createApiKeys } from './api-keys.ts'
import { createCredentials } from './credentials.ts'
import type { DomainContext, PasswordRules } from './domain-context.ts'
import { type ClientInfo, createEventEmitter, type EventHook, type SecurityEventType } from './events.ts'
import { admitHashing, type HashAdmissionOptions, overloaded, wouldShed } from './hash-admission.ts'
import { type AccountLimiters, createAccountLimiters, type LimiterOptions } from './limiters.ts'
import { pruneOneTimeTokens } from './one-time-tokens.ts'
import { type Preferences, readPreferences, writePreferences } from './preferences.ts'
import { createRecovery } from './recovery.ts'
import type { RevocationChannel } from './revocation-channel.ts'
import type { AccessTokenContext, SessionSummary, TokenKind } from './session.ts'
import { createSessions } from './sessions.ts'
import { assertNotApiKey } from './step-up.ts'
import type { User } from './user.ts'
import { findUserById, updateActive } from './users.ts'

export interface AccountsOptions {
  db: Kysely<Database>
  hasher: PasswordHasher
  accessTokenTtlSeconds: number
  /** Refuse a token unused this long (0: never). */
  idleTimeoutSeconds: number
  /** `last_used_at` write interval; at most half the idle timeout (derived from it when absent). */
  touchIntervalSeconds?: number
  /** Seconds a validated token is remembered in memory (0: always read the database). */
  tokenCacheSeconds?: number
  /** A session younger than this may change the email without the current password (default 300). */
  freshSessionSeconds?: number
  /** What a new password must pass; the default policy (8..1024 characters, not a common one). */
  passwordRules?: PasswordRules
  /** The named limiters, or options to build them (in this process's memory unless given Redis). */
  limiters?: AccountLimiters | LimiterOptions
  /** Refuse login (403 EMAIL_NOT_VERIFIED) until the email is verified. */
  requireVerifiedEmail?: boolean
  resetTokenTtlSeconds?: number
  verifyTokenTtlSeconds?: number
  /** Called for every security event (the audit trail, alerting…); never awaited. */
  onEvent?: EventHook | EventHook[]
  /** Queue account mail (verification, reset, notices); false: none is queued (default true). */
  sendsMail?: boolean
  /** Called after a mail was queued (a worker in this process can then send it at once). */
  onMailQueued?: () => void
  onBackgroundError?: (error: unknown) => void
  /** Bound on password hashes in flight and waiting (503 OVERLOADED beyond it); false: none. */
  hashAdmission?: HashAdmissionOptions | false
  /** Tells the other instances of this store about revocations (and hears theirs); none: TTL bound. */
  revocations?: RevocationChannel
  /** The scopes API keys may carry (`defineScopes`); none: no key can be created. */
  scopes?: ScopeRegistry
  /** The longest lifetime of a new API key, in days (default 365). */
  apiKeyMaxDays?: number
  /** A password change or reset ends the user's API keys too (default true). */
  passwordChangeEndsApiKeys?: boolean
}

export type Accounts = ReturnType<typeof createAccounts>

/** What public registration accepts: these two fields and nothing else. */
export interface Registration {
  email: string
  password: string
}

/** An account made by an operator (CLI, later admin routes), who may grant superuser rights. */
export interface NewAccount extends Registration {
  isSuperuser: boolean
}

const isLimiters = (value: AccountLimiters | LimiterOptions): value is AccountLimiters =>
  typeof (value as AccountLimiters).login?.guard === 'function'

/**
 * The account use cases, over one store and one hasher. Knows nothing of HTTP: an adapter turns a
 * request into one of these calls (with the client's address and user agent) and the result or
 * the GatehouseError back into a response, so every adapter gets every protection.
 */
export function createAccounts(options: AccountsOptions) {
  const { db } = options
  const onBackgroundError = options.onBackgroundError ?? (() => {})
  const hooks = options.onEvent === undefined ? [] : [options.onEvent].flat()
  const emit = createEventEmitter(hooks, onBackgroundError)
  const limiters =
    options.limiters !== undefined && isLimiters(options.limiters)
      ? options.limiters
      : createAccountLimiters({ onStoreError: onBackgroundError, ...options.limiters })
  const sessions = createSessions({
    db,
    accessTokenTtlSeconds: options.accessTokenTtlSeconds,
    idleTimeoutSeconds: options.idleTimeoutSeconds,
    touchIntervalSeconds: options.touchIntervalSeconds,
    tokenCacheSeconds: options.tokenCacheSeconds,
    onBackgroundError,
    emit,
    revocations: options.revocations,
  })
  const context: DomainContext = {
    db,
    hasher:
      options.hashAdmission === false ? options.hasher : admitHashing(options.hasher, options.hashAdmission),
    passwordRules: options.passwordRules ?? createPasswordPolicy(),
    limiters,
    sessions,
    emit,
    sendsMail: options.sendsMail !== false,
    mailQueued: options.onMailQueued ?? (() => {}),
    freshSessionSeconds: options.freshSessionSeconds ?? 300,
    requireVerifiedEmail: options.requireVerifiedEmail === true,
    resetTokenTtlSeconds: options.resetTokenTtlSeconds ?? 3600,
    verifyTokenTtlSeconds: options.verifyTokenTtlSeconds ?? 86400,
    scopes: options.scopes ?? NO_SCOPES,
    apiKeyMaxDays: options.apiKeyMaxDays ?? 365,
    passwordChangeEndsApiKeys: options.passwordChangeEndsApiKeys !== false,
    onBackgroundError,
  }
  const credentials = createCredentials(context)
  const recovery = createRecovery(context)
  const apiKeys = createApiKeys(context, credentials.requireStepUp)

  return {
    db,
    accessTokenTtlSeconds: options.accessTokenTtlSeconds,
    limiters,
    scopes: context.scopes,
    apiKeyMaxDays: context.apiKeyMaxDays,

    /**
     * Public self-registration: an active, unverified, unprivileged account, and a verification
     * mail. Only `email` and `password` are read, whatever else the object holds, so no request
     * field can grant a privilege (OWASP Mass Assignment Cheat Sheet; ASVS 5.0 V15.3.3). Counted
     * per client when the client is given (anti-automation, ASVS 5.0 V2.4.1).
     */
    async register(input: Registration, client?: ClientInfo): Promise<User> {
      // Shed before the attempt is counted: a refused registration must not spend the quota.
      if (wouldShed(context.hasher)) throw overloaded()
      if (client) await limiters.register.consume(client.ip)
      return credentials.createAccount(input.email, input.password, false)
    },

    /** An operator's account creation: the same email and password rules, and the superuser flag. */
    createUser(input: NewAccount): Promise<User> {
      return credentials.createAccount(input.email, input.password, input.isSuperuser === true)
    },

    login: credentials.login,
    verifyPassword: credentials.verifyPassword,
    changeEmail: credentials.changeEmail,
    changePassword: credentials.changePassword,
    requestPasswordReset: recovery.requestPasswordReset,
    resetPassword: recovery.resetPassword,
    requestVerification: recovery.requestVerification,
    verifyEmail: recovery.verifyEmail,
    prepareMail: recovery.prepareMail,

    /** A token for a user already proven some other way (the CLI, tests): no password checked. */
    issueToken: (userId: number, kind: TokenKind, client?: ClientInfo) =>
      sessions.issue(userId, kind, client),
    /** The token's context when valid *and* of `kind` (bearer: header only; session: cookie only). */
    validateToken: (token: string, kind: TokenKind): Promise<AccessTokenContext | null> =>
      sessions.validate(token, kind),

    createApiKey: apiKeys.createApiKey,
    listApiKeys: apiKeys.listApiKeys,
    revokeApiKey: apiKeys.revokeApiKey,
    /** A personal API key's context (`ghk_…`, header only), or null: one null for every failure. */
    validateApiKey: apiKeys.validateApiKey,
    /** Superuser routes and the CLI's `users` commands. */
    admin: createAdministration(context),

    async logout(session: AccessTokenContext, client: ClientInfo): Promise<void> {
      assertNotApiKey(session)
      await sessions.revokeToken(session.tokenHash)
      emit('logout', { userId: session.user.id, sessionId: session.sessionId, client })
    },
    revokeToken: (tokenHash: string) => sessions.revokeToken(tokenHash),

    async listSessions(session: AccessTokenContext): Promise<SessionSummary[]> {
      assertNotApiKey(session)
      return sessions.list(session.user.id, session.tokenId)
    },
    /** Ends one of the caller's own sessions; NOT_FOUND for any other id (no hint it exists). */
    async revokeSession(session: AccessTokenContext, sessionId: string, client: ClientInfo): Promise<void> {
      assertNotApiKey(session)
      if (!(await sessions.revokeById(session.user.id, sessionId))) throw new GatehouseError('NOT_FOUND')
      emit('session.revoked', { userId: session.user.id, sessionId, client, reason: 'by_owner' })
    },
    /** "Sign out everywhere else": every session of the caller but this one. Returns how many. */
    async revokeOtherSessions(session: AccessTokenContext, client: ClientInfo): Promise<number> {
      assertNotApiKey(session)
      const count = await sessions.revokeUser(session.user.id, {
        exceptTokenId: session.tokenId,
        apiKeys: false,
      })
      if (count > 0) emit('session.revoked', { userId: session.user.id, client, reason: 'other_sessions' })
      return count
    },
    /** Every session and API key of the user (an operator's action, e.g. after a leak). */
    revokeUserTokens: (userId: number) => sessions.revokeUser(userId, { apiKeys: true }),
    /** An operator's view of a user's live sessions (none is "current"). */
    listUserSessions: (userId: number) => sessions.list(userId, null),
    /** An operator ends one session of the user; false when the user has no such session. */
    revokeUserSession: (userId: number, sessionId: string) => sessions.revokeById(userId, sessionId),
    /** Deactivation ends every session and API key at once (ASVS 5.0 V7.4.2). */
    async setActive(userId: number, isActive: boolean): Promise<User | null> {
      const user = await updateActive(db, userId, isActive)
      if (!isActive) await sessions.revokeUser(userId, { apiKeys: true })
      else await sessions.forgetUser(userId)
      return user
    },

    /** An event an adapter detected (a refused CSRF check): it joins the domain's own events. */
    report(
      type: SecurityEventType,
      details: { session?: AccessTokenContext | null; client: ClientInfo; reason?: string },
    ) {
      emit(type, {
        userId: details.session?.user.id ?? null,
        sessionId: details.session?.sessionId ?? null,
        client: details.client,
        reason: details.reason ?? null,
      })
    },

    /** Expired (and idle) sessions, expired API keys and expired links. */
    async pruneTokens(): Promise<number> {
      return (await sessions.prune()) + (await pruneOneTimeTokens(db))
    },
    /**
     * Whether a password check asked for now would be shed (503 OVERLOADED): an adapter may refuse
     * a login before it even reads the body, so a flood's refusals stay as cheap as possible.
     */
    isOverloaded: () => wouldShed(context.hasher),
    findUserById: (id: number) => findUserById(db, id),
    readPreferences: (userId: number) => readPreferences(db, userId),
    writePreferences: (userId: number, preferences: Preferences) => writePreferences(db, userId, preferences),
  }
}
