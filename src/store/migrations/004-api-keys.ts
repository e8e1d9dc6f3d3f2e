import { type ColumnDefinitionBuilder, type Kysely, type Migration, sql } from 'kysely'
import type { Dialect } from '../schema.ts'

/**
 * Personal API keys (long-lived, scoped, revocable credentials for scripts), and the actor of an
 * audit event (the superuser or operator who acted on someone else's account).
 */
export function apiKeysMigration(dialect: Dialect): Migration {
  const idType = dialect === 'postgres' ? 'serial' : 'integer'
  const id = (col: ColumnDefinitionBuilder) =>
    dialect === 'postgres' ? col.primaryKey() : col.primaryKey().autoIncrement()
  return {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('api_keys')
        .addColumn('id', idType, id)
        // What the owner names in `DELETE /api-keys/{id}`: random, neither the key nor its hash.
        .addColumn('public_id', 'text', (col) => col.notNull().unique())
        .addColumn('user_id', 'integer', (col) => col.notNull().references('users.id').onDelete('cascade'))
        .addColumn('name', 'text', (col) => col.notNull())
        // SHA-256 hex of the key; the key itself is shown once and never stored.
        .addColumn('token_hash', 'text', (col) => col.notNull().unique())
        // The first characters of the key, for recognition in a list: too few to guess the rest.
        .addColumn('prefix', 'text', (col) => col.notNull())
        // A JSON array of scope names.
        .addColumn('scopes', 'text', (col) => col.notNull().check(sql`length(scopes) > 0`))
        .addColumn('created_at', 'bigint', (col) => col.notNull())
        .addColumn('expires_at', 'bigint', (col) => col.notNull())
        .addColumn('last_used_at', 'bigint')
        .execute()
      await db.schema.createIndex('api_keys_user_id').on('api_keys').column('user_id').execute()
      // No foreign key, like user_id: the trail outlives the accounts it names.
      await db.schema.alterTable('audit_events').addColumn('actor_id', 'integer').execute()
    },
    async down(db: Kysely<unknown>) {
      await db.schema.alterTable('audit_events').dropColumn('actor_id').execute()
      await db.schema.dropTable('api_keys').execute()
    },
  }
}
