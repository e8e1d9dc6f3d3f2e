/**
 * Swagger UI at /docs in a real Chromium, under the docs CSP: our title, favicon and logo, the
 * document read from /openapi.json, no explore bar and no client credentials in Authorize, a real
 * description on every response; the OAuth2 password flow behind the Authorize button, "Try it
 * out" on a protected route, and a cookie-session unsafe call that works because the docs'
 * request interceptor adds `x-csrftoken`.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { Locator, Page } from 'playwright-core'
import { hashToken } from '../../src/core/tokens/index.ts'
import { type PageProblems, screenshot, useE2e, watchPage } from '../helpers/browser.ts'
import { service } from '../helpers/services.ts'

const browserPath = service('browser')
const PASSWORD = 'e2e-docs-password-1'

describe('Swagger UI at /docs in Chromium', { skip: browserPath.skip, timeout: 60_000 }, () => {
  const e2e = useE2e(browserPath.value)

  async function register(email: string): Promise<number> {
    const response = await fetch(`${e2e.servers.apiUrl}/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email, password: PASSWORD }),
      signal: AbortSignal.timeout(5000),
    })
    assert.equal(response.status, 201)
    return ((await response.json()) as { id: number }).id
  }

  async function openDocs(): Promise<{ page: Page; problems: PageProblems }> {
    const context = await e2e.context()
    const page = await context.newPage()
    const problems = watchPage(page)
    await page.goto(`${e2e.servers.apiUrl}/docs`)
    await page.locator('.swagger-ui .opblock').first().waitFor()
    return { page, problems }
  }

  /** Expands an operation, presses "Try it out", and returns its block. */
  async function tryItOut(page: Page, operationId: string): Promise<Locator> {
    const block = page.locator(`#${operationId}`)
    await block.locator('.opblock-summary').click()
    await block.locator('button.try-out__btn').click()
    await block.locator('button.execute').waitFor()
    return block
  }

  /** Presses Execute and returns the live response's status code and body text. */
  async function execute(block: Locator): Promise<{ status: string; body: string }> {
    await block.locator('button.execute').click()
    const live = block.locator('.live-responses-table')
    await live.waitFor()
    const status =
      (await live.locator('tr.response .response-col_status').first().textContent())?.trim() ?? ''
    const body = (await live.locator('.response-col_description pre').first().textContent()) ?? ''
    return { status, body }
  }

  it('is branded Gatehouse, reads /openapi.json, hides the explore bar and says no "Default Response"', async () => {
    const start = e2e.servers.apiRequests.length
    const { page, problems } = await openDocs()
    assert.equal(await page.title(), 'Gatehouse API docs')

    const favicon = await page
      .locator('link[rel="icon"]')
      .evaluateAll((links) => links.map((link) => (link as HTMLLinkElement).href))
    assert.equal(favicon.length, 1)
    const icon = await page.evaluate(async (href) => {
      const response = await fetch(href)
      return { status: response.status, type: response.headers.get('content-type') }
    }, favicon[0]!)
    assert.deepEqual(icon, { status: 200, type: 'image/svg+xml' })

    const logo = page.locator('.topbar-wrapper a img')
    await logo.waitFor()
    assert.match(String(await logo.getAttribute('src')), /^data:image\/svg\+xml;base64,/)
    assert.ok(
      await logo.evaluate(
        (img) => (img as HTMLImageElement).complete && (img as HTMLImageElement).naturalWidth > 0,
      ),
      'the logo decodes',
    )
    assert.equal(await page.locator('.topbar-wrapper a svg').count(), 0, 'no Swagger logo left')

    // The document came from /openapi.json, the only one the page asked for.
    const explore = page.locator('#download-url-input')
    assert.equal(await explore.inputValue(), '/openapi.json')
    assert.equal(await explore.isVisible(), false, 'the explore bar is hidden')
    const documents = e2e.servers.apiRequests
      .slice(start)
      .filter((r) => r.url === '/openapi.json' || r.url.startsWith('/docs/json'))
    assert.deepEqual(
      documents.map((r) => `${r.url} ${r.status}`),
      ['/openapi.json 200'],
    )

    // Every operation's responses, expanded: a description for each, none the default.
    const operations = page.locator('.opblock')
    const count = await operations.count()
    assert.ok(count >= 10, `${count} operations`)
    for (let i = 0; i < count; i++) await operations.nth(i).locator('.opblock-summary').click()
    await page
      .locator('.opblock .responses-table')
      .nth(count - 1)
      .waitFor()
    const text = (await page.locator('#swagger-ui').textContent()) ?? ''
    assert.doesNotMatch(text, /Default Response/)
    assert.match(text, /Successful Response/)
    assert.match(text, /Validation error: `?detail`? lists every invalid field/)
    assert.deepEqual(
      problems,
      { pageErrors: [], cspViolations: [] },
      'Swagger UI runs clean under the docs CSP',
    )
  })

  it('Authorize (OAuth2 password flow), then Try it out on GET /me shows 200 and the email', async () => {
    const email = 'docs-bearer@example.com'
    const userId = await register(email)
    const { page, problems } = await openDocs()
    const start = e2e.servers.apiRequests.length

    await page.locator('button.authorize').first().click()
    const oauth = page.locator('.auth-container', { hasText: 'OAuth2PasswordBearer' })
    await oauth.locator('#oauth_username').waitFor()
    // Only what /token reads: no client id or secret, no credentials location, no scope text.
    for (const hidden of ['#client_id_password', '#client_secret_password', '#password_type', '.scope-def']) {
      assert.equal(await oauth.locator(hidden).count(), 1, `${hidden} is rendered`)
      assert.equal(await oauth.locator(hidden).isVisible(), false, `${hidden} is hidden`)
    }
    assert.doesNotMatch((await oauth.innerText()) ?? '', /client_id|client_secret|Client credentials/)
    await screenshot(page, 'docs-authorize.png')
    await oauth.locator('#oauth_username').fill(email)
    await oauth.locator('#oauth_password').fill(PASSWORD)
    await oauth.locator('button.authorize').click()
    await oauth.getByText('Authorized').waitFor()
    await oauth.locator('button.btn-done').click()
    await page.locator('.dialog-ux').waitFor({ state: 'detached' })

    const me = await tryItOut(page, 'operations-users-get_me')
    const response = await execute(me)
    assert.equal(response.status, '200')
    assert.match(response.body, new RegExp(`"email": "${email}"`))
    await me.scrollIntoViewIfNeeded()
    const path = await screenshot(page, 'docs.png')
    assert.ok(path.endsWith('test-output/docs.png'))

    // Server side: the password flow issued a bearer token (stored hashed), and GET /me used it.
    const seen = e2e.servers.apiRequests.slice(start)
    const tokenRequest = seen.find((r) => r.method === 'POST' && r.url === '/token')
    assert.equal(tokenRequest?.status, 200)
    assert.equal(tokenRequest.headers.authorization, undefined, 'no empty client credential sent')
    const meRequest = seen.find((r) => r.method === 'GET' && r.url === '/me')
    assert.ok(meRequest)
    const authorization = String(meRequest.headers.authorization)
    assert.match(authorization, /^Bearer /)
    assert.doesNotMatch(
      String(meRequest.headers.cookie ?? ''),
      /(^|; )token=/,
      'no session cookie: the bearer token alone authenticated',
    )
    const row = await e2e.servers.store.db
      .selectFrom('access_tokens')
      .select(['user_id', 'kind'])
      .where('token_hash', '=', hashToken(authorization.slice('Bearer '.length)))
      .executeTakeFirst()
    assert.deepEqual(row, { user_id: userId, kind: 'bearer' })
    assert.deepEqual(
      problems,
      { pageErrors: [], cspViolations: [] },
      'Swagger UI runs clean under the docs CSP',
    )
  })

  it('with a cookie session from POST /login, POST /me from Try it out passes CSRF via the interceptor', async () => {
    const email = 'docs-cookie@example.com'
    const newEmail = 'docs-cookie-moved@example.com'
    const userId = await register(email)
    const { page, problems } = await openDocs()
    const start = e2e.servers.apiRequests.length

    // Log in through the docs: POST /login with the form-encoded body Swagger UI renders.
    const login = await tryItOut(page, 'operations-session-post_login')
    await login.locator('tr[data-property-name="email"] input').fill(email)
    await login.locator('tr[data-property-name="password"] input').fill(PASSWORD)
    const loggedIn = await execute(login)
    assert.equal(loggedIn.status, '200', loggedIn.body)
    assert.match(loggedIn.body, new RegExp(email))
    const cookies = await page.context().cookies(e2e.servers.apiUrl)
    assert.ok(
      cookies.some((c) => c.name === 'token'),
      `cookies: ${cookies.map((c) => c.name)}`,
    )

    // A cookie-authenticated unsafe call with no CSRF header is refused (the control)…
    const bare = await page.evaluate(
      async (body) => {
        const response = await fetch('/me', {
          method: 'POST',
          credentials: 'include',
          headers: { 'content-type': 'application/json' },
          body,
          signal: AbortSignal.timeout(5000),
        })
        return { status: response.status, body: await response.text() }
      },
      JSON.stringify({ email: 'not-this-one@example.com' }),
    )
    assert.equal(bare.status, 403)
    assert.match(bare.body, /CSRF token verification failed/)

    // …while Try it out on POST /me goes through: the interceptor fetched /csrf and sent the token.
    const update = await tryItOut(page, 'operations-users-post_me')
    await update.locator('textarea.body-param__text').fill(JSON.stringify({ email: newEmail }))
    const updated = await execute(update)
    assert.equal(updated.status, '200', updated.body)
    assert.match(updated.body, new RegExp(`"email": "${newEmail}"`))

    const stored = await e2e.servers.store.db
      .selectFrom('users')
      .select('email')
      .where('id', '=', userId)
      .executeTakeFirstOrThrow()
    assert.equal(stored.email, newEmail, 'the database holds the new email')

    const posts = e2e.servers.apiRequests.slice(start).filter((r) => r.method === 'POST' && r.url === '/me')
    assert.equal(posts.length, 2)
    const viaUi = posts[1]!
    assert.equal(viaUi.status, 200)
    assert.equal(viaUi.headers.authorization, undefined, 'not a bearer call: the cookie authenticated it')
    assert.match(String(viaUi.headers.cookie), /(^|; )token=/)
    assert.equal(typeof viaUi.headers['x-csrftoken'], 'string', 'the interceptor added x-csrftoken')
    assert.equal(viaUi.headers['sec-fetch-site'], 'same-origin')
    assert.deepEqual(
      problems,
      { pageErrors: [], cspViolations: [] },
      'Swagger UI runs clean under the docs CSP',
    )
  })
})
