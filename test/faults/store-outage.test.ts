/**
 * The outage tracker on a real SQLite store: many refusals make one warning; the probe (the
 * readiness check) ends the outage with one info line carrying its length and refusal count; a
 * store closed with the app stops the probing without claiming the database is back.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { setTimeout as delay } from 'node:timers/promises'
import Fastify, { type FastifyBaseLogger } from 'fastify'
import { createStoreOutage } from '../../src/fastify/store-outage.ts'
import { openStore, probeStore, type Store } from '../../src/store/open-store.ts'
import { createSqliteDatabase, type TestDatabase } from '../helpers/databases.ts'

interface LogLine {
  level: number
  msg: string
  [key: string]: unknown
}

function capturingLogger(): { log: FastifyBaseLogger; lines: LogLine[] } {
  const lines: LogLine[] = []
  const app = Fastify({
    logger: { level: 'info', stream: { write: (line: string) => lines.push(JSON.parse(line)) } },
  })
  return { log: app.log, lines }
}

const refusal = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' })

describe('the store outage tracker', { timeout: 30_000 }, () => {
  let database: TestDatabase
  let store: Store
  before(async () => {
    database = await createSqliteDatabase()
    store = openStore(database.url)
  })
  after(async () => {
    await store?.close()
    await database?.drop()
  })

  it('logs one warning for many refusals, and one info line when the probe succeeds', async () => {
    const { log, lines } = capturingLogger()
    let healthy = false
    const outage = createStoreOutage({
      probe: async () => {
        if (!healthy) throw refusal
        await probeStore(store.db)
      },
      log,
      intervalMs: 50,
    })
    for (let i = 0; i < 500; i++) outage.refused(refusal, log)
    await delay(200)
    assert.equal(outage.active, true, 'the probe still fails: the outage goes on')
    healthy = true
    const deadline = Date.now() + 2000
    while (outage.active && Date.now() < deadline) await delay(20)
    assert.equal(outage.active, false)
    assert.deepEqual(
      lines.map((l) => [l.level, l.msg]),
      [
        [40, 'database unavailable: answering 503 until it is back'],
        [30, 'database available again'],
      ],
    )
    assert.equal(lines[1]?.refusedRequests, 500)
    assert.ok(Number(lines[1]?.outageMs) >= 200)
    // The next outage is a new one, counted from zero.
    outage.refused(refusal, log)
    while (outage.active && Date.now() < deadline + 2000) await delay(20)
    assert.equal(lines.length, 4)
    assert.equal(lines[3]?.refusedRequests, 1)
  })

  it('a store closed meanwhile stops the probe without claiming the database is back', async () => {
    const { log, lines } = capturingLogger()
    const closing = openStore(database.url)
    await probeStore(closing.db)
    const outage = createStoreOutage({ probe: () => probeStore(closing.db), log, intervalMs: 50 })
    await closing.close()
    outage.refused(refusal, log)
    await delay(300)
    assert.equal(outage.active, false)
    assert.deepEqual(
      lines.map((l) => l.msg),
      ['database unavailable: answering 503 until it is back'],
    )
  })
})
