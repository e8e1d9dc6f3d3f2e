import type { ColumnDefinitionBuilder, Kysely, Migration } from 'kysely'
import type { Dialect } from '../schema.ts'

/**
 * The revocations of the last hour, in commit order, for processes that share one SQLite file
 * without Redis (several `serve` processes, the CLI beside a running server): each polls for rows
 * past the last id it saw (src/server/revocation-sqlite.ts). SQLite has one writer at a time, so
 * ids grow in commit order and none can appear behind one already read. Created on PostgreSQL too,
 * so both dialects have one schema; it stays empty there (LISTEN/NOTIFY carries revocations).
 */
export function revocationEpochMigration(dialect: Dialect): Migration {
  const idType = dialect === 'postgres' ? 'serial' : 'integer'
  const id = (col: ColumnDefinitionBuilder) =>
    dialect === 'postgres' ? col.primaryKey() : col.primaryKey().autoIncrement()
  return {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('revocation_events')
        .addColumn('id', idType, id)
        // The wire form (src/accounts/revocation-channel.ts): a token hash or a user id, never a token.
        .addColumn('revocation', 'text', (col) => col.notNull())
        .addColumn('created_at', 'bigint', (col) => col.notNull())
        .execute()
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropTable('revocation_events').execute()
    },
  }
}
