/**
 * Real databases for tests: a fresh SQLite file in a temp folder, and a fresh PostgreSQL database
 * (created on the server named by TEST_DATABASE_URL, dropped afterwards) per call.
 */
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import { migrateToLatest } from '../../src/store/migrate.ts'
import { openStore, type Store } from '../../src/store/open-store.ts'
import type { Dialect } from '../../src/store/schema.ts'
import { service } from './services.ts'

export interface TestDatabase {
  /** A DATABASE_URL for this fresh database. */
  url: string
  /** Deletes the database (file or PostgreSQL database). */
  drop(): Promise<void>
}

export async function createSqliteDatabase(): Promise<TestDatabase> {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-test-'))
  return {
    url: `sqlite:${join(dir, 'test.db')}`,
    drop: async () => rmSync(dir, { recursive: true, force: true }),
  }
}

export async function createPostgresDatabase(serverUrl: string): Promise<TestDatabase> {
  const name = `gatehouse_test_${randomBytes(6).toString('hex')}`
  const admin = new pg.Client({ connectionString: serverUrl })
  await admin.connect()
  try {
    await admin.query(`create database ${name}`)
  } finally {
    await admin.end()
  }
  const url = new URL(serverUrl)
  url.pathname = `/${name}`
  return {
    url: url.toString(),
    async drop() {
      const client = new pg.Client({ connectionString: serverUrl })
      await client.connect()
      try {
        await client.query(`drop database if exists ${name} with (force)`)
      } finally {
        await client.end()
      }
    },
  }
}

/** The dialects to run a suite on: SQLite always, PostgreSQL when TEST_DATABASE_URL is set. */
export function dialects(): {
  dialect: Dialect
  skip: string | false
  create: () => Promise<TestDatabase>
}[] {
  const postgres = service('postgres')
  return [
    { dialect: 'sqlite', skip: false, create: createSqliteDatabase },
    { dialect: 'postgres', skip: postgres.skip, create: () => createPostgresDatabase(postgres.value) },
  ]
}

/** A migrated store on a fresh database; `close()` also drops the database. */
export async function openTestStore(create: () => Promise<TestDatabase>): Promise<Store & { url: string }> {
  const database = await create()
  const store = openStore(database.url)
  await migrateToLatest(store.db, store.dialect)
  return {
    ...store,
    url: database.url,
    async close() {
      await store.close()
      await database.drop()
    },
  }
}
