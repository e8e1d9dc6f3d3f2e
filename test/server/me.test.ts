import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { deleteUser } from '../../src/accounts/users.ts'
import { hashToken } from '../../src/core/tokens/index.ts'
import { dialects } from '../helpers/databases.ts'
import { bearer, login, register, registerAndLogin, startTestApp, type TestApp } from '../helpers/test-app.ts'

const PASSWORD = 'me-test-password'
const ROUTES = ['/me', '/protected-route']
const INVALID_TOKEN = { detail: 'Invalid or expired token', code: 'INVALID_TOKEN' }

function assertInvalidToken(response: {
  statusCode: number
  headers: Record<string, unknown>
  json(): unknown
}) {
  assert.equal(response.statusCode, 401)
  assert.match(String(response.headers['www-authenticate']), /^Bearer\b.*error="invalid_token"/)
  assert.deepEqual(response.json(), INVALID_TOKEN)
}

for (const { dialect, skip, create } of dialects()) {
  describe(`GET /me and /protected-route (${dialect})`, { skip }, () => {
    let t: TestApp
    let user: Record<string, unknown>
    let token: string
    before(async () => {
      t = await startTestApp({ create })
      const registered = await register(t.app, 'Me@Example.com', PASSWORD)
      assert.equal(registered.statusCode, 201)
      user = registered.json()
      token = await login(t.app, 'me@example.com', PASSWORD)
    })
    after(() => t?.close())

    const get = (url: string, headers: Record<string, string> = {}) =>
      t.app.inject({ method: 'GET', url, headers })

    for (const url of ROUTES) {
      it(`${url} answers 200 with the signed-in user for a valid bearer token`, async () => {
        const response = await get(url, bearer(token))
        assert.equal(response.statusCode, 200)
        assert.deepEqual(response.json(), user)
      })

      it(`${url} without an Authorization header is 401 with a bare Bearer challenge`, async () => {
        const response = await get(url)
        assert.equal(response.statusCode, 401)
        assert.equal(response.headers['www-authenticate'], 'Bearer')
        assert.deepEqual(response.json(), { detail: 'Not authenticated', code: 'NOT_AUTHENTICATED' })
      })
    }

    it('tells two users apart: each token answers with its own user', async () => {
      const other = await registerAndLogin(t.app, 'other@example.com', PASSWORD)
      const mine = await get('/me', bearer(token))
      const theirs = await get('/me', bearer(other.token))
      assert.equal(mine.json().email, 'Me@Example.com')
      assert.equal(theirs.json().email, 'other@example.com')
      assert.equal(theirs.json().id, other.id)
      assert.notEqual(mine.json().id, theirs.json().id)
    })

    it('accepts the scheme name in any case (RFC 7235 §2.1)', async () => {
      for (const scheme of ['bearer', 'BEARER', 'bEaReR']) {
        const response = await get('/me', { authorization: `${scheme} ${token}` })
        assert.equal(response.statusCode, 200, scheme)
        assert.equal(response.json().id, user.id)
      }
    })

    it('answers a well-formed but unknown or altered token 401 error="invalid_token"', async () => {
      const tokens = [
        `gth_${'A'.repeat(43)}`,
        `${token}x`,
        token.slice(0, -1),
        token.replace('gth_', 'ght_'),
        `${token.slice(0, -1)}${token.endsWith('A') ? 'B' : 'A'}`,
        'garbage',
      ]
      for (const candidate of tokens) {
        for (const url of ROUTES) assertInvalidToken(await get(url, bearer(candidate)))
      }
    })

    it('answers another scheme or no scheme 401 with a bare Bearer challenge (RFC 6750 §3.1)', async () => {
      const headers = [
        `Basic ${Buffer.from(`me@example.com:${PASSWORD}`).toString('base64')}`,
        `Token ${token}`,
        `Bearerx ${token}`,
        token,
        'garbage',
      ]
      for (const authorization of headers) {
        for (const url of ROUTES) {
          const response = await get(url, { authorization })
          assert.equal(response.statusCode, 401, `${url} ${authorization}`)
          assert.equal(response.headers['www-authenticate'], 'Bearer', authorization)
          assert.equal(response.json().code, 'NOT_AUTHENTICATED')
        }
      }
    })

    it('answers a malformed Bearer credential 400 invalid_request, never 200 (RFC 6750 §3.1)', async () => {
      const headers = [
        'Bearer',
        'Bearer ',
        `Bearer ${token} ${token}`,
        `Bearer "${token}"`,
        `Bearer\t${token}`,
      ]
      for (const authorization of headers) {
        for (const url of ROUTES) {
          const response = await get(url, { authorization })
          assert.equal(response.statusCode, 400, `${url} ${JSON.stringify(authorization)}`)
          assert.match(String(response.headers['www-authenticate']), /^Bearer error="invalid_request"/)
          assert.deepEqual(response.json(), {
            detail: 'Malformed Authorization header',
            code: 'MALFORMED_AUTHORIZATION',
          })
        }
      }
    })

    it('refuses the stored SHA-256 of a token: a database dump yields no usable token', async () => {
      const stored = hashToken(token)
      const row = await t.store.db
        .selectFrom('access_tokens')
        .select('token_hash')
        .where('token_hash', '=', stored)
        .executeTakeFirst()
      assert.ok(row, 'the token is stored by its hash')
      assertInvalidToken(await get('/me', bearer(stored)))
      assertInvalidToken(await get('/me', bearer(`gth_${stored}`)))
    })
  })

  // Deleting or deactivating a user straight in the database is what another process (the CLI, a
  // second instance) does: this instance sees it once its token cache entry expires.
  describe(`users changed by another process (${dialect})`, { skip }, () => {
    let t: TestApp
    const get = (url: string, headers: Record<string, string> = {}) =>
      t.app.inject({ method: 'GET', url, headers })
    before(async () => {
      t = await startTestApp({ create, env: { TOKEN_CACHE_SECONDS: '1' } })
    })
    after(() => t?.close())
    const afterCacheTtl = () => new Promise((resolve) => setTimeout(resolve, 1100))

    it('refuses the token of a deleted user', async () => {
      const doomed = await registerAndLogin(t.app, 'doomed@example.com', PASSWORD)
      assert.equal((await get('/me', bearer(doomed.token))).statusCode, 200)
      assert.equal(await deleteUser(t.store.db, doomed.id), true)
      await afterCacheTtl()
      assertInvalidToken(await get('/me', bearer(doomed.token)))
      assertInvalidToken(await get('/protected-route', bearer(doomed.token)))
    })

    it('refuses the token of a deactivated user', async () => {
      const inactive = await registerAndLogin(t.app, 'inactive@example.com', PASSWORD)
      assert.equal((await get('/me', bearer(inactive.token))).statusCode, 200)
      await t.store.db.updateTable('users').set({ is_active: 0 }).where('id', '=', inactive.id).execute()
      await afterCacheTtl()
      assertInvalidToken(await get('/me', bearer(inactive.token)))
    })
  })

  describe(`token expiry (${dialect})`, { skip }, () => {
    let t: TestApp
    before(async () => {
      t = await startTestApp({ create, env: { ACCESS_TOKEN_TTL_SECONDS: '1' } })
    })
    after(() => t?.close())

    it('refuses a token once ACCESS_TOKEN_TTL_SECONDS has passed', async () => {
      assert.equal((await register(t.app, 'ttl@example.com', PASSWORD)).statusCode, 201)
      const issued = await t.app.inject({
        method: 'POST',
        url: '/token',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        payload: `username=ttl%40example.com&password=${PASSWORD}`,
      })
      assert.equal(issued.json().expires_in, 1)
      const token = issued.json().access_token
      assert.equal((await t.app.inject({ url: '/me', headers: bearer(token) })).statusCode, 200)
      await sleep(1100)
      assertInvalidToken(await t.app.inject({ url: '/me', headers: bearer(token) }))
      // A fresh login works again: only the old token expired.
      const fresh = await login(t.app, 'ttl@example.com', PASSWORD)
      assert.equal((await t.app.inject({ url: '/me', headers: bearer(fresh) })).statusCode, 200)
    })
  })
}

for (const { dialect, skip, create } of dialects()) {
  describe(`bodies that reach accounts take only their own fields (${dialect})`, { skip }, () => {
    let t: TestApp
    let token: string
    before(async () => {
      t = await startTestApp({ create })
      token = (await registerAndLogin(t.app, 'fields@example.com', PASSWORD)).token
    })
    after(() => t?.close())

    for (const method of ['POST', 'PATCH'] as const) {
      it(`${method} /me refuses is_superuser and friends with a 422 and changes nothing`, async () => {
        const response = await t.app.inject({
          method,
          url: '/me',
          headers: bearer(token),
          payload: {
            email: 'taken-over@example.com',
            current_password: PASSWORD,
            is_superuser: true,
            isActive: false,
          },
        })
        assert.equal(response.statusCode, 422)
        assert.deepEqual(
          response
            .json()
            .detail.map((issue: { loc: unknown[] }) => issue.loc)
            .sort(),
          [
            ['body', 'isActive'],
            ['body', 'is_superuser'],
          ],
        )
        const me = await t.app.inject({ method: 'GET', url: '/me', headers: bearer(token) })
        assert.equal(me.json().email, 'fields@example.com')
        assert.equal(me.json().is_superuser, false)
      })
    }

    it('POST /login refuses fields other than email and password', async () => {
      const response = await t.app.inject({
        method: 'POST',
        url: '/login',
        payload: { email: 'fields@example.com', password: PASSWORD, is_superuser: true },
      })
      assert.equal(response.statusCode, 422)
      assert.deepEqual(response.json().detail[0].loc, ['body', 'is_superuser'])
    })

    it('POST /token ignores unknown parameters, as RFC 6749 §3.2 requires', async () => {
      const response = await t.app.inject({
        method: 'POST',
        url: '/token',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        payload: `username=fields%40example.com&password=${PASSWORD}&is_superuser=1`,
      })
      assert.equal(response.statusCode, 200)
      const me = await t.app.inject({
        method: 'GET',
        url: '/me',
        headers: bearer(response.json().access_token),
      })
      assert.equal(me.json().is_superuser, false)
    })

    it('POST /prefs/{user_id} refuses a deeply nested document with 422, not a stack overflow 500', async () => {
      const id = (await t.app.inject({ method: 'GET', url: '/me', headers: bearer(token) })).json().id
      const deep = `{"a":${'['.repeat(5000)}${']'.repeat(5000)}}`
      const response = await t.app.inject({
        method: 'POST',
        url: `/prefs/${id}`,
        headers: { ...bearer(token), 'content-type': 'application/json' },
        payload: deep,
      })
      assert.equal(response.statusCode, 422)
      assert.equal(response.json().code, 'VALIDATION_FAILED')
      const nested = await t.app.inject({
        method: 'POST',
        url: `/prefs/${id}`,
        headers: bearer(token),
        payload: { a: { b: { c: [1, [2, [3]]] } } },
      })
      assert.equal(nested.statusCode, 200)
    })

    it('GET /prefs/{user_id} answers with the stored document', async () => {
      const id = (await t.app.inject({ method: 'GET', url: '/me', headers: bearer(token) })).json().id
      const written = await t.app.inject({
        method: 'POST',
        url: `/prefs/${id}`,
        headers: bearer(token),
        payload: { theme: 'dark', nested: { a: [1, 2] } },
      })
      assert.equal(written.statusCode, 200)
      const read = await t.app.inject({ method: 'GET', url: `/prefs/${id}`, headers: bearer(token) })
      assert.deepEqual(read.json(), { theme: 'dark', nested: { a: [1, 2] } })
    })
  })
}
