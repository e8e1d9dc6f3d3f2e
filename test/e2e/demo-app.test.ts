/**
 * The demo front end (http://localhost:<demoPort>) driving the API (http://localhost:<apiPort>) in
 * a real Chromium: what the user sees in the page, what the API received, and what it stored.
 * It covers the demo flow, cookies, CSRF, CORS and headers. The page runs under the strict
 * HTML CSP: script injected into the served document — inline, in an event-handler attribute, from
 * another origin, or as a string to eval — does not run, and the browser reports each violation.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { BrowserContext, Page } from 'playwright-core'
import { hashToken } from '../../src/core/tokens/index.ts'
import {
  type LogEntry,
  logAfter,
  openDemo,
  type PageProblems,
  type SeenRequest,
  screenshot,
  useE2e,
  WAIT_MS,
  watchPage,
} from '../helpers/browser.ts'
import { service } from '../helpers/services.ts'

const browserPath = service('browser')
const PASSWORD = 'e2e-demo-password-1'

interface Violation {
  directive: string
  blockedURI: string
  disposition: string
}

type Probe = Window & {
  __violations: Violation[]
  __pwned?: boolean
  __pwnedAttr?: boolean
  __pwnedEval?: boolean
}

describe('demo web app in Chromium', { skip: browserPath.skip, timeout: 60_000 }, () => {
  const e2e = useE2e(browserPath.value)

  async function demoPage(): Promise<{ context: BrowserContext; page: Page; problems: PageProblems }> {
    const context = await e2e.context()
    const page = await context.newPage()
    const problems = watchPage(page)
    await openDemo(page, e2e.servers.demoUrl)
    return { context, page, problems }
  }

  const userRow = (id: number) =>
    e2e.servers.store.db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirstOrThrow()
  const userByEmail = (email: string) =>
    e2e.servers.store.db
      .selectFrom('users')
      .selectAll()
      .where('email_normalized', '=', email.toLowerCase())
      .executeTakeFirst()
  const sessionRows = (userId: number) =>
    e2e.servers.store.db
      .selectFrom('access_tokens')
      .selectAll()
      .where('user_id', '=', userId)
      .where('kind', '=', 'session')
      .execute()

  const submit = (page: Page, form: string) => page.locator(`${form} button[type="submit"]`).click()

  async function register(page: Page, email: string): Promise<LogEntry> {
    await page.locator('#register-email').fill(email)
    await page.locator('#register-password').fill(PASSWORD)
    return logAfter(page, 'POST', '/register', () => submit(page, '#register-form'))
  }

  async function login(page: Page, email: string): Promise<LogEntry> {
    await page.locator('#login-email').fill(email)
    await page.locator('#login-password').fill(PASSWORD)
    return logAfter(page, 'POST', '/login', () => submit(page, '#login-form'))
  }

  async function registerAndLogin(page: Page, email: string): Promise<number> {
    assert.equal((await register(page, email)).status, 201)
    assert.equal((await login(page, email)).status, 200)
    await page.locator('#status', { hasText: `Logged in as ${email}` }).waitFor()
    const row = await userByEmail(email)
    assert.ok(row, `${email} is stored`)
    return row.id
  }

  const requestsSince = (start: number) => e2e.servers.apiRequests.slice(start)
  const fromDemo = (request: SeenRequest) => request.headers.origin === e2e.servers.demoUrl

  for (const json of [true, false]) {
    const mode = json ? 'JSON toggle on' : 'JSON toggle off (form-encoded)'

    it(`register → login → me → update email → prefs → logout, CSRF on, ${mode}`, async () => {
      const start = e2e.servers.apiRequests.length
      const { context, page, problems } = await demoPage()
      await page.locator('#toggle-json').setChecked(json)
      assert.equal(await page.locator('#toggle-csrf').isChecked(), true, 'the CSRF toggle is on by default')
      const email = `flow-${json ? 'json' : 'form'}@example.com`
      const newEmail = `moved-${json ? 'json' : 'form'}@example.com`

      // Register: 201, the account is in the database with an argon2id hash, not the password.
      const registered = await register(page, email)
      assert.equal(registered.status, 201, registered.text)
      assert.match(registered.text, new RegExp(json ? 'application/json' : 'form-urlencoded'))
      const stored = await userByEmail(email)
      assert.ok(stored, 'the new account is stored')
      assert.match(stored.hashed_password, /^\$argon2id\$/)
      assert.doesNotMatch(stored.hashed_password, new RegExp(PASSWORD))
      const userId = stored.id

      // Log in: the page shows who is logged in; one session row for this user.
      const loggedIn = await login(page, email)
      assert.equal(loggedIn.status, 200, loggedIn.text)
      await page.locator('#status', { hasText: `Logged in as ${email}` }).waitFor()
      assert.equal(await page.locator('#prefs-user-id').textContent(), String(userId))
      assert.equal((await sessionRows(userId)).length, 1, 'login stored one session token')

      // Me: the cookie rides along on the cross-origin GET.
      const me = await logAfter(page, 'GET', '/me', () => page.locator('#me-button').click())
      assert.equal(me.status, 200, me.text)
      assert.match(me.text, new RegExp(email))

      // Update email: 200, the page and the database show the new address.
      await page.locator('#new-email').fill(newEmail)
      const updated = await logAfter(page, 'POST', '/me', () => submit(page, '#email-form'))
      assert.equal(updated.status, 200, updated.text)
      assert.match(updated.text, /x-csrftoken ✓/)
      await page.locator('#status', { hasText: `Logged in as ${newEmail}` }).waitFor()
      const moved = await userRow(userId)
      assert.equal(moved.email, newEmail, 'the database holds the new email')

      // Preferences: save, then load back into the textarea.
      const prefs = { theme: 'light', language: 'fr', json }
      await page.locator('#prefs-json').fill(JSON.stringify(prefs))
      const saved = await logAfter(page, 'POST', `/prefs/${userId}`, () => submit(page, '#prefs-form'))
      assert.equal(saved.status, 200, saved.text)
      const prefsRow = await e2e.servers.store.db
        .selectFrom('preferences')
        .selectAll()
        .where('user_id', '=', userId)
        .executeTakeFirstOrThrow()
      assert.deepEqual(JSON.parse(prefsRow.data), prefs, 'the database holds the saved preferences')
      await page.locator('#prefs-json').fill('{}')
      const loaded = await logAfter(page, 'GET', `/prefs/${userId}`, () =>
        page.locator('#prefs-load').click(),
      )
      assert.equal(loaded.status, 200, loaded.text)
      assert.deepEqual(JSON.parse(await page.locator('#prefs-json').inputValue()), prefs)

      if (json) {
        const path = await screenshot(page, 'demo.png')
        assert.ok(path.endsWith('test-output/demo.png'))
      }

      // What the API received: the body encoding the toggle asked for, the CSRF header on every
      // unsafe call, and a CORS preflight for the non-simple requests.
      const seen = requestsSince(start).filter(fromDemo)
      const posts = seen.filter((r) => r.method === 'POST' && ['/register', '/login', '/me'].includes(r.url))
      assert.equal(posts.length, 3)
      for (const post of posts) {
        const type = String(post.headers['content-type'])
        assert.ok(type.startsWith(json ? 'application/json' : 'application/x-www-form-urlencoded'), type)
        assert.equal(
          post.headers['sec-fetch-site'],
          'same-site',
          'localhost:demo → localhost:api is same-site',
        )
      }
      const updateRequest = posts.find((r) => r.url === '/me')!
      assert.equal(typeof updateRequest.headers['x-csrftoken'], 'string')
      assert.match(String(updateRequest.headers.cookie), /(^|; )token=/, 'the session cookie was sent')
      assert.equal(updateRequest.responseHeaders?.['access-control-allow-origin'], e2e.servers.demoUrl)
      assert.equal(updateRequest.responseHeaders?.['access-control-allow-credentials'], 'true')
      const preflights = seen.filter((r) => r.method === 'OPTIONS')
      assert.ok(preflights.length >= 1, 'the browser sent CORS preflights')
      const mePreflight = preflights.find((r) => r.url === '/me')
      assert.ok(mePreflight, 'POST /me was preflighted')
      assert.equal(mePreflight.headers['access-control-request-method'], 'POST')
      assert.equal(mePreflight.status, 204)
      const asked = String(mePreflight.headers['access-control-request-headers']).split(',')
      assert.ok(asked.includes('x-csrftoken'), `preflight asked for ${asked}`)
      assert.equal(asked.includes('content-type'), json, `preflight asked for ${asked}`)
      assert.ok(
        preflights.every((r) => r.headers.cookie === undefined),
        'preflights carry no credentials',
      )

      // Log out: 204, the page shows it, the token row is gone, the old cookie value is dead.
      const tokenCookie = (await context.cookies(e2e.servers.apiUrl)).find((c) => c.name === 'token')
      assert.ok(tokenCookie, 'the browser holds the session cookie')
      const loggedOut = await logAfter(page, 'POST', '/logout', () => page.locator('#logout-button').click())
      assert.equal(loggedOut.status, 204, loggedOut.text)
      await page.locator('#status', { hasText: 'Not logged in' }).waitFor()
      assert.equal((await sessionRows(userId)).length, 0, 'logout deleted the session row')
      const revoked = await e2e.servers.store.db
        .selectFrom('access_tokens')
        .select('id')
        .where('token_hash', '=', hashToken(tokenCookie.value))
        .executeTakeFirst()
      assert.equal(revoked, undefined)
      const names = (await context.cookies(e2e.servers.apiUrl)).map((c) => c.name)
      assert.ok(!names.includes('token'), `cookies left after logout: ${names}`)

      const meAfter = await logAfter(page, 'GET', '/me', () => page.locator('#me-button').click())
      assert.equal(meAfter.status, 401, meAfter.text)
      // Replaying the old cookie (from outside the browser) fails too: revoked server-side.
      const replay = await fetch(`${e2e.servers.apiUrl}/me`, {
        headers: { cookie: `token=${tokenCookie.value}` },
        signal: AbortSignal.timeout(5000),
      })
      assert.equal(replay.status, 401)
      assert.deepEqual(problems, { pageErrors: [], cspViolations: [] }, 'the demo runs clean under its CSP')
      await context.close()
    })
  }

  it('CSRF toggle off: the email update is refused with a readable 403, the email is unchanged', async () => {
    const { page } = await demoPage()
    const email = 'no-csrf@example.com'
    const userId = await registerAndLogin(page, email)
    const start = e2e.servers.apiRequests.length

    await page.locator('#toggle-csrf').setChecked(false)
    await page.locator('#new-email').fill('hijacked@example.com')
    const refused = await logAfter(page, 'POST', '/me', () => submit(page, '#email-form'))
    assert.equal(refused.status, 403, refused.text)
    assert.match(refused.text, /no x-csrftoken/)
    assert.match(refused.text, /CSRF token verification failed/, 'CORS headers made the 403 body readable')
    assert.match(refused.text, /CSRF_FAILED/)
    assert.equal((await userRow(userId)).email, email, 'the database email is unchanged')
    await page.locator('#status', { hasText: `Logged in as ${email}` }).waitFor()

    // The refusal came from the token layer: the session cookie was there, the header was not.
    const post = requestsSince(start).find((r) => r.method === 'POST' && r.url === '/me')
    assert.ok(post)
    assert.match(String(post.headers.cookie), /(^|; )token=/)
    assert.equal(post.headers['x-csrftoken'], undefined)
    assert.equal(post.status, 403)

    // The same request with the header goes through.
    await page.locator('#toggle-csrf').setChecked(true)
    const accepted = await logAfter(page, 'POST', '/me', () => submit(page, '#email-form'))
    assert.equal(accepted.status, 200, accepted.text)
    assert.equal((await userRow(userId)).email, 'hijacked@example.com')
  })

  it('cookies as the browser stored them: token HttpOnly+Secure+Lax, csrftoken readable', async () => {
    const { context, page } = await demoPage()
    await registerAndLogin(page, 'cookies@example.com')
    const cookies = await context.cookies(e2e.servers.apiUrl)
    const token = cookies.find((c) => c.name === 'token')
    const csrf = cookies.find((c) => c.name === 'csrftoken')
    assert.ok(token, `cookies: ${cookies.map((c) => c.name)}`)
    assert.ok(csrf)
    assert.equal(token.httpOnly, true)
    assert.equal(token.secure, true)
    assert.equal(token.sameSite, 'Lax')
    assert.equal(token.path, '/')
    assert.equal(token.domain, 'localhost', 'host-only, no Domain attribute widening it')
    const lifetime = token.expires - Date.now() / 1000
    assert.ok(lifetime > 86_400 - 120 && lifetime <= 86_400 + 5, `token lives ${lifetime} s`)
    assert.equal(csrf.httpOnly, false)
    assert.equal(csrf.secure, true)
    assert.equal(csrf.sameSite, 'Lax')
    // From the page's own script: the CSRF cookie is visible, the session token never is.
    const visible = await page.evaluate(() => document.cookie)
    assert.match(visible, /(^|; )csrftoken=/)
    assert.doesNotMatch(visible, /(^|; )token=/)
  })

  it('injected inline, attribute, foreign and string-eval script does not run; violations are reported', async () => {
    const context = await e2e.context()
    const page = await context.newPage()
    const consoleErrors: string[] = []
    page.on('console', (message) => {
      if (message.type() === 'error') consoleErrors.push(message.text())
    })
    const response = await page.goto(`${e2e.servers.demoUrl}/`)
    const csp = response?.headers()['content-security-policy'] ?? ''
    assert.match(csp, /script-src 'self'(;|$)/, csp)
    await openDemo(page, e2e.servers.demoUrl)

    // Insert into the served document (its origin and CSP unchanged), like an XSS would.
    await page.evaluate(() => {
      const probe = window as unknown as Probe
      probe.__violations = []
      document.addEventListener('securitypolicyviolation', (event) => {
        probe.__violations.push({
          directive: event.effectiveDirective,
          blockedURI: event.blockedURI,
          disposition: event.disposition,
        })
      })
      const inline = document.createElement('script')
      inline.textContent = 'window.__pwned = true'
      document.body.append(inline)

      const image = document.createElement('img')
      image.setAttribute('onerror', 'window.__pwnedAttr = true')
      image.src = '/no-such-image.png'
      document.body.append(image)

      const foreign = document.createElement('script')
      foreign.src = 'http://127.0.0.1:9/evil.js'
      document.body.append(foreign)
    })
    // DevTools' own evaluation may eval; a string timer runs later, as the page, under the CSP.
    await page.evaluate(() => {
      // biome-ignore lint/suspicious/noExplicitAny: a string handler is the deprecated overload under test.
      ;(setTimeout as any)('window.__pwnedEval = true', 0)
    })

    await page.waitForFunction(
      () => {
        const directives = new Set((window as unknown as Probe).__violations.map((v) => v.directive))
        return ['script-src-elem', 'script-src-attr', 'script-src'].every((d) => directives.has(d))
      },
      undefined,
      { timeout: WAIT_MS },
    )
    const probe = await page.evaluate(() => {
      const w = window as unknown as Probe
      return {
        pwned: w.__pwned,
        pwnedAttr: w.__pwnedAttr,
        pwnedEval: w.__pwnedEval,
        violations: w.__violations,
      }
    })
    assert.equal(probe.pwned, undefined, 'the inline script did not run')
    assert.equal(probe.pwnedAttr, undefined, 'the onerror attribute did not run')
    assert.equal(probe.pwnedEval, undefined, 'eval did not run')
    const byDirective = (directive: string) => probe.violations.filter((v) => v.directive === directive)
    assert.ok(
      byDirective('script-src-elem').some((v) => v.blockedURI === 'inline'),
      JSON.stringify(probe.violations),
    )
    assert.ok(
      byDirective('script-src-elem').some((v) => v.blockedURI.startsWith('http://127.0.0.1:9/')),
      JSON.stringify(probe.violations),
    )
    assert.ok(byDirective('script-src-attr').some((v) => v.blockedURI === 'inline'))
    assert.ok(byDirective('script-src').some((v) => v.blockedURI === 'eval'))
    assert.ok(
      probe.violations.every((v) => v.disposition === 'enforce'),
      'enforced, not report-only',
    )
    assert.ok(
      // Older Chromium: "Refused to execute inline script…"; 13x+: "Executing inline script violates…".
      consoleErrors.some((text) =>
        /(Refused to execute|Executing) inline script.*Content Security Policy/s.test(text),
      ),
      consoleErrors.join('\n'),
    )

    // The page's own script still works after all that.
    const me = page.locator('#log li.log-entry[data-method="GET"][data-path="/me"]')
    await page.locator('#me-button').click()
    await me.waitFor()
    assert.equal(await me.getAttribute('data-status'), '401')
  })
})
