/**
 * Errors Fastify or Node answer before any route: each leaves as our `{detail, code}` with a stable
 * code and the API header profile, never echoing the request. Node's parser errors are only
 * reachable over a real socket; the rest also through inject().
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import Fastify, { type FastifyInstance } from 'fastify'
import { gatehouseErrorHandler } from '../../src/fastify/error-handler.ts'
import { gatehouseServerOptions } from '../../src/fastify/server-options.ts'
import { createSqliteDatabase } from '../helpers/databases.ts'
import { assertNoStackTrace, startTestApp, type TestApp } from '../helpers/test-app.ts'
import { portOf, type RawResponse, rawRequest } from './raw-http.ts'

const API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'"
const MARKER = '<script>x</script>'
const HOST = 'Host: localhost\r\n'

interface Case {
  name: string
  request: string
  status: number
  code: string
  /** Node writes these itself and ends the connection. */
  closes: boolean
}

const CASES: Case[] = [
  {
    name: 'a malformed percent-encoding in the path (GET /%c0…)',
    request: `GET /%c0${MARKER} HTTP/1.1\r\n${HOST}\r\n`,
    status: 400,
    code: 'MALFORMED_URL',
    closes: false,
  },
  {
    name: 'a 101-character path parameter',
    // No `/` in the parameter: `<script>` alone, so the 101 characters stay one segment.
    request: `GET /prefs/${'1'.repeat(93)}<script> HTTP/1.1\r\n${HOST}\r\n`,
    status: 414,
    code: 'URI_TOO_LONG',
    closes: false,
  },
  {
    name: 'a 20 KB header',
    request: `GET /healthz HTTP/1.1\r\n${HOST}X-Big: ${MARKER}${'a'.repeat(20_000)}\r\n\r\n`,
    status: 431,
    code: 'HEADERS_TOO_LARGE',
    closes: true,
  },
  {
    name: 'Content-Length: -1',
    request: `POST /register HTTP/1.1\r\n${HOST}Content-Length: -1\r\nX-Echo: ${MARKER}\r\n\r\n`,
    status: 400,
    code: 'MALFORMED_REQUEST',
    closes: true,
  },
  {
    name: 'Content-Length together with Transfer-Encoding (request smuggling)',
    request: `POST /register HTTP/1.1\r\n${HOST}Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`,
    status: 400,
    code: 'MALFORMED_REQUEST',
    closes: true,
  },
  {
    name: 'a lowercase method (patch)',
    request: `patch /me HTTP/1.1\r\n${HOST}\r\n`,
    status: 400,
    code: 'MALFORMED_REQUEST',
    closes: true,
  },
  {
    name: 'an HTTP/1.1 request without Host',
    request: 'GET /me HTTP/1.1\r\n\r\n',
    status: 400,
    code: 'INVALID_HOST',
    closes: false,
  },
]

function assertApiError(response: RawResponse, status: number, code: string, label: string): void {
  assert.equal(response.status, status, `${label}: ${response.status} ${response.body}`)
  assert.match(response.headers['content-type'] ?? '', /^application\/json/, label)
  const body = JSON.parse(response.body)
  assert.deepEqual(Object.keys(body).sort(), ['code', 'detail'], label)
  assert.equal(body.code, code, label)
  assert.equal(typeof body.detail, 'string', label)
  assert.equal(response.headers['content-security-policy'], API_CSP, `${label}: CSP`)
  assert.equal(response.headers['x-content-type-options'], 'nosniff', `${label}: nosniff`)
  assert.equal(response.headers['x-frame-options'], 'DENY', `${label}: X-Frame-Options`)
  assert.equal(response.headers['referrer-policy'], 'no-referrer', `${label}: Referrer-Policy`)
  assert.ok(!response.body.includes('<script>'), `${label}: the request is echoed`)
  assert.ok(!response.body.includes('1111'), `${label}: the path is echoed`)
  assert.doesNotMatch(response.body, /FST_|HPE_|ERR_/, `${label}: an internal code leaks`)
  assertNoStackTrace(response.body)
}

describe('framework and Node errors on the built server (real socket)', () => {
  let t: TestApp
  let port: number
  before(async () => {
    t = await startTestApp({ create: createSqliteDatabase })
    await t.app.listen({ port: 0, host: '127.0.0.1' })
    port = portOf(t.app)
  })
  after(() => t?.close())

  for (const testCase of CASES) {
    it(`answers ${testCase.name} with a JSON ${testCase.status} ${testCase.code} and the API headers`, async () => {
      const response = await rawRequest(port, testCase.request)
      assertApiError(response, testCase.status, testCase.code, testCase.name)
      if (testCase.closes) {
        assert.equal(response.headers.connection, 'close', testCase.name)
        assert.ok(response.closed, `${testCase.name}: the connection stays open`)
      }
    })
  }

  it('answers GET /%c0 through inject() the same way', async () => {
    const response = await t.app.inject({ url: `/%c0${encodeURIComponent(MARKER)}` })
    assert.equal(response.statusCode, 400)
    assert.deepEqual(response.json(), { detail: 'Malformed URL', code: 'MALFORMED_URL' })
    assert.equal(response.headers['content-security-policy'], API_CSP)
  })

  it('says which content types a route takes on a 415, without echoing the one sent', async () => {
    const response = await t.app.inject({
      method: 'POST',
      url: '/register',
      headers: { 'content-type': 'application/x-evil+xml' },
      payload: '<user/>',
    })
    assert.equal(response.statusCode, 415)
    const body = response.json()
    assert.equal(body.code, 'UNSUPPORTED_MEDIA_TYPE')
    assert.match(body.detail, /^Unsupported media type; this route accepts /)
    assert.match(body.detail, /application\/json/)
    assert.match(body.detail, /application\/x-www-form-urlencoded/)
    assert.ok(!body.detail.includes('evil'), body.detail)
  })

  it('still serves normal requests after all of the above', async () => {
    const response = await rawRequest(port, `GET /healthz HTTP/1.1\r\n${HOST}Connection: close\r\n\r\n`)
    assert.equal(response.status, 200)
  })
})

describe('the error handler and server options in an app of your own (gatehouseServerOptions)', () => {
  let app: FastifyInstance
  let port: number
  before(async () => {
    app = Fastify({ ...gatehouseServerOptions(), logger: false })
    app.setErrorHandler(gatehouseErrorHandler)
    app.post('/json-only', { schema: { consumes: ['application/json'] } }, () => ({ ok: true }))
    app.get('/conflict', () => {
      throw Object.assign(new Error('duplicate key value in relation "users_secret"'), { statusCode: 409 })
    })
    app.get('/bad', () => {
      throw Object.assign(new Error('handler internals: /srv/app/secret.ts'), { statusCode: 400 })
    })
    app.get('/denied', () => {
      throw Object.assign(new Error('ACL row 42 says no'), { statusCode: 403 })
    })
    await app.listen({ port: 0, host: '127.0.0.1' })
    port = portOf(app)
  })
  after(() => app?.close())

  it('a 415 lists the schema.consumes of the route', async () => {
    const response = await app.inject({
      method: 'POST',
      url: '/json-only',
      headers: { 'content-type': 'application/xml' },
      payload: '<a/>',
    })
    assert.equal(response.statusCode, 415)
    assert.deepEqual(response.json(), {
      detail: 'Unsupported media type; this route accepts application/json',
      code: 'UNSUPPORTED_MEDIA_TYPE',
    })
  })

  it('never sends the message of an unknown 4xx error: a generic detail for its status', async () => {
    const conflict = await app.inject({ url: '/conflict' })
    assert.equal(conflict.statusCode, 409)
    assert.deepEqual(conflict.json(), { detail: 'Conflict', code: 'CLIENT_ERROR' })
    const bad = await app.inject({ url: '/bad' })
    assert.equal(bad.statusCode, 400)
    assert.deepEqual(bad.json(), { detail: 'Malformed request', code: 'MALFORMED_REQUEST' })
    const denied = await app.inject({ url: '/denied' })
    assert.equal(denied.statusCode, 403)
    assert.deepEqual(denied.json(), { detail: 'Forbidden', code: 'FORBIDDEN' })
  })

  it('answers Node and router errors in our shape without buildApp', async () => {
    const badUrl = await rawRequest(port, `GET /%c0${MARKER} HTTP/1.1\r\n${HOST}Connection: close\r\n\r\n`)
    assertApiError(badUrl, 400, 'MALFORMED_URL', 'bad URL')
    const lowercase = await rawRequest(port, `patch / HTTP/1.1\r\n${HOST}\r\n`)
    assertApiError(lowercase, 400, 'MALFORMED_REQUEST', 'lowercase method')
    assert.equal(lowercase.headers.connection, 'close')
    assert.equal(lowercase.headers['strict-transport-security'], undefined, 'HSTS only when asked')
  })
})
