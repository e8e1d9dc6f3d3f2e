/**
 * Closing the server writes what it still holds before the database goes: the audit trail's last
 * batch (events of the final requests before a deploy's SIGTERM) must not be lost.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { buildApp } from '../../src/server/build-app.ts'
import { loadConfig } from '../../src/server/config.ts'
import { openStore } from '../../src/store/open-store.ts'
import { TEST_SECRET } from '../helpers/test-app.ts'

describe('closing the server', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-shutdown-'))
  after(() => rmSync(dir, { recursive: true, force: true }))

  it('flushes the audit events of its last requests before it closes the store it opened', async () => {
    const databaseUrl = `sqlite:${join(dir, 'shutdown.db')}`
    const config = loadConfig({
      DATABASE_URL: databaseUrl,
      GATEHOUSE_SECRET: TEST_SECRET,
      PRUNE_INTERVAL_SECONDS: '0',
      MAIL_DIR: join(dir, 'outbox'),
    })
    const app = await buildApp(config, { logger: false })
    await app.ready()
    const failures = 5
    for (let i = 0; i < failures; i++) {
      const response = await app.inject({
        method: 'POST',
        url: '/token',
        payload: { username: `nobody${i}@example.com`, password: 'wrong password' },
        headers: { 'content-type': 'application/json' },
      })
      assert.equal(response.statusCode, 401)
    }
    // At once: the audit log's timer (1 s) has not written them yet.
    await app.close()

    const store = openStore(databaseUrl)
    try {
      const rows = await store.db
        .selectFrom('audit_events')
        .select('type')
        .where('type', '=', 'login.failed')
        .execute()
      assert.equal(rows.length, failures)
    } finally {
      await store.close()
    }
  })
})
