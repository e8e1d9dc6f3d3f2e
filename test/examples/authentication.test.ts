import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { build } from '../../examples/authentication.ts'
import { type ExampleApp, form, startExample } from './helpers.ts'

const PASSWORD = 'book-password-1'

describe("authentication example (the book's chapter07/authentication app)", () => {
  let example: ExampleApp
  let user: { id: number; email: string }
  before(async () => {
    example = await startExample(build)
    const response = await register('reader@example.com', PASSWORD)
    assert.equal(response.statusCode, 201)
    user = response.json()
  })
  after(() => example?.close())

  const register = (email: string, password: string) =>
    example.app.inject({ method: 'POST', url: '/register', payload: { email, password } })
  const token = (username: string, password: string) =>
    example.app.inject({ method: 'POST', url: '/token', ...form({ username, password }) })
  const protectedRoute = (headers: Record<string, string> = {}) =>
    example.app.inject({ method: 'GET', url: '/protected-route', headers })
  async function accessToken(): Promise<string> {
    const response = await token('reader@example.com', PASSWORD)
    assert.equal(response.statusCode, 200)
    return response.json().access_token
  }

  it('POST /register answers 201 with exactly {id, email}: no password or hash', async () => {
    const response = await register('second@example.com', PASSWORD)
    assert.equal(response.statusCode, 201)
    const body = response.json()
    assert.deepEqual(Object.keys(body).sort(), ['email', 'id'])
    assert.equal(body.email, 'second@example.com')
    assert.ok(Number.isInteger(body.id) && body.id !== user.id)
    assert.doesNotMatch(response.body, /password|argon2/i)
  })

  it('POST /register with a taken email answers 400 "Email already exists", whatever its case', async () => {
    for (const email of ['reader@example.com', 'Reader@Example.COM']) {
      const response = await register(email, PASSWORD)
      assert.equal(response.statusCode, 400, email)
      assert.deepEqual(response.json(), { detail: 'Email already exists', code: 'EMAIL_EXISTS' })
    }
  })

  it('POST /register refuses a body that is not an email and a password (422)', async () => {
    for (const payload of [{ email: 'not-an-email', password: PASSWORD }, { email: 'x@example.com' }]) {
      const response = await example.app.inject({ method: 'POST', url: '/register', payload })
      assert.equal(response.statusCode, 422, JSON.stringify(payload))
    }
  })

  it('POST /token with the form username/password answers 200 {access_token, token_type: "bearer"}', async () => {
    const response = await token('reader@example.com', PASSWORD)
    assert.equal(response.statusCode, 200)
    const body = response.json()
    assert.deepEqual(Object.keys(body).sort(), ['access_token', 'token_type'])
    assert.equal(body.token_type, 'bearer')
    assert.equal(typeof body.access_token, 'string')
    assert.ok(body.access_token.length >= 43, 'at least 256 bits of secret')
  })

  it('POST /token issues a new token on every login', async () => {
    assert.notEqual(await accessToken(), await accessToken())
  })

  it('POST /token answers a wrong password and an unknown user alike: 401 with a Bearer challenge', async () => {
    const wrong = await token('reader@example.com', 'not-the-password')
    const unknown = await token('nobody@example.com', PASSWORD)
    for (const response of [wrong, unknown]) {
      assert.equal(response.statusCode, 401)
      assert.equal(response.headers['www-authenticate'], 'Bearer')
      assert.deepEqual(response.json(), { detail: 'Incorrect email or password', code: 'BAD_CREDENTIALS' })
    }
  })

  it('GET /protected-route with the bearer token answers 200 with exactly {id, email}', async () => {
    const response = await protectedRoute({ authorization: `Bearer ${await accessToken()}` })
    assert.equal(response.statusCode, 200)
    assert.deepEqual(response.json(), { id: user.id, email: 'reader@example.com' })
  })

  it('GET /protected-route without a token answers 401 with a Bearer challenge', async () => {
    const response = await protectedRoute()
    assert.equal(response.statusCode, 401)
    assert.equal(response.headers['www-authenticate'], 'Bearer')
    assert.deepEqual(response.json(), { detail: 'Not authenticated', code: 'NOT_AUTHENTICATED' })
  })

  it('GET /protected-route with an unknown or altered token answers 401 invalid_token', async () => {
    const valid = await accessToken()
    for (const bad of [`gth_${'A'.repeat(43)}`, `${valid}x`, valid.slice(0, -1), 'SECRET_API_TOKEN']) {
      const response = await protectedRoute({ authorization: `Bearer ${bad}` })
      assert.equal(response.statusCode, 401, bad)
      assert.match(String(response.headers['www-authenticate']), /error="invalid_token"/)
      assert.deepEqual(response.json(), { detail: 'Invalid or expired token', code: 'INVALID_TOKEN' })
    }
  })

  it("GET /protected-route ignores a session cookie: the book's app reads the bearer header only", async () => {
    const response = await protectedRoute({ cookie: `token=${await accessToken()}` })
    assert.equal(response.statusCode, 401)
  })
})
