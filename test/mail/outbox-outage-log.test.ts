/** A database outage shows in the worker's log once when it starts and once when it ends, not at every poll. */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { setTimeout as delay } from 'node:timers/promises'
import { createOutboxWorker } from '../../src/mail/outbox-worker.ts'
import { createMailTransport } from '../../src/mail/transport.ts'
import { openMigratedStore } from '../../src/store/migrate.ts'
import { openStore, type Store } from '../../src/store/open-store.ts'
import { createPostgresDatabase, type TestDatabase } from '../helpers/databases.ts'
import { service } from '../helpers/services.ts'
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.ts'

const postgres = service('postgres')

describe('the outbox worker during a database outage', { skip: postgres.skip }, () => {
  let database: TestDatabase
  let proxy: TcpProxy
  let store: Store
  const mailDir = mkdtempSync(join(tmpdir(), 'gatehouse-outage-mail-'))
  before(async () => {
    database = await createPostgresDatabase(postgres.value)
    await (await openMigratedStore(database.url)).store.close()
    proxy = await startTcpProxy({ host: '127.0.0.1', port: 5432 })
    const url = new URL(database.url)
    url.host = `127.0.0.1:${proxy.port}`
    store = openStore(url.toString(), { timeoutSeconds: 1 })
  })
  after(async () => {
    await store?.close()
    await proxy?.close()
    await database?.drop()
    rmSync(mailDir, { recursive: true, force: true })
  })

  it('warns once while polls fail, and says once when the database answers again', async () => {
    const lines: { level: string; msg: string }[] = []
    const log = {
      info: (_obj: object, msg: string) => lines.push({ level: 'info', msg }),
      warn: (_obj: object, msg: string) => lines.push({ level: 'warn', msg }),
    }
    const worker = createOutboxWorker({
      db: store.db,
      dialect: 'postgres',
      prepare: async () => null,
      transport: createMailTransport({ smtpUrl: null, from: 'a@example.com', outboxDir: mailDir }),
      appUrl: 'http://localhost:9000',
      pollIntervalMs: 20,
      log,
    })
    // A real fault: the proxy in front of PostgreSQL refuses, then passes again.
    await proxy.setMode('refuse')
    proxy.cut()
    worker.start()
    try {
      await delay(500)
      await proxy.setMode('pass')
      await delay(500)
    } finally {
      await worker.stop()
    }
    const warnings = lines.filter((line) => line.level === 'warn')
    assert.equal(warnings.length, 1, JSON.stringify(lines))
    assert.ok(
      lines.some((line) => line.msg === 'mail outbox: the database answers again'),
      JSON.stringify(lines),
    )
  })
})
