import { CompiledQuery, type Kysely } from 'kysely'
import { generatePublicId, generateToken, hashToken, isWellFormedToken } from '../core/tokens/index.ts'
import { compiledOnce } from '../store/compiled-once.ts'
import type { Database } from '../store/schema.ts'
import { isForeignKeyViolation } from '../store/unique-violation.ts'
import { isTouchDue, touchLastUse } from './last-use.ts'
import { deleteOwnedByPublicId } from './owned-rows.ts'
import type { AccessTokenContext, IssuedAccessToken, SessionSummary, TokenKind } from './session.ts'
import type { TokenCache } from './token-cache.ts'
import { JOINED_USER_COLUMNS, rowToUser } from './user.ts'
import { summarizeUserAgent } from './user-agent.ts'

export type { AccessTokenContext, IssuedAccessToken, TokenKind } from './session.ts'

/** What the owner needs to recognise a session later; the user agent is stored as a summary only. */
export interface SessionOrigin {
  ip?: string | null
  userAgent?: string | null
}

const MAX_IP_LENGTH = 64

export async function issueAccessToken(
  db: Kysely<Database>,
  userId: number,
  kind: TokenKind,
  ttlSeconds: number,
  now = Date.now(),
  origin: SessionOrigin = {},
): Promise<IssuedAccessToken> {
  const { token, tokenHash } = generateToken()
  const sessionId = generatePublicId()
  const expiresAt = now + ttlSeconds * 1000
  await db
    .insertInto('access_tokens')
    .values({
      token_hash: tokenHash,
      public_id: sessionId,
      user_id: userId,
      kind,
      created_at: now,
      expires_at: expiresAt,
      user_agent: summarizeUserAgent(origin.userAgent),
      ip: origin.ip ? origin.ip.slice(0, MAX_IP_LENGTH) : null,
    })
    .execute()
  return { token, tokenHash, sessionId, expiresAt: new Date(expiresAt), expiresInSeconds: ttlSeconds }
}

/**
 * A login's token, kept only if the account is still active and still has one of the hashes the
 * password was verified against once the row is written; else the row is deleted again and the
 * answer is null. A password change, reset or deactivation writes the user first and deletes the
 * tokens second; this writes the token first and reads the user second, so in every interleaving
 * either this read sees the change or that delete sees this token: no session issued for the old
 * password outlives the revocation (ASVS 5.0 V7.4.3). A user deleted meanwhile is null too.
 */
export async function issueLoginToken(
  db: Kysely<Database>,
  userId: number,
  kind: TokenKind,
  ttlSeconds: number,
  origin: SessionOrigin,
  verifiedHashes: readonly string[],
): Promise<IssuedAccessToken | null> {
  let issued: IssuedAccessToken
  try {
    issued = await issueAccessToken(db, userId, kind, ttlSeconds, Date.now(), origin)
  } catch (error) {
    if (isForeignKeyViolation(error)) return null
    throw error
  }
  const user = await db
    .selectFrom('users')
    .select(['hashed_password', 'is_active'])
    .where('id', '=', userId)
    .executeTakeFirst()
  if (user?.is_active === 1 && verifiedHashes.includes(user.hashed_password)) return issued
  await revokeAccessToken(db, issued.tokenHash)
  return null
}

export interface ValidateOptions {
  /** Refuse a token unused for this long (0: no idle timeout). */
  idleTimeoutSeconds: number
  /** Write last_used_at at most this often per token: never a write on every request. */
  touchIntervalSeconds: number
  now?: number
  /** Called with the failure when the throttled last_used_at write fails (it is not awaited). */
  onTouchError?: (error: unknown) => void
  /** Recently validated tokens; null or absent: every validation reads the database. */
  cache?: TokenCache | null
  /** A valid token presented in the other transport (a bearer token as the cookie, or the reverse). */
  onKindMismatch?: (context: { userId: number; sessionId: string }) => void
}

/**
 * Resolves a presented token to its user, or null. Every failure (malformed, unknown, expired,
 * idle, inactive user) is the same null: the client learns nothing about which check failed.
 * Lookup is by SHA-256 of the token: the attacker controls no byte of the indexed value, so the
 * index probe leaks nothing useful in its timing.
 */
function compileTokenLookup(db: Kysely<Database>) {
  return db
    .selectFrom('access_tokens as t')
    .innerJoin('users as u', 'u.id', 't.user_id')
    .select([
      't.id as token_id',
      't.public_id',
      't.kind',
      't.created_at as token_created_at',
      't.expires_at',
      't.last_used_at',
      ...JOINED_USER_COLUMNS,
    ])
    .where('t.token_hash', '=', '')
    .compile()
}

type TokenLookupRow = ReturnType<typeof compileTokenLookup> extends CompiledQuery<infer R> ? R : never

const tokenLookupSql = compiledOnce(compileTokenLookup)

export async function validateAccessToken(
  db: Kysely<Database>,
  token: string,
  expectedKind: TokenKind,
  options: ValidateOptions,
): Promise<AccessTokenContext | null> {
  if (!isWellFormedToken(token)) return null
  const tokenHash = hashToken(token)
  const now = options.now ?? Date.now()
  const cached = options.cache?.get(tokenHash, now)
  if (cached !== undefined) {
    if (cached.context.kind !== expectedKind) {
      options.onKindMismatch?.({ userId: cached.context.user.id, sessionId: cached.context.sessionId })
      return null
    }
    // A cached hit is a use like any other: the idle clock must see it.
    if (isTouchDue(cached.lastUsedAt, now, options.touchIntervalSeconds)) {
      touchLastUse(db, 'access_tokens', cached.context.tokenId, now, options.onTouchError)
      cached.lastUsedAt = now
    }
    return cached.context
  }
  const { rows } = await db.executeQuery<TokenLookupRow>(CompiledQuery.raw(tokenLookupSql(db), [tokenHash]))
  const row = rows[0]
  if (!row) return null
  // A token is valid only where it was issued to travel (a bearer token in the Authorization
  // header, a session token in the session cookie): one planted or copied into the other transport
  // is refused (OWASP Session Management Cheat Sheet, "Session ID Exchange Mechanism").
  if (row.kind !== expectedKind) {
    if (row.expires_at > now) options.onKindMismatch?.({ userId: row.id, sessionId: row.public_id })
    return null
  }
  if (row.expires_at <= now || row.is_active !== 1) return null
  const lastActivity = row.last_used_at ?? row.token_created_at
  if (options.idleTimeoutSeconds > 0 && now - lastActivity > options.idleTimeoutSeconds * 1000) return null

  let lastUsedAt = row.last_used_at
  if (isTouchDue(lastUsedAt, now, options.touchIntervalSeconds)) {
    touchLastUse(db, 'access_tokens', row.token_id, now, options.onTouchError)
    lastUsedAt = now
  }
  const context: AccessTokenContext = {
    user: rowToUser(row),
    tokenId: row.token_id,
    tokenHash,
    sessionId: row.public_id,
    kind: row.kind as TokenKind,
    createdAt: new Date(row.token_created_at),
    expiresAt: new Date(row.expires_at),
    scopes: null,
  }
  // The cache must not answer for a token past its idle deadline either.
  const idleDeadline =
    options.idleTimeoutSeconds > 0
      ? (lastUsedAt ?? row.token_created_at) + options.idleTimeoutSeconds * 1000
      : Number.POSITIVE_INFINITY
  options.cache?.set(tokenHash, context, now, { lastUsedAt, validUntil: idleDeadline })
  return context
}

/** `last_used_at` is written at most once a minute per token when no idle timeout asks for less. */
export const DEFAULT_TOUCH_INTERVAL_SECONDS = 60

/**
 * How often `last_used_at` may be written when tokens have an idle timeout. The recorded time lags
 * the real last use by up to this interval, so a token in steady use would be refused as idle if
 * the interval reached the timeout: at most half of it keeps the timeout exact to within one
 * interval (NIST SP 800-63B-4 §2.2.3 inactivity timeout; ASVS 5.0 V7.3.1).
 */
export function touchIntervalFor(idleTimeoutSeconds: number, requestedSeconds?: number): number {
  const fitting = idleTimeoutSeconds > 0 ? Math.max(1, Math.floor(idleTimeoutSeconds / 2)) : Infinity
  if (requestedSeconds === undefined) return Math.min(DEFAULT_TOUCH_INTERVAL_SECONDS, fitting)
  if (requestedSeconds > fitting) {
    throw new RangeError(
      `a last-use write interval of ${requestedSeconds} s cannot keep an idle timeout of ` +
        `${idleTimeoutSeconds} s: it must be at most half of it (${fitting} s)`,
    )
  }
  return requestedSeconds
}

/** Logout: the token row is deleted, so the token is refused everywhere at once. */
export async function revokeAccessToken(db: Kysely<Database>, tokenHash: string): Promise<boolean> {
  const result = await db.deleteFrom('access_tokens').where('token_hash', '=', tokenHash).executeTakeFirst()
  return result.numDeletedRows > 0n
}

/** Every token of the user, or every one but `exceptTokenId` (the session making the request). */
export async function revokeUserTokens(
  db: Kysely<Database>,
  userId: number,
  exceptTokenId?: number,
): Promise<number> {
  let query = db.deleteFrom('access_tokens').where('user_id', '=', userId)
  if (exceptTokenId !== undefined) query = query.where('id', '!=', exceptTokenId)
  const result = await query.executeTakeFirst()
  return Number(result.numDeletedRows)
}

/** One of the user's sessions by its public id (deleteOwnedByPublicId): its hash, or null. */
export function revokeSessionById(
  db: Kysely<Database>,
  userId: number,
  sessionId: string,
): Promise<string | null> {
  return deleteOwnedByPublicId(db, 'access_tokens', userId, sessionId)
}

/** The user's sessions not yet expired, newest first. Idle ones are filtered by the caller. */
export async function listUserSessions(
  db: Kysely<Database>,
  userId: number,
  now = Date.now(),
): Promise<(Omit<SessionSummary, 'current'> & { tokenId: number })[]> {
  const rows = await db
    .selectFrom('access_tokens')
    .select(['id', 'public_id', 'kind', 'created_at', 'last_used_at', 'expires_at', 'user_agent', 'ip'])
    .where('user_id', '=', userId)
    .where('expires_at', '>', now)
    .orderBy('created_at', 'desc')
    .orderBy('id', 'desc')
    .execute()
  return rows.map((row) => ({
    tokenId: row.id,
    id: row.public_id,
    kind: row.kind as TokenKind,
    createdAt: new Date(row.created_at),
    lastUsedAt: row.last_used_at === null ? null : new Date(row.last_used_at),
    expiresAt: new Date(row.expires_at),
    userAgent: row.user_agent,
    ip: row.ip,
  }))
}

/** Deletes expired rows (and idle ones when an idle timeout is set). Returns how many. */
export async function pruneAccessTokens(
  db: Kysely<Database>,
  idleTimeoutSeconds = 0,
  now = Date.now(),
): Promise<number> {
  const idleBefore = now - idleTimeoutSeconds * 1000
  const query = db
    .deleteFrom('access_tokens')
    .where((eb) =>
      idleTimeoutSeconds > 0
        ? eb.or([
            eb('expires_at', '<=', now),
            eb(eb.fn.coalesce('last_used_at', 'created_at'), '<', idleBefore),
          ])
        : eb('expires_at', '<=', now),
    )
  const result = await query.executeTakeFirst()
  return Number(result.numDeletedRows)
}
