import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { dialects } from '../helpers/databases.ts'
import { countRows, register, startTestApp, type TestApp } from '../helpers/test-app.ts'

// The unique index decides, not a SELECT before the INSERT: no check-then-act race.
for (const { dialect, skip, create } of dialects()) {
  describe(`concurrent registrations (${dialect})`, { skip }, () => {
    let t: TestApp
    before(async () => {
      // The race is about the unique index: no registration may be shed by hash admission.
      t = await startTestApp({ create, env: { LOGIN_QUEUE_SIZE: '1000' } })
    })
    after(() => t?.close())

    it('200 simultaneous registrations of one email create exactly one account', async () => {
      const responses = await Promise.all(
        Array.from({ length: 200 }, (_, i) =>
          register(t.app, i % 2 === 0 ? 'race@example.com' : 'Race@Example.com', `password-${i}`),
        ),
      )
      const statuses = responses.map((response) => response.statusCode)
      assert.deepEqual(
        statuses.filter((status) => status >= 500),
        [],
        'no 5xx',
      )
      assert.equal(statuses.filter((status) => status === 201).length, 1)
      assert.equal(statuses.filter((status) => status === 400).length, 199)
      for (const response of responses.filter((r) => r.statusCode === 400)) {
        assert.deepEqual(response.json(), { detail: 'Email already exists', code: 'EMAIL_EXISTS' })
      }
      assert.equal(await countRows(t.store, 'users'), 1)
    })
  })
}
