/**
 * A third-party site (http://127.0.0.1:<port>, another site than localhost) attacks a user who is
 * logged in to the API through the demo, in the same browser (CSRF and CORS at work): a
 * classic auto-submitting form, and script-driven fetches. The email must stay unchanged and the
 * attacker's script must read nothing.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { BrowserContext, Page } from 'playwright-core'
import { logAfter, openDemo, startAttacker, useE2e, WAIT_MS } from '../helpers/browser.ts'
import { service } from '../helpers/services.ts'

const browserPath = service('browser')
const PASSWORD = 'e2e-victim-password-1'
const ATTACKER_EMAIL = 'attacker@evil.example'

/** The attacker's pages: plain HTML, no CSP, inline script allowed on their own site. */
function attackPages(apiUrl: string): Record<string, string> {
  const form = `<!doctype html><title>You won!</title>
<form id="f" method="post" action="${apiUrl}/me">
  <input name="email" value="${ATTACKER_EMAIL}">
</form>
<script>document.getElementById('f').submit()</script>`

  // Each attempt records what the attacker's script could observe.
  const script = `<!doctype html><title>Cute cats</title><body>
<script>
const api = ${JSON.stringify(apiUrl)}
async function attempt(name, run) {
  try {
    const response = await run()
    let body = null
    try { body = await response.text() } catch (error) { body = 'unreadable: ' + error.name }
    return { name, outcome: response.type === 'opaque' ? 'opaque' : 'read', type: response.type, status: response.status, body }
  } catch (error) {
    return { name, outcome: 'blocked', error: error.name + ': ' + error.message }
  }
}
const form = () => new URLSearchParams({ email: ${JSON.stringify(ATTACKER_EMAIL)} })
Promise.all([
  attempt('cors-post', () => fetch(api + '/me', { method: 'POST', credentials: 'include', body: form() })),
  attempt('no-cors-post', () => fetch(api + '/me', { method: 'POST', credentials: 'include', mode: 'no-cors', body: form() })),
  attempt('json-post', () => fetch(api + '/me', {
    method: 'POST', credentials: 'include',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email: ${JSON.stringify(ATTACKER_EMAIL)} }),
  })),
  attempt('read-me', () => fetch(api + '/me', { credentials: 'include' })),
]).then((results) => {
  window.__results = results
  document.body.dataset.done = 'true'
})
</script>`
  return { '/form': form, '/fetch': script }
}

interface Attempt {
  name: string
  outcome: 'blocked' | 'opaque' | 'read'
  type?: string
  status?: number
  body?: string | null
  error?: string
}

describe('cross-site attacker against a logged-in demo user', {
  skip: browserPath.skip,
  timeout: 60_000,
}, () => {
  const e2e = useE2e(browserPath.value)
  let attacker: Awaited<ReturnType<typeof startAttacker>>

  before(async () => {
    attacker = await startAttacker(() => attackPages(e2e.servers.apiUrl))
  })
  after(async () => {
    await attacker?.close()
  })

  /** A fresh browser context whose user registered and logged in through the demo. */
  async function victim(email: string): Promise<{ context: BrowserContext; demo: Page; userId: number }> {
    const context = await e2e.context()
    const demo = await context.newPage()
    await openDemo(demo, e2e.servers.demoUrl)
    await demo.locator('#register-email').fill(email)
    await demo.locator('#register-password').fill(PASSWORD)
    const registered = await logAfter(demo, 'POST', '/register', () =>
      demo.locator('#register-form button[type="submit"]').click(),
    )
    assert.equal(registered.status, 201, registered.text)
    await demo.locator('#login-email').fill(email)
    await demo.locator('#login-password').fill(PASSWORD)
    const loggedIn = await logAfter(demo, 'POST', '/login', () =>
      demo.locator('#login-form button[type="submit"]').click(),
    )
    assert.equal(loggedIn.status, 200, loggedIn.text)
    await demo.locator('#status', { hasText: `Logged in as ${email}` }).waitFor()
    const names = (await context.cookies(e2e.servers.apiUrl)).map((c) => c.name)
    assert.ok(names.includes('token'), 'the victim holds a session cookie')
    const row = await e2e.servers.store.db
      .selectFrom('users')
      .select('id')
      .where('email_normalized', '=', email)
      .executeTakeFirstOrThrow()
    return { context, demo, userId: row.id }
  }

  const storedEmail = async (id: number) =>
    (
      await e2e.servers.store.db
        .selectFrom('users')
        .select('email')
        .where('id', '=', id)
        .executeTakeFirstOrThrow()
    ).email
  const fromAttacker = (start: number) =>
    e2e.servers.apiRequests.slice(start).filter((r) => r.headers.origin === attacker.origin)

  /** The victim's session still works and still belongs to the victim's email. */
  async function assertSessionIntact(demo: Page, email: string): Promise<void> {
    const me = await logAfter(demo, 'GET', '/me', () => demo.locator('#me-button').click())
    assert.equal(me.status, 200, me.text)
    assert.match(me.text, new RegExp(`"email": "${email}"`))
  }

  it('an auto-submitting form POST to /me is refused; the email is unchanged', async () => {
    const email = 'victim-form@example.com'
    const { context, demo, userId } = await victim(email)
    const start = e2e.servers.apiRequests.length

    const page = await context.newPage()
    const navigated = page.waitForURL(`${e2e.servers.apiUrl}/me`, { timeout: WAIT_MS })
    await page.goto(`${attacker.origin}/form`)
    await navigated
    // What the user sees after the attacker's page navigated away: the API's refusal.
    const shown = (await page.locator('body').textContent()) ?? ''
    assert.match(shown, /Cross-site request refused/)
    assert.match(shown, /CROSS_SITE_REQUEST/)

    const seen = fromAttacker(start)
    assert.equal(seen.length, 1, `requests from the attacker: ${JSON.stringify(seen.map((r) => r.method))}`)
    const [post] = seen
    assert.equal(post!.method, 'POST')
    assert.equal(post!.headers['sec-fetch-site'], 'cross-site')
    assert.equal(post!.headers['sec-fetch-mode'], 'navigate')
    assert.doesNotMatch(
      String(post!.headers.cookie ?? ''),
      /(^|; )token=/,
      'SameSite=Lax kept the session home',
    )
    assert.equal(post!.status, 403)

    assert.equal(await storedEmail(userId), email, 'the database email is unchanged')
    assert.equal(
      await e2e.servers.store.db
        .selectFrom('users')
        .select('id')
        .where('email_normalized', '=', ATTACKER_EMAIL)
        .executeTakeFirst(),
      undefined,
    )
    await assertSessionIntact(demo, email)
  })

  it("a script's credentialed fetches are refused and unreadable; the email is unchanged", async () => {
    const email = 'victim-fetch@example.com'
    const { context, demo, userId } = await victim(email)
    const start = e2e.servers.apiRequests.length

    const page = await context.newPage()
    await page.goto(`${attacker.origin}/fetch`)
    await page.locator('body[data-done="true"]').waitFor({ state: 'attached' })
    const results = (await page.evaluate(
      () => (window as unknown as { __results: unknown }).__results,
    )) as Attempt[]
    const byName = new Map(results.map((r) => [r.name, r]))

    // CORS mode: the API names no Access-Control-Allow-Origin for this origin, so the promise rejects.
    assert.equal(byName.get('cors-post')?.outcome, 'blocked', JSON.stringify(byName.get('cors-post')))
    assert.match(String(byName.get('cors-post')?.error), /TypeError/)
    // no-cors would at best give an opaque response; Cross-Origin-Resource-Policy: same-origin
    // turns even that into a network error (Fetch standard, "cross-origin resource policy check").
    const noCors = byName.get('no-cors-post')
    assert.equal(noCors?.outcome, 'blocked', JSON.stringify(noCors))
    // JSON needs a preflight, which the API does not approve: the POST itself is never sent.
    assert.equal(byName.get('json-post')?.outcome, 'blocked', JSON.stringify(byName.get('json-post')))
    // Reading the user's data fails too.
    assert.equal(byName.get('read-me')?.outcome, 'blocked', JSON.stringify(byName.get('read-me')))

    // What reached the API: two form POSTs refused as cross-site, no session cookie on any
    // request, a rejected preflight, and no JSON POST at all.
    const seen = fromAttacker(start)
    for (const request of seen) {
      assert.doesNotMatch(
        String(request.headers.cookie ?? ''),
        /(^|; )token=/,
        `${request.method} carried the session`,
      )
    }
    const posts = seen.filter((r) => r.method === 'POST')
    assert.equal(posts.length, 2, JSON.stringify(seen.map((r) => [r.method, r.url, r.status])))
    for (const post of posts) {
      assert.equal(post.headers['sec-fetch-site'], 'cross-site')
      assert.equal(post.responseHeaders?.['cross-origin-resource-policy'], 'same-origin')
      assert.ok(String(post.headers['content-type']).startsWith('application/x-www-form-urlencoded'))
      assert.equal(post.status, 403)
    }
    const preflight = seen.find((r) => r.method === 'OPTIONS')
    assert.ok(preflight, 'the JSON attempt was preflighted')
    assert.equal(
      preflight.responseHeaders?.['access-control-allow-origin'],
      undefined,
      `a preflight from an unlisted origin is not approved (status ${preflight.status})`,
    )
    for (const request of seen) {
      assert.equal(request.responseHeaders?.['access-control-allow-origin'], undefined)
      assert.equal(request.responseHeaders?.['access-control-allow-credentials'], undefined)
    }
    const get = seen.find((r) => r.method === 'GET')
    assert.equal(get?.status, 401, 'without its cookie the cross-site GET is anonymous')

    assert.equal(await storedEmail(userId), email, 'the database email is unchanged')
    await assertSessionIntact(demo, email)
  })
})
