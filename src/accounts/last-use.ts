import type { Kysely } from 'kysely'
import type { Database } from '../store/schema.ts'

/** The first use is always recorded, later ones at most once per interval: never a write per request. */
export function isTouchDue(lastUsedAt: number | null, now: number, intervalSeconds: number): boolean {
  return lastUsedAt === null || now - lastUsedAt >= intervalSeconds * 1000
}

/** Writes `last_used_at` off the request's path: a failure is reported, never thrown. */
export function touchLastUse(
  db: Kysely<Database>,
  table: 'access_tokens' | 'api_keys',
  rowId: number,
  now: number,
  onError: ((error: unknown) => void) | undefined,
): void {
  db.updateTable(table)
    .set({ last_used_at: now })
    .where('id', '=', rowId)
    .execute()
    .catch((error: unknown) => onError?.(error))
}
