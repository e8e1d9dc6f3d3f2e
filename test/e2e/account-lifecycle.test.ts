/**
 * The account lifecycle in the demo front end, in a real Chromium, against the real API with its
 * mail going to a real SMTP server on loopback: forgot password → the mailed link → a new password;
 * password change with and without keeping the other sessions; the sessions list and its sign-outs;
 * the security events; email verification. Two browser contexts are two signed-in devices. Every
 * page is watched for uncaught errors, console errors and CSP violations (the page runs under
 * script-src 'self').
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import {
  type E2eServers,
  type LogEntry,
  launchBrowser,
  logAfter,
  newContext,
  openDemo,
  startServers,
  WAIT_MS,
} from '../helpers/browser.ts'
import { service } from '../helpers/services.ts'
import { parseRawMail } from '../mail/raw-mail.ts'
import { type SmtpSink, startSmtpSink } from '../mail/smtp-sink.ts'

const browserPath = service('browser')
const PASSWORD = 'lifecycle-password-1'
const NEW_PASSWORD = 'lifecycle-password-2'
const THIRD_PASSWORD = 'lifecycle-password-3'

/** Chromium's note on a 4xx/5xx answer: expected when a test provokes one, kept apart from problems. */
const HTTP_STATUS_NOTE = /^Failed to load resource: the server responded with a status of (\d{3})/

/** One browser profile (its own cookies): one device, one session once logged in. */
interface Device {
  context: BrowserContext
  page: Page
  /** Uncaught exceptions, console errors and CSP violations, from every page of the context. */
  problems: string[]
  /** Chromium's console notes on 4xx answers of the API, as `status path`. */
  httpErrors: string[]
}

type ViolationReporter = Window & { __reportCspViolation(text: string): void }

describe('account lifecycle in the demo app (Chromium, real SMTP)', {
  skip: browserPath.skip,
  timeout: 120_000,
}, () => {
  let browser: Browser | undefined
  let servers: E2eServers | undefined
  let sink: SmtpSink | undefined
  const contexts: BrowserContext[] = []
  /** Mails a test already took a link from. */
  const usedMails = new Set<string>()

  before(async () => {
    sink = await startSmtpSink()
    ;[browser, servers] = await Promise.all([
      launchBrowser(browserPath.value),
      startServers({ SMTP_URL: sink.url() }),
    ])
  })
  after(async () => {
    for (const context of contexts) await context.close().catch(() => {})
    await browser?.close()
    // The API first: its mail worker and SMTP connections end before the sink stops.
    await servers?.close()
    await sink?.close()
  })

  const api = () => {
    if (!servers) throw new Error('servers not started')
    return servers
  }

  function watch(page: Page, device: Pick<Device, 'problems' | 'httpErrors'>): void {
    page.on('pageerror', (error) => device.problems.push(`page error: ${error.message}`))
    page.on('console', (message) => {
      if (message.type() !== 'error') return
      const status = HTTP_STATUS_NOTE.exec(message.text())?.[1]
      const url = message.location().url
      if (status?.startsWith('4') && url.startsWith(api().apiUrl)) {
        device.httpErrors.push(`${status} ${new URL(url).pathname}`)
      } else {
        device.problems.push(`console error: ${message.text()}`)
      }
    })
  }

  /** A new device on the demo's start page, watched from its first script on. */
  async function device(): Promise<Device> {
    if (!browser) throw new Error('browser not launched')
    const context = await newContext(browser)
    contexts.push(context)
    const found: Pick<Device, 'problems' | 'httpErrors'> = { problems: [], httpErrors: [] }
    // A binding and an init script come from DevTools, not the page, so the CSP does not apply to
    // them; the listener is there before the page's own first script runs, on every navigation.
    await context.exposeBinding('__reportCspViolation', (_source, text: string) => {
      found.problems.push(`CSP violation: ${text}`)
    })
    await context.addInitScript(() => {
      document.addEventListener('securitypolicyviolation', (event) => {
        ;(window as unknown as ViolationReporter).__reportCspViolation(
          `${event.effectiveDirective} blocked ${event.blockedURI} (${event.disposition})`,
        )
      })
    })
    const page = await context.newPage()
    watch(page, found)
    await openDemo(page, api().demoUrl)
    return { context, page, ...found }
  }

  async function goAndWait(page: Page, url: string) {
    const response = await page.goto(url)
    await page.locator('html[data-ready="true"]').waitFor({ state: 'attached' })
    assert.ok(response, `no response for ${url}`)
    return response
  }

  /** Opens a mailed link the way a mail client does: in a new tab of the device's browser. */
  async function openMailLink(on: Device, link: string): Promise<{ page: Page; referrerPolicy: string }> {
    const page = await on.context.newPage()
    watch(page, on)
    const response = await goAndWait(page, link)
    return { page, referrerPolicy: response.headers()['referrer-policy'] ?? '' }
  }

  const submit = (page: Page, form: string) => page.locator(`${form} button[type="submit"]`).click()

  async function register(page: Page, email: string): Promise<LogEntry> {
    await page.locator('#register-email').fill(email)
    await page.locator('#register-password').fill(PASSWORD)
    return logAfter(page, 'POST', '/register', () => submit(page, '#register-form'))
  }

  async function login(page: Page, email: string, password: string): Promise<LogEntry> {
    await page.locator('#login-email').fill(email)
    await page.locator('#login-password').fill(password)
    return logAfter(page, 'POST', '/login', () => submit(page, '#login-form'))
  }

  async function loggedIn(page: Page, email: string, password: string): Promise<void> {
    const entry = await login(page, email, password)
    assert.equal(entry.status, 200, entry.text)
    await page.locator('#status', { hasText: `Logged in as ${email}` }).waitFor()
  }

  /** A new account, logged in on `page`. */
  async function newAccount(page: Page, email: string): Promise<void> {
    const registered = await register(page, email)
    assert.equal(registered.status, 201, registered.text)
    await loggedIn(page, email, PASSWORD)
  }

  /** Presses "Who am I?": the status of GET /me for this device's cookie. */
  async function whoAmI(page: Page): Promise<number> {
    return (await logAfter(page, 'GET', '/me', () => page.locator('#me-button').click())).status
  }

  async function assertSignedIn(page: Page, email: string, why: string): Promise<void> {
    assert.equal(await whoAmI(page), 200, why)
    await page.locator('#status', { hasText: `Logged in as ${email}` }).waitFor()
  }

  /** Its next API call is refused, and the page shows it signed out. */
  async function assertSignedOut(page: Page, why: string): Promise<void> {
    assert.equal(await whoAmI(page), 401, why)
    await page.locator('#status', { hasText: 'Not logged in' }).waitFor()
  }

  /** A result box once it shows an answer (not "pending"): its state and text. */
  async function result(page: Page, id: string): Promise<{ state: string; text: string }> {
    const box = page.locator(`#${id}:not([hidden])[data-state]:not([data-state="pending"])`)
    await box.waitFor()
    return { state: (await box.getAttribute('data-state')) ?? '', text: (await box.textContent()) ?? '' }
  }

  /** The link of the next mail to `to` that points at `path`, as the user would click it. */
  async function mailedLink(to: string, path: string): Promise<string> {
    const prefix = `${api().demoUrl}${path}#token=`
    const deadline = Date.now() + WAIT_MS
    while (Date.now() < deadline) {
      for (const mail of sink?.received ?? []) {
        if (usedMails.has(mail.raw) || !mail.to.includes(to)) continue
        const { text, html } = parseRawMail(mail.raw)
        const link = text.split(/\s+/).find((word) => word.startsWith(prefix))
        if (!link) continue
        usedMails.add(mail.raw)
        assert.ok(html.includes(link), 'the HTML part carries the same link')
        return link
      }
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    throw new Error(`no mail to ${to} with a ${prefix} link within ${WAIT_MS} ms`)
  }

  const storedUser = (email: string) =>
    api()
      .store.db.selectFrom('users')
      .selectAll()
      .where('email_normalized', '=', email.toLowerCase())
      .executeTakeFirstOrThrow()

  const sessionRows = (page: Page) => page.locator('#sessions-body tr[data-session-id]')

  /** Presses "Load sessions" and returns the ids of the rows, and which one is this session. */
  async function loadSessions(page: Page): Promise<{ ids: string[]; current: string[] }> {
    const entry = await logAfter(page, 'GET', '/sessions', () => page.locator('#sessions-load').click())
    assert.equal(entry.status, 200, entry.text)
    return sessionIds(page)
  }

  async function sessionIds(page: Page): Promise<{ ids: string[]; current: string[] }> {
    return page.$$eval('#sessions-body tr[data-session-id]', (rows) => ({
      ids: rows.map((row) => (row as HTMLElement).dataset.sessionId ?? ''),
      current: rows
        .filter((row) => (row as HTMLElement).dataset.current === 'true')
        .map((row) => (row as HTMLElement).dataset.sessionId ?? ''),
    }))
  }

  /** Waits until the list, refreshed after a sign-out, has `count` rows. */
  async function sessionsShown(page: Page, count: number): Promise<{ ids: string[]; current: string[] }> {
    await page.waitForFunction(
      (n) => document.querySelectorAll('#sessions-body tr[data-session-id]').length === n,
      count,
      { timeout: WAIT_MS },
    )
    return sessionIds(page)
  }

  /**
   * No page error, console error or CSP violation on any of the devices' pages; Chromium's console
   * notes on 4xx answers are exactly the refusals the test provoked (`status path`, any order).
   */
  function assertClean(...checks: [device: Device, provoked: string[]][]): void {
    for (const [{ problems, httpErrors }, provoked] of checks) {
      assert.deepEqual(problems, [], 'no page error, console error or CSP violation')
      assert.deepEqual([...httpErrors].sort(), [...provoked].sort(), 'only the refusals the test provoked')
    }
  }

  it('the watcher sees a CSP violation and a console error (so a clean run means something)', async () => {
    const probe = await device()
    await probe.page.evaluate(() => {
      const script = document.createElement('script')
      script.textContent = 'window.__ran = true'
      document.body.append(script)
      console.error('deliberate console error')
    })
    const deadline = Date.now() + WAIT_MS
    while (probe.problems.length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25))
    assert.ok(
      probe.problems.some((p) => p.startsWith('CSP violation: script-src-elem blocked inline (enforce)')),
      probe.problems.join('\n'),
    )
    assert.ok(probe.problems.includes('console error: deliberate console error'), probe.problems.join('\n'))
    assert.equal(await probe.page.evaluate(() => (window as { __ran?: boolean }).__ran), undefined)
  })

  it('the mail links point at this demo origin (APP_URL) and its link pages are served', async () => {
    assert.equal(api().config.appUrl, api().demoUrl)
    for (const path of ['/reset-password', '/verify-email']) {
      const response = await fetch(`${api().demoUrl}${path}`, { signal: AbortSignal.timeout(WAIT_MS) })
      assert.equal(response.status, 200, path)
      assert.match(String(response.headers.get('content-type')), /^text\/html/)
      assert.match(String(response.headers.get('content-security-policy')), /script-src 'self'(;|$)/)
      assert.equal(response.headers.get('referrer-policy'), 'no-referrer', `${path} sends no Referer`)
      assert.match(await response.text(), /<title>Gatehouse demo<\/title>/)
    }
    // With a trailing slash the page's relative style and script URLs would break: not served.
    const slash = await fetch(`${api().demoUrl}/reset-password/`, { signal: AbortSignal.timeout(WAIT_MS) })
    assert.equal(slash.status, 404)
  })

  it('forgot password → the mailed link → a new password: every session ends, only the new password logs in', async () => {
    const email = 'reset@example.com'
    const a = await device()
    const b = await device()
    await newAccount(a.page, email)
    await loggedIn(b.page, email, PASSWORD)

    // "Forgot password?" opens the form, filled in with the address typed into the login form.
    assert.equal(await a.page.locator('#forgot-card').isVisible(), false)
    await a.page.locator('#forgot-open').click()
    await a.page.locator('#forgot-card').waitFor({ state: 'visible' })
    assert.equal(await a.page.locator('#forgot-email').inputValue(), email)
    const asked = await logAfter(a.page, 'POST', '/forgot-password', () => submit(a.page, '#forgot-form'))
    assert.equal(asked.status, 202, asked.text)
    const sent = await result(a.page, 'forgot-result')
    assert.equal(sent.state, 'ok')
    assert.match(sent.text, /Check your mail/)
    assert.match(sent.text, /If an account has this email, a message is on its way/)
    assert.match(sent.text, /SMTP_URL.*\.\/data\/outbox\/\*\.eml/s)

    const link = await mailedLink(email, '/reset-password')
    const token = decodeURIComponent(link.slice(link.indexOf('#token=') + '#token='.length))
    const tab = await openMailLink(a, link)
    assert.equal(tab.referrerPolicy, 'no-referrer')
    // The token left the address bar (and this history entry) as the page read it.
    assert.equal(tab.page.url(), `${api().demoUrl}/reset-password`)
    assert.equal(await tab.page.evaluate(() => location.hash), '')
    await tab.page.locator('#reset-card').waitFor({ state: 'visible' })
    assert.equal(await tab.page.locator('#verify-card').isVisible(), false)

    // A refused password does not burn the link: the form stays, the detail is shown.
    await tab.page.locator('#reset-password').fill('short')
    const refused = await logAfter(tab.page, 'POST', '/reset-password', () => submit(tab.page, '#reset-form'))
    assert.equal(refused.status, 422, refused.text)
    const refusal = await result(tab.page, 'reset-result')
    assert.equal(refusal.state, 'error')
    assert.match(refusal.text, /password/i)
    assert.equal(await tab.page.locator('#reset-form').isVisible(), true)

    await tab.page.locator('#reset-password').fill(NEW_PASSWORD)
    const reset = await logAfter(tab.page, 'POST', '/reset-password', () => submit(tab.page, '#reset-form'))
    assert.equal(reset.status, 200, reset.text)
    const done = await result(tab.page, 'reset-result')
    assert.equal(done.state, 'ok')
    assert.match(done.text, new RegExp(`Password changed for ${email}`))
    assert.equal(
      await tab.page.locator('#reset-form').isVisible(),
      false,
      'the used link offers no second try',
    )

    // The token never travelled in a URL or a Referer to the API.
    for (const request of api().apiRequests) {
      assert.ok(!request.url.includes(token), `token in ${request.method} ${request.url}`)
      assert.ok(!String(request.headers.referer ?? '').includes(token), 'token in a Referer')
    }

    // Every session ended: B's next call is a 401 and B shows signed out; so does A's old cookie.
    await assertSignedOut(b.page, 'the other device was signed out by the reset')
    await assertSignedOut(tab.page, 'the resetting browser’s own old session ended too')

    // The old password is refused, the new one logs in.
    const old = await login(tab.page, email, PASSWORD)
    assert.equal(old.status, 401, old.text)
    await loggedIn(tab.page, email, NEW_PASSWORD)
    await assertSignedIn(tab.page, email, 'the new password’s session works')

    // The link is single use: opened again, the API refuses it and the page says so.
    const again = await openMailLink(a, link)
    await again.page.locator('#reset-password').fill(THIRD_PASSWORD)
    const reused = await logAfter(again.page, 'POST', '/reset-password', () =>
      submit(again.page, '#reset-form'),
    )
    assert.equal(reused.status, 400, reused.text)
    const stale = await result(again.page, 'reset-result')
    assert.equal(stale.state, 'error')
    assert.match(stale.text, /This reset link is invalid or has expired/)
    assertClean(
      [a, ['422 /reset-password', '401 /me', '401 /login', '400 /reset-password']],
      [b, ['401 /me']],
    )
  })

  it('change password: without "keep" the other device is signed out, with it the other device stays', async () => {
    const email = 'change@example.com'
    const a = await device()
    const b = await device()
    await newAccount(a.page, email)
    await loggedIn(b.page, email, PASSWORD)
    const start = api().apiRequests.length

    // A wrong current password changes nothing and says why.
    await a.page.locator('#password-current').fill('not-the-password')
    await a.page.locator('#password-new').fill(NEW_PASSWORD)
    const wrong = await logAfter(a.page, 'POST', '/me/password', () => submit(a.page, '#password-form'))
    assert.equal(wrong.status, 400, wrong.text)
    const wrongResult = await result(a.page, 'password-result')
    assert.equal(wrongResult.state, 'error')
    assert.match(wrongResult.text, /The current password is incorrect/)
    await assertSignedIn(b.page, email, 'a refused change ends no session')

    assert.equal(await a.page.locator('#password-keep').isChecked(), false, '"keep" is off by default')
    await a.page.locator('#password-current').fill(PASSWORD)
    await a.page.locator('#password-new').fill(NEW_PASSWORD)
    const changed = await logAfter(a.page, 'POST', '/me/password', () => submit(a.page, '#password-form'))
    assert.equal(changed.status, 204, changed.text)
    assert.match(changed.text, /x-csrftoken ✓/)
    const changedResult = await result(a.page, 'password-result')
    assert.equal(changedResult.state, 'ok')
    assert.match(changedResult.text, /other sessions were signed out/)
    assert.equal(
      await a.page.locator('#password-current').inputValue(),
      '',
      'the password fields are emptied',
    )
    await assertSignedIn(a.page, email, 'the changing session stays')
    await assertSignedOut(b.page, 'the other device was signed out')

    const post = api()
      .apiRequests.slice(start)
      .find((r) => r.method === 'POST' && r.url === '/me/password' && r.status === 204)
    assert.ok(post)
    assert.equal(typeof post.headers['x-csrftoken'], 'string', 'sent with the CSRF header')
    assert.match(String(post.headers['content-type']), /^application\/json/)

    await loggedIn(b.page, email, NEW_PASSWORD)
    await a.page.locator('#password-keep').check()
    await a.page.locator('#password-current').fill(NEW_PASSWORD)
    await a.page.locator('#password-new').fill(THIRD_PASSWORD)
    const kept = await logAfter(a.page, 'POST', '/me/password', () => submit(a.page, '#password-form'))
    assert.equal(kept.status, 204, kept.text)
    assert.match((await result(a.page, 'password-result')).text, /other sessions stay signed in/)
    await assertSignedIn(b.page, email, '"keep my other sessions" kept the other device signed in')
    await assertSignedIn(a.page, email, 'the changing session stays')

    // The new password is the one that works now.
    const c = await device()
    assert.equal((await login(c.page, email, NEW_PASSWORD)).status, 401)
    await loggedIn(c.page, email, THIRD_PASSWORD)
    assertClean([a, ['400 /me/password']], [b, ['401 /me']], [c, ['401 /login']])
  })

  it('sessions list: both devices, one marked "this session"; "Sign out" on a row and "everywhere else" end them', async () => {
    const email = 'sessions@example.com'
    const a = await device()
    const b = await device()
    const c = await device()
    await newAccount(a.page, email)
    await loggedIn(b.page, email, PASSWORD)

    const seenByB = await loadSessions(b.page)
    assert.equal(seenByB.current.length, 1)
    const bId = seenByB.current[0]!

    const seenByA = await loadSessions(a.page)
    assert.equal(seenByA.ids.length, 2, 'one row per device')
    assert.equal(seenByA.current.length, 1, 'exactly one row is this session')
    const aId = seenByA.current[0]!
    assert.notEqual(aId, bId)
    assert.deepEqual(new Set(seenByA.ids), new Set([aId, bId]))
    const aRow = a.page.locator(`#sessions-body tr[data-session-id="${aId}"]`)
    const bRow = a.page.locator(`#sessions-body tr[data-session-id="${bId}"]`)
    assert.match((await aRow.textContent()) ?? '', /this session/)
    assert.doesNotMatch((await bRow.textContent()) ?? '', /this session/)
    const cells = await bRow.locator('td').allTextContents()
    assert.equal(cells[0], 'session', 'kind')
    assert.match(cells[1] ?? '', /^Chrome \d+ on Linux$/, 'the user agent, summarised')
    assert.match(cells[2] ?? '', /^(127\.0\.0\.1|::1)$/, 'the client address')
    assert.ok(await bRow.locator('td:nth-child(4) time[datetime]').count(), 'created, as a <time>')
    assert.notEqual(cells[4], '', 'last used')

    // Without the CSRF header the sign-out is refused and B stays signed in.
    await a.page.locator('#toggle-csrf').setChecked(false)
    const forged = await logAfter(a.page, 'DELETE', `/sessions/${bId}`, () =>
      bRow.getByRole('button', { name: /Sign out/ }).click(),
    )
    assert.equal(forged.status, 403, forged.text)
    assert.match((await result(a.page, 'sessions-result')).text, /CSRF token verification failed/)
    await assertSignedIn(b.page, email, 'a refused sign-out ends nothing')
    await a.page.locator('#toggle-csrf').setChecked(true)

    await sessionsShown(a.page, 2)
    const ended = await logAfter(a.page, 'DELETE', `/sessions/${bId}`, () =>
      a.page
        .locator(`#sessions-body tr[data-session-id="${bId}"]`)
        .getByRole('button', { name: /Sign out/ })
        .click(),
    )
    assert.equal(ended.status, 204, ended.text)
    assert.match(ended.text, /x-csrftoken ✓/)
    assert.deepEqual(await sessionsShown(a.page, 1), { ids: [aId], current: [aId] }, 'the list was refreshed')
    await assertSignedOut(b.page, 'the row’s "Sign out" ended B')
    await assertSignedIn(a.page, email, 'A stays')

    // "Sign out everywhere else": a third device is signed out, A stays.
    await loggedIn(c.page, email, PASSWORD)
    assert.equal((await loadSessions(a.page)).ids.length, 2)
    const others = await logAfter(a.page, 'DELETE', '/sessions', () =>
      a.page.locator('#sessions-revoke-others').click(),
    )
    assert.equal(others.status, 204, others.text)
    assert.deepEqual(await sessionsShown(a.page, 1), { ids: [aId], current: [aId] })
    assert.match((await result(a.page, 'sessions-result')).text, /Every other session is signed out/)
    await assertSignedOut(c.page, '"everywhere else" ended C')
    await assertSignedIn(a.page, email, 'A stays')

    // A signed-out device cannot list sessions, and says so.
    const refusedList = await logAfter(c.page, 'GET', '/sessions', () =>
      c.page.locator('#sessions-load').click(),
    )
    assert.equal(refusedList.status, 401)
    assert.match((await result(c.page, 'sessions-result')).text, /Signed out/)
    assert.equal(await sessionRows(c.page).count(), 0)
    assertClean([a, [`403 /sessions/${bId}`]], [b, ['401 /me']], [c, ['401 /me', '401 /sessions']])
  })

  it('security events: the logins (and a failed one) are listed, newest first', async () => {
    const email = 'audit@example.com'
    const a = await device()
    const b = await device()
    assert.equal((await register(a.page, email)).status, 201)
    assert.equal((await login(a.page, email, 'wrong-password-1')).status, 401)
    await loggedIn(a.page, email, PASSWORD)
    await loggedIn(b.page, email, PASSWORD)

    const listed = await logAfter(a.page, 'GET', '/me/audit', () => a.page.locator('#audit-load').click())
    assert.equal(listed.status, 200, listed.text)
    const rows = await a.page.$$eval('#audit-body tr[data-type]', (trs) =>
      trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent ?? '')),
    )
    const types = rows.map((cells) => cells[1])
    assert.equal(types.filter((type) => type === 'login.succeeded').length, 2, types.join(', '))
    const failed = rows.find((cells) => cells[1] === 'login.failed')
    assert.ok(failed, types.join(', '))
    assert.equal(failed[4], 'bad_credentials', 'the reason')
    assert.equal(types[0], 'login.succeeded', 'newest first: B’s login')
    assert.ok(types.indexOf('login.failed') > types.lastIndexOf('login.succeeded'), 'the failure came first')
    assert.match(rows[0]?.[2] ?? '', /^Chrome \d+ on Linux$/)
    assert.match(rows[0]?.[3] ?? '', /^(127\.0\.0\.1|::1)$/)
    assert.ok(await a.page.locator('#audit-body tr[data-type] td:first-child time[datetime]').count())

    // Signed out, the events are not shown.
    const stranger = await device()
    const refused = await logAfter(stranger.page, 'GET', '/me/audit', () =>
      stranger.page.locator('#audit-load').click(),
    )
    assert.equal(refused.status, 401)
    assert.match((await result(stranger.page, 'audit-result')).text, /Signed out/)
    assert.equal(await stranger.page.locator('#audit-body tr[data-type]').count(), 0)
    assertClean([a, ['401 /login']], [b, []], [stranger, ['401 /me/audit']])
  })

  it('resend verification → the mailed /verify-email link verifies once; links without a token say so', async () => {
    const email = 'verify@example.com'
    const a = await device()
    await newAccount(a.page, email)
    await mailedLink(email, '/verify-email') // the registration's own mail

    assert.equal(await a.page.locator('#resend-email').inputValue(), email, 'filled in at login')
    const resent = await logAfter(a.page, 'POST', '/request-verify-token', () =>
      submit(a.page, '#resend-form'),
    )
    assert.equal(resent.status, 202, resent.text)
    assert.equal((await result(a.page, 'resend-result')).state, 'ok')
    const link = await mailedLink(email, '/verify-email')

    const before = api().apiRequests.length
    const tab = await openMailLink(a, link)
    assert.equal(tab.page.url(), `${api().demoUrl}/verify-email`, 'the fragment left the address bar')
    await tab.page.locator('#verify-card').waitFor({ state: 'visible' })
    assert.equal(await tab.page.locator('#reset-card').isVisible(), false)
    const verified = await result(tab.page, 'verify-result')
    assert.equal(verified.state, 'ok', verified.text)
    assert.match(verified.text, new RegExp(`${email} is verified`))
    assert.equal((await storedUser(email)).is_verified, 1)
    const posts = api()
      .apiRequests.slice(before)
      .filter((r) => r.method === 'POST' && r.url === '/verify')
    assert.equal(posts.length, 1, 'the token is sent once')

    // Opened again, the used link is refused and the page shows the API's detail.
    const reopened = await openMailLink(a, link)
    const again = await result(reopened.page, 'verify-result')
    assert.equal(again.state, 'error')
    assert.match(again.text, /This verification link is invalid or has expired/)

    // A link whose fragment was lost: no request, a readable message.
    const requestsBefore = api().apiRequests.length
    for (const path of ['/verify-email', '/reset-password']) {
      await goAndWait(tab.page, `${api().demoUrl}${path}`)
      const id = path === '/verify-email' ? 'verify-result' : 'reset-result'
      const missing = await result(tab.page, id)
      assert.equal(missing.state, 'error')
      assert.match(missing.text, /This link has no token/)
    }
    assert.equal(
      await tab.page.locator('#reset-form').isVisible(),
      false,
      'no form to submit without a token',
    )
    const sentSince = api()
      .apiRequests.slice(requestsBefore)
      .filter((r) => r.method === 'POST')
    assert.deepEqual(sentSince, [], 'nothing was posted')
    assertClean([a, ['400 /verify']])
  })
})
