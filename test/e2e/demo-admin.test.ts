/**
 * The demo's "Users" card in a real Chromium against the real API: shown to a signed-in superuser
 * only; deactivating an account from it ends that account's tokens, "End sessions" ends them and
 * leaves the account active, the last superuser cannot drop the flag (the switch goes back), the
 * email filter and "Next page" walk the accounts. A normal user's page has no card and never asks.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import {
  type E2eServers,
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
const PASSWORD = 'e2e-admin-password-1'

describe('Users card in the demo (Chromium)', { skip: browserPath.skip, timeout: 120_000 }, () => {
  let browser: Browser | undefined
  let servers: E2eServers | undefined
  /** FRESH_SESSION_SECONDS=0: a superuser's change needs a login that is never recent enough. */
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

  async function demoPage(on: E2eServers): Promise<{ page: Page; problems: PageProblems }> {
    if (!browser) throw new Error('browser not launched')
    const context = await newContext(browser)
    contexts.push(context)
    const page = await context.newPage()
    const problems = watchPage(page)
    await openDemo(page, on.demoUrl)
    return { page, problems }
  }

  /** An account made the operator's way (as `gatehouse create-user [--superuser]` does). */
  const createUser = (on: E2eServers, email: string, isSuperuser = false) =>
    on.api.gatehouse.accounts.createUser({ email, password: PASSWORD, isSuperuser })

  /** A bearer token of the account, from POST /token, as a script would get one. */
  async function bearerToken(on: E2eServers, email: string): Promise<string> {
    const response = await fetch(`${on.apiUrl}/token`, {
      method: 'POST',
      body: new URLSearchParams({ username: email, password: PASSWORD }),
      signal: AbortSignal.timeout(5000),
    })
    assert.equal(response.status, 200)
    return (await response.json()).access_token
  }

  const meStatus = async (on: E2eServers, token: string) =>
    (
      await fetch(`${on.apiUrl}/me`, {
        headers: { authorization: `Bearer ${token}` },
        signal: AbortSignal.timeout(5000),
      })
    ).status

  async function login(page: Page, email: string): Promise<void> {
    await page.locator('#login-email').fill(email)
    await page.locator('#login-password').fill(PASSWORD)
    const entry = await logAfter(page, 'POST', '/login', () =>
      page.locator('#login-form button[type="submit"]').click(),
    )
    assert.equal(entry.status, 200, entry.text)
    await page.locator('#status', { hasText: `Logged in as ${email}` }).waitFor()
  }

  const row = (page: Page, email: string) => page.locator(`#admin-users-body tr[data-email="${email}"]`)
  const flag = (page: Page, email: string, field: 'is_active' | 'is_superuser') =>
    row(page, email).locator(`input[data-field="${field}"]`)
  const stored = (email: string) =>
    api()
      .store.db.selectFrom('users')
      .selectAll()
      .where('email_normalized', '=', email)
      .executeTakeFirstOrThrow()

  it('a superuser deactivates an account (its token is refused), ends sessions, and cannot drop the last superuser', async () => {
    const root = await createUser(api(), 'root@example.com', true)
    const target = await createUser(api(), 'target@example.com')
    const other = await createUser(api(), 'other@example.com')
    const targetToken = await bearerToken(api(), target.email)
    const otherToken = await bearerToken(api(), other.email)
    assert.equal(await meStatus(api(), targetToken), 200)

    const { page, problems } = await demoPage(api())
    assert.equal(await page.locator('#admin-card').isHidden(), true, 'hidden before anyone signs in')
    await login(page, root.email)
    await page.locator('#admin-card:not([hidden])').waitFor()
    await row(page, target.email).waitFor()
    const cells = await row(page, target.email).locator('td').allTextContents()
    assert.equal(cells[0], target.email)
    assert.equal(cells[2], 'not verified')
    assert.equal(await flag(page, target.email, 'is_active').isChecked(), true)
    assert.equal(await flag(page, target.email, 'is_superuser').isChecked(), false)
    assert.equal(await flag(page, root.email, 'is_superuser').isChecked(), true)

    // Deactivate: 200, the switch and the database agree, the account's token is refused at once.
    const deactivated = await logAfter(page, 'PATCH', `/admin/users/${target.id}`, () =>
      flag(page, target.email, 'is_active').click(),
    )
    assert.equal(deactivated.status, 200, deactivated.text)
    await page
      .locator('#admin-result[data-state="ok"]', { hasText: 'target@example.com is no longer active' })
      .waitFor()
    assert.equal(await flag(page, target.email, 'is_active').isChecked(), false)
    assert.equal((await stored(target.email)).is_active, 0)
    assert.equal(await meStatus(api(), targetToken), 401, 'the deactivated account’s token is refused')

    // End sessions: 204, the token is refused, the account stays active.
    assert.equal(await meStatus(api(), otherToken), 200)
    const ended = await logAfter(page, 'DELETE', `/admin/users/${other.id}/sessions`, () =>
      row(page, other.email)
        .getByRole('button', { name: `End every session of ${other.email}` })
        .click(),
    )
    assert.equal(ended.status, 204, ended.text)
    await page.locator('#admin-result', { hasText: 'Every session of other@example.com has ended' }).waitFor()
    assert.equal(await meStatus(api(), otherToken), 401, 'its sessions ended')
    assert.equal((await stored(other.email)).is_active, 1, 'the account itself is untouched')

    // The only active superuser cannot drop the flag: 409, the detail shown, the switch back on.
    const refused = await logAfter(page, 'PATCH', `/admin/users/${root.id}`, () =>
      flag(page, root.email, 'is_superuser').click(),
    )
    assert.equal(refused.status, 409, refused.text)
    assert.match(refused.text, /LAST_SUPERUSER/)
    const box = page.locator('#admin-result[data-state="error"]')
    await box.waitFor()
    assert.equal(await box.textContent(), 'The last active superuser cannot lose superuser rights')
    assert.equal(await flag(page, root.email, 'is_superuser').isChecked(), true, 'the switch shows the truth')
    assert.equal((await stored(root.email)).is_superuser, 1)
    await page.locator('#status', { hasText: `Logged in as ${root.email}` }).waitFor()

    await page.locator('#admin-card').screenshot({ path: `${OUTPUT_DIR}demo-admin-users.png` })
    assert.deepEqual(problems, { pageErrors: [], cspViolations: [] }, 'the card runs clean under the CSP')
  })

  it('the email filter and "Next page" walk the accounts 20 at a time', async () => {
    const root = await createUser(api(), 'pager-root@example.com', true)
    const emails = Array.from({ length: 21 }, (_, i) => `page-${String(i).padStart(2, '0')}@example.com`)
    for (const email of emails) await createUser(api(), email)

    const { page } = await demoPage(api())
    await login(page, root.email)
    await page.locator('#admin-card:not([hidden])').waitFor()
    await page.locator('#admin-prefix').fill('PAGE-')
    const filtered = await logAfter(page, 'GET', '/admin/users?limit=20&email_prefix=PAGE-', () =>
      page.locator('#admin-filter button[type="submit"]').click(),
    )
    assert.equal(filtered.status, 200, filtered.text)
    await page.locator('#admin-page', { hasText: 'Page 1 · 20 accounts starting with “PAGE-”' }).waitFor()
    const firstPage = await page
      .locator('#admin-users-body tr')
      .evaluateAll((rows) => rows.map((r) => (r as HTMLElement).dataset.email))
    assert.deepEqual(firstPage, emails.slice(0, 20))
    assert.equal(await page.locator('#admin-first').isHidden(), true)

    const next = page.locator('#admin-next')
    await next.waitFor()
    await next.click()
    await page.locator('#admin-page', { hasText: 'Page 2 · 1 account' }).waitFor()
    assert.deepEqual(
      await page
        .locator('#admin-users-body tr')
        .evaluateAll((rows) => rows.map((r) => (r as HTMLElement).dataset.email)),
      emails.slice(20),
    )
    assert.equal(await next.isHidden(), true, 'no next page after the last')
    const nextRequest = api()
      .apiRequests.filter((r) => r.url.startsWith('/admin/users?'))
      .at(-1)
    assert.match(nextRequest?.url ?? '', /[?&]cursor=[A-Za-z0-9_-]+/, 'the cursor of the first page was sent')
    assert.match(nextRequest?.url ?? '', /[?&]email_prefix=PAGE-/, 'with the same filter')

    await page.locator('#admin-first').click()
    await page.locator('#admin-page', { hasText: 'Page 1 · 20 accounts' }).waitFor()

    await page.locator('#admin-prefix').fill('nobody-')
    await page.locator('#admin-filter button[type="submit"]').click()
    await page.locator('#admin-users-body', { hasText: 'No account starts with that.' }).waitFor()
    assert.equal(await next.isHidden(), true)
  })

  it('a superuser who drops their own flag is signed out, and the card goes with it', async () => {
    // Another active superuser exists (root@example.com), so the flag may go.
    const self = await createUser(api(), 'demoted@example.com', true)
    const { page, problems } = await demoPage(api())
    await login(page, self.email)
    await page.locator('#admin-prefix').fill('demoted')
    await page.locator('#admin-filter button[type="submit"]').click()
    await page.locator('#admin-page', { hasText: 'Page 1 · 1 account' }).waitFor()
    const dropped = await logAfter(page, 'PATCH', `/admin/users/${self.id}`, () =>
      flag(page, self.email, 'is_superuser').click(),
    )
    assert.equal(dropped.status, 200, dropped.text)
    // The change ended this session (a privilege change renews it): the page asks and sees that.
    await page.locator('#status', { hasText: 'Not logged in' }).waitFor()
    await page.locator('#admin-card').waitFor({ state: 'hidden' })
    assert.equal((await stored(self.email)).is_superuser, 0)
    assert.deepEqual(problems, { pageErrors: [], cspViolations: [] })
  })

  it('a normal user has no Users card, and the page never asks for /admin/users', async () => {
    const user = await createUser(api(), 'plain@example.com')
    const { page, problems } = await demoPage(api())
    const start = api().apiRequests.length
    await login(page, user.email)
    await logAfter(page, 'GET', '/me', () => page.locator('#me-button').click())
    // The API keys card loads on login: once it has, the page has done what login leads to.
    await page.locator('#apikeys-body', { hasText: 'No API key yet.' }).waitFor()
    assert.equal(await page.locator('#admin-card').isHidden(), true)
    const asked = api()
      .apiRequests.slice(start)
      .filter((r) => r.url.startsWith('/admin/'))
    assert.deepEqual(asked, [])
    assert.deepEqual(problems, { pageErrors: [], cspViolations: [] })
  })

  it('the card hides on logout; a stale login is told to log in again and the switch stays', async () => {
    if (!stale) throw new Error('servers not started')
    const root = await createUser(stale, 'stale-root@example.com', true)
    const target = await createUser(stale, 'stale-target@example.com')
    const { page } = await demoPage(stale)
    await login(page, root.email)
    await row(page, target.email).waitFor()
    const refused = await logAfter(page, 'PATCH', `/admin/users/${target.id}`, () =>
      flag(page, target.email, 'is_active').click(),
    )
    assert.equal(refused.status, 403, refused.text)
    assert.match(refused.text, /FRESH_SESSION_REQUIRED/)
    await page.locator('#admin-result[data-state="error"]', { hasText: 'log in again' }).waitFor()
    assert.equal(await flag(page, target.email, 'is_active').isChecked(), true)

    const loggedOut = await logAfter(page, 'POST', '/logout', () => page.locator('#logout-button').click())
    assert.equal(loggedOut.status, 204)
    await page.locator('#admin-card').waitFor({ state: 'hidden' })
    assert.equal(
      await page.locator('#admin-users-body tr[data-email]').count(),
      0,
      'no account left in the page',
    )
  })
})
