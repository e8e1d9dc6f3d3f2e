/**
 * multipart/form-data wherever a form is taken, as FastAPI's `Form(...)` and
 * `OAuth2PasswordRequestForm` take it: the book's chapter-7 page logs in with
 * `fetch('/login', {body: new FormData(form)})`. Bodies are serialised by the platform's own
 * FormData (through Request), as a browser would, or written by hand where a browser would not.
 * Tight limits: text fields only, at most 8, each at most 4096 bytes, names at most 100 bytes,
 * each name once. SQLite only: nothing here depends on the database.
 */
import assert from 'node:assert/strict'
import { Readable } from 'node:stream'
import { after, before, describe, it } from 'node:test'
import type { Static } from '@sinclair/typebox'
import { Type } from '@sinclair/typebox'
import Fastify, { type FastifyInstance, type InjectOptions, type LightMyRequestResponse } from 'fastify'
import { build as buildAuthenticationExample } from '../../examples/authentication.ts'
import { build as buildCsrfExample } from '../../examples/csrf.ts'
import { gatehousePlugin } from '../../src/fastify/plugin.ts'
import { openGatehouse } from '../../src/open-gatehouse.ts'
import { type ExampleApp, setCookie, startExample } from '../examples/helpers.ts'
import { createSqliteDatabase, type TestDatabase } from '../helpers/databases.ts'
import {
  assertNoStackTrace,
  bearer,
  countRows,
  register,
  startTestApp,
  type TestApp,
} from '../helpers/test-app.ts'

/** The documented limits of a multipart form. */
const MULTIPART_FORM_LIMITS = { fields: 8, fieldSize: 4096, fieldNameSize: 100 }
const PASSWORD = 'multipart-password-1'
const EMAIL = 'multipart@example.com'

type Part = [name: string, value: string | Blob, filename?: string]

/** A multipart body as the platform's FormData serialises it (what `fetch(url, {body: form})` sends). */
async function formData(parts: Part[]): Promise<{ headers: Record<string, string>; payload: Buffer }> {
  const data = new FormData()
  for (const [name, value, filename] of parts) {
    if (typeof value === 'string') data.append(name, value)
    else data.append(name, value, filename)
  }
  const request = new Request('http://localhost/', { method: 'POST', body: data })
  return {
    headers: { 'content-type': String(request.headers.get('content-type')) },
    payload: Buffer.from(await request.arrayBuffer()),
  }
}

/** A multipart body written by hand, for what FormData cannot produce. */
function handWritten(boundary: string, parts: string[], end = `--${boundary}--\r\n`) {
  return {
    headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
    payload: parts.map((part) => `--${boundary}\r\n${part}\r\n`).join('') + end,
  }
}
const field = (name: string, value: string) =>
  `Content-Disposition: form-data; name="${name}"\r\n\r\n${value}`

function assertError(response: LightMyRequestResponse, status: number, code: string): unknown {
  assert.equal(response.statusCode, status, response.body)
  assert.match(String(response.headers['content-type']), /^application\/json/)
  const body = response.json() as { detail: unknown; code: string }
  assert.deepEqual(Object.keys(body).sort(), ['code', 'detail'])
  assert.equal(body.code, code)
  assert.equal(response.headers['x-content-type-options'], 'nosniff', 'our security headers')
  assertNoStackTrace(response.body)
  return body.detail
}

describe('multipart/form-data forms on the server', () => {
  let t: TestApp
  before(async () => {
    t = await startTestApp({ create: createSqliteDatabase, env: { BODY_LIMIT_BYTES: '8192' } })
    assert.equal((await register(t.app, EMAIL, PASSWORD)).statusCode, 201)
  })
  after(() => t?.close())

  const post = async (url: string, body: { headers: Record<string, string>; payload: unknown }, extra = {}) =>
    t.app.inject({
      method: 'POST',
      url,
      headers: { ...body.headers, ...extra },
      payload: body.payload as InjectOptions['payload'],
    })
  const login = async (parts: Part[]) => post('/login', await formData(parts))
  const sessions = () => countRows(t.store, 'access_tokens')

  it('POST /login takes a FormData body like the book page sends: session cookie, then GET /me with it', async () => {
    const response = await login([
      ['email', EMAIL],
      ['password', PASSWORD],
    ])
    assert.equal(response.statusCode, 200, response.body)
    assert.equal(response.json().user.email, EMAIL)
    const session = setCookie(response, 'token').value
    const me = await t.app.inject({ url: '/me', cookies: { token: session } })
    assert.equal(me.statusCode, 200, me.body)
    assert.equal(me.json().email, EMAIL)
  })

  it('POST /token takes the OAuth2 password form as multipart and issues a working bearer token', async () => {
    const response = await post(
      '/token',
      await formData([
        ['grant_type', 'password'],
        ['username', EMAIL],
        ['password', PASSWORD],
      ]),
    )
    assert.equal(response.statusCode, 200, response.body)
    const { access_token: token, token_type: type } = response.json()
    assert.equal(type, 'bearer')
    assert.equal(response.headers['cache-control'], 'no-store')
    const me = await t.app.inject({ url: '/me', headers: bearer(token) })
    assert.equal(me.statusCode, 200)
  })

  it('a wrong password over multipart is the same 401 as over a urlencoded form', async () => {
    const response = await login([
      ['email', EMAIL],
      ['password', 'not-the-password'],
    ])
    assertError(response, 401, 'BAD_CREDENTIALS')
  })

  it('refuses a file part with 422 naming the field, and signs nobody in', async () => {
    const before = await sessions()
    for (const file of [
      new Blob(['GIF89a'], { type: 'image/gif' }),
      // What a browser sends for an <input type="file"> left empty: a part with filename="".
      new Blob([], { type: 'application/octet-stream' }),
    ]) {
      const response = await login([
        ['email', EMAIL],
        ['password', PASSWORD],
        ['avatar', file, file.size > 0 ? 'avatar.gif' : ''],
      ])
      const detail = assertError(response, 422, 'VALIDATION_FAILED')
      assert.deepEqual(detail, [
        {
          loc: ['body', 'avatar'],
          msg: 'File uploads are not accepted; send this field as text',
          type: 'file',
        },
      ])
    }
    assert.equal(await sessions(), before)
  })

  it('refuses a file part even when it is the credential itself', async () => {
    const response = await login([
      ['email', EMAIL],
      ['password', new Blob([PASSWORD], { type: 'text/plain' }), 'password.txt'],
    ])
    assertError(response, 422, 'VALIDATION_FAILED')
  })

  it(`refuses more than ${MULTIPART_FORM_LIMITS.fields} fields with 413`, async () => {
    const parts: Part[] = [
      ['email', EMAIL],
      ['password', PASSWORD],
    ]
    for (let i = parts.length; i <= MULTIPART_FORM_LIMITS.fields; i++) parts.push([`extra${i}`, 'x'])
    assert.equal(parts.length, MULTIPART_FORM_LIMITS.fields + 1)
    const detail = assertError(await login(parts), 413, 'BODY_TOO_LARGE')
    assert.equal(detail, `Too many form fields (at most ${MULTIPART_FORM_LIMITS.fields})`)
  })

  it(`takes a field of exactly ${MULTIPART_FORM_LIMITS.fieldSize} bytes and refuses one byte more with 413`, async () => {
    // 4096 bytes is the password's own maximum: parsed, then checked (and wrong).
    const atLimit = await login([
      ['email', EMAIL],
      ['password', 'p'.repeat(MULTIPART_FORM_LIMITS.fieldSize)],
    ])
    assertError(atLimit, 401, 'BAD_CREDENTIALS')
    // A multibyte character counts in bytes: 2049 × "é" is 4098 bytes.
    for (const value of ['p'.repeat(MULTIPART_FORM_LIMITS.fieldSize + 1), 'é'.repeat(2049)]) {
      const detail = assertError(
        await login([
          ['email', EMAIL],
          ['password', value],
        ]),
        413,
        'BODY_TOO_LARGE',
      )
      assert.equal(detail, `A form field is larger than ${MULTIPART_FORM_LIMITS.fieldSize} bytes`)
    }
  })

  it(`refuses a field name longer than ${MULTIPART_FORM_LIMITS.fieldNameSize} bytes with 413`, async () => {
    const detail = assertError(
      await login([
        ['email', EMAIL],
        ['password', PASSWORD],
        ['n'.repeat(MULTIPART_FORM_LIMITS.fieldNameSize + 1), 'x'],
      ]),
      413,
      'BODY_TOO_LARGE',
    )
    assert.equal(detail, `A form field name is longer than ${MULTIPART_FORM_LIMITS.fieldNameSize} bytes`)
  })

  it('refuses a field given twice with 422 naming it (which one would the route read?)', async () => {
    const before = await sessions()
    const detail = assertError(
      await login([
        ['email', 'someone-else@example.com'],
        ['email', EMAIL],
        ['password', PASSWORD],
      ]),
      422,
      'VALIDATION_FAILED',
    )
    assert.deepEqual(detail, [
      { loc: ['body', 'email'], msg: 'Field given more than once', type: 'duplicate' },
    ])
    assert.equal(await sessions(), before)
  })

  it('a body over BODY_LIMIT_BYTES is 413, with or without Content-Length', async () => {
    // 3 fields of 3000 bytes: each within the field limit, 9 KB in all against 8192.
    const body = await formData([
      ['email', EMAIL],
      ['password', PASSWORD],
      ['a', 'x'.repeat(3000)],
      ['b', 'x'.repeat(3000)],
      ['c', 'x'.repeat(3000)],
    ])
    assert.ok(body.payload.length > 8192)
    assertError(await post('/login', body), 413, 'BODY_TOO_LARGE')
    // Streamed (chunked): counted as it arrives.
    const streamed = await t.app.inject({
      method: 'POST',
      url: '/login',
      headers: body.headers,
      payload: Readable.from([body.payload.subarray(0, 4000), body.payload.subarray(4000)]),
    })
    assertError(streamed, 413, 'BODY_TOO_LARGE')
  })

  it('malformed multipart is 400 MALFORMED_BODY: no boundary, or a body cut short', async () => {
    const noBoundary = await post('/login', {
      headers: { 'content-type': 'multipart/form-data' },
      payload: 'email=a',
    })
    assertError(noBoundary, 400, 'MALFORMED_BODY')
    const cut = handWritten('xyz', [field('email', EMAIL)], `--xyz\r\n${field('password', 'unfinish')}`)
    assertError(await post('/login', cut), 400, 'MALFORMED_BODY')
  })

  for (const [label, part] of [
    ['a field', 'Content-Disposition: form-data\r\n\r\nx'],
    ['a file', 'Content-Disposition: form-data; filename="a"\r\n\r\nx'],
    ['an empty-named field', 'Content-Disposition: form-data; name=""\r\n\r\nx'],
  ] as const) {
    it(`a part without a name (${label}) is 400 MALFORMED_BODY, and the server lives on`, async () => {
      // Even an unknown path parses its body first: the crash was reachable without any route.
      for (const url of ['/login', '/token', '/no-such-route']) {
        const response = await t.app.inject({ method: 'POST', url, ...handWritten('X', [part]) })
        assertError(response, 400, 'MALFORMED_BODY')
      }
      assert.equal((await t.app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200)
    })
  }

  it('a cross-site multipart POST /login is refused before the body is read (login CSRF)', async () => {
    const response = await post(
      '/login',
      await formData([
        ['email', EMAIL],
        ['password', PASSWORD],
      ]),
      { 'sec-fetch-site': 'cross-site', origin: 'https://evil.example' },
    )
    assertError(response, 403, 'CROSS_SITE_REQUEST')
  })

  it('a cookie-authenticated multipart POST /me without the CSRF header is 403, as with any form', async () => {
    const signedIn = await login([
      ['email', EMAIL],
      ['password', PASSWORD],
    ])
    const session = setCookie(signedIn, 'token').value
    const response = await t.app.inject({
      method: 'POST',
      url: '/me',
      cookies: { token: session },
      ...(await formData([['email', 'moved@example.com']])),
    })
    assertError(response, 403, 'CSRF_FAILED')
  })

  it('a content type no form route takes is 415, naming the types it does take', async () => {
    const response = await t.app.inject({
      method: 'POST',
      url: '/login',
      headers: { 'content-type': 'application/xml' },
      payload: '<login/>',
    })
    const detail = assertError(response, 415, 'UNSUPPORTED_MEDIA_TYPE')
    if (typeof detail === 'string' && detail.includes('accepts')) {
      assert.match(detail, /multipart\/form-data/)
      assert.match(detail, /application\/x-www-form-urlencoded/)
    }
  })

  it('documents multipart/form-data next to the urlencoded form on /login and /token', async () => {
    const document = (await t.app.inject({ url: '/openapi.json' })).json()
    for (const path of ['/login', '/token']) {
      const content = Object.keys(document.paths[path].post.requestBody.content)
      assert.ok(content.includes('application/x-www-form-urlencoded'), `${path}: ${content}`)
      assert.ok(content.includes('multipart/form-data'), `${path}: ${content}`)
      assert.equal(content[0], 'application/x-www-form-urlencoded', 'Swagger UI still defaults to urlencoded')
    }
  })
})

describe('multipart/form-data in an app of your own (through the gatehouse plugin)', () => {
  let app: FastifyInstance
  let database: TestDatabase
  let close: () => Promise<void>
  before(async () => {
    database = await createSqliteDatabase()
    const gatehouse = await openGatehouse({ databaseUrl: database.url })
    close = gatehouse.close
    app = Fastify({ logger: false })
    await app.register(gatehousePlugin, { accounts: gatehouse.accounts })
    const Body = Type.Object({ name: Type.String() })
    app.post<{ Body: Static<typeof Body> }>(
      '/json-only',
      { schema: { consumes: ['application/json'], body: Body } },
      (request) => ({ name: request.body.name }),
    )
    app.post<{ Body: Static<typeof Body> }>(
      '/upload-form',
      { schema: { consumes: ['multipart/form-data'], body: Body } },
      (request) => ({ name: request.body.name }),
    )
    app.post<{ Body: Static<typeof Body> }>('/anything', { schema: { body: Body } }, (request) => ({
      name: request.body.name,
    }))
    app.post('/keys', (request) => ({
      keys: Object.keys(request.body as object),
      prototype: Object.getPrototypeOf(request.body) === null ? null : 'object',
    }))
    await app.ready()
  })
  after(async () => {
    await app?.close()
    await close?.()
    await database?.drop()
  })

  const send = async (url: string) =>
    app.inject({ method: 'POST', url, ...(await formData([['name', 'ada']])) })

  it('a route whose consumes lacks any form type answers 415 naming what it takes', async () => {
    const response = await send('/json-only')
    assert.equal(response.statusCode, 415, response.body)
    assert.deepEqual(response.json(), {
      detail: 'Unsupported media type; this route accepts application/json',
      code: 'UNSUPPORTED_MEDIA_TYPE',
    })
  })

  it('a route that lists multipart/form-data, or declares no consumes, gets the plain fields', async () => {
    for (const url of ['/upload-form', '/anything']) {
      const response = await send(url)
      assert.equal(response.statusCode, 200, `${url}: ${response.body}`)
      assert.deepEqual(response.json(), { name: 'ada' })
    }
  })

  it('fields become own properties of a prototype-less object: __proto__ is just a name', async () => {
    const response = await app.inject({
      method: 'POST',
      url: '/keys',
      ...handWritten('b0undary', [field('__proto__', 'x'), field('constructor', 'y'), field('name', 'ada')]),
    })
    assert.equal(response.statusCode, 200, response.body)
    assert.deepEqual(response.json(), { keys: ['__proto__', 'constructor', 'name'], prototype: null })
  })
})

describe("multipart/form-data on the book's examples", () => {
  let csrf: ExampleApp
  let authentication: ExampleApp
  before(async () => {
    ;[csrf, authentication] = await Promise.all([
      startExample(buildCsrfExample, { CSRF_SECRET: undefined }),
      startExample(buildAuthenticationExample),
    ])
    for (const example of [csrf, authentication]) {
      const registered = await example.app.inject({
        method: 'POST',
        url: '/register',
        payload: { email: EMAIL, password: PASSWORD },
      })
      assert.equal(registered.statusCode, 201, registered.body)
    }
  })
  after(async () => {
    await csrf?.close()
    await authentication?.close()
  })

  it('csrf example: POST /login with FormData sets the session cookie, and GET /me reads it', async () => {
    const response = await csrf.app.inject({
      method: 'POST',
      url: '/login',
      ...(await formData([
        ['email', EMAIL],
        ['password', PASSWORD],
      ])),
    })
    assert.equal(response.statusCode, 200, response.body)
    const token = setCookie(response, 'token').value
    const me = await csrf.app.inject({ url: '/me', cookies: { token } })
    assert.equal(me.statusCode, 200, me.body)
    assert.deepEqual(Object.keys(me.json()).sort(), ['email', 'id'])
    assert.equal(me.json().email, EMAIL)
  })

  it('csrf example: a file part on /login is 422', async () => {
    const response = await csrf.app.inject({
      method: 'POST',
      url: '/login',
      ...(await formData([
        ['email', EMAIL],
        ['password', new Blob([PASSWORD]), 'p.txt'],
      ])),
    })
    assertError(response, 422, 'VALIDATION_FAILED')
  })

  it('authentication example: POST /token with FormData issues a token for /protected-route', async () => {
    const response = await authentication.app.inject({
      method: 'POST',
      url: '/token',
      ...(await formData([
        ['username', EMAIL],
        ['password', PASSWORD],
      ])),
    })
    assert.equal(response.statusCode, 200, response.body)
    const protectedRoute = await authentication.app.inject({
      url: '/protected-route',
      headers: bearer(response.json().access_token),
    })
    assert.equal(protectedRoute.statusCode, 200, protectedRoute.body)
  })
})
