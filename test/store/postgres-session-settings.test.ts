/**
 * The bounds every pooled PostgreSQL connection carries, read back from the server itself: a
 * statement timeout, and an idle-in-transaction timeout, so a transaction whose client vanished
 * (a network partition) cannot hold its locks until the server's keepalive notices, hours later.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { sql } from 'kysely'
import { openStore, type Store } from '../../src/store/open-store.ts'
import { dialects, type TestDatabase } from '../helpers/databases.ts'

const postgres = dialects().find((entry) => entry.dialect === 'postgres')!

describe('PostgreSQL session settings', { skip: postgres.skip }, () => {
  let database: TestDatabase
  let store: Store
  before(async () => {
    database = await postgres.create()
    store = openStore(database.url, { timeoutSeconds: 3 })
  })
  after(async () => {
    await store?.close()
    await database?.drop()
  })

  it('bounds statements and transactions left idle, from DATABASE_TIMEOUT_SECONDS', async () => {
    const { rows } = await sql<{ statement: string; idle: string }>`
      select current_setting('statement_timeout') as statement,
             current_setting('idle_in_transaction_session_timeout') as idle`.execute(store.db)
    assert.equal(rows[0]?.statement, '3s')
    assert.equal(rows[0]?.idle, '3500ms')
  })

  it('bounds transactions left idle even with DATABASE_TIMEOUT_SECONDS=0 (no statement bound)', async () => {
    const unbounded = openStore(database.url, { timeoutSeconds: 0 })
    try {
      const { rows } = await sql<{ statement: string; idle: string }>`
        select current_setting('statement_timeout') as statement,
               current_setting('idle_in_transaction_session_timeout') as idle`.execute(unbounded.db)
      assert.equal(rows[0]?.statement, '0')
      assert.equal(rows[0]?.idle, '1min')
    } finally {
      await unbounded.close()
    }
  })

  it('a transaction left idle past the bound is ended by the server, releasing its locks', async () => {
    const short = openStore(database.url, { timeoutSeconds: 1 })
    try {
      await assert.rejects(
        short.db.transaction().execute(async (trx) => {
          await sql`select pg_advisory_xact_lock(424242)`.execute(trx)
          // The client stalls mid-transaction (as if the network had gone).
          await new Promise((resolve) => setTimeout(resolve, 2500))
          await sql`select 1`.execute(trx)
        }),
      )
      // The lock is free again: another session takes it at once.
      const { rows } = await sql<{ taken: boolean }>`select pg_try_advisory_lock(424242) as taken`.execute(
        store.db,
      )
      assert.equal(rows[0]?.taken, true)
      await sql`select pg_advisory_unlock(424242)`.execute(store.db)
    } finally {
      await short.close()
    }
  })
})
