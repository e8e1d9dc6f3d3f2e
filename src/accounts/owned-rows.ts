import type { Kysely } from 'kysely'
import type { Database } from '../store/schema.ts'

/**
 * Deletes one session or API key by its public id, only when it belongs to `userId`: another
 * user's id is "not found", exactly like an id that never existed (OWASP Authorization Cheat
 * Sheet, IDOR). Returns the token hash, for the cache, or null.
 */
export async function deleteOwnedByPublicId(
  db: Kysely<Database>,
  table: 'access_tokens' | 'api_keys',
  userId: number,
  publicId: string,
): Promise<string | null> {
  const row = await db
    .deleteFrom(table)
    .where('public_id', '=', publicId)
    .where('user_id', '=', userId)
    .returning('token_hash')
    .executeTakeFirst()
  return row?.token_hash ?? null
}
