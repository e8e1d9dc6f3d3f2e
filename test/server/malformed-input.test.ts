import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { InjectOptions, LightMyRequestResponse } from 'fastify'
import { dialects } from '../helpers/databases.ts'
import {
  assertNoStackTrace,
  countRows,
  login,
  register,
  requestToken,
  startTestApp,
  type TestApp,
} from '../helpers/test-app.ts'

interface Case {
  name: string
  request: InjectOptions
  /** The status the server must answer (one of these when several are reasonable). */
  status: number | number[]
  code?: string
  /** For 422s: the fields `detail` must name, as 'body.field'. */
  fields?: string[]
  /** What a string `detail` must say. */
  detail?: RegExp
}

const JSON_TYPE = { 'content-type': 'application/json' }
const FORM_TYPE = { 'content-type': 'application/x-www-form-urlencoded' }
const registerJson = (payload: string, headers: Record<string, string> = JSON_TYPE): InjectOptions => ({
  method: 'POST',
  url: '/register',
  headers,
  payload,
})
const registerWith = (body: unknown) => registerJson(JSON.stringify(body))
const OVER_64_KIB = 'x'.repeat(70 * 1024)

const CASES: Case[] = [
  {
    name: 'empty body with content-type json',
    request: registerJson(''),
    status: 400,
    code: 'MALFORMED_BODY',
  },
  {
    name: 'no body and no content type',
    request: { method: 'POST', url: '/register' },
    status: 422,
    code: 'VALIDATION_FAILED',
  },
  {
    name: 'text/plain body',
    request: registerJson('email=a@example.com&password=password123', { 'content-type': 'text/plain' }),
    status: [415, 422],
  },
  {
    // A form route takes multipart like urlencoded: the missing password is what is wrong.
    name: 'multipart body without a password',
    request: registerJson(
      '--x\r\nContent-Disposition: form-data; name="email"\r\n\r\na@example.com\r\n--x--\r\n',
      { 'content-type': 'multipart/form-data; boundary=x' },
    ),
    status: 422,
    code: 'VALIDATION_FAILED',
    fields: ['body.password'],
  },
  {
    name: 'xml body',
    request: registerJson('<user/>', { 'content-type': 'application/xml' }),
    status: 415,
    code: 'UNSUPPORTED_MEDIA_TYPE',
    detail: /^Unsupported media type; this route accepts (?=.*application\/json)(?!.*xml)/,
  },
  {
    name: 'an invalid Content-Type header',
    request: registerJson('{}', { 'content-type': 'not a <type>' }),
    status: 415,
    code: 'UNSUPPORTED_MEDIA_TYPE',
    detail: /^Unsupported media type; this route accepts (?!.*<type>)/,
  },
  {
    name: 'JSON body over 64 KiB',
    request: registerWith({ email: 'big@example.com', password: OVER_64_KIB }),
    status: 413,
    code: 'BODY_TOO_LARGE',
  },
  {
    name: 'form body over 64 KiB on /token',
    request: {
      method: 'POST',
      url: '/token',
      headers: FORM_TYPE,
      payload: `username=a&password=${OVER_64_KIB}`,
    },
    status: 413,
    code: 'BODY_TOO_LARGE',
  },
  { name: 'truncated JSON', request: registerJson('{"email": '), status: 400, code: 'MALFORMED_BODY' },
  { name: 'JSON with a trailing comma', request: registerJson('{"email": "a@b.co",}'), status: 400 },
  {
    name: 'JSON with a __proto__ key',
    request: registerJson(
      '{"__proto__": {"admin": true}, "email": "p@example.com", "password": "password123"}',
    ),
    status: [400, 422],
  },
  {
    name: 'Content-Length larger than the body',
    request: { ...registerJson('{"email":"x"}'), headers: { ...JSON_TYPE, 'content-length': '5' } },
    status: 400,
  },
  { name: 'a JSON array', request: registerJson('[]'), status: 422, code: 'VALIDATION_FAILED' },
  { name: 'a JSON string', request: registerJson('"a@example.com"'), status: 422, code: 'VALIDATION_FAILED' },
  { name: 'JSON null', request: registerJson('null'), status: 422, code: 'VALIDATION_FAILED' },
  { name: 'a JSON number', request: registerJson('42'), status: 422, code: 'VALIDATION_FAILED' },
  {
    name: 'non-string fields',
    request: registerWith({ email: 123, password: true }),
    status: 422,
    fields: ['body.email', 'body.password'],
  },
  {
    name: 'a number as password (no coercion)',
    request: registerWith({ email: 'n@example.com', password: 12345678 }),
    status: 422,
    fields: ['body.password'],
  },
  {
    name: 'nested objects and arrays as fields',
    request: registerWith({ email: { $ne: null }, password: ['plain passphrase 123'] }),
    status: 422,
    fields: ['body.email', 'body.password'],
  },
  {
    name: 'deeply nested arrays',
    request: registerJson(`{"email":${'['.repeat(5000)}${']'.repeat(5000)},"password":"password123"}`),
    status: 422,
    fields: ['body.email'],
  },
  {
    name: 'a unicode local part',
    request: registerWith({ email: 'üser@example.com', password: 'plain passphrase 123' }),
    status: 422,
    fields: ['body.email'],
  },
  {
    name: 'a unicode (IDN) domain',
    request: registerWith({ email: 'user@例え.jp', password: 'plain passphrase 123' }),
    status: 422,
    fields: ['body.email'],
  },
  {
    name: 'a NUL byte in the email',
    request: registerWith({ email: 'a\u0000b@example.com', password: 'plain passphrase 123' }),
    status: 422,
    fields: ['body.email'],
  },
  {
    name: 'a CRLF in the email',
    request: registerWith({ email: 'a@example.com\r\nBcc: x@example.com', password: 'plain passphrase 123' }),
    status: 422,
    fields: ['body.email'],
  },
  {
    name: 'an extremely long email',
    request: registerWith({ email: `${'a'.repeat(20_000)}@example.com`, password: 'plain passphrase 123' }),
    status: 422,
    fields: ['body.email'],
  },
  {
    name: 'an extremely long username on /token',
    request: {
      method: 'POST',
      url: '/token',
      headers: FORM_TYPE,
      payload: `username=${'a'.repeat(20_000)}%40example.com&password=password123`,
    },
    status: 422,
    fields: ['body.username'],
  },
  {
    name: 'a password over 4096 characters on /token',
    request: {
      method: 'POST',
      url: '/token',
      headers: FORM_TYPE,
      payload: `username=a&password=${'x'.repeat(5000)}`,
    },
    status: 422,
    fields: ['body.password'],
  },
  {
    name: 'a repeated form field on /token',
    request: {
      method: 'POST',
      url: '/token',
      headers: FORM_TYPE,
      payload: 'username=a%40example.com&username=b%40example.com&password=password123',
    },
    status: 422,
    fields: ['body.username'],
  },
  {
    name: 'broken percent-encoding on /token',
    request: {
      method: 'POST',
      url: '/token',
      headers: FORM_TYPE,
      payload: 'username=%E0%A4%A&password=%zz%',
    },
    status: [400, 401, 422],
  },
  {
    name: 'non-string fields as JSON on /token',
    request: { method: 'POST', url: '/token', payload: { username: ['a@example.com'], password: 1 } },
    status: 422,
    fields: ['body.password', 'body.username'],
  },
  { name: 'an unknown route', request: { method: 'GET', url: '/nope' }, status: 404, code: 'NOT_FOUND' },
  {
    name: 'an unknown route (POST)',
    request: { method: 'POST', url: '/admin' },
    status: 404,
    code: 'NOT_FOUND',
  },
  {
    name: 'an encoded path traversal',
    request: { method: 'GET', url: '/..%2f..%2fetc%2fpasswd' },
    status: [400, 404],
  },
  { name: 'a NUL in the path', request: { method: 'GET', url: '/me%00' }, status: [400, 404] },
  { name: 'GET /register', request: { method: 'GET', url: '/register' }, status: [404, 405] },
  { name: 'DELETE /register', request: { method: 'DELETE', url: '/register' }, status: [404, 405] },
  { name: 'GET /token', request: { method: 'GET', url: '/token' }, status: [404, 405] },
  { name: 'PUT /me', request: { method: 'PUT', url: '/me', payload: {} }, status: [404, 405] },
  { name: 'GET /logout', request: { method: 'GET', url: '/logout' }, status: [404, 405] },
  {
    name: 'a 16 KiB Authorization header',
    request: { method: 'GET', url: '/me', headers: { authorization: `Bearer ${'a'.repeat(16_384)}` } },
    status: 401,
    code: 'INVALID_TOKEN',
  },
]

function assertJsonError(response: LightMyRequestResponse, label: string): Record<string, unknown> {
  assert.ok(response.statusCode >= 400 && response.statusCode < 500, `${label}: ${response.statusCode}`)
  assert.match(String(response.headers['content-type']), /^application\/json/, label)
  assertNoStackTrace(response.body)
  const body = response.json()
  assert.deepEqual(Object.keys(body).sort(), ['code', 'detail'], label)
  assert.equal(typeof body.code, 'string', label)
  assert.ok(typeof body.detail === 'string' || Array.isArray(body.detail), label)
  return body
}

for (const { dialect, skip, create } of dialects()) {
  describe(`malformed input (${dialect})`, { skip }, () => {
    let t: TestApp
    before(async () => {
      t = await startTestApp({ create })
    })
    after(() => t?.close())

    for (const testCase of CASES) {
      const expected = Array.isArray(testCase.status) ? testCase.status : [testCase.status]
      it(`answers ${testCase.name} with a JSON ${expected.join('/')}, never a 5xx or a stack trace`, async () => {
        const response = await t.app.inject(testCase.request)
        const body = assertJsonError(response, testCase.name)
        assert.ok(expected.includes(response.statusCode), `${testCase.name}: got ${response.statusCode}`)
        if (testCase.code) assert.equal(body.code, testCase.code)
        if (testCase.detail) assert.match(String(body.detail), testCase.detail)
        if (testCase.fields) {
          assert.equal(body.code, 'VALIDATION_FAILED')
          const locs = (body.detail as { loc: string[] }[]).map((issue) => issue.loc.join('.')).sort()
          assert.deepEqual(locs, testCase.fields)
        }
      })
    }

    it('creates no account from any of the malformed registrations', async () => {
      assert.equal(await countRows(t.store, 'users'), 0)
    })

    it('answers a NUL byte in the /token username with the generic 401, not a 500', async () => {
      const response = await requestToken(t.app, 'a\u0000b@example.com', 'plain passphrase 123')
      assertJsonError(response, 'NUL username')
      assert.equal(response.statusCode, 401)
      assert.deepEqual(response.json(), { detail: 'Incorrect email or password', code: 'BAD_CREDENTIALS' })
    })

    it('accepts a NUL byte inside a password and logs in with exactly it', async () => {
      const password = 'pass\u0000word-123'
      assert.equal((await register(t.app, 'nul-password@example.com', password)).statusCode, 201)
      await login(t.app, 'nul-password@example.com', password)
      assert.equal((await requestToken(t.app, 'nul-password@example.com', 'pass')).statusCode, 401)
      assert.equal((await requestToken(t.app, 'nul-password@example.com', 'password-123')).statusCode, 401)
    })

    it('still serves normal requests after all of the above', async () => {
      assert.equal((await t.app.inject({ url: '/healthz' })).statusCode, 200)
      assert.equal((await register(t.app, 'after@example.com', 'plain passphrase 123')).statusCode, 201)
      await login(t.app, 'after@example.com', 'plain passphrase 123')
    })
  })
}
