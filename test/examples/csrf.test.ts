import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { InjectOptions, LightMyRequestResponse } from 'fastify'
import { build } from '../../examples/csrf.ts'
import { type ExampleApp, form, setCookie, startExample } from './helpers.ts'

const PASSWORD = 'csrf-password-1'
const FRONT_END = 'http://localhost:9000'
const CSRF_FAILED = { detail: 'CSRF token verification failed', code: 'CSRF_FAILED' }

interface Session {
  id: number
  token: string
  csrf: string
}

describe("csrf example (the book's chapter07/csrf app)", () => {
  let example: ExampleApp
  let alice: Session
  before(async () => {
    example = await startExample(build, { CSRF_SECRET: undefined })
    alice = await signUp('alice@example.com')
  })
  after(() => example?.close())

  const inject = (options: InjectOptions) => example.app.inject(options)
  const login = (email: string, password: string, headers: Record<string, string> = {}) => {
    const body = form({ email, password })
    return inject({ method: 'POST', url: '/login', ...body, headers: { ...body.headers, ...headers } })
  }
  async function signUp(email: string): Promise<Session> {
    const registered = await inject({
      method: 'POST',
      url: '/register',
      payload: { email, password: PASSWORD },
    })
    assert.equal(registered.statusCode, 201, registered.body)
    const response = await login(email, PASSWORD)
    assert.equal(response.statusCode, 200, response.body)
    return {
      id: registered.json().id,
      token: setCookie(response, 'token').value,
      csrf: setCookie(response, 'csrftoken').value,
    }
  }
  const updateEmail = (
    email: string,
    cookies: Record<string, string>,
    headers: Record<string, string> = {},
  ): Promise<LightMyRequestResponse> =>
    inject({ method: 'POST', url: '/me', cookies, headers, payload: { email } })

  it('POST /register answers 201 with exactly {id, email}, and 400 for a taken email', async () => {
    const response = await inject({
      method: 'POST',
      url: '/register',
      payload: { email: 'bob@example.com', password: PASSWORD },
    })
    assert.equal(response.statusCode, 201)
    assert.deepEqual(Object.keys(response.json()).sort(), ['email', 'id'])
    const again = await inject({
      method: 'POST',
      url: '/register',
      payload: { email: 'bob@example.com', password: PASSWORD },
    })
    assert.equal(again.statusCode, 400)
    assert.equal(again.json().detail, 'Email already exists')
  })

  it('POST /login (form) answers 200 and sets the token cookie HttpOnly, Secure, SameSite=Lax, Path=/', async () => {
    const response = await login('alice@example.com', PASSWORD)
    assert.equal(response.statusCode, 200)
    const cookie = setCookie(response, 'token')
    assert.equal(cookie.httpOnly, true)
    assert.equal(cookie.secure, true)
    assert.equal(cookie.sameSite, 'Lax')
    assert.equal(cookie.path, '/')
    assert.equal(cookie.maxAge, 86400)
    assert.ok(cookie.value.length >= 43)
  })

  it('POST /login with a wrong password answers 401 and sets no cookie', async () => {
    const response = await login('alice@example.com', 'wrong-password')
    assert.equal(response.statusCode, 401)
    assert.deepEqual(response.cookies, [])
  })

  it('GET /csrf sets a csrftoken cookie the page can read (not HttpOnly) and returns the same token', async () => {
    const response = await inject({ method: 'GET', url: '/csrf' })
    assert.equal(response.statusCode, 200)
    const cookie = setCookie(response, 'csrftoken')
    assert.equal(cookie.httpOnly, undefined)
    assert.equal(cookie.secure, true)
    assert.equal(cookie.sameSite, 'Lax')
    assert.deepEqual(response.json(), { csrf_token: cookie.value })
    assert.equal(response.headers['cache-control'], 'no-store')
  })

  it('GET /me answers 200 {id, email} with the session cookie', async () => {
    const response = await inject({ method: 'GET', url: '/me', cookies: { token: alice.token } })
    assert.equal(response.statusCode, 200)
    assert.deepEqual(response.json(), { id: alice.id, email: 'alice@example.com' })
    assert.equal(response.headers['cache-control'], 'no-store')
  })

  it("GET /me without the cookie answers 403, like the book's APIKeyCookie", async () => {
    const response = await inject({ method: 'GET', url: '/me' })
    assert.equal(response.statusCode, 403)
    assert.deepEqual(response.json(), { detail: 'Not authenticated', code: 'INVALID_API_KEY' })
  })

  it('GET /me reads the cookie only: a bearer header with a valid token is still 403', async () => {
    const response = await inject({
      method: 'GET',
      url: '/me',
      headers: { authorization: `Bearer ${alice.token}` },
    })
    assert.equal(response.statusCode, 403)
  })

  it('GET /me with an invalid or altered cookie answers 401', async () => {
    for (const token of [`gth_${'A'.repeat(43)}`, `${alice.token}x`, 'garbage']) {
      const response = await inject({ method: 'GET', url: '/me', cookies: { token } })
      assert.equal(response.statusCode, 401, token)
      assert.deepEqual(response.json(), { detail: 'Invalid or expired token', code: 'INVALID_TOKEN' })
      assert.equal(response.headers['www-authenticate'], 'APIKey')
    }
  })

  it('POST /me without the x-csrftoken header answers 403 and changes nothing', async () => {
    const response = await updateEmail('stolen@example.com', { token: alice.token, csrftoken: alice.csrf })
    assert.equal(response.statusCode, 403)
    assert.deepEqual(response.json(), CSRF_FAILED)
    const me = await inject({ method: 'GET', url: '/me', cookies: { token: alice.token } })
    assert.equal(me.json().email, 'alice@example.com')
  })

  it('POST /me with a header that does not match the csrftoken cookie answers 403', async () => {
    // Another valid token of the same session: valid signature, but not the cookie's value.
    const other = await inject({ method: 'GET', url: '/csrf', cookies: { token: alice.token } })
    const otherToken = setCookie(other, 'csrftoken').value
    assert.notEqual(otherToken, alice.csrf)
    const response = await updateEmail(
      'stolen@example.com',
      { token: alice.token, csrftoken: alice.csrf },
      { 'x-csrftoken': otherToken },
    )
    assert.equal(response.statusCode, 403)
    assert.deepEqual(response.json(), CSRF_FAILED)
  })

  it('POST /me refuses a token minted before login, even when cookie and header agree', async () => {
    const before = await inject({ method: 'GET', url: '/csrf' })
    const preLogin = setCookie(before, 'csrftoken').value
    const response = await updateEmail(
      'stolen@example.com',
      { token: alice.token, csrftoken: preLogin },
      { 'x-csrftoken': preLogin },
    )
    assert.equal(response.statusCode, 403)
    assert.deepEqual(response.json(), CSRF_FAILED)
  })

  it('POST /login rotates the CSRF token: the new one differs from the one held before', async () => {
    const before = setCookie(await inject({ method: 'GET', url: '/csrf' }), 'csrftoken').value
    const response = await login('alice@example.com', PASSWORD, { cookie: `csrftoken=${before}` })
    assert.equal(response.statusCode, 200)
    const after = setCookie(response, 'csrftoken').value
    assert.notEqual(after, before)
    assert.deepEqual(response.json(), { csrf_token: after })
  })

  it("POST /me refuses another user's token pair: tokens are bound to their session", async () => {
    const mallory = await signUp('mallory@example.com')
    const response = await updateEmail(
      'stolen@example.com',
      { token: alice.token, csrftoken: mallory.csrf },
      { 'x-csrftoken': mallory.csrf },
    )
    assert.equal(response.statusCode, 403)
    assert.deepEqual(response.json(), CSRF_FAILED)
  })

  it('POST /me with the right token answers 200 {id, email} and updates the email', async () => {
    const carol = await signUp('carol@example.com')
    const response = await updateEmail(
      'carol.new@example.com',
      { token: carol.token, csrftoken: carol.csrf },
      { 'x-csrftoken': carol.csrf },
    )
    assert.equal(response.statusCode, 200, response.body)
    assert.deepEqual(response.json(), { id: carol.id, email: 'carol.new@example.com' })
    const me = await inject({ method: 'GET', url: '/me', cookies: { token: carol.token } })
    assert.equal(me.json().email, 'carol.new@example.com')
  })

  it('POST /me with a session-bound token from GET /csrf works as well', async () => {
    const dave = await signUp('dave@example.com')
    const fresh = await inject({ method: 'GET', url: '/csrf', cookies: { token: dave.token } })
    const token = setCookie(fresh, 'csrftoken').value
    assert.equal(fresh.headers['cache-control'], 'no-store')
    const response = await updateEmail(
      'dave.new@example.com',
      { token: dave.token, csrftoken: token },
      { 'x-csrftoken': token },
    )
    assert.equal(response.statusCode, 200, response.body)
  })

  it('POST /me without the session cookie answers 403 before any update', async () => {
    const response = await updateEmail(
      'stolen@example.com',
      { csrftoken: alice.csrf },
      { 'x-csrftoken': alice.csrf },
    )
    assert.equal(response.statusCode, 403)
    assert.deepEqual(response.json(), { detail: 'Not authenticated', code: 'INVALID_API_KEY' })
  })

  it('refuses a cross-site POST /login (login CSRF) with 403 and sets no cookie', async () => {
    const response = await login('alice@example.com', PASSWORD, {
      'sec-fetch-site': 'cross-site',
      origin: 'http://evil.example',
    })
    assert.equal(response.statusCode, 403)
    assert.deepEqual(response.json(), { detail: 'Cross-site request refused', code: 'CROSS_SITE_REQUEST' })
    assert.deepEqual(response.cookies, [])
  })

  it('refuses a cross-site POST by Origin alone when the browser sends no Sec-Fetch-Site', async () => {
    const response = await login('alice@example.com', PASSWORD, { origin: 'http://evil.example' })
    assert.equal(response.statusCode, 403)
    assert.equal(response.json().code, 'CROSS_SITE_REQUEST')
  })

  it('lets the front end on http://localhost:9000 log in, with CORS headers on the answer', async () => {
    const response = await login('alice@example.com', PASSWORD, {
      'sec-fetch-site': 'same-site',
      origin: FRONT_END,
    })
    assert.equal(response.statusCode, 200)
    assert.equal(response.headers['access-control-allow-origin'], FRONT_END)
    assert.equal(response.headers['access-control-allow-credentials'], 'true')
    setCookie(response, 'token')
  })

  it("answers the front end's preflight for POST /me with x-csrftoken allowed", async () => {
    const response = await inject({
      method: 'OPTIONS',
      url: '/me',
      headers: {
        origin: FRONT_END,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type, x-csrftoken',
      },
    })
    assert.equal(response.statusCode, 204)
    assert.equal(response.headers['access-control-allow-origin'], FRONT_END)
    assert.match(String(response.headers['access-control-allow-headers']), /x-csrftoken/i)
  })
})
