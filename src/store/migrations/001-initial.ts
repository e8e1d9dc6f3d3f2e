import { type Kysely, type Migration, sql } from 'kysely'
import type { Dialect } from '../schema.ts'

export function initialMigration(dialect: Dialect): Migration {
  // SQLite's rowid alias vs PostgreSQL's serial: the only place the two engines differ in DDL.
  const idType = dialect === 'postgres' ? 'serial' : 'integer'
  return {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('users')
        .addColumn('id', idType, (col) =>
          dialect === 'postgres' ? col.primaryKey() : col.primaryKey().autoIncrement(),
        )
        .addColumn('email', 'text', (col) => col.notNull())
        .addColumn('email_normalized', 'text', (col) => col.notNull().unique())
        .addColumn('hashed_password', 'text', (col) => col.notNull())
        .addColumn('is_active', 'integer', (col) => col.notNull().defaultTo(1))
        .addColumn('is_superuser', 'integer', (col) => col.notNull().defaultTo(0))
        .addColumn('is_verified', 'integer', (col) => col.notNull().defaultTo(0))
        .addColumn('created_at', 'bigint', (col) => col.notNull())
        .addColumn('updated_at', 'bigint', (col) => col.notNull())
        .execute()

      await db.schema
        .createTable('access_tokens')
        .addColumn('id', idType, (col) =>
          dialect === 'postgres' ? col.primaryKey() : col.primaryKey().autoIncrement(),
        )
        .addColumn('token_hash', 'text', (col) => col.notNull().unique())
        .addColumn('user_id', 'integer', (col) => col.notNull().references('users.id').onDelete('cascade'))
        .addColumn('kind', 'text', (col) => col.notNull().check(sql`kind in ('bearer', 'session')`))
        .addColumn('created_at', 'bigint', (col) => col.notNull())
        .addColumn('expires_at', 'bigint', (col) => col.notNull())
        .addColumn('last_used_at', 'bigint')
        .execute()
      await db.schema.createIndex('access_tokens_user_id').on('access_tokens').column('user_id').execute()
      await db.schema
        .createIndex('access_tokens_expires_at')
        .on('access_tokens')
        .column('expires_at')
        .execute()

      await db.schema
        .createTable('preferences')
        .addColumn('user_id', 'integer', (col) => col.primaryKey().references('users.id').onDelete('cascade'))
        .addColumn('data', 'text', (col) => col.notNull())
        .addColumn('updated_at', 'bigint', (col) => col.notNull())
        .execute()
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropTable('preferences').execute()
      await db.schema.dropTable('access_tokens').execute()
      await db.schema.dropTable('users').execute()
    },
  }
}
