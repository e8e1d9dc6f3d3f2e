/**
 * An API key in a cookie under its own name is an ambient credential like the session cookie: a
 * cross-site form would carry it. Unsafe requests authenticated by it need the signed double-submit
 * token too, bound to that key.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import Fastify, { type FastifyInstance } from 'fastify'
import { createCsrfTokens } from '../../../src/core/csrf/index.ts'
import { hashToken } from '../../../src/core/tokens/index.ts'
import { gatehousePlugin } from '../../../src/fastify/plugin.ts'
import { apiKeyCookie } from '../../../src/fastify/security/index.ts'
import { openGatehouse } from '../../../src/open-gatehouse.ts'
import { createSqliteDatabase, type TestDatabase } from '../../helpers/databases.ts'
import { TEST_SECRET } from '../../helpers/test-app.ts'

const KEY = 'k'.repeat(40)

describe('CSRF protection of apiKeyCookie credentials', () => {
  let database: TestDatabase
  let gatehouse: Awaited<ReturnType<typeof openGatehouse>>
  let app: FastifyInstance
  before(async () => {
    database = await createSqliteDatabase()
    gatehouse = await openGatehouse({ databaseUrl: database.url })
    app = Fastify()
    await app.register(gatehousePlugin, { accounts: gatehouse.accounts, csrfSecret: TEST_SECRET })
    const byKey = apiKeyCookie({ name: 'api_key', keys: [KEY] })
    app.post('/things', { onRequest: byKey }, async () => ({ created: true }))
    app.get('/things', { onRequest: byKey }, async () => ({ things: [] }))
    await app.ready()
  })
  after(async () => {
    await app?.close()
    await gatehouse?.close()
    await database?.drop()
  })

  const csrfFor = (credential: string) => createCsrfTokens(TEST_SECRET).issue(hashToken(credential))

  it('refuses an unsafe request carrying only the API-key cookie', async () => {
    const response = await app.inject({ method: 'POST', url: '/things', cookies: { api_key: KEY } })
    assert.equal(response.statusCode, 403)
    assert.equal(response.json().code, 'CSRF_FAILED')
  })

  it('refuses a token bound to another credential', async () => {
    const token = csrfFor('some other key value')
    const response = await app.inject({
      method: 'POST',
      url: '/things',
      cookies: { api_key: KEY, csrftoken: token },
      headers: { 'x-csrftoken': token },
    })
    assert.equal(response.statusCode, 403)
  })

  it('accepts the double-submit token bound to this key', async () => {
    const token = csrfFor(KEY)
    const response = await app.inject({
      method: 'POST',
      url: '/things',
      cookies: { api_key: KEY, csrftoken: token },
      headers: { 'x-csrftoken': token },
    })
    assert.equal(response.statusCode, 200)
    assert.deepEqual(response.json(), { created: true })
  })

  it('leaves safe methods alone', async () => {
    const response = await app.inject({ method: 'GET', url: '/things', cookies: { api_key: KEY } })
    assert.equal(response.statusCode, 200)
  })
})
