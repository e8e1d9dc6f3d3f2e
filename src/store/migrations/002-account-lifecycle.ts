import { type ColumnDefinitionBuilder, type Kysely, type Migration, sql } from 'kysely'
import { generatePublicId } from '../../core/tokens/index.ts'
import type { Dialect } from '../schema.ts'

/**
 * Sessions a user can recognise (public id, user agent, address), single-use recovery and
 * verification tokens, the mail outbox and the audit trail.
 */
export function accountLifecycleMigration(dialect: Dialect): Migration {
  const idType = dialect === 'postgres' ? 'serial' : 'integer'
  const id = (col: ColumnDefinitionBuilder) =>
    dialect === 'postgres' ? col.primaryKey() : col.primaryKey().autoIncrement()
  return {
    async up(db: Kysely<unknown>) {
      await db.schema.alterTable('access_tokens').addColumn('public_id', 'text').execute()
      await db.schema.alterTable('access_tokens').addColumn('user_agent', 'text').execute()
      await db.schema.alterTable('access_tokens').addColumn('ip', 'text').execute()
      // Sessions issued before this version get an id of their own, so none is logged out.
      const existing = await sql<{ id: number }>`select id from access_tokens`.execute(db)
      for (const row of existing.rows) {
        await sql`update access_tokens set public_id = ${generatePublicId()} where id = ${row.id}`.execute(db)
      }
      await db.schema
        .createIndex('access_tokens_public_id')
        .on('access_tokens')
        .column('public_id')
        .unique()
        .execute()

      await db.schema
        .createTable('one_time_tokens')
        .addColumn('id', idType, id)
        .addColumn('token_hash', 'text', (col) => col.notNull().unique())
        .addColumn('purpose', 'text', (col) => col.notNull().check(sql`purpose in ('reset', 'verify')`))
        .addColumn('user_id', 'integer', (col) => col.notNull().references('users.id').onDelete('cascade'))
        // The normalised address the token was mailed to: it proves that address, no other.
        .addColumn('email_normalized', 'text', (col) => col.notNull())
        .addColumn('created_at', 'bigint', (col) => col.notNull())
        .addColumn('expires_at', 'bigint', (col) => col.notNull())
        .execute()
      await db.schema.createIndex('one_time_tokens_user_id').on('one_time_tokens').column('user_id').execute()

      await db.schema
        .createTable('outbox')
        .addColumn('id', idType, id)
        .addColumn('purpose', 'text', (col) => col.notNull())
        .addColumn('recipient', 'text', (col) => col.notNull())
        .addColumn('user_id', 'integer', (col) => col.references('users.id').onDelete('cascade'))
        .addColumn('status', 'text', (col) =>
          col.notNull().check(sql`status in ('pending', 'sent', 'dropped', 'failed')`),
        )
        .addColumn('attempts', 'integer', (col) => col.notNull().defaultTo(0))
        .addColumn('created_at', 'bigint', (col) => col.notNull())
        .addColumn('next_attempt_at', 'bigint', (col) => col.notNull())
        .addColumn('locked_until', 'bigint')
        .addColumn('finished_at', 'bigint')
        .addColumn('last_error', 'text')
        .execute()
      await db.schema.createIndex('outbox_due').on('outbox').columns(['status', 'next_attempt_at']).execute()

      await db.schema
        .createTable('audit_events')
        .addColumn('id', idType, id)
        .addColumn('created_at', 'bigint', (col) => col.notNull())
        .addColumn('type', 'text', (col) => col.notNull())
        // No foreign key: the trail of a deleted account is still the trail.
        .addColumn('user_id', 'integer')
        .addColumn('session_id', 'text')
        .addColumn('ip', 'text')
        .addColumn('user_agent', 'text')
        .addColumn('reason', 'text')
        .execute()
      await db.schema.createIndex('audit_events_user').on('audit_events').columns(['user_id', 'id']).execute()
      await db.schema.createIndex('audit_events_created_at').on('audit_events').column('created_at').execute()
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropTable('audit_events').execute()
      await db.schema.dropTable('outbox').execute()
      await db.schema.dropTable('one_time_tokens').execute()
      await db.schema.dropIndex('access_tokens_public_id').execute()
      await db.schema.alterTable('access_tokens').dropColumn('ip').execute()
      await db.schema.alterTable('access_tokens').dropColumn('user_agent').execute()
      await db.schema.alterTable('access_tokens').dropColumn('public_id').execute()
    },
  }
}
