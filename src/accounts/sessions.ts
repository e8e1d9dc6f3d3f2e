import type { Kysely } from 'kysely'
import type { Database } from '../store/schema.ts'
import {
  DEFAULT_TOUCH_INTERVAL_SECONDS,
  issueAccessToken,
  issueLoginToken,
  listUserSessions,
  pruneAccessTokens,
  revokeAccessToken,
  revokeSessionById,
  revokeUserTokens,
  type SessionOrigin,
  touchIntervalFor,
  validateAccessToken,
} from './access-tokens.ts'
import {
  deleteApiKeyById,
  deleteUserApiKeys,
  type IssuedApiKey,
  insertApiKeyForSession,
  listApiKeys,
  type NewSessionApiKey,
  pruneApiKeys,
  validateApiKey,
} from './api-key-store.ts'
import type { EmitEvent } from './events.ts'
import type { Revocation, RevocationChannel } from './revocation-channel.ts'
import type { AccessTokenContext, IssuedAccessToken, SessionSummary, TokenKind } from './session.ts'
import { createTokenCache } from './token-cache.ts'

export interface SessionsOptions {
  db: Kysely<Database>
  accessTokenTtlSeconds: number
  idleTimeoutSeconds: number
  touchIntervalSeconds?: number
  tokenCacheSeconds?: number
  onBackgroundError?: (error: unknown) => void
  emit: EmitEvent
  /** Tells the other instances about every revocation, and applies theirs to this cache. */
  revocations?: RevocationChannel
}

/**
 * Every token issue, check and revocation, in one place: this module alone owns the token cache,
 * so no revocation can forget to clear it, nor to tell the other instances: every revocation is
 * published on `revocations` once the database has it. It takes effect at once on this instance,
 * on the others as soon as the message arrives; while the channel is down (or without one),
 * another instance's cache answers for at most `tokenCacheSeconds` (5 s by default) more.
 */
export function createSessions(options: SessionsOptions) {
  const { db, emit, revocations } = options
  const cache = createTokenCache({ ttlSeconds: options.tokenCacheSeconds ?? 0 })
  if (cache !== null) {
    revocations?.subscribe({
      revoked: (revocation) => {
        if (revocation.kind === 'token') cache.deleteToken(revocation.tokenHash)
        else if (revocation.kind === 'user') cache.deleteUser(revocation.userId)
        else cache.clear()
      },
      missed: () => cache.clear(),
    })
  }
  // After the database write: an instance that drops its entry on receipt and reads the database
  // again must find the token gone. A failed publish is the channel's to log; the revocation stands.
  const publish = (revocation: Revocation) => revocations?.publish(revocation)
  const validateOptions = {
    idleTimeoutSeconds: options.idleTimeoutSeconds,
    // Refuses, at construction, an interval that would log out a token in steady use.
    touchIntervalSeconds: touchIntervalFor(options.idleTimeoutSeconds, options.touchIntervalSeconds),
    onTouchError: options.onBackgroundError,
    cache,
    onKindMismatch: ({ userId, sessionId }: { userId: number; sessionId: string }) =>
      emit('token.kind_mismatch', { userId, sessionId }),
  }
  const validateKeyOptions = {
    touchIntervalSeconds: DEFAULT_TOUCH_INTERVAL_SECONDS,
    onTouchError: options.onBackgroundError,
    cache,
  }
  const isIdle = (lastActivity: number, now: number) =>
    options.idleTimeoutSeconds > 0 && now - lastActivity > options.idleTimeoutSeconds * 1000

  return {
    issue(userId: number, kind: TokenKind, origin: SessionOrigin = {}): Promise<IssuedAccessToken> {
      return issueAccessToken(db, userId, kind, options.accessTokenTtlSeconds, Date.now(), origin)
    },

    /** A login's token, or null when the password or the account changed meanwhile (issueLoginToken). */
    issueForLogin(
      userId: number,
      kind: TokenKind,
      origin: SessionOrigin,
      verifiedHashes: readonly string[],
    ): Promise<IssuedAccessToken | null> {
      return issueLoginToken(db, userId, kind, options.accessTokenTtlSeconds, origin, verifiedHashes)
    },

    /** The token's context when valid *and* of `kind` (bearer: header only; session: cookie only). */
    validate(token: string, kind: TokenKind): Promise<AccessTokenContext | null> {
      return validateAccessToken(db, token, kind, validateOptions)
    },

    /** A personal API key's context, through the same cache as tokens: a key costs what a token costs. */
    validateApiKey(key: string): Promise<AccessTokenContext | null> {
      return validateApiKey(db, key, validateKeyOptions)
    },

    /** A key made by a signed-in session, within `maxKeys` (see insertApiKeyForSession). */
    issueApiKey(input: NewSessionApiKey, maxKeys: number): Promise<IssuedApiKey | 'limit' | 'session_ended'> {
      return insertApiKeyForSession(db, input, maxKeys)
    },

    listApiKeys: (userId: number) => listApiKeys(db, userId),

    /** Every API key of the user (not the sessions). Returns how many. */
    async revokeApiKeys(userId: number): Promise<number> {
      cache?.deleteUser(userId)
      const count = await deleteUserApiKeys(db, userId)
      await publish({ kind: 'user', userId })
      return count
    },

    /** One of the user's keys; false when it is not theirs (or does not exist). */
    async revokeApiKey(userId: number, keyId: string): Promise<boolean> {
      const tokenHash = await deleteApiKeyById(db, userId, keyId)
      if (tokenHash === null) return false
      cache?.deleteToken(tokenHash)
      await publish({ kind: 'token', tokenHash })
      return true
    },

    async revokeToken(tokenHash: string): Promise<boolean> {
      cache?.deleteToken(tokenHash)
      const revoked = await revokeAccessToken(db, tokenHash)
      if (revoked) await publish({ kind: 'token', tokenHash })
      return revoked
    },

    /** One of the user's own sessions; false when it is not theirs (or does not exist). */
    async revokeById(userId: number, sessionId: string): Promise<boolean> {
      const tokenHash = await revokeSessionById(db, userId, sessionId)
      if (tokenHash === null) return false
      cache?.deleteToken(tokenHash)
      await publish({ kind: 'token', tokenHash })
      return true
    },

    /**
     * Every session of the user, or all but `except.tokenId`; with `apiKeys`, every API key too.
     * Returns how many sessions and keys ended.
     */
    async revokeUser(userId: number, scope: { exceptTokenId?: number; apiKeys: boolean }): Promise<number> {
      // Cleared first and tombstoned: a validation racing with the DELETE cannot re-cache a token.
      cache?.deleteUser(userId)
      let count = await revokeUserTokens(db, userId, scope.exceptTokenId)
      if (scope.apiKeys) count += await deleteUserApiKeys(db, userId)
      // Also when none was deleted here: the user row may have changed (deactivation).
      await publish({ kind: 'user', userId })
      return count
    },

    /** Every session of every user but `exceptTokenId` (not API keys). Returns how many. */
    async revokeEverySession(exceptTokenId?: number): Promise<number> {
      cache?.clear()
      let query = db.deleteFrom('access_tokens')
      if (exceptTokenId !== undefined) query = query.where('id', '!=', exceptTokenId)
      const result = await query.executeTakeFirst()
      await publish({ kind: 'all' })
      return Number(result.numDeletedRows)
    },

    /**
     * Cached contexts carry the user (email, verified and active flags): drop them everywhere after
     * a change to it. Not awaited by callers that need not wait: publishing never throws.
     */
    forgetUser(userId: number): Promise<void> {
      cache?.deleteUser(userId)
      return publish({ kind: 'user', userId }) ?? Promise.resolve()
    },

    /** The user's live sessions (neither expired nor idle), newest first. */
    async list(userId: number, currentTokenId: number | null): Promise<SessionSummary[]> {
      const now = Date.now()
      const rows = await listUserSessions(db, userId, now)
      return rows
        .filter((row) => !isIdle((row.lastUsedAt ?? row.createdAt).getTime(), now))
        .map(({ tokenId, ...session }) => ({ ...session, current: tokenId === currentTokenId }))
    },

    prune: async () => (await pruneAccessTokens(db, options.idleTimeoutSeconds)) + (await pruneApiKeys(db)),
  }
}

export type Sessions = ReturnType<typeof createSessions>
