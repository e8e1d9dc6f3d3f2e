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
  let page: string
  before(async () => {
    t = await startTestApp({ create: createSqliteDatabase })
    const registered = await register(t.app, 'docs@example.com', PASSWORD)
    assert.equal(registered.statusCode, 201)
    userId = registered.json().id
    // Find the initializer the way a browser does: from the page's <script src>.
    const response = await t.app.inject({ url: '/docs' })
    assert.equal(response.statusCode, 200)
    page = response.body
    const src = /<script src="([^"]*swagger-initializer\.js)"/.exec(page)?.[1]
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
    configUrl?: string
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

  /** GET of an asset the page links to (relative to /docs), asserting 200 and the docs CSP. */
  async function asset(href: string) {
    const response = await t.app.inject({ url: new URL(href, 'http://localhost/docs').pathname })
    assert.equal(response.statusCode, 200, href)
    assert.match(String(response.headers['content-security-policy']), /script-src 'self'/, href)
    return response
  }

  it('the page is titled "Gatehouse API docs" and links our SVG favicon only', async () => {
    assert.match(page, /<title>Gatehouse API docs<\/title>/)
    assert.doesNotMatch(page, /Swagger UI<\/title>|favicon-(16|32)x\1\.png/)
    const icons = [...page.matchAll(/<link rel="icon"[^>]*href="([^"]+)"/g)].map((match) => match[1]!)
    assert.equal(icons.length, 1, page)
    const icon = await asset(icons[0]!)
    assert.equal(icon.headers['content-type'], 'image/svg+xml')
    assert.match(icon.body, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/)
    // Nothing the page loads comes from another origin.
    assert.doesNotMatch(page, /(src|href)="(https?:)?\/\//)
  })

  it('the initializer replaces the Swagger logo with ours, as a data: image', () => {
    const data = /img\.src = 'data:image\/svg\+xml;base64,([A-Za-z0-9+/=]+)'/.exec(initializer)?.[1]
    assert.ok(data, 'the initializer sets our logo')
    const svg = Buffer.from(data, 'base64').toString('utf8')
    assert.match(svg, /aria-label="Gatehouse API docs"/)
    assert.match(svg, />Gatehouse API docs<\/text>/)
  })

  it('the UI reads /openapi.json: its configUrl answers {url: "/openapi.json"}', async () => {
    const { configUrl } = shippedConfig(fetch)
    assert.equal(configUrl, '/docs/ui-config.json')
    const config = await t.app.inject({ url: configUrl })
    assert.equal(config.statusCode, 200)
    assert.deepEqual(config.json(), { url: '/openapi.json' })
    assert.equal((await t.app.inject({ url: '/openapi.json' })).statusCode, 200)
  })

  it('our stylesheet hides the explore bar, the client credentials and the scope text of Authorize', async () => {
    const href = /<link rel="stylesheet" type="text\/css" href="([^"]*theme\/[^"]+\.css)"/.exec(page)?.[1]
    assert.ok(href, 'the page links a theme stylesheet')
    const css = await asset(href)
    assert.match(String(css.headers['content-type']), /^text\/css/)
    for (const hidden of [
      '.download-url-wrapper',
      'label[for^="client_id"]',
      'label[for^="client_secret"]',
      'label[for^="password_type"]',
      '.scope-def',
    ]) {
      assert.ok(css.body.includes(hidden), `${hidden} is hidden`)
    }
  })

  it('the shipped interceptor drops the empty client credential (Basic Og==) and keeps a real one', async () => {
    const seen: string[] = []
    const { requestInterceptor } = shippedConfig(browserFetch({}, seen))
    const empty = await requestInterceptor!({
      url: 'http://localhost/token',
      method: 'GET',
      headers: { Authorization: 'Basic Og==' },
    })
    assert.deepEqual(empty.headers, {})
    const real = await requestInterceptor!({
      url: 'http://localhost/token',
      method: 'GET',
      headers: { authorization: 'Basic YTpi' },
    })
    assert.deepEqual(real.headers, { authorization: 'Basic YTpi' })
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

  // Routes naming a scope accept a personal API key too; the others a token or the cookie only.
  const cookieRoutes: [string, string, boolean][] = [
    ['/me', 'get', true],
    ['/me', 'post', false],
    ['/me', 'patch', false],
    ['/protected-route', 'get', true],
    ['/logout', 'post', false],
    ['/profile', 'get', true],
    ['/prefs/{user_id}', 'get', true],
    ['/prefs/{user_id}', 'post', true],
  ]
  for (const [path, method, scoped] of cookieRoutes) {
    it(`the OpenAPI operation ${method.toUpperCase()} ${path} accepts the cookie scheme or the bearer scheme`, async () => {
      const document = (await t.app.inject({ url: '/openapi.json' })).json()
      const security = document.paths[path]?.[method]?.security
      assert.ok(Array.isArray(security), `${method} ${path} declares security`)
      assert.deepEqual(
        security.map((requirement: Record<string, unknown>) => Object.keys(requirement)).sort(),
        scoped
          ? [['APIKeyBearer'], ['APIKeyCookie'], ['OAuth2PasswordBearer']]
          : [['APIKeyCookie'], ['OAuth2PasswordBearer']],
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
  it('neither the UI nor /openapi.json is served by default; the document still names the __Host-token cookie', async () => {
    const t = await startTestApp({
      create: createSqliteDatabase,
      env: { GATEHOUSE_ENV: 'production', SMTP_URL: 'smtp://127.0.0.1:2525' },
    })
    try {
      assert.equal((await t.app.inject({ url: '/docs' })).statusCode, 404)
      assert.equal((await t.app.inject({ url: '/openapi.json' })).statusCode, 404)
      const document = t.app.swagger() as { components: { securitySchemes: Record<string, unknown> } }
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
