/**
 * CSRF over HTTP, both layers. The signed double-submit token (cookie `csrftoken` = header
 * `x-csrftoken`, HMAC-bound to the session) guards every cookie-authenticated unsafe request: a
 * negative matrix in the style of starlette-csrf's tests, each case on three routes, each refusal
 * proven to have changed nothing. The Fetch Metadata / Origin layer refuses cross-site browser
 * requests before any work, /login and /register included; safe methods and curl pass.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { LightMyRequestResponse } from 'fastify'
import { createCsrfTokens } from '../../../src/core/csrf/index.ts'
import { hashToken } from '../../../src/core/tokens/index.ts'
import {
  type BrowserSession,
  cookieHeader,
  DEMO_ORIGIN,
  fetchCsrfToken,
  loginWithCookie,
  postLogin,
  sessionCookieOnly,
  sessionHeaders,
  setCookie,
  storedEmail,
  storedPreferences,
} from '../../helpers/browser-session.ts'
import { dialects } from '../../helpers/databases.ts'
import { bearer, countRows, login, register, startTestApp, type TestApp } from '../../helpers/test-app.ts'

const PASSWORD = 'csrf-suite-password'
const CSRF_FAILED = { detail: 'CSRF token verification failed', code: 'CSRF_FAILED' }
const CROSS_SITE = { detail: 'Cross-site request refused', code: 'CROSS_SITE_REQUEST' }

/** Changes one character in the middle of the MAC part, keeping the token's shape. */
function tamper(token: string): string {
  const index = token.length - 10
  return token.slice(0, index) + (token[index] === 'A' ? 'B' : 'A') + token.slice(index + 1)
}

function assertVaryCoversFetchMetadata(response: LightMyRequestResponse): void {
  const vary = String(response.headers.vary ?? '')
    .split(',')
    .map((name) => name.trim().toLowerCase())
  assert.ok(vary.includes('origin'), `Vary: ${response.headers.vary}`)
  assert.ok(vary.includes('sec-fetch-site'), `Vary: ${response.headers.vary}`)
}

for (const { dialect, skip, create } of dialects()) {
  describe(`CSRF double-submit token on cookie sessions (${dialect})`, { skip }, () => {
    let t: TestApp
    let aliceId: number
    let alice: BrowserSession
    let bob: BrowserSession
    before(async () => {
      t = await startTestApp({ create })
      const registered = await register(t.app, 'alice@example.com', PASSWORD)
      assert.equal(registered.statusCode, 201)
      aliceId = registered.json().id
      assert.equal((await register(t.app, 'bob@example.com', PASSWORD)).statusCode, 201)
      alice = await loginWithCookie(t.app, 'alice@example.com', PASSWORD)
      bob = await loginWithCookie(t.app, 'bob@example.com', PASSWORD)
    })
    after(() => t?.close())

    const aliceIsSignedIn = async () =>
      (await t.app.inject({ url: '/me', headers: sessionCookieOnly(alice) })).statusCode === 200

    /**
     * Unsafe routes of a signed-in user. `send(headers, forged)` sends the attacker's change when
     * `forged`, a harmless one otherwise; `unchanged` proves a refused forged request did nothing.
     */
    const routes: {
      name: string
      send: (headers: Record<string, string>, forged?: boolean) => Promise<LightMyRequestResponse>
      ok: number
      unchanged: () => Promise<void>
    }[] = [
      {
        name: 'PATCH /me',
        send: (headers, forged = false) =>
          t.app.inject({
            method: 'PATCH',
            url: '/me',
            headers,
            payload: { email: forged ? 'forged@example.com' : 'alice@example.com' },
          }),
        ok: 200,
        unchanged: async () => assert.equal(await storedEmail(t.store, aliceId), 'alice@example.com'),
      },
      {
        name: 'POST /prefs/{user_id}',
        send: (headers, forged = false) =>
          t.app.inject({
            method: 'POST',
            url: `/prefs/${aliceId}`,
            headers,
            payload: { theme: forged ? 'forged' : 'dark' },
          }),
        ok: 200,
        unchanged: async () =>
          assert.notDeepEqual(await storedPreferences(t.store, aliceId), { theme: 'forged' }),
      },
      {
        name: 'POST /logout',
        send: (headers) => t.app.inject({ method: 'POST', url: '/logout', headers }),
        ok: 204,
        unchanged: async () => assert.ok(await aliceIsSignedIn(), 'the session was not logged out'),
      },
    ]

    it('GET /csrf sets csrftoken (not HttpOnly, Secure, SameSite=Lax, Path=/) and returns the same value as csrf_token', async () => {
      const { body, cookie, response } = await fetchCsrfToken(t.app)
      assert.equal(body, cookie)
      assert.match(body, /^[A-Za-z0-9_-]{43}\.[A-Za-z0-9_-]{43}$/)
      const attributes = setCookie(response, 'csrftoken').attributes
      assert.equal(attributes.has('httponly'), false)
      assert.equal(attributes.get('secure'), true)
      assert.equal(attributes.get('samesite'), 'Lax')
      assert.equal(attributes.get('path'), '/')
      assert.equal(response.headers['cache-control'], 'no-store')
    })

    it('GET /csrf mints a new token each time', async () => {
      const first = await fetchCsrfToken(t.app, alice.cookies)
      const second = await fetchCsrfToken(t.app, alice.cookies)
      assert.notEqual(first.body, second.body)
    })

    for (const route of routes.filter((r) => r.name !== 'POST /logout')) {
      it(`${route.name} with the session cookie and the CSRF token from /login succeeds`, async () => {
        const response = await route.send(sessionHeaders(alice, { origin: DEMO_ORIGIN }))
        assert.equal(response.statusCode, route.ok, response.body)
        assertVaryCoversFetchMetadata(response)
      })

      it(`${route.name} with a token from GET /csrf of the same session succeeds (the cross-origin SPA flow)`, async () => {
        const { body } = await fetchCsrfToken(t.app, { token: alice.sessionToken })
        const response = await route.send({
          cookie: cookieHeader({ token: alice.sessionToken, csrftoken: body }),
          'x-csrftoken': body,
          origin: DEMO_ORIGIN,
        })
        assert.equal(response.statusCode, route.ok, response.body)
      })
    }

    /**
     * Each case yields the cookies and header of a request on alice's session. Every one must be
     * refused with 403 CSRF_FAILED, before the route does anything.
     */
    const refusals: {
      name: string
      build: () => Promise<{ csrfCookie?: string; header?: string }>
    }[] = [
      { name: 'the x-csrftoken header is missing', build: async () => ({ csrfCookie: alice.csrfToken }) },
      { name: 'the csrftoken cookie is missing', build: async () => ({ header: alice.csrfToken }) },
      { name: 'both cookie and header are missing', build: async () => ({}) },
      { name: 'cookie and header are empty', build: async () => ({ csrfCookie: '', header: '' }) },
      {
        name: 'the header differs from the cookie (both valid tokens of this very session)',
        build: async () => {
          const other = await fetchCsrfToken(t.app, { token: alice.sessionToken })
          assert.notEqual(other.body, alice.csrfToken)
          return { csrfCookie: alice.csrfToken, header: other.body }
        },
      },
      {
        name: 'the token is tampered with (same tampered value in cookie and header)',
        build: async () => ({ csrfCookie: tamper(alice.csrfToken), header: tamper(alice.csrfToken) }),
      },
      {
        name: "the token was minted for another user's session (cookie and header both bob's)",
        build: async () => ({ csrfCookie: bob.csrfToken, header: bob.csrfToken }),
      },
      {
        name: "the tokens are swapped (header bob's, cookie alice's)",
        build: async () => ({ csrfCookie: alice.csrfToken, header: bob.csrfToken }),
      },
      {
        name: 'the token was minted before login (GET /csrf while signed out)',
        build: async () => {
          const anonymous = await fetchCsrfToken(t.app)
          return { csrfCookie: anonymous.cookie, header: anonymous.body }
        },
      },
      {
        name: 'the token belongs to an earlier session of the same user',
        build: async () => {
          const earlier = await loginWithCookie(t.app, 'alice@example.com', PASSWORD)
          return { csrfCookie: earlier.csrfToken, header: earlier.csrfToken }
        },
      },
      {
        name: 'the token is bound to this session but signed with another secret',
        build: async () => {
          const forged = createCsrfTokens('an-attacker-secret-of-enough-length-0123').issue(
            hashToken(alice.sessionToken),
          )
          return { csrfCookie: forged, header: forged }
        },
      },
      {
        name: 'the header carries the token twice (comma-joined)',
        build: async () => ({
          csrfCookie: alice.csrfToken,
          header: `${alice.csrfToken}, ${alice.csrfToken}`,
        }),
      },
    ]

    for (const route of routes) {
      for (const refusal of refusals) {
        it(`${route.name} is 403 CSRF_FAILED, with CORS headers for the trusted origin, when ${refusal.name}`, async () => {
          const { csrfCookie, header } = await refusal.build()
          const headers: Record<string, string> = {
            cookie: cookieHeader({ token: alice.sessionToken, csrftoken: csrfCookie }),
            origin: DEMO_ORIGIN,
          }
          if (header !== undefined) headers['x-csrftoken'] = header
          const response = await route.send(headers, true)
          assert.equal(response.statusCode, 403, response.body)
          assert.deepEqual(response.json(), CSRF_FAILED)
          // The front end on the trusted origin can read why it was refused.
          assert.equal(response.headers['access-control-allow-origin'], DEMO_ORIGIN)
          assert.equal(response.headers['access-control-allow-credentials'], 'true')
          assertVaryCoversFetchMetadata(response)
          await route.unchanged()
        })
      }
    }

    it('a refused request from a non-browser client (no Origin) is 403 too, without CORS headers', async () => {
      const response = await routes[0]!.send(sessionCookieOnly(alice), true)
      assert.equal(response.statusCode, 403)
      assert.deepEqual(response.json(), CSRF_FAILED)
      assert.equal(response.headers['access-control-allow-origin'], undefined)
    })

    it('a bearer-authenticated PATCH /me needs no CSRF token, even with stale session and CSRF cookies present', async () => {
      assert.equal((await register(t.app, 'carol@example.com', PASSWORD)).statusCode, 201)
      const token = await login(t.app, 'carol@example.com', PASSWORD)
      const response = await t.app.inject({
        method: 'PATCH',
        url: '/me',
        headers: {
          ...bearer(token),
          cookie: cookieHeader({ token: `gth_${'S'.repeat(43)}`, csrftoken: 'stale' }),
          origin: DEMO_ORIGIN,
        },
        payload: { email: 'carol2@example.com' },
      })
      assert.equal(response.statusCode, 200, response.body)
      assert.equal(response.json().email, 'carol2@example.com')
    })

    it("a bearer-authenticated POST /prefs needs no CSRF token even alongside the same user's live session cookie", async () => {
      const token = await login(t.app, 'alice@example.com', PASSWORD)
      const response = await t.app.inject({
        method: 'POST',
        url: `/prefs/${aliceId}`,
        headers: { ...bearer(token), ...sessionCookieOnly(alice) },
        payload: { via: 'bearer' },
      })
      assert.equal(response.statusCode, 200, response.body)
      assert.deepEqual(await storedPreferences(t.store, aliceId), { via: 'bearer' })
    })

    it('an empty Authorization header does not exempt a cookie-authenticated request from the CSRF check', async () => {
      const response = await t.app.inject({
        method: 'PATCH',
        url: '/me',
        headers: { ...sessionCookieOnly(alice), authorization: '' },
        payload: { email: 'hijacked@example.com' },
      })
      try {
        assert.notEqual(response.statusCode, 200, 'the cookie session was used without a CSRF token')
        assert.equal(await storedEmail(t.store, aliceId), 'alice@example.com')
      } finally {
        // Undo a successful forged change so the rest of the suite keeps its fixtures.
        if (response.statusCode === 200) {
          await t.app.inject({
            method: 'PATCH',
            url: '/me',
            headers: sessionHeaders(alice),
            payload: { email: 'alice@example.com' },
          })
        }
      }
    })

    it('an unsafe request without any session cookie is not asked for a CSRF token (it is 401, not 403)', async () => {
      const response = await t.app.inject({
        method: 'PATCH',
        url: '/me',
        payload: { email: 'x@example.com' },
      })
      assert.equal(response.statusCode, 401)
      assert.equal(response.json().code, 'NOT_AUTHENTICATED')
      assertVaryCoversFetchMetadata(response)
    })

    it('POST /logout with the cookie and the CSRF token succeeds (last: it ends the session)', async () => {
      const response = await routes[2]!.send(sessionHeaders(alice, { origin: DEMO_ORIGIN }))
      assert.equal(response.statusCode, 204)
      assert.equal(response.headers['access-control-allow-origin'], DEMO_ORIGIN)
      assertVaryCoversFetchMetadata(response)
      assert.equal(await aliceIsSignedIn(), false)
    })
  })

  describe(`Fetch Metadata / Origin layer (${dialect})`, { skip }, () => {
    let t: TestApp
    let daveId: number
    let dave: BrowserSession
    before(async () => {
      t = await startTestApp({ create })
      const registered = await register(t.app, 'dave@example.com', PASSWORD)
      assert.equal(registered.statusCode, 201)
      daveId = registered.json().id
      dave = await loginWithCookie(t.app, 'dave@example.com', PASSWORD)
    })
    after(() => t?.close())

    let registrations = 0
    /** The three routes the contract names; `unchanged` proves the refusal came before any work. */
    const routes: {
      name: string
      send: (headers: Record<string, string>) => Promise<LightMyRequestResponse>
      ok: number
      unchanged: (before: { users: number; tokens: number }) => Promise<void>
    }[] = [
      {
        name: 'POST /login',
        send: (headers) => postLogin(t.app, 'dave@example.com', PASSWORD, headers),
        ok: 200,
        unchanged: async (before) =>
          assert.equal(await countRows(t.store, 'access_tokens'), before.tokens, 'no session was created'),
      },
      {
        name: 'POST /register',
        send: (headers) =>
          t.app.inject({
            method: 'POST',
            url: '/register',
            headers,
            payload: { email: `new-${registrations++}@example.com`, password: PASSWORD },
          }),
        ok: 201,
        unchanged: async (before) =>
          assert.equal(await countRows(t.store, 'users'), before.users, 'no user was created'),
      },
      {
        name: 'PATCH /me',
        // A valid session and CSRF token: only the Fetch Metadata layer can refuse.
        send: (headers) =>
          t.app.inject({
            method: 'PATCH',
            url: '/me',
            headers: sessionHeaders(dave, headers),
            payload: { email: 'dave@example.com' },
          }),
        ok: 200,
        unchanged: async () => assert.equal(await storedEmail(t.store, daveId), 'dave@example.com'),
      },
    ]
    const counts = async () => ({
      users: await countRows(t.store, 'users'),
      tokens: await countRows(t.store, 'access_tokens'),
    })

    const refused: { name: string; headers: Record<string, string> }[] = [
      {
        name: 'Sec-Fetch-Site: cross-site from an untrusted origin',
        headers: { 'sec-fetch-site': 'cross-site', origin: 'https://evil.example' },
      },
      {
        name: 'Sec-Fetch-Site: same-site from an untrusted sibling (another port of localhost)',
        headers: { 'sec-fetch-site': 'same-site', origin: 'http://localhost:9001' },
      },
      {
        name: 'Sec-Fetch-Site: cross-site with Origin: null',
        headers: { 'sec-fetch-site': 'cross-site', origin: 'null' },
      },
      { name: 'Sec-Fetch-Site: cross-site without an Origin', headers: { 'sec-fetch-site': 'cross-site' } },
      {
        name: 'an unknown Sec-Fetch-Site value, even from the trusted origin',
        headers: { 'sec-fetch-site': 'bogus', origin: DEMO_ORIGIN },
      },
      { name: 'Origin: null without Sec-Fetch-Site (sandboxed iframe, file:)', headers: { origin: 'null' } },
      { name: 'an untrusted Origin without Sec-Fetch-Site', headers: { origin: 'https://evil.example' } },
      {
        name: 'an Origin that only contains the trusted one',
        headers: { 'sec-fetch-site': 'cross-site', origin: 'http://localhost:9000.evil.example' },
      },
      {
        name: 'an Origin with a path (not an origin)',
        headers: { origin: 'http://localhost:9000/' },
      },
    ]

    for (const route of routes) {
      for (const { name, headers } of refused) {
        it(`${route.name} is refused 403 CROSS_SITE_REQUEST before any work for ${name}`, async () => {
          const before = await counts()
          const response = await route.send(headers)
          assert.equal(response.statusCode, 403, response.body)
          assert.deepEqual(response.json(), CROSS_SITE)
          assert.equal(response.headers['set-cookie'], undefined, 'no cookie set')
          assertVaryCoversFetchMetadata(response)
          await route.unchanged(before)
        })
      }
    }

    const allowed: { name: string; headers: Record<string, string> }[] = [
      {
        name: 'Sec-Fetch-Site: same-site from the trusted origin',
        headers: { 'sec-fetch-site': 'same-site', origin: DEMO_ORIGIN },
      },
      {
        name: 'Sec-Fetch-Site: cross-site from the trusted origin',
        headers: { 'sec-fetch-site': 'cross-site', origin: DEMO_ORIGIN },
      },
      {
        name: 'Sec-Fetch-Site: same-origin',
        headers: { 'sec-fetch-site': 'same-origin', origin: 'http://localhost' },
      },
      { name: 'Sec-Fetch-Site: none (user-initiated)', headers: { 'sec-fetch-site': 'none' } },
      { name: 'no Origin and no Sec-Fetch-Site (curl, a server)', headers: {} },
      { name: 'the trusted Origin without Sec-Fetch-Site', headers: { origin: DEMO_ORIGIN } },
      { name: "the API's own Origin without Sec-Fetch-Site", headers: { origin: 'http://localhost' } },
    ]

    for (const route of routes) {
      for (const { name, headers } of allowed) {
        it(`${route.name} is allowed for ${name}`, async () => {
          const response = await route.send(headers)
          assert.equal(response.statusCode, route.ok, response.body)
          assertVaryCoversFetchMetadata(response)
        })
      }
    }

    const crossSite = { 'sec-fetch-site': 'cross-site', origin: 'https://evil.example' }
    for (const url of ['/me', '/profile', `/prefs/{id}`, '/csrf', '/healthz']) {
      it(`safe method GET ${url} is never refused as cross-site`, async () => {
        const path = url.replace('{id}', String(daveId))
        const response = await t.app.inject({
          url: path,
          headers: { ...crossSite, ...sessionCookieOnly(dave) },
        })
        assert.equal(response.statusCode, 200, response.body)
      })
    }

    it('HEAD and OPTIONS are never refused as cross-site', async () => {
      const head = await t.app.inject({ method: 'HEAD', url: '/healthz', headers: crossSite })
      assert.equal(head.statusCode, 200)
      const options = await t.app.inject({ method: 'OPTIONS', url: '/login', headers: crossSite })
      assert.notEqual(options.statusCode, 403)
      assert.equal(options.headers['access-control-allow-origin'], undefined)
    })

    it('a cross-site POST /register with a session cookie is refused by Fetch Metadata, not by the token check', async () => {
      const response = await t.app.inject({
        method: 'POST',
        url: '/register',
        headers: { ...crossSite, ...sessionCookieOnly(dave) },
        payload: { email: 'attacker-chosen@example.com', password: PASSWORD },
      })
      assert.equal(response.statusCode, 403)
      assert.deepEqual(response.json(), CROSS_SITE)
    })
  })
}
