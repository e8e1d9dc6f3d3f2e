import { type Kysely, type Migration, type MigrationResultSet, Migrator, sql } from 'kysely'
import { initialMigration } from './migrations/001-initial.ts'
import { accountLifecycleMigration } from './migrations/002-account-lifecycle.ts'
import { revocationEpochMigration } from './migrations/003-revocation-epoch.ts'
import { apiKeysMigration } from './migrations/004-api-keys.ts'
import { openStore, type Store, type StoreOptions } from './open-store.ts'
import type { Database, Dialect } from './schema.ts'

/** Migrations are code (no folder scanning), so they ship inside the package and run anywhere. */
function migrations(dialect: Dialect): Record<string, Migration> {
  return {
    '001-initial': initialMigration(dialect),
    '002-account-lifecycle': accountLifecycleMigration(dialect),
    '003-revocation-epoch': revocationEpochMigration(dialect),
    '004-api-keys': apiKeysMigration(dialect),
  }
}

async function runMigrator(db: Kysely<Database>, dialect: Dialect): Promise<string[]> {
  const migrator = new Migrator({
    db,
    provider: { getMigrations: async () => migrations(dialect) },
    migrationTableName: 'gatehouse_migrations',
    migrationLockTableName: 'gatehouse_migrations_lock',
  })
  const { error, results }: MigrationResultSet = await migrator.migrateToLatest()
  if (error) throw error instanceof Error ? error : new Error(String(error))
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName)
}

/**
 * Brings the schema to the latest version; safe when several processes start at once.
 * PostgreSQL: Kysely's migrator takes an advisory lock. SQLite: Kysely takes no lock (it assumes
 * one process), so the whole run happens inside BEGIN IMMEDIATE, which holds SQLite's write lock:
 * a second process waits (busy_timeout) and then finds the schema up to date.
 */
export async function migrateToLatest(db: Kysely<Database>, dialect: Dialect): Promise<string[]> {
  if (dialect !== 'sqlite') return runMigrator(db, dialect)
  return db.connection().execute(async (connection) => {
    await sql`begin immediate`.execute(connection)
    try {
      const applied = await runMigrator(connection, dialect)
      await sql`commit`.execute(connection)
      return applied
    } catch (error) {
      await sql`rollback`.execute(connection)
      throw error
    }
  })
}

/** Opens the store and migrates it; a store that fails to migrate is closed, not leaked. */
export async function openMigratedStore(
  databaseUrl: string,
  options: StoreOptions = {},
): Promise<{ store: Store; applied: string[] }> {
  const store = openStore(databaseUrl, options)
  try {
    const applied =
      store.dialect === 'postgres'
        ? await migrateUnbounded(databaseUrl, options)
        : await migrateToLatest(store.db, store.dialect)
    return { store, applied }
  } catch (error) {
    await store.close()
    throw error
  }
}

/**
 * On PostgreSQL a migration may build an index over millions of rows, and a second process waits
 * on the migration lock for as long as the first one takes: neither fits the request timeout, so
 * migrations run on a connection of their own without a statement timeout.
 */
async function migrateUnbounded(databaseUrl: string, options: StoreOptions): Promise<string[]> {
  const migrationStore = openStore(databaseUrl, { ...options, timeoutSeconds: 0, poolSize: 1 })
  try {
    return await migrateToLatest(migrationStore.db, migrationStore.dialect)
  } finally {
    await migrationStore.close()
  }
}
