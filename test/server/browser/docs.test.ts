/**
 * The interactive docs with cookie sessions: the Swagger UI initializer the /docs page loads ships
 * the CSRF request interceptor, and that shipped source, run against the real server, makes "Try
 * it out" of an unsafe cookie-authenticated route pass the CSRF check. The OpenAPI document
 * declares the session cookie scheme on the routes that accept it. SQLite only.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import {
  cookieHeader,
  loginWithCookie,
  PROD_COOKIES,
  sessionCookieOnly,
  storedEmail,
} from '../../helpers/browser-session.ts'
import { createSqliteDatabase } from '../../helpers/databases.ts'
import { register, startTestApp, type TestApp } from '../../helpers/test-app.ts'

const PASSWORD = 'docs-suite-password'

type SwaggerRequest = { url: string; method: string; headers: Record<string, string>; body?: string }
type Interceptor = (request: SwaggerRequest) => SwaggerRequest | Promise<SwaggerRequest>

describe('Swagger UI with cookie sessions and CSRF', () => {
  let t: TestApp
  let userId: number
  let initializer: string
  before(async () => {
    t = await startTestApp({ create: createSqliteDatabase })
    const registered = await register(t.app, 'docs@example.com', PASSWORD)
    assert.equal(registered.statusCode, 201)
    userId = registered.json().id
    // Find the initializer the way a browser does: from the page's <script src>.
    const page = await t.app.inject({ url: '/docs' })
    assert.equal(page.statusCode, 200)
    const src = /<script src="([^"]*swagger-initializer\.js)"/.exec(page.body)?.[1]
    assert.ok(src, 'the /docs page loads a swagger-initializer.js')
    const url = new URL(src, 'http://localhost/docs/').pathname
    const script = await t.app.inject({ url })
    assert.equal(script.statusCode, 200, `GET ${url}`)
    assert.match(String(script.headers['content-type']), /javascript/)
    initializer = script.body
  })
  after(() => t?.close())

  /** The `const config = {…}` object of the shipped initializer, evaluated with this `fetch`. */
  function shippedConfig(fetchImpl: unknown): {
    requestInterceptor?: Interceptor
    withCredentials?: boolean
  } {
    const line = initializer.split('\n').find((l) => l.trim().startsWith('const config = '))
    assert.ok(line, 'the initializer declares its config object')
    const source = line.trim().slice('const config = '.length)
    return new Function('fetch', 'URL', `return (${source})`)(fetchImpl, URL)
  }

  /** A browser `fetch` backed by inject(), sending this cookie jar. */
  const browserFetch =
    (cookies: Record<string, string>, seen: string[]) =>
    async (url: string, init: { credentials?: string } = {}) => {
      seen.push(`${url} credentials=${init.credentials}`)
      const { pathname } = new URL(url)
      const headers = init.credentials === 'include' ? { cookie: cookieHeader(cookies) } : {}
      const response = await t.app.inject({ url: pathname, headers })
      return { json: async () => response.json() }
    }

  it('the initializer configures a requestInterceptor that asks /csrf and sets x-csrftoken, with credentials', () => {
    assert.match(initializer, /"requestInterceptor":function csrfRequestInterceptor\(/)
    assert.match(initializer, /x-csrftoken/)
    assert.match(initializer, /\/csrf/)
    assert.match(initializer, /"withCredentials":true/)
    assert.match(initializer, /"persistAuthorization":false/)
  })

  it('the shipped interceptor leaves GET, HEAD and OPTIONS untouched and fetches nothing', async () => {
    const seen: string[] = []
    const { requestInterceptor } = shippedConfig(browserFetch({}, seen))
    assert.equal(typeof requestInterceptor, 'function')
    for (const method of ['GET', 'head', 'OPTIONS']) {
      const request = { url: 'http://localhost/me', method, headers: {} }
      const result = await requestInterceptor!(request)
      assert.deepEqual(result.headers, {})
    }
    assert.deepEqual(seen, [])
  })

  it('"Try it out" on PATCH /me with a cookie session passes the CSRF check through the shipped interceptor', async () => {
    const browser = await loginWithCookie(t.app, 'docs@example.com', PASSWORD)
    const seen: string[] = []
    // The docs page keeps the session cookie only; the interceptor gets the token from /csrf.
    const { requestInterceptor, withCredentials } = shippedConfig(
      browserFetch({ token: browser.sessionToken }, seen),
    )
    assert.equal(withCredentials, true)
    const request = await requestInterceptor!({
      url: 'http://localhost/me',
      method: 'PATCH',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'tried-it@example.com' }),
    })
    assert.deepEqual(seen, ['http://localhost/csrf credentials=include'])
    const token = request.headers['x-csrftoken']
    assert.ok(token, 'the interceptor set x-csrftoken')

    // Without the header Swagger UI's request is refused; with it, it succeeds.
    const withoutToken = await t.app.inject({
      method: 'PATCH',
      url: '/me',
      headers: { 'content-type': 'application/json', ...sessionCookieOnly(browser) },
      payload: request.body,
    })
    assert.equal(withoutToken.statusCode, 403)
    const response = await t.app.inject({
      method: 'PATCH',
      url: '/me',
      headers: {
        ...request.headers,
        cookie: cookieHeader({ token: browser.sessionToken, csrftoken: token }),
      },
      payload: request.body,
    })
    assert.equal(response.statusCode, 200, response.body)
    assert.equal(await storedEmail(t.store, userId), 'tried-it@example.com')
  })

  it('the OpenAPI document declares APIKeyCookie (in: cookie, name: token) next to the bearer scheme', async () => {
    const document = (await t.app.inject({ url: '/openapi.json' })).json()
    assert.deepEqual(document.components.securitySchemes.APIKeyCookie, {
      type: 'apiKey',
      in: 'cookie',
      name: 'token',
    })
    assert.equal(document.components.securitySchemes.OAuth2PasswordBearer.type, 'oauth2')
  })

  const cookieRoutes: [string, string][] = [
    ['/me', 'get'],
    ['/me', 'post'],
    ['/me', 'patch'],
    ['/protected-route', 'get'],
    ['/logout', 'post'],
    ['/profile', 'get'],
    ['/prefs/{user_id}', 'get'],
    ['/prefs/{user_id}', 'post'],
  ]
  for (const [path, method] of cookieRoutes) {
    it(`the OpenAPI operation ${method.toUpperCase()} ${path} accepts the cookie scheme or the bearer scheme`, async () => {
      const document = (await t.app.inject({ url: '/openapi.json' })).json()
      const security = document.paths[path]?.[method]?.security
      assert.ok(Array.isArray(security), `${method} ${path} declares security`)
      assert.deepEqual(
        security.map((requirement: Record<string, unknown>) => Object.keys(requirement)).sort(),
        [['APIKeyCookie'], ['OAuth2PasswordBearer']],
      )
    })
  }

  it('routes that need no session declare no security', async () => {
    const document = (await t.app.inject({ url: '/openapi.json' })).json()
    for (const [path, method] of [
      ['/login', 'post'],
      ['/register', 'post'],
      ['/csrf', 'get'],
    ] as const) {
      assert.equal(document.paths[path]?.[method]?.security, undefined, `${method} ${path}`)
    }
  })
})

describe('docs in the production profile', () => {
  it('the UI is off by default but the document names the __Host-token cookie', async () => {
    const t = await startTestApp({ create: createSqliteDatabase, env: { GATEHOUSE_ENV: 'production' } })
    try {
      assert.equal((await t.app.inject({ url: '/docs' })).statusCode, 404)
      const document = (await t.app.inject({ url: '/openapi.json' })).json()
      assert.deepEqual(document.components.securitySchemes.APIKeyCookie, {
        type: 'apiKey',
        in: 'cookie',
        name: PROD_COOKIES.session,
      })
    } finally {
      await t.close()
    }
  })
})
