/**
 * PostgreSQL ends connections on its own (a restart, an operator's pg_terminate_backend, a failover):
 * the process must survive an idle pooled connection being killed, and the next query must work.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { setTimeout as delay } from 'node:timers/promises'
import { sql } from 'kysely'
import pg from 'pg'
import type { Store } from '../../src/store/open-store.ts'
import { dialects, openTestStore } from '../helpers/databases.ts'
import { service } from '../helpers/services.ts'

const postgres = dialects().find((d) => d.dialect === 'postgres')
if (!postgres) throw new Error('dialects() no longer lists postgres')

describe('a PostgreSQL store whose idle connections are terminated', { skip: postgres.skip }, () => {
  let store: Store & { url: string }
  before(async () => {
    store = await openTestStore(postgres.create)
  })
  after(() => store?.close())

  it('keeps the process alive and answers the next query on a fresh connection', async () => {
    const uncaught: unknown[] = []
    const onUncaught = (error: unknown) => uncaught.push(error)
    process.on('uncaughtException', onUncaught)
    try {
      // Several idle connections in the pool.
      await Promise.all(Array.from({ length: 3 }, () => sql`select pg_sleep(0.05)`.execute(store.db)))
      const database = new URL(store.url).pathname.slice(1)
      const admin = new pg.Client({ connectionString: service('postgres').value })
      await admin.connect()
      try {
        const { rowCount } = await admin.query(
          'select pg_terminate_backend(pid) from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()',
          [database],
        )
        assert.ok((rowCount ?? 0) >= 1, 'no connection was terminated')
      } finally {
        await admin.end()
      }
      await delay(200)
      assert.deepEqual(uncaught, [])
      const { rows } = await sql<{ one: number }>`select 1 as one`.execute(store.db)
      assert.equal(rows[0]?.one, 1)
    } finally {
      process.off('uncaughtException', onUncaught)
    }
  })
})
