/**
 * The production profile (GATEHOUSE_ENV=production, strong GATEHOUSE_SECRET): the session and CSRF
 * cookies carry the `__Host-` prefix with the attributes the prefix demands (Secure, Path=/, no
 * Domain), the whole cookie flow works under those names, and the development names are ignored —
 * a `csrftoken` cookie planted by a sibling subdomain cannot stand in for `__Host-csrftoken`.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import {
  type BrowserSession,
  cookieHeader,
  fetchCsrfToken,
  isExpired,
  loginWithCookie,
  PROD_COOKIES,
  postLogin,
  sessionHeaders,
  setCookie,
  setCookies,
  storedEmail,
} from '../../helpers/browser-session.ts'
import { createSqliteDatabase, dialects } from '../../helpers/databases.ts'
import { register, startTestApp, type TestApp } from '../../helpers/test-app.ts'

const PASSWORD = 'production-suite-password'
const TTL_SECONDS = 7200

for (const { dialect, skip, create } of dialects()) {
  describe(`production cookies: __Host-token and __Host-csrftoken (${dialect})`, { skip }, () => {
    let t: TestApp
    let userId: number
    let session: BrowserSession
    before(async () => {
      t = await startTestApp({
        create,
        env: {
          GATEHOUSE_ENV: 'production',
          SMTP_URL: 'smtp://127.0.0.1:2525',
          ACCESS_TOKEN_TTL_SECONDS: String(TTL_SECONDS),
        },
      })
      assert.equal(t.config.env, 'production')
      const registered = await register(t.app, 'prod@example.com', PASSWORD)
      assert.equal(registered.statusCode, 201)
      userId = registered.json().id
      session = await loginWithCookie(t.app, 'prod@example.com', PASSWORD, { names: PROD_COOKIES })
    })
    after(() => t?.close())

    it('POST /login sets __Host-token: HttpOnly; Secure; SameSite=Lax; Path=/; Max-Age=TTL; no Domain', async () => {
      const response = await postLogin(t.app, 'prod@example.com', PASSWORD)
      assert.equal(response.statusCode, 200)
      const names = [...setCookies(response).keys()].sort()
      assert.deepEqual(names, ['__Host-csrftoken', '__Host-token'], 'only the __Host- names are set')
      const cookie = setCookie(response, '__Host-token')
      assert.equal(cookie.attributes.get('httponly'), true)
      assert.equal(cookie.attributes.get('secure'), true)
      assert.equal(cookie.attributes.get('samesite'), 'Lax')
      assert.equal(cookie.attributes.get('path'), '/')
      assert.equal(cookie.attributes.get('max-age'), String(TTL_SECONDS))
      assert.equal(cookie.attributes.has('domain'), false)
    })

    it('POST /login sets __Host-csrftoken: Secure; Path=/; no Domain; readable by script; equal to csrf_token', async () => {
      const response = await postLogin(t.app, 'prod@example.com', PASSWORD)
      const cookie = setCookie(response, '__Host-csrftoken')
      assert.equal(cookie.value, response.json().csrf_token)
      assert.equal(cookie.attributes.get('secure'), true)
      assert.equal(cookie.attributes.get('path'), '/')
      assert.equal(cookie.attributes.has('domain'), false)
      assert.equal(cookie.attributes.has('httponly'), false)
    })

    it('GET /csrf sets __Host-csrftoken, not csrftoken', async () => {
      const { body, cookie, response } = await fetchCsrfToken(t.app, session.cookies, PROD_COOKIES)
      assert.equal(body, cookie)
      assert.equal(setCookies(response).has('csrftoken'), false)
    })

    it('GET /me with the __Host-token cookie answers the user', async () => {
      const response = await t.app.inject({
        url: '/me',
        headers: { cookie: cookieHeader({ '__Host-token': session.sessionToken }) },
      })
      assert.equal(response.statusCode, 200)
      assert.equal(response.json().id, userId)
    })

    it('the development cookie name is not a session in production: token=<valid session> is 401', async () => {
      const response = await t.app.inject({
        url: '/me',
        headers: { cookie: cookieHeader({ token: session.sessionToken }) },
      })
      assert.equal(response.statusCode, 401)
      assert.equal(response.json().code, 'NOT_AUTHENTICATED')
    })

    it('PATCH /me with the __Host- cookies and x-csrftoken changes the email', async () => {
      const response = await t.app.inject({
        method: 'PATCH',
        url: '/me',
        headers: sessionHeaders(session),
        payload: { email: 'prod-changed@example.com' },
      })
      assert.equal(response.statusCode, 200, response.body)
      assert.equal(await storedEmail(t.store, userId), 'prod-changed@example.com')
    })

    it('a valid token in a planted `csrftoken` cookie does not replace __Host-csrftoken: 403, nothing changed', async () => {
      const response = await t.app.inject({
        method: 'PATCH',
        url: '/me',
        headers: {
          cookie: cookieHeader({ '__Host-token': session.sessionToken, csrftoken: session.csrfToken }),
          'x-csrftoken': session.csrfToken,
        },
        payload: { email: 'planted@example.com' },
      })
      assert.equal(response.statusCode, 403)
      assert.deepEqual(response.json(), { detail: 'CSRF token verification failed', code: 'CSRF_FAILED' })
      assert.equal(await storedEmail(t.store, userId), 'prod-changed@example.com')
    })

    it('a cross-site POST /login is refused (no origin is trusted without CORS_ORIGINS)', async () => {
      const response = await postLogin(t.app, 'prod-changed@example.com', PASSWORD, {
        origin: 'http://localhost:9000',
        'sec-fetch-site': 'same-site',
      })
      assert.equal(response.statusCode, 403)
      assert.equal(response.json().code, 'CROSS_SITE_REQUEST')
    })

    it('POST /logout expires __Host-token and __Host-csrftoken (Secure, Path=/) and sends Clear-Site-Data', async () => {
      const response = await t.app.inject({
        method: 'POST',
        url: '/logout',
        headers: sessionHeaders(session),
      })
      assert.equal(response.statusCode, 204)
      assert.equal(response.headers['clear-site-data'], '"cookies"')
      for (const name of [PROD_COOKIES.session, PROD_COOKIES.csrf]) {
        const cookie = setCookie(response, name)
        assert.ok(isExpired(cookie), cookie.raw)
        // A __Host- cookie is only accepted, and so only overwritten, with Secure and Path=/.
        assert.equal(cookie.attributes.get('secure'), true)
        assert.equal(cookie.attributes.get('path'), '/')
        assert.equal(cookie.attributes.has('domain'), false)
      }
      const me = await t.app.inject({
        url: '/me',
        headers: { cookie: cookieHeader({ '__Host-token': session.sessionToken }) },
      })
      assert.equal(me.statusCode, 401)
    })
  })
}

describe('production profile refuses to boot without a strong secret', () => {
  for (const [name, secret, message] of [
    ['no GATEHOUSE_SECRET', '', /GATEHOUSE_SECRET is required/],
    ['a short GATEHOUSE_SECRET', 'short-secret', /GATEHOUSE_SECRET must be at least 32/],
    ['a known weak GATEHOUSE_SECRET', 'changeme', /GATEHOUSE_SECRET must be at least 32/],
  ] as const) {
    it(`${name} stops the server`, async () => {
      await assert.rejects(
        startTestApp({
          create: createSqliteDatabase,
          env: { GATEHOUSE_ENV: 'production', SMTP_URL: 'smtp://127.0.0.1:2525', GATEHOUSE_SECRET: secret },
        }),
        message,
      )
    })
  }
})
