import type { Kysely, Transaction } from 'kysely'
import type { Database, OutboxPurpose } from '../store/schema.ts'

export interface QueuedMail {
  purpose: OutboxPurpose
  recipient: string
  userId: number | null
}

/**
 * Queues a mail: one row, written in the caller's transaction when it has one, so the change that
 * causes a mail and the mail itself are committed together or not at all. Nothing talks SMTP here:
 * a request that queues a mail takes the same time whatever becomes of it.
 */
export async function enqueueMail(
  db: Kysely<Database> | Transaction<Database>,
  mail: QueuedMail,
  now = Date.now(),
): Promise<void> {
  await db
    .insertInto('outbox')
    .values({
      purpose: mail.purpose,
      recipient: mail.recipient,
      user_id: mail.userId,
      status: 'pending',
      created_at: now,
      next_attempt_at: now,
    })
    .execute()
}

/** What the worker sends for one outbox row, once the domain has resolved it. */
export interface PreparedMail {
  purpose: OutboxPurpose
  to: string
  /** The single-use secret the link carries (reset and verification mails). */
  token?: string
  /** How long the link works, for the mail's text. */
  expiresInSeconds?: number
}
