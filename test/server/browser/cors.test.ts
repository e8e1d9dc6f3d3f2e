/**
 * CORS of the whole server: the development default trusts the demo origin only, CORS_ORIGINS
 * replaces it (and moves the CSRF origin trust with it), a preflight is answered and cached for
 * CORS_MAX_AGE_SECONDS, look-alike origins get no CORS header at all, and `*` (credentials are
 * always on) stops the server at boot. CORS does not touch the database: SQLite only.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { LightMyRequestResponse } from 'fastify'
import { DEMO_ORIGIN, loginWithCookie, sessionCookieOnly } from '../../helpers/browser-session.ts'
import { createSqliteDatabase } from '../../helpers/databases.ts'
import { register, startTestApp, type TestApp } from '../../helpers/test-app.ts'

const PASSWORD = 'cors-suite-password'

function preflight(
  t: TestApp,
  origin: string,
  method = 'PATCH',
  requestHeaders = 'content-type, x-csrftoken',
): Promise<LightMyRequestResponse> {
  return t.app.inject({
    method: 'OPTIONS',
    url: '/me',
    headers: {
      origin,
      'access-control-request-method': method,
      'access-control-request-headers': requestHeaders,
    },
  })
}

function list(value: unknown): string[] {
  return String(value ?? '')
    .split(',')
    .map((item) => item.trim().toLowerCase())
    .filter(Boolean)
}

function assertAllowed(response: LightMyRequestResponse, origin: string): void {
  assert.equal(response.headers['access-control-allow-origin'], origin)
  assert.equal(response.headers['access-control-allow-credentials'], 'true')
  assert.ok(list(response.headers.vary).includes('origin'), `Vary: ${response.headers.vary}`)
}

function assertNoCors(response: LightMyRequestResponse): void {
  for (const name of Object.keys(response.headers)) {
    assert.ok(!name.startsWith('access-control-'), `${name}: ${response.headers[name]} sent`)
  }
}

/** Origins that look like the trusted one but are not it (PortSwigger's CORS bypass list). */
const LOOK_ALIKES = [
  'http://evil.example',
  'http://localhost:9000.evil.example',
  'http://evil-localhost:9000',
  'http://evillocalhost:9000',
  'https://localhost:9000',
  'http://localhost:9001',
  'http://127.0.0.1:9000',
  'http://localhost:9000/',
  'http://user@localhost:9000',
  'null',
  'localhost:9000',
]

describe('CORS with the development defaults (trusts http://localhost:9000)', () => {
  let t: TestApp
  before(async () => {
    t = await startTestApp({ create: createSqliteDatabase })
  })
  after(() => t?.close())

  it('a simple GET from the trusted origin gets allow-origin (that origin, never *) and allow-credentials', async () => {
    const response = await t.app.inject({ url: '/healthz', headers: { origin: DEMO_ORIGIN } })
    assert.equal(response.statusCode, 200)
    assertAllowed(response, DEMO_ORIGIN)
  })

  it('the trusted origin is matched in canonical form (upper-case host, default port dropped)', async () => {
    const response = await t.app.inject({ url: '/healthz', headers: { origin: 'http://LOCALHOST:9000' } })
    assert.equal(response.headers['access-control-allow-origin'], 'http://LOCALHOST:9000')
  })

  it('a preflight from the trusted origin is 204 with POST/PATCH, content-type/x-csrftoken/authorization and max-age 600', async () => {
    const response = await preflight(t, DEMO_ORIGIN)
    assert.equal(response.statusCode, 204)
    assertAllowed(response, DEMO_ORIGIN)
    const methods = list(response.headers['access-control-allow-methods'])
    for (const method of ['post', 'patch']) assert.ok(methods.includes(method), `methods: ${methods}`)
    const headers = list(response.headers['access-control-allow-headers'])
    for (const header of ['content-type', 'x-csrftoken', 'authorization']) {
      assert.ok(headers.includes(header), `allow-headers: ${headers}`)
    }
    assert.equal(response.headers['access-control-max-age'], '600')
    assert.equal(response.body, '')
  })

  it('an OPTIONS without Access-Control-Request-Method is a 400 in the API JSON, with the CORS headers', async () => {
    const response = await t.app.inject({ method: 'OPTIONS', url: '/me', headers: { origin: DEMO_ORIGIN } })
    assert.equal(response.statusCode, 400)
    assert.deepEqual(response.json(), { detail: 'Malformed request', code: 'MALFORMED_REQUEST' })
    assert.equal(response.headers['x-content-type-options'], 'nosniff')
    assertAllowed(response, DEMO_ORIGIN)
  })

  it('a credentialed 401 for the trusted origin still carries the CORS headers (the page can read why)', async () => {
    const response = await t.app.inject({ url: '/me', headers: { origin: DEMO_ORIGIN } })
    assert.equal(response.statusCode, 401)
    assertAllowed(response, DEMO_ORIGIN)
  })

  it('a cookie session works from the trusted origin end to end: login, then GET /me with CORS headers', async () => {
    assert.equal((await register(t.app, 'spa@example.com', PASSWORD)).statusCode, 201)
    const session = await loginWithCookie(t.app, 'spa@example.com', PASSWORD, {
      headers: { origin: DEMO_ORIGIN, 'sec-fetch-site': 'same-site' },
    })
    const me = await t.app.inject({
      url: '/me',
      headers: { ...sessionCookieOnly(session), origin: DEMO_ORIGIN, 'sec-fetch-site': 'same-site' },
    })
    assert.equal(me.statusCode, 200)
    assert.equal(me.json().email, 'spa@example.com')
    assertAllowed(me, DEMO_ORIGIN)
  })

  for (const origin of LOOK_ALIKES) {
    it(`origin ${JSON.stringify(origin)} gets no access-control-* header on GET, POST or preflight`, async () => {
      const get = await t.app.inject({ url: '/healthz', headers: { origin } })
      assert.equal(get.statusCode, 200)
      assertNoCors(get)
      const post = await t.app.inject({ method: 'POST', url: '/logout', headers: { origin } })
      assertNoCors(post)
      const options = await preflight(t, origin)
      assert.notEqual(options.statusCode, 204)
      assertNoCors(options)
    })
  }
})

describe('CORS_ORIGINS and CORS_MAX_AGE_SECONDS replace the defaults', () => {
  const APP = 'https://app.example.com'
  const ADMIN = 'https://admin.example.com:8443'
  let t: TestApp
  before(async () => {
    t = await startTestApp({
      create: createSqliteDatabase,
      env: { CORS_ORIGINS: ` ${APP} ,${ADMIN},`, CORS_MAX_AGE_SECONDS: '1234' },
    })
  })
  after(() => t?.close())

  for (const origin of [APP, ADMIN]) {
    it(`listed origin ${origin} gets allow-origin, credentials and max-age 1234 on preflight`, async () => {
      const response = await preflight(t, origin, 'POST', 'authorization')
      assert.equal(response.statusCode, 204)
      assertAllowed(response, origin)
      assert.equal(response.headers['access-control-max-age'], '1234')
    })
  }

  it('the development default http://localhost:9000 is no longer trusted', async () => {
    assertNoCors(await t.app.inject({ url: '/healthz', headers: { origin: DEMO_ORIGIN } }))
    assertNoCors(await preflight(t, DEMO_ORIGIN))
  })

  it('the CSRF origin check trusts the same list: a cross-site POST /login from a listed origin passes', async () => {
    const response = await t.app.inject({
      method: 'POST',
      url: '/login',
      headers: { origin: APP, 'sec-fetch-site': 'cross-site' },
      payload: { email: 'nobody@example.com', password: PASSWORD },
    })
    assert.equal(response.statusCode, 401, 'reached the credential check')
    assertAllowed(response, APP)
  })

  it('… and from the no longer listed http://localhost:9000 it is refused 403 CROSS_SITE_REQUEST', async () => {
    const response = await t.app.inject({
      method: 'POST',
      url: '/login',
      headers: { origin: DEMO_ORIGIN, 'sec-fetch-site': 'same-site' },
      payload: { email: 'nobody@example.com', password: PASSWORD },
    })
    assert.equal(response.statusCode, 403)
    assert.equal(response.json().code, 'CROSS_SITE_REQUEST')
  })
})

describe('CORS configuration refused at boot', () => {
  const refused: { name: string; env: Record<string, string>; message: RegExp }[] = [
    { name: 'CORS_ORIGINS=*', env: { CORS_ORIGINS: '*' }, message: /'\*' cannot be used with credentials/ },
    {
      name: '* listed with a real origin',
      env: { CORS_ORIGINS: `${DEMO_ORIGIN},*` },
      message: /'\*' cannot be used with credentials/,
    },
    {
      name: 'a wildcard subdomain',
      env: { CORS_ORIGINS: 'https://*.example.com' },
      message: /origins\[0\] "https:\/\/\*\.example\.com" is not an origin/,
    },
    {
      name: 'an origin with a trailing slash',
      env: { CORS_ORIGINS: 'https://app.example.com/' },
      message: /is not an origin/,
    },
    {
      name: 'a negative CORS_MAX_AGE_SECONDS',
      env: { CORS_MAX_AGE_SECONDS: '-1' },
      message: /CORS_MAX_AGE_SECONDS/,
    },
  ]
  for (const { name, env, message } of refused) {
    it(`${name} stops buildApp with a clear error`, async () => {
      await assert.rejects(startTestApp({ create: createSqliteDatabase, env }), message)
    })
  }

  it('the production profile without CORS_ORIGINS trusts no origin at all', async () => {
    const t = await startTestApp({
      create: createSqliteDatabase,
      env: { GATEHOUSE_ENV: 'production', SMTP_URL: 'smtp://127.0.0.1:2525' },
    })
    try {
      assert.deepEqual(t.config.corsOrigins, [])
      assertNoCors(await t.app.inject({ url: '/healthz', headers: { origin: DEMO_ORIGIN } }))
    } finally {
      await t.close()
    }
  })
})
