/**
 * Cookie sessions over HTTP: POST /login sets the session and CSRF cookies with the right
 * attributes, GET /me and /protected-route accept the cookie like the bearer header (the header
 * wins), a new login retires the old session, and POST /logout revokes and expires it.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { hashToken } from '../../../src/core/tokens/index.ts'
import {
  cookieHeader,
  DEV_COOKIES,
  isExpired,
  loginWithCookie,
  postLogin,
  sessionCookieOnly,
  sessionHeaders,
  setCookie,
  setCookies,
} from '../../helpers/browser-session.ts'
import { dialects } from '../../helpers/databases.ts'
import { bearer, countRows, login, register, startTestApp, type TestApp } from '../../helpers/test-app.ts'

const PASSWORD = 'cookie-session-password'
const TTL_SECONDS = 3600
const BAD_CREDENTIALS = { detail: 'Incorrect email or password', code: 'BAD_CREDENTIALS' }
const CSRF_TOKEN_SHAPE = /^[A-Za-z0-9_-]{43}\.[A-Za-z0-9_-]{43}$/

for (const { dialect, skip, create } of dialects()) {
  describe(`cookie sessions: /login, /me, /logout (${dialect})`, { skip }, () => {
    let t: TestApp
    let alice: Record<string, unknown>
    let bob: Record<string, unknown>
    before(async () => {
      t = await startTestApp({ create, env: { ACCESS_TOKEN_TTL_SECONDS: String(TTL_SECONDS) } })
      const registeredAlice = await register(t.app, 'alice@example.com', PASSWORD)
      const registeredBob = await register(t.app, 'bob@example.com', PASSWORD)
      assert.equal(registeredAlice.statusCode, 201)
      assert.equal(registeredBob.statusCode, 201)
      alice = registeredAlice.json()
      bob = registeredBob.json()
    })
    after(() => t?.close())

    const get = (url: string, headers: Record<string, string>) =>
      t.app.inject({ method: 'GET', url, headers })
    const sessionRow = (token: string) =>
      t.store.db
        .selectFrom('access_tokens')
        .select(['kind', 'expires_at', 'created_at'])
        .where('token_hash', '=', hashToken(token))
        .executeTakeFirst()

    it('POST /login with a form answers 200 {user, csrf_token} and sets token HttpOnly; Secure; SameSite=Lax; Path=/; Max-Age=TTL', async () => {
      const response = await postLogin(t.app, 'alice@example.com', PASSWORD)
      assert.equal(response.statusCode, 200)
      const body = response.json()
      assert.deepEqual(Object.keys(body).sort(), ['csrf_token', 'user'])
      assert.deepEqual(body.user, alice)
      assert.match(body.csrf_token, CSRF_TOKEN_SHAPE)

      const session = setCookie(response, 'token')
      assert.equal(session.attributes.get('httponly'), true)
      assert.equal(session.attributes.get('secure'), true)
      assert.equal(session.attributes.get('samesite'), 'Lax')
      assert.equal(session.attributes.get('path'), '/')
      assert.equal(session.attributes.get('max-age'), String(TTL_SECONDS))
      assert.equal(session.attributes.has('domain'), false, 'host-only cookie')
      const row = await sessionRow(session.value)
      assert.ok(row, 'the session is stored under the hash of the cookie value')
      assert.equal(row.kind, 'session')
      assert.equal(
        row.expires_at - row.created_at,
        TTL_SECONDS * 1000,
        'cookie Max-Age = server-side lifetime',
      )
      assert.equal(response.headers['cache-control'], 'no-store')
    })

    it('POST /login sets a csrftoken cookie readable by script (not HttpOnly), Secure, SameSite=Lax, equal to csrf_token', async () => {
      const response = await postLogin(t.app, 'alice@example.com', PASSWORD)
      const csrf = setCookie(response, 'csrftoken')
      assert.equal(csrf.value, response.json().csrf_token)
      assert.equal(csrf.attributes.has('httponly'), false)
      assert.equal(csrf.attributes.get('secure'), true)
      assert.equal(csrf.attributes.get('samesite'), 'Lax')
      assert.equal(csrf.attributes.get('path'), '/')
      assert.equal(csrf.attributes.has('domain'), false)
    })

    it('POST /login with a JSON body signs in the same way', async () => {
      const response = await t.app.inject({
        method: 'POST',
        url: '/login',
        payload: { email: 'ALICE@example.com', password: PASSWORD },
      })
      assert.equal(response.statusCode, 200)
      assert.deepEqual(response.json().user, alice)
      const session = setCookie(response, 'token').value
      assert.deepEqual((await get('/me', { cookie: cookieHeader({ token: session }) })).json(), alice)
    })

    const badCredentials = [
      { name: 'an unknown email', email: 'nobody@example.com', password: PASSWORD },
      { name: 'a wrong password', email: 'alice@example.com', password: `${PASSWORD}-wrong` },
      { name: 'the password in another case', email: 'alice@example.com', password: PASSWORD.toUpperCase() },
    ]
    for (const { name, email, password } of badCredentials) {
      it(`POST /login with ${name} is 401 with the one generic body and sets no cookie`, async () => {
        const tokensBefore = await countRows(t.store, 'access_tokens')
        const response = await postLogin(t.app, email, password)
        assert.equal(response.statusCode, 401)
        assert.deepEqual(response.json(), BAD_CREDENTIALS)
        assert.equal(response.headers['set-cookie'], undefined)
        assert.equal(await countRows(t.store, 'access_tokens'), tokensBefore, 'no session row')
      })
    }

    it('POST /login without a password is 422, not a 401 or a 500', async () => {
      const response = await t.app.inject({
        method: 'POST',
        url: '/login',
        payload: { email: 'alice@example.com' },
      })
      assert.equal(response.statusCode, 422)
      assert.equal(response.json().code, 'VALIDATION_FAILED')
      assert.equal(response.headers['set-cookie'], undefined)
    })

    for (const url of ['/me', '/protected-route']) {
      it(`GET ${url} with only the session cookie answers the same user as with a bearer token`, async () => {
        const session = await loginWithCookie(t.app, 'alice@example.com', PASSWORD)
        const token = await login(t.app, 'alice@example.com', PASSWORD)
        const byCookie = await get(url, sessionCookieOnly(session))
        const byBearer = await get(url, bearer(token))
        assert.equal(byCookie.statusCode, 200)
        assert.equal(byBearer.statusCode, 200)
        assert.deepEqual(byCookie.json(), alice)
        assert.deepEqual(byCookie.json(), byBearer.json())
      })

      it(`GET ${url} with a forged session cookie is 401 INVALID_TOKEN`, async () => {
        const response = await get(url, { cookie: cookieHeader({ token: `gth_${'A'.repeat(43)}` }) })
        assert.equal(response.statusCode, 401)
        assert.equal(response.json().code, 'INVALID_TOKEN')
      })
    }

    it("a bearer header wins over another user's session cookie", async () => {
      const aliceSession = await loginWithCookie(t.app, 'alice@example.com', PASSWORD)
      const bobToken = await login(t.app, 'bob@example.com', PASSWORD)
      const response = await get('/me', { ...sessionCookieOnly(aliceSession), ...bearer(bobToken) })
      assert.equal(response.statusCode, 200)
      assert.deepEqual(response.json(), bob)
    })

    it('an invalid bearer header is not rescued by a valid session cookie: 401', async () => {
      const session = await loginWithCookie(t.app, 'alice@example.com', PASSWORD)
      const response = await get('/me', { ...sessionCookieOnly(session), ...bearer(`gth_${'Z'.repeat(43)}`) })
      assert.equal(response.statusCode, 401)
      assert.equal(response.json().code, 'INVALID_TOKEN')
    })

    it('logging in again with the old session cookie revokes the old session (no fixation)', async () => {
      const first = await loginWithCookie(t.app, 'alice@example.com', PASSWORD)
      const second = await loginWithCookie(t.app, 'alice@example.com', PASSWORD, {
        headers: sessionCookieOnly(first),
      })
      assert.notEqual(second.sessionToken, first.sessionToken, 'a new token, never the one sent')
      assert.equal((await get('/me', sessionCookieOnly(first))).statusCode, 401)
      assert.equal(await sessionRow(first.sessionToken), undefined, 'the old row is gone')
      assert.deepEqual((await get('/me', sessionCookieOnly(second))).json(), alice)
    })

    it('a failed login with an old session cookie leaves that session valid', async () => {
      const session = await loginWithCookie(t.app, 'alice@example.com', PASSWORD)
      const response = await postLogin(
        t.app,
        'alice@example.com',
        'not-the-password',
        sessionCookieOnly(session),
      )
      assert.equal(response.statusCode, 401)
      assert.equal((await get('/me', sessionCookieOnly(session))).statusCode, 200)
    })

    it('POST /logout with the cookie and CSRF token is 204, expires both cookies and sends Clear-Site-Data "cookies"', async () => {
      const session = await loginWithCookie(t.app, 'alice@example.com', PASSWORD)
      const response = await t.app.inject({
        method: 'POST',
        url: '/logout',
        headers: sessionHeaders(session),
      })
      assert.equal(response.statusCode, 204)
      assert.equal(response.body, '')
      assert.equal(response.headers['clear-site-data'], '"cookies"')
      const cookies = setCookies(response)
      for (const name of [DEV_COOKIES.session, DEV_COOKIES.csrf]) {
        const cookie = cookies.get(name)
        assert.ok(cookie, `${name} is expired by Set-Cookie`)
        assert.equal(cookie.value, '')
        assert.ok(isExpired(cookie), `${name} expires: ${cookie.raw}`)
        // A browser only drops a cookie whose Path (and Secure) match the one that set it.
        assert.equal(cookie.attributes.get('path'), '/')
        assert.equal(cookie.attributes.get('secure'), true)
      }
      assert.equal(await sessionRow(session.sessionToken), undefined, 'revoked server-side')
    })

    it('after logout the old cookie is refused: GET /me 401, and PATCH /me with its CSRF token 401', async () => {
      const session = await loginWithCookie(t.app, 'alice@example.com', PASSWORD)
      const logout = await t.app.inject({ method: 'POST', url: '/logout', headers: sessionHeaders(session) })
      assert.equal(logout.statusCode, 204)
      const me = await get('/me', sessionCookieOnly(session))
      assert.equal(me.statusCode, 401)
      assert.equal(me.json().code, 'INVALID_TOKEN')
      const patch = await t.app.inject({
        method: 'PATCH',
        url: '/me',
        headers: sessionHeaders(session),
        payload: { email: 'replayed@example.com' },
      })
      assert.equal(patch.statusCode, 401)
      assert.equal(
        (await get('/me', bearer(await login(t.app, 'alice@example.com', PASSWORD)))).json().email,
        alice.email,
      )
    })

    it('POST /logout with the cookie but without the CSRF token is 403 CSRF_FAILED and the session survives', async () => {
      const session = await loginWithCookie(t.app, 'alice@example.com', PASSWORD)
      const response = await t.app.inject({
        method: 'POST',
        url: '/logout',
        headers: sessionCookieOnly(session),
      })
      assert.equal(response.statusCode, 403)
      assert.deepEqual(response.json(), { detail: 'CSRF token verification failed', code: 'CSRF_FAILED' })
      assert.equal(response.headers['clear-site-data'], undefined)
      assert.equal(response.headers['set-cookie'], undefined)
      assert.equal((await get('/me', sessionCookieOnly(session))).statusCode, 200)
    })

    it('POST /logout with a bearer token is 204 without Clear-Site-Data or Set-Cookie; a cookie sent along stays valid', async () => {
      const session = await loginWithCookie(t.app, 'alice@example.com', PASSWORD)
      const token = await login(t.app, 'alice@example.com', PASSWORD)
      const response = await t.app.inject({
        method: 'POST',
        url: '/logout',
        headers: { ...bearer(token), ...sessionCookieOnly(session) },
      })
      assert.equal(response.statusCode, 204)
      assert.equal(response.headers['clear-site-data'], undefined)
      assert.equal(response.headers['set-cookie'], undefined)
      assert.equal((await get('/me', bearer(token))).statusCode, 401, 'the bearer token is revoked')
      assert.equal(
        (await get('/me', sessionCookieOnly(session))).statusCode,
        200,
        'the cookie session is not',
      )
    })
  })
}
