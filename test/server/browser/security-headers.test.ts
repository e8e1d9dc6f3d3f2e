/**
 * Security headers of the whole server on every kind of response — 200 JSON, 401, 403, 404, 422,
 * 413, the preflight, the HTML /docs page, its script, /openapi.json — in both profiles: the JSON
 * and the HTML CSP and Referrer-Policy, no X-Powered-By or X-XSS-Protection, HSTS in production
 * only, and no-store on authenticated and credential-issuing responses. SQLite only.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { LightMyRequestResponse } from 'fastify'
import { DEMO_ORIGIN, loginWithCookie, parseCsp, sessionCookieOnly } from '../../helpers/browser-session.ts'
import { createSqliteDatabase } from '../../helpers/databases.ts'
import { bearer, login, register, requestToken, startTestApp, type TestApp } from '../../helpers/test-app.ts'

const PASSWORD = 'headers-suite-password'
const HSTS = 'max-age=31536000; includeSubDomains'

interface Probe {
  name: string
  kind: 'json' | 'html' | 'other'
  status: number
  send: (t: TestApp, session: Record<string, string>) => Promise<LightMyRequestResponse>
}

/** Every kind of response the server gives, with the profile its headers must follow. */
const PROBES: Probe[] = [
  {
    name: '200 JSON GET /healthz',
    kind: 'json',
    status: 200,
    send: (t) => t.app.inject({ url: '/healthz' }),
  },
  {
    name: '200 JSON GET /me (cookie session)',
    kind: 'json',
    status: 200,
    send: (t, session) => t.app.inject({ url: '/me', headers: session }),
  },
  {
    name: '401 GET /me without a session',
    kind: 'json',
    status: 401,
    send: (t) => t.app.inject({ url: '/me' }),
  },
  {
    name: '403 CSRF refusal',
    kind: 'json',
    status: 403,
    send: (t, session) => t.app.inject({ method: 'POST', url: '/logout', headers: session }),
  },
  {
    name: '404 unknown path',
    kind: 'json',
    status: 404,
    send: (t) => t.app.inject({ url: '/no/such/path' }),
  },
  {
    name: '422 POST /register with an empty body',
    kind: 'json',
    status: 422,
    send: (t) => t.app.inject({ method: 'POST', url: '/register', payload: {} }),
  },
  {
    name: '413 body over BODY_LIMIT_BYTES',
    kind: 'json',
    status: 413,
    send: (t) =>
      t.app.inject({
        method: 'POST',
        url: '/register',
        payload: { email: 'x'.repeat(70 * 1024), password: 'x' },
      }),
  },
  {
    name: '204 CORS preflight',
    kind: 'other',
    status: 204,
    send: (t) =>
      t.app.inject({
        method: 'OPTIONS',
        url: '/me',
        headers: { origin: DEMO_ORIGIN, 'access-control-request-method': 'PATCH' },
      }),
  },
  {
    name: '200 GET /openapi.json',
    kind: 'json',
    status: 200,
    send: (t) => t.app.inject({ url: '/openapi.json' }),
  },
  { name: '200 HTML GET /docs', kind: 'html', status: 200, send: (t) => t.app.inject({ url: '/docs' }) },
  {
    name: '200 GET /docs/static/swagger-initializer.js',
    kind: 'other',
    status: 200,
    send: (t) => t.app.inject({ url: '/docs/static/swagger-initializer.js' }),
  },
]

function assertCommonHeaders(response: LightMyRequestResponse): void {
  assert.equal(response.headers['x-content-type-options'], 'nosniff')
  assert.equal(response.headers['x-frame-options'], 'DENY')
  assert.equal(response.headers['cross-origin-opener-policy'], 'same-origin')
  const permissions = String(response.headers['permissions-policy'] ?? '')
  for (const feature of ['camera=()', 'microphone=()', 'geolocation=()', 'payment=()']) {
    assert.ok(permissions.includes(feature), `permissions-policy: ${permissions}`)
  }
  assert.equal(response.headers['x-powered-by'], undefined)
  assert.equal(response.headers['x-xss-protection'], undefined)
  assert.equal(response.headers.server, undefined)
}

function assertJsonProfile(response: LightMyRequestResponse): void {
  assert.equal(
    response.headers['content-security-policy'],
    "default-src 'none'; frame-ancestors 'none'; base-uri 'none'",
  )
  assert.equal(response.headers['referrer-policy'], 'no-referrer')
}

function assertHtmlProfile(response: LightMyRequestResponse): void {
  assert.match(String(response.headers['content-type']), /^text\/html/)
  assert.equal(response.headers['referrer-policy'], 'strict-origin-when-cross-origin')
  const csp = parseCsp(response.headers['content-security-policy'])
  const scripts = csp.get('script-src') ?? csp.get('default-src')
  assert.ok(scripts, 'script-src or default-src is set')
  assert.ok(!scripts.includes("'unsafe-inline'"), `script-src: ${scripts}`)
  assert.ok(!scripts.includes("'unsafe-eval'"), `script-src: ${scripts}`)
  assert.ok(!scripts.includes('*'), `script-src: ${scripts}`)
  for (const [name, sources] of csp) {
    assert.ok(!sources.includes("'unsafe-inline'"), `${name} allows 'unsafe-inline'`)
  }
  assert.deepEqual(csp.get('frame-ancestors'), ["'none'"])
  assert.deepEqual(csp.get('object-src'), ["'none'"])
  assert.deepEqual(csp.get('base-uri'), ["'none'"])
}

for (const profile of ['development', 'production'] as const) {
  describe(`security headers on every response (${profile})`, () => {
    let t: TestApp
    let session: Record<string, string>
    before(async () => {
      t = await startTestApp({
        create: createSqliteDatabase,
        // Production serves the docs only on request: enable them so /docs is probed in both.
        env:
          profile === 'production'
            ? {
                GATEHOUSE_ENV: 'production',
                SMTP_URL: 'smtp://127.0.0.1:2525',
                GATEHOUSE_DOCS: '1',
                CORS_ORIGINS: DEMO_ORIGIN,
              }
            : {},
      })
      assert.equal((await register(t.app, 'headers@example.com', PASSWORD)).statusCode, 201)
      const names =
        profile === 'production' ? { session: '__Host-token', csrf: '__Host-csrftoken' } : undefined
      const browser = await loginWithCookie(t.app, 'headers@example.com', PASSWORD, names ? { names } : {})
      session = sessionCookieOnly(browser)
    })
    after(() => t?.close())

    for (const probe of PROBES) {
      it(`${probe.name}: nosniff, DENY, COOP, Permissions-Policy, ${probe.kind} profile, ${
        profile === 'production' ? 'HSTS' : 'no HSTS'
      }, no X-Powered-By/X-XSS-Protection`, async () => {
        const response = await probe.send(t, session)
        assert.equal(response.statusCode, probe.status, response.body.slice(0, 300))
        assertCommonHeaders(response)
        if (probe.kind === 'json') assertJsonProfile(response)
        if (probe.kind === 'html') assertHtmlProfile(response)
        if (profile === 'production') assert.equal(response.headers['strict-transport-security'], HSTS)
        else assert.equal(response.headers['strict-transport-security'], undefined)
      })
    }
  })
}

describe('the docs header profile stays under /docs', () => {
  let t: TestApp
  before(async () => {
    t = await startTestApp({ create: createSqliteDatabase })
  })
  after(() => t?.close())

  for (const url of ['/docs-private', '/docsx/report.json']) {
    it(`a JSON 404 at ${url} (a path that only starts with "/docs") gets the JSON profile`, async () => {
      const response = await t.app.inject({ url })
      assert.equal(response.statusCode, 404)
      assertJsonProfile(response)
    })
  }
})

describe('Cache-Control: no-store on authenticated and credential-issuing responses', () => {
  let t: TestApp
  before(async () => {
    t = await startTestApp({ create: createSqliteDatabase })
    assert.equal((await register(t.app, 'cache@example.com', PASSWORD)).statusCode, 201)
  })
  after(() => t?.close())

  it('GET /me with a bearer token and with a session cookie', async () => {
    const token = await login(t.app, 'cache@example.com', PASSWORD)
    const browser = await loginWithCookie(t.app, 'cache@example.com', PASSWORD)
    for (const headers of [bearer(token), sessionCookieOnly(browser)]) {
      const response = await t.app.inject({ url: '/me', headers })
      assert.equal(response.statusCode, 200)
      assert.equal(response.headers['cache-control'], 'no-store')
    }
  })

  it('POST /token (with Pragma: no-cache, RFC 6749 §5.1)', async () => {
    const response = await requestToken(t.app, 'cache@example.com', PASSWORD)
    assert.equal(response.statusCode, 200)
    assert.equal(response.headers['cache-control'], 'no-store')
    assert.equal(response.headers.pragma, 'no-cache')
  })

  it('POST /login and GET /csrf', async () => {
    const loginResponse = await t.app.inject({
      method: 'POST',
      url: '/login',
      payload: { email: 'cache@example.com', password: PASSWORD },
    })
    assert.equal(loginResponse.statusCode, 200)
    assert.equal(loginResponse.headers['cache-control'], 'no-store')
    const csrf = await t.app.inject({ url: '/csrf' })
    assert.equal(csrf.headers['cache-control'], 'no-store')
  })

  it('GET /profile and GET /prefs/{own id}', async () => {
    const browser = await loginWithCookie(t.app, 'cache@example.com', PASSWORD)
    for (const url of ['/profile', `/prefs/${browser.user.id}`]) {
      const response = await t.app.inject({ url, headers: sessionCookieOnly(browser) })
      assert.equal(response.statusCode, 200)
      assert.equal(response.headers['cache-control'], 'no-store', url)
    }
  })
})
