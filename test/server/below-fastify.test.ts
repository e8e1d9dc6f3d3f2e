/**
 * What Node's HTTP server answers by itself, before Fastify sees a request, still leaves in our
 * shape: JSON `{detail, code}` with the API headers, and never a connection left hanging.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { createSqliteDatabase } from '../helpers/databases.ts'
import { startTestApp, type TestApp } from '../helpers/test-app.ts'
import { portOf, rawRequest } from './raw-http.ts'

describe('answers below Fastify', () => {
  let t: TestApp
  let port: number
  before(async () => {
    t = await startTestApp({ create: createSqliteDatabase })
    await t.app.listen({ port: 0, host: '127.0.0.1' })
    port = portOf(t.app)
  })
  after(() => t?.close())

  it('an Expect other than 100-continue is a 417 in our shape, not Node bare one', async () => {
    const response = await rawRequest(port, 'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nExpect: foo\r\n\r\n')
    assert.equal(response.status, 417)
    assert.equal(response.headers['x-content-type-options'], 'nosniff')
    assert.deepEqual(JSON.parse(response.body), {
      detail: 'Only "Expect: 100-continue" is supported',
      code: 'EXPECTATION_FAILED',
    })
  })

  it('CONNECT gets a 405 in our shape and a closed connection, not a silently dropped socket', async () => {
    const response = await rawRequest(port, 'CONNECT 127.0.0.1:22 HTTP/1.1\r\nHost: 127.0.0.1:22\r\n\r\n')
    assert.equal(response.status, 405)
    assert.equal(response.headers['x-content-type-options'], 'nosniff')
    assert.equal(JSON.parse(response.body).code, 'METHOD_NOT_ALLOWED')
    assert.ok(response.closed)
  })

  it('a HEAD request the parser refuses gets the status and headers without a body (RFC 9110 §9.3.2)', async () => {
    const big = 'b'.repeat(17_000)
    const response = await rawRequest(
      port,
      `HEAD /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ${big}\r\n\r\n`,
      { head: true },
    )
    assert.equal(response.status, 431)
    assert.equal(response.body, '')
    assert.ok(response.closed)
  })

  it('a request asking to upgrade is served, then its connection closed', async () => {
    const response = await rawRequest(
      port,
      'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n',
    )
    assert.equal(response.status, 200)
    assert.equal(response.headers.connection, 'close')
    assert.ok(response.closed)
  })

  it('a plain request keeps its connection', async () => {
    const response = await rawRequest(port, 'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n')
    assert.equal(response.status, 200)
    assert.equal(response.closed, false)
  })
})
