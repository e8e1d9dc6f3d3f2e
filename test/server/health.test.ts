import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { dialects } from '../helpers/databases.ts'
import { assertNoStackTrace, startTestApp, type TestApp } from '../helpers/test-app.ts'

for (const { dialect, skip, create } of dialects()) {
  describe(`health endpoints (${dialect})`, { skip }, () => {
    let t: TestApp
    before(async () => {
      t = await startTestApp({ create })
    })
    after(() => t?.close())

    it('GET /healthz answers 200 while the process is alive', async () => {
      const response = await t.app.inject({ url: '/healthz' })
      assert.equal(response.statusCode, 200)
      assert.deepEqual(response.json(), { status: 'ok' })
    })

    it('GET /readyz answers 200 {"status":"ready"} while the database answers', async () => {
      const response = await t.app.inject({ url: '/readyz' })
      assert.equal(response.statusCode, 200)
      assert.match(String(response.headers['content-type']), /^application\/json/)
      assert.deepEqual(response.json(), { status: 'ready' })
    })

    it('GET /readyz answers 503 JSON without a stack trace once the database is gone', async () => {
      await t.store.close()
      const response = await t.app.inject({ url: '/readyz' })
      assert.equal(response.statusCode, 503)
      assert.match(String(response.headers['content-type']), /^application\/json/)
      assert.deepEqual(response.json(), {
        detail: 'The database is unavailable, try again shortly',
        code: 'STORE_UNAVAILABLE',
      })
      assert.match(String(response.headers['retry-after']), /^\d+$/)
      assertNoStackTrace(response.body)
      assert.doesNotMatch(response.body, /destroyed|pool|sqlite|postgres/i, 'driver message leaked')
      // Liveness does not depend on the database: a restart would not help.
      assert.equal((await t.app.inject({ url: '/healthz' })).statusCode, 200)
    })
  })
}
