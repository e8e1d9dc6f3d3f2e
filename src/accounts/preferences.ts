import type { Kysely } from 'kysely'
import type { Database } from '../store/schema.ts'

export type Preferences = Record<string, unknown>

export async function readPreferences(db: Kysely<Database>, userId: number): Promise<Preferences> {
  const row = await db
    .selectFrom('preferences')
    .select('data')
    .where('user_id', '=', userId)
    .executeTakeFirst()
  return row ? (JSON.parse(row.data) as Preferences) : {}
}

/** Replaces the user's preferences in one statement (upsert): never half-written. */
export async function writePreferences(
  db: Kysely<Database>,
  userId: number,
  preferences: Preferences,
  now = Date.now(),
): Promise<Preferences> {
  const data = JSON.stringify(preferences)
  await db
    .insertInto('preferences')
    .values({ user_id: userId, data, updated_at: now })
    .onConflict((oc) => oc.column('user_id').doUpdateSet({ data, updated_at: now }))
    .execute()
  return preferences
}
