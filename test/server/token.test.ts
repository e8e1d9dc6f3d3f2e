import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { dialects } from '../helpers/databases.ts'
import { bearer, countRows, register, requestToken, startTestApp, type TestApp } from '../helpers/test-app.ts'

const EMAIL = 'User@Example.com'
const PASSWORD = 'token-test-password'
const TOKEN_SHAPE = /^gth_[A-Za-z0-9_-]{43}$/

for (const { dialect, skip, create } of dialects()) {
  describe(`POST /token (${dialect})`, { skip }, () => {
    let t: TestApp
    before(async () => {
      t = await startTestApp({ create })
      assert.equal((await register(t.app, EMAIL, PASSWORD)).statusCode, 201)
    })
    after(() => t?.close())

    it('exchanges a form-encoded email and password for a bearer token (RFC 6749 §5.1)', async () => {
      const response = await requestToken(t.app, EMAIL, PASSWORD)
      assert.equal(response.statusCode, 200)
      const body = response.json()
      assert.deepEqual(Object.keys(body).sort(), ['access_token', 'expires_in', 'token_type'])
      assert.equal(body.token_type, 'bearer')
      assert.equal(body.expires_in, 86400)
      assert.match(body.access_token, TOKEN_SHAPE)
      assert.ok(body.access_token.startsWith('gth_'))
      const me = await t.app.inject({ url: '/me', headers: bearer(body.access_token) })
      assert.equal(me.statusCode, 200)
      assert.equal(me.json().email, EMAIL)
    })

    it('forbids caching the token response (cache-control: no-store)', async () => {
      const response = await requestToken(t.app, EMAIL, PASSWORD)
      assert.equal(response.statusCode, 200)
      assert.equal(response.headers['cache-control'], 'no-store')
      assert.equal(response.headers.pragma, 'no-cache')
    })

    it('accepts grant_type=password', async () => {
      const response = await requestToken(t.app, EMAIL, PASSWORD, { grant_type: 'password' })
      assert.equal(response.statusCode, 200)
      assert.match(response.json().access_token, TOKEN_SHAPE)
    })

    it('refuses any other grant_type with 400 UNSUPPORTED_GRANT_TYPE and issues nothing', async () => {
      const rowsBefore = await countRows(t.store, 'access_tokens')
      for (const grantType of ['client_credentials', 'authorization_code', 'refresh_token', 'PASSWORD', '']) {
        const response = await requestToken(t.app, EMAIL, PASSWORD, { grant_type: grantType })
        assert.equal(response.statusCode, 400, grantType)
        assert.equal(response.json().code, 'UNSUPPORTED_GRANT_TYPE')
        assert.ok(!('access_token' in response.json()))
      }
      assert.equal(await countRows(t.store, 'access_tokens'), rowsBefore)
    })

    it('issues a different token on every login', async () => {
      const tokens = new Set<string>()
      for (let i = 0; i < 3; i++) tokens.add((await requestToken(t.app, EMAIL, PASSWORD)).json().access_token)
      assert.equal(tokens.size, 3)
    })

    it('answers a wrong password and an unknown email with identical 401s and a challenge', async () => {
      const rowsBefore = await countRows(t.store, 'access_tokens')
      const wrongPassword = await requestToken(t.app, EMAIL, 'not-the-password')
      const unknownEmail = await requestToken(t.app, 'nobody@example.com', 'not-the-password')
      for (const response of [wrongPassword, unknownEmail]) {
        assert.equal(response.statusCode, 401)
        assert.equal(response.headers['www-authenticate'], 'Bearer')
        assert.deepEqual(response.json(), { detail: 'Incorrect email or password', code: 'BAD_CREDENTIALS' })
      }
      assert.equal(wrongPassword.body, unknownEmail.body)
      assert.equal(wrongPassword.headers['www-authenticate'], unknownEmail.headers['www-authenticate'])
      assert.equal(await countRows(t.store, 'access_tokens'), rowsBefore)
    })

    it('answers an out-of-policy password at login with the same 401 as a wrong one', async () => {
      for (const password of ['short', 'x'.repeat(1025)]) {
        const response = await requestToken(t.app, EMAIL, password)
        assert.equal(response.statusCode, 401)
        assert.deepEqual(response.json(), { detail: 'Incorrect email or password', code: 'BAD_CREDENTIALS' })
      }
    })

    it('answers 422 naming each missing field', async () => {
      const send = (payload: string) =>
        t.app.inject({
          method: 'POST',
          url: '/token',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          payload,
        })
      const cases: [string, string[]][] = [
        ['', ['body.password', 'body.username']],
        [`username=${encodeURIComponent(EMAIL)}`, ['body.password']],
        [`password=${PASSWORD}`, ['body.username']],
        [`username=&password=${PASSWORD}`, ['body.username']],
      ]
      for (const [payload, expected] of cases) {
        const response = await send(payload)
        assert.equal(response.statusCode, 422, payload)
        const body = response.json()
        assert.equal(body.code, 'VALIDATION_FAILED')
        const locs = body.detail.map((issue: { loc: string[] }) => issue.loc.join('.')).sort()
        assert.deepEqual(locs, expected, payload)
      }
    })

    it('also accepts the credentials as a JSON body', async () => {
      const response = await t.app.inject({
        method: 'POST',
        url: '/token',
        payload: { username: EMAIL, password: PASSWORD },
      })
      assert.equal(response.statusCode, 200)
      assert.equal(response.headers['cache-control'], 'no-store')
      const me = await t.app.inject({ url: '/me', headers: bearer(response.json().access_token) })
      assert.equal(me.statusCode, 200)
      const wrong = await t.app.inject({
        method: 'POST',
        url: '/token',
        payload: { username: EMAIL, password: 'nope' },
      })
      assert.equal(wrong.statusCode, 401)
    })

    it('matches the email case-insensitively', async () => {
      for (const username of ['user@example.com', 'USER@EXAMPLE.COM', 'User@Example.com']) {
        const response = await requestToken(t.app, username, PASSWORD)
        assert.equal(response.statusCode, 200, username)
        const me = await t.app.inject({ url: '/me', headers: bearer(response.json().access_token) })
        assert.equal(me.json().email, EMAIL)
      }
    })

    it('does not match the password case-insensitively', async () => {
      const response = await requestToken(t.app, EMAIL, PASSWORD.toUpperCase())
      assert.equal(response.statusCode, 401)
    })
  })
}
