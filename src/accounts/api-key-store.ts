import { CompiledQuery, type Kysely, type Transaction } from 'kysely'
import {
  API_KEY_PREFIX,
  generatePublicId,
  generateToken,
  hashToken,
  isWellFormedToken,
} from '../core/tokens/index.ts'
import { compiledOnce } from '../store/compiled-once.ts'
import type { Database } from '../store/schema.ts'
import { isTouchDue, touchLastUse } from './last-use.ts'
import { deleteOwnedByPublicId } from './owned-rows.ts'
import type { AccessTokenContext } from './session.ts'
import type { TokenCache } from './token-cache.ts'
import { JOINED_USER_COLUMNS, rowToUser } from './user.ts'

/** A key as its owner (or a superuser) sees it in a list: never the key, never its hash. */
export interface ApiKeySummary {
  id: string
  name: string
  scopes: string[]
  /** `ghk_` and the first characters of the secret, to recognise a key found in a config file. */
  prefix: string
  createdAt: Date
  lastUsedAt: Date | null
  expiresAt: Date
}

export interface IssuedApiKey extends ApiKeySummary {
  /** The secret, shown once. */
  key: string
}

/** Enough to recognise a key, too little to matter: 6 of 43 characters leave 222 bits unknown. */
const VISIBLE_SECRET_CHARACTERS = 6

export async function insertApiKey(
  db: Kysely<Database> | Transaction<Database>,
  input: { userId: number; name: string; scopes: readonly string[]; expiresAt: number },
  now = Date.now(),
): Promise<IssuedApiKey> {
  const { token, tokenHash } = generateToken(API_KEY_PREFIX)
  const id = generatePublicId()
  const prefix = token.slice(0, API_KEY_PREFIX.length + VISIBLE_SECRET_CHARACTERS)
  const scopes = [...input.scopes]
  await db
    .insertInto('api_keys')
    .values({
      public_id: id,
      user_id: input.userId,
      name: input.name,
      token_hash: tokenHash,
      prefix,
      scopes: JSON.stringify(scopes),
      created_at: now,
      expires_at: input.expiresAt,
    })
    .execute()
  return {
    key: token,
    id,
    name: input.name,
    scopes,
    prefix,
    createdAt: new Date(now),
    lastUsedAt: null,
    expiresAt: new Date(input.expiresAt),
  }
}

/**
 * A key created by a signed-in session, within the per-user bound, or why not. Counting and
 * inserting happen in one transaction that first writes the user's row (a no-op update): on
 * PostgreSQL that row lock makes two creations for one user count one after the other, on SQLite
 * it takes the write lock, so concurrent requests cannot pass the bound together. Once committed,
 * the session must still exist: a password change, reset or deactivation deletes the sessions
 * before the keys, so either that key deletion sees this key, or this check sees the session gone
 * and the key is deleted again — no key minted by a session outlives that session's revocation.
 */
export interface NewSessionApiKey {
  userId: number
  /** The access_tokens row of the session creating it. */
  sessionTokenId: number
  name: string
  scopes: readonly string[]
  expiresAt: number
}

export async function insertApiKeyForSession(
  db: Kysely<Database>,
  input: NewSessionApiKey,
  maxKeys: number,
): Promise<IssuedApiKey | 'limit' | 'session_ended'> {
  const now = Date.now()
  const outcome = await db.transaction().execute(async (trx) => {
    const locked = await trx
      .updateTable('users')
      .set((eb) => ({ updated_at: eb.ref('updated_at') }))
      .where('id', '=', input.userId)
      .where('is_active', '=', 1)
      .executeTakeFirst()
    if (Number(locked.numUpdatedRows) === 0) return 'session_ended' as const
    if ((await countUserApiKeys(trx, input.userId, now)) >= maxKeys) return 'limit' as const
    return insertApiKey(trx, input, now)
  })
  if (typeof outcome === 'string') return outcome
  const session = await db
    .selectFrom('access_tokens')
    .select('id')
    .where('id', '=', input.sessionTokenId)
    .executeTakeFirst()
  if (session !== undefined) return outcome
  await deleteApiKeyById(db, input.userId, outcome.id)
  return 'session_ended'
}

function compileKeyLookup(db: Kysely<Database>) {
  return db
    .selectFrom('api_keys as k')
    .innerJoin('users as u', 'u.id', 'k.user_id')
    .select([
      'k.id as key_id',
      'k.public_id',
      'k.scopes',
      'k.created_at as key_created_at',
      'k.expires_at',
      'k.last_used_at',
      ...JOINED_USER_COLUMNS,
    ])
    .where('k.token_hash', '=', '')
    .compile()
}

type KeyLookupRow = ReturnType<typeof compileKeyLookup> extends CompiledQuery<infer R> ? R : never

const keyLookupSql = compiledOnce(compileKeyLookup)

export interface ValidateKeyOptions {
  /** Write last_used_at at most this often per key. */
  touchIntervalSeconds: number
  onTouchError?: (error: unknown) => void
  /** The same cache as tokens': a key costs what a token costs on the hot path. */
  cache?: TokenCache | null
  now?: number
}

/**
 * The key's context, or null for anything else (malformed, unknown, expired, inactive owner): one
 * null, like tokens. Looked up by SHA-256, so the attacker controls no byte of the indexed value.
 * Keys have no idle timeout: they are made for scripts that run once a month, and expire instead.
 */
export async function validateApiKey(
  db: Kysely<Database>,
  key: string,
  options: ValidateKeyOptions,
): Promise<AccessTokenContext | null> {
  if (!isWellFormedToken(key, API_KEY_PREFIX)) return null
  const tokenHash = hashToken(key)
  const now = options.now ?? Date.now()
  const cached = options.cache?.get(tokenHash, now)
  if (cached !== undefined) {
    if (isTouchDue(cached.lastUsedAt, now, options.touchIntervalSeconds)) {
      touchLastUse(db, 'api_keys', cached.context.tokenId, now, options.onTouchError)
      cached.lastUsedAt = now
    }
    return cached.context
  }
  const { rows } = await db.executeQuery<KeyLookupRow>(CompiledQuery.raw(keyLookupSql(db), [tokenHash]))
  const row = rows[0]
  if (!row || row.expires_at <= now || row.is_active !== 1) return null
  let lastUsedAt = row.last_used_at
  if (isTouchDue(lastUsedAt, now, options.touchIntervalSeconds)) {
    touchLastUse(db, 'api_keys', row.key_id, now, options.onTouchError)
    lastUsedAt = now
  }
  const context: AccessTokenContext = {
    user: rowToUser(row),
    tokenId: row.key_id,
    tokenHash,
    sessionId: row.public_id,
    kind: 'api_key',
    createdAt: new Date(row.key_created_at),
    expiresAt: new Date(row.expires_at),
    scopes: new Set(parseScopes(row.scopes)),
  }
  options.cache?.set(tokenHash, context, now, { lastUsedAt })
  return context
}

/** Stored by us as a JSON array of strings; anything else (a hand-edited row) grants nothing. */
function parseScopes(stored: string): string[] {
  try {
    const parsed: unknown = JSON.parse(stored)
    return Array.isArray(parsed) ? parsed.filter((scope) => typeof scope === 'string') : []
  } catch {
    return []
  }
}

/** The user's keys not yet expired, newest first. */
export async function listApiKeys(
  db: Kysely<Database>,
  userId: number,
  now = Date.now(),
): Promise<ApiKeySummary[]> {
  const rows = await db
    .selectFrom('api_keys')
    .select(['public_id', 'name', 'scopes', 'prefix', 'created_at', 'last_used_at', 'expires_at'])
    .where('user_id', '=', userId)
    .where('expires_at', '>', now)
    .orderBy('created_at', 'desc')
    .orderBy('id', 'desc')
    .execute()
  return rows.map((row) => ({
    id: row.public_id,
    name: row.name,
    scopes: parseScopes(row.scopes),
    prefix: row.prefix,
    createdAt: new Date(Number(row.created_at)),
    lastUsedAt: row.last_used_at === null ? null : new Date(Number(row.last_used_at)),
    expiresAt: new Date(Number(row.expires_at)),
  }))
}

/** One of the user's keys by its public id (deleteOwnedByPublicId): its hash, or null. */
export function deleteApiKeyById(
  db: Kysely<Database>,
  userId: number,
  keyId: string,
): Promise<string | null> {
  return deleteOwnedByPublicId(db, 'api_keys', userId, keyId)
}

export async function deleteUserApiKeys(db: Kysely<Database>, userId: number): Promise<number> {
  const result = await db.deleteFrom('api_keys').where('user_id', '=', userId).executeTakeFirst()
  return Number(result.numDeletedRows)
}

export async function countUserApiKeys(
  db: Kysely<Database>,
  userId: number,
  now = Date.now(),
): Promise<number> {
  const row = await db
    .selectFrom('api_keys')
    .select((eb) => eb.fn.countAll<number | string | bigint>().as('count'))
    .where('user_id', '=', userId)
    .where('expires_at', '>', now)
    .executeTakeFirstOrThrow()
  return Number(row.count)
}

export async function pruneApiKeys(db: Kysely<Database>, now = Date.now()): Promise<number> {
  const result = await db.deleteFrom('api_keys').where('expires_at', '<=', now).executeTakeFirst()
  return Number(result.numDeletedRows)
}
