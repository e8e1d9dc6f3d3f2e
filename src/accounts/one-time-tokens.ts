import type { Kysely, Transaction } from 'kysely'
import {
  generateToken,
  hashToken,
  isWellFormedToken,
  RESET_TOKEN_PREFIX,
  VERIFY_TOKEN_PREFIX,
} from '../core/tokens/index.ts'
import type { Database } from '../store/schema.ts'
import { normalizeEmail } from './user.ts'

/**
 * Password-reset and email-verification tokens: 256 random bits with a prefix of their own, stored
 * only as SHA-256, bound to the address they were mailed to, single use and short-lived (OWASP
 * Forgot Password Cheat Sheet, "URL tokens"; ASVS 5.0 V6.4.1).
 */
export type OneTimePurpose = 'reset' | 'verify'

const PREFIXES = { reset: RESET_TOKEN_PREFIX, verify: VERIFY_TOKEN_PREFIX } as const

type Executor = Kysely<Database> | Transaction<Database>

export async function createOneTimeToken(
  db: Executor,
  grant: { purpose: OneTimePurpose; userId: number; email: string; ttlSeconds: number },
  now = Date.now(),
): Promise<string> {
  const { token, tokenHash } = generateToken(PREFIXES[grant.purpose])
  await db
    .insertInto('one_time_tokens')
    .values({
      token_hash: tokenHash,
      purpose: grant.purpose,
      user_id: grant.userId,
      email_normalized: normalizeEmail(grant.email),
      created_at: now,
      expires_at: now + grant.ttlSeconds * 1000,
    })
    .execute()
  return token
}

/**
 * Uses the token up: one DELETE … RETURNING, so of two requests racing with one token exactly one
 * gets its row (no check-then-act window). Unknown, used, expired and malformed tokens are all the
 * same null.
 */
export async function consumeOneTimeToken(
  db: Executor,
  purpose: OneTimePurpose,
  token: string,
  now = Date.now(),
): Promise<{ userId: number; emailNormalized: string } | null> {
  if (!isWellFormedToken(token, PREFIXES[purpose])) return null
  const row = await db
    .deleteFrom('one_time_tokens')
    .where('token_hash', '=', hashToken(token))
    .where('purpose', '=', purpose)
    .where('expires_at', '>', now)
    .returning(['user_id', 'email_normalized'])
    .executeTakeFirst()
  return row ? { userId: row.user_id, emailNormalized: row.email_normalized } : null
}

/** A credential or email change kills every pending link of the user (ASVS 5.0 V6.4.1). */
export async function deleteUserOneTimeTokens(db: Executor, userId: number): Promise<void> {
  await db.deleteFrom('one_time_tokens').where('user_id', '=', userId).execute()
}

export async function pruneOneTimeTokens(db: Executor, now = Date.now()): Promise<number> {
  const result = await db.deleteFrom('one_time_tokens').where('expires_at', '<=', now).executeTakeFirst()
  return Number(result.numDeletedRows)
}
