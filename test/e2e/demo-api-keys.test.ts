/**
 * The demo's "API keys" card in a real Chromium against the real API: a key is created with two
 * scopes, shown once in a read-only field (copied through the clipboard), never written to the
 * response log, storage or the DOM once dismissed or reloaded; listed by its prefix; it works from
 * outside the browser within its scopes only, and a revocation from the page ends it. A stale
 * login (FRESH_SESSION_SECONDS=0) makes the card ask for the current password and retry with it.
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
  OUTPUT_DIR,
  openDemo,
  type PageProblems,
  startServers,
  watchPage,
} from '../helpers/browser.ts'
import { service } from '../helpers/services.ts'

const browserPath = service('browser')
const PASSWORD = 'e2e-api-keys-password-1'
const KEY_PATTERN = /^ghk_[A-Za-z0-9_-]{43}$/

/** Everything of the page a key could hide in: markup, form values, both storages, its cookies. */
async function pageHolds(page: Page, secret: string): Promise<string[]> {
  return page.evaluate((needle) => {
    const found: string[] = []
    if (document.documentElement.outerHTML.includes(needle)) found.push('the DOM')
    for (const field of document.querySelectorAll<HTMLInputElement | HTMLTextAreaElement>(
      'input, textarea',
    )) {
      if (field.value.includes(needle)) found.push(`the value of #${field.id || field.name}`)
    }
    for (const [name, storage] of [
      ['localStorage', localStorage],
      ['sessionStorage', sessionStorage],
    ] as const) {
      for (let i = 0; i < storage.length; i++) {
        const key = storage.key(i) ?? ''
        if (key.includes(needle) || (storage.getItem(key) ?? '').includes(needle)) found.push(name)
      }
    }
    if (document.cookie.includes(needle)) found.push('document.cookie')
    return found
  }, secret)
}

describe('API keys card in the demo (Chromium)', { skip: browserPath.skip, timeout: 120_000 }, () => {
  let browser: Browser | undefined
  /** The default configuration: a login is fresh for 10 minutes. */
  let servers: E2eServers | undefined
  /** FRESH_SESSION_SECONDS=0: every login is already stale. */
  let stale: E2eServers | undefined
  const contexts: BrowserContext[] = []

  before(async () => {
    ;[browser, servers, stale] = await Promise.all([
      launchBrowser(browserPath.value),
      startServers(),
      startServers({ FRESH_SESSION_SECONDS: '0' }),
    ])
  })
  after(async () => {
    for (const context of contexts) await context.close().catch(() => {})
    await browser?.close()
    await servers?.close()
    await stale?.close()
  })

  const api = () => {
    if (!servers) throw new Error('servers not started')
    return servers
  }

  async function demoPage(
    on: E2eServers,
  ): Promise<{ context: BrowserContext; page: Page; problems: PageProblems }> {
    if (!browser) throw new Error('browser not launched')
    const context = await newContext(browser)
    contexts.push(context)
    const page = await context.newPage()
    const problems = watchPage(page)
    await openDemo(page, on.demoUrl)
    return { context, page, problems }
  }

  const submit = (page: Page, form: string) => page.locator(`${form} button[type="submit"]`).click()

  async function registerAndLogin(page: Page, email: string): Promise<void> {
    await page.locator('#register-email').fill(email)
    await page.locator('#register-password').fill(PASSWORD)
    const registered = await logAfter(page, 'POST', '/register', () => submit(page, '#register-form'))
    assert.equal(registered.status, 201, registered.text)
    await page.locator('#login-email').fill(email)
    await page.locator('#login-password').fill(PASSWORD)
    const loggedIn = await logAfter(page, 'POST', '/login', () => submit(page, '#login-form'))
    assert.equal(loggedIn.status, 200, loggedIn.text)
    await page.locator('#status', { hasText: `Logged in as ${email}` }).waitFor()
  }

  /** Fills the create form: the scopes are ticked once the page has loaded them from the API. */
  async function fillKeyForm(page: Page, name: string, scopes: string[], days: string): Promise<void> {
    await page.locator('#apikey-scopes input[value="profile:read"]').waitFor()
    await page.locator('#apikey-name').fill(name)
    await page.locator('#apikey-days').fill(days)
    for (const scope of scopes) await page.locator(`#apikey-scopes input[value="${scope}"]`).check()
  }

  const createKey = (page: Page): Promise<LogEntry> =>
    logAfter(page, 'POST', '/api-keys', () => submit(page, '#apikey-form'))

  async function shownKey(page: Page): Promise<string> {
    await page.locator('#apikey-created:not([hidden])').waitFor()
    return page.locator('#apikey-value').inputValue()
  }

  const callApi = (path: string, key: string, init: RequestInit = {}) =>
    fetch(`${api().apiUrl}${path}`, {
      ...init,
      headers: { authorization: `Bearer ${key}`, ...(init.headers ?? {}) },
      signal: AbortSignal.timeout(5000),
    })

  it('a key with two scopes: shown once, copied, listed by prefix, usable within its scopes, revoked from the page', async () => {
    const { context, page, problems } = await demoPage(api())
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: api().demoUrl })
    const email = 'keys-owner@example.com'
    await registerAndLogin(page, email)
    // The card loaded the scopes from the API, with their descriptions.
    const scopeLabels = await page.locator('#apikey-scopes label').allTextContents()
    assert.ok(
      scopeLabels.some((label) => label.includes('prefs:write') && label.includes('Change your preferences')),
      scopeLabels.join(' | '),
    )
    await page.locator('#apikeys-body', { hasText: 'No API key yet.' }).waitFor()

    await fillKeyForm(page, 'nightly backup', ['profile:read', 'prefs:read'], '7')
    const created = await createKey(page)
    assert.equal(created.status, 201, created.text)
    const key = await shownKey(page)
    assert.match(key, KEY_PATTERN)
    assert.equal(await page.locator('#apikey-value').getAttribute('readonly'), '', 'the field is read-only')
    await page.locator('#apikey-created', { hasText: "Copy it now: it won't be shown again" }).waitFor()
    const prefix = key.slice(0, 10)

    // The log shows the answer with the prefix in place of the key: not the key, not its secret part.
    const log = (await page.locator('#log').textContent()) ?? ''
    assert.ok(!log.includes(key.slice(10)), 'the response log never holds the key')
    assert.ok(created.text.includes(`${prefix}…`), created.text)
    assert.ok(created.text.includes('nightly backup'), created.text)

    // Copy: the clipboard holds exactly the key.
    await page.locator('#apikey-copy').click()
    await page.locator('#apikey-copy-status', { hasText: 'Copied to the clipboard.' }).waitFor()
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), key)
    // Only the shown field holds it; no storage, no cookie of this origin.
    assert.deepEqual(await pageHolds(page, key.slice(10)), ['the value of #apikey-value'])
    assert.deepEqual(await page.evaluate(() => [localStorage.length, sessionStorage.length]), [0, 0])

    // The list: its name, prefix, both scopes, dates; the "Try it" line has the prefix only.
    const row = page.locator(`#apikeys-body tr[data-prefix="${prefix}"]`)
    await row.waitFor()
    const cells = await row.locator('td').allTextContents()
    assert.equal(cells[0], 'nightly backup')
    assert.equal(cells[1], `${prefix}…`)
    assert.deepEqual(await row.locator('.chip').allTextContents(), ['profile:read', 'prefs:read'])
    assert.equal(cells[4], 'never', 'not used yet')
    const expires = Date.parse((await row.locator('td:nth-child(6) time').getAttribute('datetime')) ?? '')
    assert.ok(Math.abs(expires - Date.now() - 7 * 86_400_000) < 120_000, 'expires in 7 days')
    const tryIt = (await page.locator('#apikey-try').textContent()) ?? ''
    assert.equal(tryIt, `curl -H "Authorization: Bearer ${prefix}…" ${api().apiUrl}/me`)
    await page.locator('#apikeys-card').screenshot({ path: `${OUTPUT_DIR}demo-api-keys.png` })

    // From Node: the key is the user's within its scopes; a scope it lacks is a 403.
    const me = await callApi('/me', key)
    assert.equal(me.status, 200)
    assert.equal((await me.json()).email, email)
    const user = await api()
      .store.db.selectFrom('users')
      .select('id')
      .where('email_normalized', '=', email)
      .executeTakeFirstOrThrow()
    assert.equal((await callApi(`/prefs/${user.id}`, key)).status, 200, 'prefs:read is granted')
    const write = await callApi(`/prefs/${user.id}`, key, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"theme":"dark"}',
    })
    assert.equal(write.status, 403, 'prefs:write is not granted')
    assert.equal((await write.json()).code, 'INSUFFICIENT_SCOPE')
    const audit = await callApi('/me/audit', key)
    assert.equal(audit.status, 403, 'audit:read is not granted')

    // Dismissed: the key is nowhere in the page any more.
    await page.locator('#apikey-dismiss').click()
    await page.locator('#apikey-created').waitFor({ state: 'hidden' })
    assert.deepEqual(await pageHolds(page, key.slice(10)), [])

    // Reloaded (the session cookie stays): the list is back, the key is not.
    await page.reload()
    await page.locator('html[data-ready="true"]').waitFor({ state: 'attached' })
    const who = await logAfter(page, 'GET', '/me', () => page.locator('#me-button').click())
    assert.equal(who.status, 200, who.text)
    await row.waitFor()
    assert.notEqual(await row.locator('td:nth-child(5)').textContent(), 'never', 'used since, from Node')
    assert.equal(await page.locator('#apikey-created').isHidden(), true)
    assert.deepEqual(await pageHolds(page, key.slice(10)), [])

    // Revoked from the page: 204, gone from the list, refused by the API.
    const keyId = await row.getAttribute('data-key-id')
    const revoked = await logAfter(page, 'DELETE', `/api-keys/${keyId}`, () =>
      row.getByRole('button', { name: 'Revoke the key “nightly backup”' }).click(),
    )
    assert.equal(revoked.status, 204, revoked.text)
    await page.locator('#apikey-result', { hasText: 'is revoked' }).waitFor()
    await page.locator('#apikeys-body', { hasText: 'No API key yet.' }).waitFor()
    const refused = await callApi('/me', key)
    assert.equal(refused.status, 401)
    assert.equal((await refused.json()).code, 'INVALID_TOKEN')
    assert.deepEqual(problems, { pageErrors: [], cspViolations: [] }, 'the card runs clean under the CSP')
  })

  it("shows the API's refusal ({detail}) and creates nothing; no scope ticked sends nothing", async () => {
    const { page } = await demoPage(api())
    const email = 'keys-refused@example.com'
    await registerAndLogin(page, email)
    await fillKeyForm(page, 'too long', ['profile:read'], '366')
    const refused = await createKey(page)
    assert.equal(refused.status, 422, refused.text)
    const box = page.locator('#apikey-result[data-state="error"]')
    await box.waitFor()
    const shown = (await box.textContent()) ?? ''
    assert.match(shown, /expires_in_days/, shown)
    assert.ok(refused.text.includes(shown), `the card shows the API's detail: ${shown}`)
    assert.equal(await page.locator('#apikey-created').isHidden(), true)

    // Nothing ticked: the card says so itself, and no request leaves.
    const before = api().apiRequests.filter((r) => r.method === 'POST' && r.url === '/api-keys').length
    await page.locator('#apikey-scopes input[value="profile:read"]').uncheck()
    await page.locator('#apikey-days').fill('30')
    await submit(page, '#apikey-form')
    await page.locator('#apikey-result', { hasText: 'Choose at least one scope.' }).waitFor()
    const afterCount = api().apiRequests.filter((r) => r.method === 'POST' && r.url === '/api-keys').length
    assert.equal(afterCount, before)
    const rows = await api()
      .store.db.selectFrom('api_keys')
      .innerJoin('users', 'users.id', 'api_keys.user_id')
      .select('api_keys.id')
      .where('users.email_normalized', '=', email)
      .execute()
    assert.equal(rows.length, 0, 'no key was stored')
  })

  it('without a clipboard API, Copy selects the whole key; a password change from the page empties the list', async () => {
    if (!browser) throw new Error('browser not launched')
    const context = await newContext(browser)
    contexts.push(context)
    // As on a plain-http origin other than localhost, where browsers offer no navigator.clipboard.
    // As a string: tsx would wrap a function's inner arrows in a helper the page does not have.
    await context.addInitScript({
      content:
        "Object.defineProperty(Navigator.prototype, 'clipboard', { get: () => undefined, configurable: true })",
    })
    const page = await context.newPage()
    const problems = watchPage(page)
    await openDemo(page, api().demoUrl)
    await registerAndLogin(page, 'keys-no-clipboard@example.com')
    await fillKeyForm(page, 'deploy', ['profile:read'], '1')
    assert.equal((await createKey(page)).status, 201)
    const key = await shownKey(page)
    await page.locator('#apikey-copy').click()
    await page.locator('#apikey-copy-status', { hasText: 'Selected: press Ctrl+C' }).waitFor()
    const selection = await page.evaluate(() => {
      const field = document.activeElement as HTMLInputElement
      return { id: field.id, start: field.selectionStart, end: field.selectionEnd }
    })
    assert.deepEqual(
      selection,
      { id: 'apikey-value', start: 0, end: key.length },
      'the whole key is selected',
    )
    await page.locator('#apikey-dismiss').click()
    assert.deepEqual(await pageHolds(page, key.slice(10)), [])

    // A password change ends the keys (the default): the card's list says so at once.
    await page.locator(`#apikeys-body tr[data-prefix="${key.slice(0, 10)}"]`).waitFor()
    await page.locator('#password-current').fill(PASSWORD)
    await page.locator('#password-new').fill('e2e-api-keys-password-2')
    const changed = await logAfter(page, 'POST', '/me/password', () => submit(page, '#password-form'))
    assert.equal(changed.status, 204, changed.text)
    await page.locator('#apikeys-body', { hasText: 'No API key yet.' }).waitFor()
    assert.equal((await callApi('/me', key)).status, 401)
    assert.deepEqual(problems, { pageErrors: [], cspViolations: [] })
  })

  it('a stale login: the card asks for the current password, refuses a wrong one, then creates the key', async () => {
    if (!stale) throw new Error('servers not started')
    const { page, problems } = await demoPage(stale)
    await registerAndLogin(page, 'keys-stale@example.com')
    await fillKeyForm(page, 'ci', ['profile:read'], '30')
    assert.equal(await page.locator('#apikey-stepup').isHidden(), true, 'no password asked at first')

    const first = await createKey(page)
    assert.equal(first.status, 403, first.text)
    assert.match(first.text, /FRESH_SESSION_REQUIRED/)
    await page.locator('#apikey-stepup:not([hidden])').waitFor()
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'apikey-password')
    await page.locator('#apikey-result', { hasText: 'Enter your current password' }).waitFor()
    assert.equal(await page.locator('#apikey-submit').textContent(), 'Confirm and create')

    await page.locator('#apikey-password').fill('not-the-password')
    const wrong = await createKey(page)
    assert.equal(wrong.status, 403, wrong.text)
    await page.locator('#apikey-result', { hasText: 'The password was not accepted' }).waitFor()
    assert.equal(await page.locator('#apikey-password').inputValue(), '', 'a refused password is cleared')
    assert.equal(await page.locator('#apikey-created').isHidden(), true)

    await page.locator('#apikey-password').fill(PASSWORD)
    const right = await createKey(page)
    assert.equal(right.status, 201, right.text)
    const key = await shownKey(page)
    assert.match(key, KEY_PATTERN)
    assert.ok(!right.text.includes(key.slice(10)), 'the log has the prefix only')
    await page.locator('#apikey-stepup').waitFor({ state: 'hidden' })
    assert.equal(await page.locator('#apikey-password').inputValue(), '', 'the password is not kept')
    assert.equal(await page.locator('#apikey-submit').textContent(), 'Create key')
    const me = await fetch(`${stale.apiUrl}/me`, {
      headers: { authorization: `Bearer ${key}` },
      signal: AbortSignal.timeout(5000),
    })
    assert.equal(me.status, 200)
    assert.deepEqual(problems, { pageErrors: [], cspViolations: [] })
  })
})
