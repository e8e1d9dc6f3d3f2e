import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { InjectOptions, LightMyRequestResponse } from 'fastify'
import { build } from '../../examples/strict-headers.ts'
import { type ExampleApp, setCookie, startExample } from './helpers.ts'

const PASSWORD = 'strict-password-1'

interface Session {
  id: number
  cookies: { token: string; csrftoken: string }
  csrf: { 'x-csrftoken': string }
}

/** The API profile every response must carry, whatever its status. */
function assertSecurityHeaders(response: LightMyRequestResponse, label: string): void {
  const headers = response.headers
  assert.equal(headers['x-content-type-options'], 'nosniff', label)
  assert.equal(headers['x-frame-options'], 'DENY', label)
  assert.equal(
    headers['content-security-policy'],
    "default-src 'none'; frame-ancestors 'none'; base-uri 'none'",
    label,
  )
  assert.equal(headers['referrer-policy'], 'no-referrer', label)
  assert.equal(headers['cross-origin-opener-policy'], 'same-origin', label)
  assert.equal(headers['cross-origin-resource-policy'], 'same-origin', label)
  assert.match(String(headers['permissions-policy']), /\bcamera=\(\)/, label)
  assert.match(String(headers['permissions-policy']), /\bgeolocation=\(\)/, label)
  assert.equal(headers['x-powered-by'], undefined, label)
  assert.equal(headers['x-xss-protection'], undefined, label)
  // Plain http (localhost): HSTS would pin the host to https for a year.
  assert.equal(headers['strict-transport-security'], undefined, label)
}

describe('strict-headers example (the security headers and cookies article)', () => {
  let example: ExampleApp
  let alice: Session
  let bob: Session
  before(async () => {
    example = await startExample(build, { CSRF_SECRET: undefined })
    alice = await signUp('alice@example.com')
    bob = await signUp('bob@example.com')
  })
  after(() => example?.close())

  const inject = (options: InjectOptions) => example.app.inject(options)
  async function signUp(email: string): Promise<Session> {
    const registered = await inject({
      method: 'POST',
      url: '/register',
      payload: { email, password: PASSWORD },
    })
    assert.equal(registered.statusCode, 201, registered.body)
    const response = await inject({ method: 'POST', url: '/login', payload: { email, password: PASSWORD } })
    assert.equal(response.statusCode, 200, response.body)
    const csrftoken = setCookie(response, 'csrftoken').value
    return {
      id: registered.json().id,
      cookies: { token: setCookie(response, 'token').value, csrftoken },
      csrf: { 'x-csrftoken': csrftoken },
    }
  }

  it('sends the security headers on a 200, a 401, a 403, a 404 and a 422', async () => {
    const responses: [string, LightMyRequestResponse, number][] = [
      ['200', await inject({ method: 'GET', url: '/profile', cookies: alice.cookies }), 200],
      ['401', await inject({ method: 'GET', url: '/profile' }), 401],
      ['403', await inject({ method: 'GET', url: `/prefs/${bob.id}`, cookies: alice.cookies }), 403],
      ['404', await inject({ method: 'GET', url: '/no-such-page' }), 404],
      ['422', await inject({ method: 'POST', url: '/login', payload: { email: 'x' } }), 422],
    ]
    for (const [label, response, status] of responses) {
      assert.equal(response.statusCode, status, `${label}: ${response.body}`)
      assertSecurityHeaders(response, label)
    }
  })

  it('POST /login sets the session cookie HttpOnly, Secure, SameSite=Lax and a readable CSRF cookie', async () => {
    const response = await inject({
      method: 'POST',
      url: '/login',
      payload: { email: 'alice@example.com', password: PASSWORD },
    })
    assert.equal(response.statusCode, 200)
    const session = setCookie(response, 'token')
    assert.deepEqual(
      [session.httpOnly, session.secure, session.sameSite, session.path],
      [true, true, 'Lax', '/'],
    )
    const csrf = setCookie(response, 'csrftoken')
    assert.deepEqual([csrf.httpOnly, csrf.secure, csrf.sameSite], [undefined, true, 'Lax'])
    assert.deepEqual(response.json(), { csrf_token: csrf.value })
    assertSecurityHeaders(response, 'login')
  })

  it('POST /login with a wrong password answers 401 without a cookie', async () => {
    const response = await inject({
      method: 'POST',
      url: '/login',
      payload: { email: 'alice@example.com', password: 'wrong-password' },
    })
    assert.equal(response.statusCode, 401)
    assert.deepEqual(response.cookies, [])
  })

  it('GET /profile answers the signed-in user with Cache-Control: no-store', async () => {
    const response = await inject({ method: 'GET', url: '/profile', cookies: alice.cookies })
    assert.equal(response.statusCode, 200)
    assert.deepEqual(response.json(), { id: alice.id, email: 'alice@example.com' })
    assert.equal(response.headers['cache-control'], 'no-store')
  })

  it('marks every authenticated answer no-store, refusals included', async () => {
    const responses = [
      await inject({ method: 'GET', url: `/prefs/${alice.id}`, cookies: alice.cookies }),
      await inject({ method: 'GET', url: `/prefs/${bob.id}`, cookies: alice.cookies }),
      await inject({
        method: 'POST',
        url: `/prefs/${bob.id}`,
        cookies: alice.cookies,
        headers: alice.csrf,
        payload: {},
      }),
    ]
    for (const response of responses)
      assert.equal(response.headers['cache-control'], 'no-store', response.body)
  })

  it('GET and POST /prefs/:user_id answer 401 without a session', async () => {
    for (const method of ['GET', 'POST'] as const) {
      const response = await inject({
        method,
        url: `/prefs/${alice.id}`,
        payload: method === 'POST' ? {} : undefined,
      })
      assert.equal(response.statusCode, 401, method)
      assert.deepEqual(response.json(), { detail: 'Not authenticated', code: 'NOT_AUTHENTICATED' })
    }
  })

  it("GET /prefs/:user_id answers 403 for another user's id (no IDOR)", async () => {
    const response = await inject({ method: 'GET', url: `/prefs/${bob.id}`, cookies: alice.cookies })
    assert.equal(response.statusCode, 403)
    assert.deepEqual(response.json(), { detail: 'Forbidden', code: 'FORBIDDEN' })
  })

  it("POST /prefs/:user_id answers 403 for another user's id and leaves their preferences alone", async () => {
    const response = await inject({
      method: 'POST',
      url: `/prefs/${bob.id}`,
      cookies: alice.cookies,
      headers: alice.csrf,
      payload: { theme: 'hacked' },
    })
    assert.equal(response.statusCode, 403)
    const bobs = await inject({ method: 'GET', url: `/prefs/${bob.id}`, cookies: bob.cookies })
    assert.equal(bobs.statusCode, 200)
    assert.deepEqual(bobs.json(), {})
  })

  it("POST then GET /prefs/:user_id stores and returns the owner's JSON object (200)", async () => {
    const prefs = { theme: 'dark', language: 'fr', notifications: { email: false } }
    const written = await inject({
      method: 'POST',
      url: `/prefs/${alice.id}`,
      cookies: alice.cookies,
      headers: alice.csrf,
      payload: prefs,
    })
    assert.equal(written.statusCode, 200, written.body)
    assert.deepEqual(written.json(), prefs)
    const read = await inject({ method: 'GET', url: `/prefs/${alice.id}`, cookies: alice.cookies })
    assert.equal(read.statusCode, 200)
    assert.deepEqual(read.json(), prefs)
  })

  it('POST /prefs/:user_id without the CSRF header answers 403 and stores nothing', async () => {
    const response = await inject({
      method: 'POST',
      url: `/prefs/${bob.id}`,
      cookies: bob.cookies,
      payload: { theme: 'forged' },
    })
    assert.equal(response.statusCode, 403)
    assert.deepEqual(response.json(), { detail: 'CSRF token verification failed', code: 'CSRF_FAILED' })
    assertSecurityHeaders(response, 'csrf 403')
    const bobs = await inject({ method: 'GET', url: `/prefs/${bob.id}`, cookies: bob.cookies })
    assert.deepEqual(bobs.json(), {})
  })

  it('POST /prefs/:user_id refuses a body that is not a JSON object (422)', async () => {
    for (const payload of [[1, 2], 'text']) {
      const response = await inject({
        method: 'POST',
        url: `/prefs/${alice.id}`,
        cookies: alice.cookies,
        headers: { ...alice.csrf, 'content-type': 'application/json' },
        payload: JSON.stringify(payload),
      })
      assert.equal(response.statusCode, 422, JSON.stringify(payload))
    }
  })

  it('refuses a cross-site POST /login with 403', async () => {
    const response = await inject({
      method: 'POST',
      url: '/login',
      headers: { 'sec-fetch-site': 'cross-site', origin: 'http://evil.example' },
      payload: { email: 'alice@example.com', password: PASSWORD },
    })
    assert.equal(response.statusCode, 403)
    assert.equal(response.json().code, 'CROSS_SITE_REQUEST')
    assert.deepEqual(response.cookies, [])
  })
})
