/**
 * The Host allowlist (DNS rebinding): a browser pointed at us through an attacker's name sends that
 * name in Host, and gets a 400 JSON instead of our answers. Health probes, which address pods by
 * IP, still reach /healthz and /readyz.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { createSqliteDatabase } from '../helpers/databases.ts'
import { countRows, startTestApp, TEST_SECRET, type TestApp } from '../helpers/test-app.ts'
import { portOf, rawRequest } from './raw-http.ts'

const REFUSED = { detail: 'Host not allowed', code: 'INVALID_HOST' }

describe('Host allowlist in development (default: localhost, 127.0.0.1, [::1] on any port)', () => {
  let t: TestApp
  before(async () => {
    t = await startTestApp({ create: createSqliteDatabase })
  })
  after(() => t?.close())

  it('refuses Host: evil.com:8000 with a 400 JSON and the API headers, before any work', async () => {
    const response = await t.app.inject({
      method: 'POST',
      url: '/register',
      headers: { host: 'evil.com:8000' },
      payload: { email: 'rebound@example.com', password: 'password123' },
    })
    assert.equal(response.statusCode, 400)
    assert.deepEqual(response.json(), REFUSED)
    assert.equal(
      response.headers['content-security-policy'],
      "default-src 'none'; frame-ancestors 'none'; base-uri 'none'",
    )
    assert.equal(response.headers['x-content-type-options'], 'nosniff')
    assert.ok(!response.body.includes('evil'), 'the host is echoed')
    assert.equal(await countRows(t.store, 'users'), 0)
  })

  for (const host of [
    'evil.com',
    'evil.com:8000',
    'localhost.evil.com:8000',
    'evil-localhost:8000',
    '127.0.0.2:8000',
    '[::2]:8000',
    'localhost:8000@evil.com',
    'localhost:notaport',
    'localhost:8000:8000',
    'local host',
  ]) {
    it(`refuses Host ${JSON.stringify(host)}`, async () => {
      const response = await t.app.inject({ url: '/me', headers: { host } })
      assert.equal(response.statusCode, 400, response.body)
      assert.deepEqual(response.json(), REFUSED)
    })
  }

  for (const host of [
    'localhost:80',
    'localhost:8000',
    'localhost',
    'LOCALHOST:8000',
    'localhost.:8000',
    '127.0.0.1:8000',
    '[::1]:8000',
  ]) {
    it(`serves Host ${host}`, async () => {
      const response = await t.app.inject({ url: '/me', headers: { host } })
      assert.equal(response.statusCode, 401, response.body)
      assert.equal(response.json().code, 'NOT_AUTHENTICATED')
    })
  }

  it('serves inject()’s default Host (localhost:80)', async () => {
    assert.equal((await t.app.inject({ url: '/me' })).statusCode, 401)
  })

  it('answers a foreign-host OPTIONS (the CORS preflight route) through our error handler too', async () => {
    const response = await t.app.inject({ method: 'OPTIONS', url: '/me', headers: { host: 'evil.com' } })
    assert.equal(response.statusCode, 400)
    assert.deepEqual(response.json(), REFUSED)
    assert.equal(response.headers['x-content-type-options'], 'nosniff')
  })

  it('refuses unknown hosts on unknown routes too (no 404 probing through a rebound name)', async () => {
    const response = await t.app.inject({ url: '/nope', headers: { host: 'evil.com' } })
    assert.equal(response.statusCode, 400)
    assert.deepEqual(response.json(), REFUSED)
  })

  for (const url of ['/healthz', '/readyz']) {
    it(`lets ${url} answer any Host (probes address pods by IP)`, async () => {
      const response = await t.app.inject({ url, headers: { host: '10.1.2.3:8000' } })
      assert.equal(response.statusCode, 200)
      const head = await t.app.inject({ method: 'HEAD', url, headers: { host: 'evil.com' } })
      assert.equal(head.statusCode, 200)
    })
  }
})

describe('Host allowlist over a real socket', () => {
  let t: TestApp
  let port: number
  before(async () => {
    t = await startTestApp({ create: createSqliteDatabase })
    await t.app.listen({ port: 0, host: '127.0.0.1' })
    port = portOf(t.app)
  })
  after(() => t?.close())

  it('refuses an HTTP/1.1 request without Host with our JSON 400 (not Node’s empty one)', async () => {
    const response = await rawRequest(port, 'GET /me HTTP/1.1\r\nConnection: close\r\n\r\n')
    assert.equal(response.status, 400)
    assert.deepEqual(JSON.parse(response.body), REFUSED)
  })

  it('serves an HTTP/1.0 probe without Host on /healthz', async () => {
    const response = await rawRequest(port, 'GET /healthz HTTP/1.0\r\n\r\n')
    assert.equal(response.status, 200)
  })

  it('serves the address it listens on', async () => {
    const response = await rawRequest(
      port,
      `GET /me HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: close\r\n\r\n`,
    )
    assert.equal(response.status, 401)
  })
})

describe('Host allowlist in production', () => {
  const production = {
    GATEHOUSE_ENV: 'production',
    SMTP_URL: 'smtp://127.0.0.1:2525',
    GATEHOUSE_SECRET: TEST_SECRET,
  }

  it('serves only ALLOWED_HOSTS', async () => {
    const t = await startTestApp({
      create: createSqliteDatabase,
      env: { ...production, ALLOWED_HOSTS: 'api.example.com, admin.example.com:8443' },
    })
    try {
      const status = async (host: string) =>
        (await t.app.inject({ url: '/me', headers: { host } })).statusCode
      assert.equal(await status('api.example.com'), 401)
      assert.equal(await status('API.example.com:443'), 401)
      assert.equal(await status('admin.example.com:8443'), 401)
      assert.equal(await status('admin.example.com'), 400, 'a port in the entry must match')
      assert.equal(await status('localhost:80'), 400, 'development names are not allowed in production')
      assert.equal(await status('evil.com'), 400)
    } finally {
      await t.close()
    }
  })

  it('derives the allowlist from PUBLIC_URL', async () => {
    const t = await startTestApp({
      create: createSqliteDatabase,
      env: { ...production, PUBLIC_URL: 'https://auth.example.com' },
    })
    try {
      assert.equal(
        (await t.app.inject({ url: '/me', headers: { host: 'auth.example.com' } })).statusCode,
        401,
      )
      assert.equal((await t.app.inject({ url: '/me', headers: { host: 'example.com' } })).statusCode, 400)
    } finally {
      await t.close()
    }
  })
})
