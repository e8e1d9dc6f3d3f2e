import { type Kysely, type Migration, type MigrationResultSet, Migrator } from 'kysely'
import { initialMigration } from './migrations/001-initial.ts'
import type { Database, Dialect } from './schema.ts'

/** Migrations are code (no folder scanning), so they ship inside the package and run anywhere. */
function migrations(dialect: Dialect): Record<string, Migration> {
  return {
    '001-initial': initialMigration(dialect),
  }
}

/** Brings the schema to the latest version; Kysely's migrator locks, so concurrent starts are safe. */
export async function migrateToLatest(db: Kysely<Database>, dialect: Dialect): Promise<string[]> {
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
