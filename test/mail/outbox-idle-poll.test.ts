/**
 * Several processes on one SQLite file each poll the outbox every second: an idle poll must not
 * take the file's write lock, or every process waits on the others' empty polls.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import SqliteDatabase from 'better-sqlite3'
import { claimDueMail } from '../../src/mail/outbox-queue.ts'
import { openMigratedStore } from '../../src/store/migrate.ts'
import type { Store } from '../../src/store/open-store.ts'
import { createSqliteDatabase, type TestDatabase } from '../helpers/databases.ts'

describe('an idle outbox poll on SQLite', () => {
  let database: TestDatabase
  let store: Store
  before(async () => {
    database = await createSqliteDatabase()
    store = (await openMigratedStore(database.url, { timeoutSeconds: 2 })).store
  })
  after(async () => {
    await store?.close()
    await database?.drop()
  })

  it('answers at once while another process holds the write lock', async () => {
    // Another connection (as another process would) holds the write lock.
    const other = new SqliteDatabase(database.url.slice('sqlite:'.length))
    other.prepare('begin immediate').run()
    try {
      const started = performance.now()
      const rows = await claimDueMail(store.db, 'sqlite', { limit: 10, leaseMs: 60_000, now: Date.now() })
      assert.deepEqual(rows, [])
      assert.ok(performance.now() - started < 500, 'the poll waited for the write lock')
    } finally {
      other.prepare('rollback').run()
      other.close()
    }
  })
})
