import type { Kysely } from 'kysely'
import { GatehouseError } from '../core/errors.ts'
import type { Database } from '../store/schema.ts'

export type Preferences = Record<string, unknown>

/**
 * Deeper documents are refused: JSON.stringify and the response serializer recurse, and a few
 * thousand nested brackets (16 KB) would overflow the stack into a 500 (CWE-674).
 */
export const PREFERENCES_MAX_DEPTH = 32

/** Depth of a parsed JSON value, counted without recursion. */
function depthExceeds(value: unknown, maxDepth: number): boolean {
  const pending: [unknown, number][] = [[value, 1]]
  while (pending.length > 0) {
    const [current, depth] = pending.pop() as [unknown, number]
    if (current === null || typeof current !== 'object') continue
    if (depth > maxDepth) return true
    for (const child of Object.values(current)) pending.push([child, depth + 1])
  }
  return false
}

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
  if (depthExceeds(preferences, PREFERENCES_MAX_DEPTH)) {
    // The whole document is the refused input: field '' is the body itself.
    throw new GatehouseError('VALIDATION_FAILED', {
      detail: `Nested deeper than ${PREFERENCES_MAX_DEPTH} levels`,
      field: '',
    })
  }
  const data = JSON.stringify(preferences)
  await db
    .insertInto('preferences')
    .values({ user_id: userId, data, updated_at: now })
    .onConflict((oc) => oc.column('user_id').doUpdateSet({ data, updated_at: now }))
    .execute()
  return preferences
}
