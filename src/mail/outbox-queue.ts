import type { Kysely, Selectable } from 'kysely'
import type { Database, Dialect, OutboxStatus, OutboxTable } from '../store/schema.ts'
import { ERROR_SUMMARY_LENGTH } from './mail-error.ts'

export type OutboxRow = Selectable<OutboxTable>

export const DEFAULT_MAX_ATTEMPTS = 8

/**
 * Claims up to `limit` due rows for `leaseMs`: nobody else takes them until the lease ends, and
 * a worker that dies holding them only delays them until then. Each claim counts as an attempt.
 *
 * One statement on both engines. PostgreSQL: the inner SELECT … FOR UPDATE SKIP LOCKED locks the
 * rows it picks and passes over rows another transaction is claiming, so concurrent workers get
 * disjoint batches and a row is re-checked against the lease after a competing claim commits
 * (PostgreSQL manual, SELECT, "The Locking Clause"). SQLite has one writer at a time, so the
 * UPDATE sees every earlier claim.
 */
export async function claimDueMail(
  db: Kysely<Database>,
  dialect: Dialect,
  options: { limit: number; leaseMs: number; now: number },
): Promise<OutboxRow[]> {
  const { limit, leaseMs, now } = options
  // A read first: on SQLite any UPDATE takes the file's write lock, even when it matches nothing,
  // and every process polling an idle outbox each second would make the others wait for it.
  const due = await db
    .selectFrom('outbox')
    .select('id')
    .where('status', '=', 'pending')
    .where('next_attempt_at', '<=', now)
    .where((w) => w.or([w('locked_until', 'is', null), w('locked_until', '<', now)]))
    .limit(1)
    .executeTakeFirst()
  if (!due) return []
  const rows = await db
    .updateTable('outbox')
    .set((eb) => ({ locked_until: now + leaseMs, attempts: eb('attempts', '+', 1) }))
    .where('id', 'in', (eb) =>
      eb
        .selectFrom('outbox')
        .select('id')
        .where('status', '=', 'pending')
        .where('next_attempt_at', '<=', now)
        .where((w) => w.or([w('locked_until', 'is', null), w('locked_until', '<', now)]))
        .orderBy('id')
        .limit(limit)
        .$if(dialect === 'postgres', (qb) => qb.forUpdate().skipLocked()),
    )
    .returningAll()
    .execute()
  // RETURNING promises no order; oldest first, as they were queued.
  return rows.sort((a, b) => a.id - b.id)
}

/** The mail went out. A late mark after the lease still records the truth: it was sent. */
export async function markSent(db: Kysely<Database>, id: number, now: number): Promise<void> {
  await db
    .updateTable('outbox')
    .set({ status: 'sent', finished_at: now, locked_until: null, last_error: null })
    .where('id', '=', id)
    .execute()
}

/**
 * Nothing to send (no such account, already verified…). Only a pending row: it never undoes a
 * send by a worker that claimed the row after this one's lease ran out.
 */
export async function markDropped(db: Kysely<Database>, id: number, now: number): Promise<void> {
  await db
    .updateTable('outbox')
    .set({ status: 'dropped', finished_at: now, locked_until: null })
    .where('id', '=', id)
    .where('status', '=', 'pending')
    .execute()
}

/** The summary and the error code before it. */
const LAST_ERROR_MAX_LENGTH = ERROR_SUMMARY_LENGTH + 56

function storedError(error: string): string {
  return error.replace(/\s+/g, ' ').trim().slice(0, LAST_ERROR_MAX_LENGTH)
}

/** Gives up on the row now: the mail cannot be sent (a recipient the server refuses for good). */
export async function markFailed(
  db: Kysely<Database>,
  id: number,
  options: { error: string; now: number },
): Promise<void> {
  await db
    .updateTable('outbox')
    .set({
      status: 'failed',
      finished_at: options.now,
      locked_until: null,
      last_error: storedError(options.error),
    })
    .where('id', '=', id)
    .where('status', '=', 'pending')
    .execute()
}

/**
 * Releases the row for another try at `nextAttemptAt`, or fails it for good once it has been
 * claimed `maxAttempts` times. `error` is stored as given, cut short: the caller passes a summary
 * with no secret in it. Returns the status the row ends in (null when it was no longer pending).
 */
export async function markRetry(
  db: Kysely<Database>,
  id: number,
  options: { error: string; nextAttemptAt: number; now: number; maxAttempts?: number },
): Promise<OutboxStatus | null> {
  const maxAttempts = options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS
  const row = await db
    .updateTable('outbox')
    .set((eb) => ({
      status: eb
        .case()
        .when('attempts', '>=', maxAttempts)
        .then('failed' as const)
        .else('pending' as const)
        .end(),
      finished_at: eb.case().when('attempts', '>=', maxAttempts).then(options.now).else(null).end(),
      next_attempt_at: options.nextAttemptAt,
      locked_until: null,
      last_error: storedError(options.error),
    }))
    .where('id', '=', id)
    .where('status', '=', 'pending')
    .returning('status')
    .executeTakeFirst()
  return row?.status ?? null
}

/** Deletes rows finished (sent, dropped or failed) more than `olderThanMs` ago; returns how many. */
export async function pruneFinishedMail(
  db: Kysely<Database>,
  olderThanMs: number,
  now: number,
): Promise<number> {
  const result = await db
    .deleteFrom('outbox')
    .where('status', 'in', ['sent', 'dropped', 'failed'])
    .where('finished_at', '<', now - olderThanMs)
    .executeTakeFirst()
  return Number(result.numDeletedRows)
}
