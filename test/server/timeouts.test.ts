/**
 * The HTTP server's own timeouts, on a real socket: a body that stalls, headers that trickle and an
 * idle keep-alive connection are all cut off, with our JSON error and headers, while the server keeps
 * answering everyone else.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { createSqliteDatabase } from '../helpers/databases.ts'
import { assertNoStackTrace, startTestApp, type TestApp } from '../helpers/test-app.ts'
import { idleCloseAfterResponse, portOf, type RawResponse, rawRequest } from './raw-http.ts'

const API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'"

function assertTimeoutResponse(response: RawResponse): void {
  assert.equal(response.status, 408)
  assert.deepEqual(JSON.parse(response.body), { detail: 'Request timeout', code: 'REQUEST_TIMEOUT' })
  assert.match(response.headers['content-type'] ?? '', /^application\/json/)
  assert.equal(response.headers.connection, 'close')
  assert.equal(response.headers['content-security-policy'], API_CSP)
  assert.equal(response.headers['x-content-type-options'], 'nosniff')
  assert.equal(response.headers['x-frame-options'], 'DENY')
  assert.ok(response.closed, 'the connection stays open after the 408')
  assertNoStackTrace(response.body)
}

describe('request, headers and keep-alive timeouts (1 s each, real socket)', () => {
  let t: TestApp
  let port: number
  before(async () => {
    t = await startTestApp({
      create: createSqliteDatabase,
      env: { REQUEST_TIMEOUT_SECONDS: '1', HEADERS_TIMEOUT_SECONDS: '1', KEEP_ALIVE_TIMEOUT_SECONDS: '1' },
    })
    await t.app.listen({ port: 0, host: '127.0.0.1' })
    port = portOf(t.app)
  })
  after(() => t?.close())

  it('cuts off a body that stops after 2 of its 100 bytes with a 408, and answers others meanwhile', async () => {
    const stalled = rawRequest(
      port,
      'POST /register HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"',
    )
    let stalledDone = false
    void stalled.then(
      () => (stalledDone = true),
      () => (stalledDone = true),
    )
    await new Promise((resolve) => setTimeout(resolve, 300))
    const other = await rawRequest(
      port,
      'GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n',
    )
    assert.equal(other.status, 200)
    assert.equal(stalledDone, false, 'the stalled request was answered before the other one')

    const response = await stalled
    assertTimeoutResponse(response)
    // Node checks deadlines periodically: cut off after the 1 s deadline, well before 3 s.
    assert.ok(response.ms >= 900 && response.ms < 3000, `cut off after ${Math.round(response.ms)} ms`)
    console.log(`# stalled body cut off after ${Math.round(response.ms)} ms (REQUEST_TIMEOUT_SECONDS=1)`)
  })

  it('cuts off headers sent one byte every 300 ms (slowloris) with a 408', async () => {
    const response = await rawRequest(port, 'GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Slow: ', {
      trickle: { chunks: Array.from({ length: 20 }, () => 'a'), everyMs: 300 },
    })
    assertTimeoutResponse(response)
    assert.ok(response.ms < 3000, `cut off after ${Math.round(response.ms)} ms`)
  })

  it('closes a keep-alive connection left idle after a response', async () => {
    const idleMs = await idleCloseAfterResponse(port, 'GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n')
    assert.ok(idleMs >= 800 && idleMs < 3000, `idle connection closed after ${Math.round(idleMs)} ms`)
  })

  it('still serves a normal request after all of the above', async () => {
    const response = await rawRequest(
      port,
      'GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n',
    )
    assert.equal(response.status, 200)
  })
})

describe('timeout defaults on the built server', () => {
  let t: TestApp
  before(async () => {
    t = await startTestApp({ create: createSqliteDatabase })
  })
  after(() => t?.close())

  it('sets request 30 s, headers 20 s and keep-alive 72 s on the HTTP server (Node/Fastify leave the request unlimited)', () => {
    assert.equal(t.app.server.requestTimeout, 30_000)
    assert.equal(t.app.server.headersTimeout, 20_000)
    assert.equal(t.app.server.keepAliveTimeout, 72_000)
  })
})
