/**
 * A 422 names the refused fields, and field names are the client's: it must not become a way to
 * have the server echo (or amplify) whatever a client sends.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { createSqliteDatabase } from '../helpers/databases.ts'
import { bearer, registerAndLogin, startTestApp, type TestApp } from '../helpers/test-app.ts'

describe('422 field errors echo no client input', () => {
  let t: TestApp
  before(async () => {
    t = await startTestApp({ create: createSqliteDatabase })
  })
  after(() => t?.close())

  const post = (url: string, body: string) =>
    t.app.inject({ method: 'POST', url, headers: { 'content-type': 'application/json' }, payload: body })

  it('names a plain unknown field, but not a long or markup-bearing one', async () => {
    const plain = await post('/verify', JSON.stringify({ token: 'a', is_superuser: true }))
    assert.equal(plain.statusCode, 422)
    assert.deepEqual(plain.json().detail[0].loc, ['body', 'is_superuser'])

    const key = `<script>${'k'.repeat(20_000)}`
    const hostile = await post('/verify', JSON.stringify({ token: 'a', [key]: 1 }))
    assert.equal(hostile.statusCode, 422)
    assert.ok(!hostile.body.includes('<script>'), 'the key is not echoed')
    assert.ok(hostile.body.length < 1000, `answer of ${hostile.body.length} bytes`)
  })

  it('lists at most 10 errors, so 3,000 unknown keys are not amplified', async () => {
    const body = Object.fromEntries(Array.from({ length: 3000 }, (_, i) => [`field_${i}`, 1]))
    const payload = JSON.stringify({ token: 'a', ...body })
    const response = await post('/verify', payload)
    assert.equal(response.statusCode, 422)
    assert.equal(response.json().detail.length, 10)
    assert.ok(response.body.length < payload.length / 10, `answer of ${response.body.length} bytes`)
  })

  it('gives one entry per field and message when a union of types refuses a value', async () => {
    const { token } = await registerAndLogin(t.app, 'union@example.com', 'union check passphrase')
    const response = await t.app.inject({
      method: 'POST',
      url: '/me/password',
      headers: { ...bearer(token), 'content-type': 'application/json' },
      payload: {
        current_password: 'union check passphrase',
        new_password: 'another passphrase',
        keep_other_sessions: 1,
      },
    })
    assert.equal(response.statusCode, 422)
    const entries = response
      .json()
      .detail.map((d: { loc: unknown; msg: string }) => JSON.stringify([d.loc, d.msg]))
    assert.equal(new Set(entries).size, entries.length, entries.join('\n'))
  })
})
