/**
 * A login flood on the whole server (issue 8 §2): past LOGIN_CONCURRENCY hashes in flight and
 * LOGIN_QUEUE_SIZE waiting, a login is shed at once with our 503 JSON and Retry-After, the
 * others are answered, nothing hangs, and nobody is throttled for having been shed.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { LightMyRequestResponse } from 'fastify'
import { createSqliteDatabase } from '../helpers/databases.ts'
import {
  assertNoStackTrace,
  register,
  requestToken,
  startTestApp,
  type TestApp,
} from '../helpers/test-app.ts'

const PASSWORD = 'correct horse battery staple'
const BURST = 24

function assertOverloaded(response: LightMyRequestResponse): void {
  assert.equal(response.statusCode, 503)
  assert.match(String(response.headers['content-type']), /^application\/json/)
  assert.equal(response.headers['retry-after'], '1')
  assert.deepEqual(response.json(), { detail: 'The server is busy, try again shortly', code: 'OVERLOADED' })
  assertNoStackTrace(response.body)
}

describe('login flood over HTTP (LOGIN_CONCURRENCY=1, LOGIN_QUEUE_SIZE=1)', () => {
  let gatehouse: TestApp | undefined
  before(async () => {
    gatehouse = await startTestApp({
      create: createSqliteDatabase,
      env: { LOGIN_CONCURRENCY: '1', LOGIN_QUEUE_SIZE: '1', LOGIN_MAX_FAILURES_PER_IP: '5' },
    })
    for (let i = 0; i < BURST; i++) {
      const response = await register(gatehouse.app, `flood${i}@example.com`, PASSWORD)
      assert.equal(response.statusCode, 201, response.body)
    }
  })
  after(async () => {
    await gatehouse?.close()
  })

  it('answers one in flight and one queued, and sheds the rest at once with 503 OVERLOADED', async () => {
    const { app } = gatehouse as TestApp
    const answered: { status: number; at: number }[] = []
    const started = performance.now()
    const responses = await Promise.all(
      Array.from({ length: BURST }, (_, i) =>
        requestToken(app, `flood${i}@example.com`, PASSWORD).then((response) => {
          answered.push({ status: response.statusCode, at: performance.now() - started })
          return response
        }),
      ),
    )
    const statuses = responses.map((r) => r.statusCode)
    assert.deepEqual(statuses.filter((s) => s === 200).length, 2, statuses.join(','))
    assert.deepEqual(statuses.filter((s) => s === 503).length, BURST - 2, statuses.join(','))
    for (const response of responses.filter((r) => r.statusCode === 503)) assertOverloaded(response)
    // Shed before any of them was hashed: every 503 left before the first 200.
    const at = (status: number) => answered.filter((a) => a.status === status).map((a) => a.at)
    assert.ok(Math.max(...at(503)) < Math.min(...at(200)), JSON.stringify(answered))
  })

  it('sheds wrong passwords the same way, without counting them against the client', async () => {
    const { app } = gatehouse as TestApp
    // Limit 5 per IP: the shed attempts of this burst would block the address if they counted.
    const responses = await Promise.all(
      Array.from({ length: BURST }, (_, i) => requestToken(app, `flood${i}@example.com`, 'wrong password!')),
    )
    const statuses = responses.map((r) => r.statusCode)
    assert.equal(statuses.filter((s) => s === 401).length, 2, statuses.join(','))
    assert.equal(statuses.filter((s) => s === 503).length, BURST - 2, statuses.join(','))
    const after = await requestToken(app, 'flood0@example.com', PASSWORD)
    assert.equal(after.statusCode, 200, after.body)
  })

  it('sheds a registration burst too: a new password is hashed under the same bound', async () => {
    const { app } = gatehouse as TestApp
    const responses = await Promise.all(
      Array.from({ length: 8 }, (_, i) => register(app, `late${i}@example.com`, PASSWORD)),
    )
    const statuses = responses.map((r) => r.statusCode)
    assert.equal(statuses.filter((s) => s === 201).length, 2, statuses.join(','))
    for (const response of responses.filter((r) => r.statusCode !== 201)) assertOverloaded(response)
  })

  it('sheds before the body is read: while saturated, even a malformed login is a 503, not a 422', async () => {
    const { app } = gatehouse as TestApp
    const accounts = app.gatehouse.accounts
    const inFlight = [0, 1].map((i) => requestToken(app, `flood${i}@example.com`, PASSWORD))
    const deadline = Date.now() + 5000
    while (!accounts.isOverloaded() && Date.now() < deadline) await new Promise((r) => setImmediate(r))
    assert.ok(accounts.isOverloaded(), 'the two logins never took the slot and the queue place')
    for (const url of ['/token', '/login', '/register']) {
      const response = await app.inject({
        method: 'POST',
        url,
        headers: { 'content-type': 'application/json' },
        payload: '{"not": "what the route takes"',
      })
      assertOverloaded(response)
    }
    await Promise.all(inFlight)
    assert.equal(accounts.isOverloaded(), false)
  })
})
