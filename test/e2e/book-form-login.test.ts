/**
 * The book's chapter-7 CSRF page in a real Chromium: served from an origin the API allows
 * (http://localhost:<port>, same site as the API), it logs in with
 * `fetch('/login', {body: new FormData(form)})` — multipart/form-data, as the browser serialises
 * it — then reads GET /me with the session cookie, and updates the email with the `csrftoken`
 * cookie copied into `X-CSRFToken`. The page runs under the strict HTML CSP (its script is a
 * file, like the demo's).
 */
import assert from 'node:assert/strict'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import type { FastifyInstance } from 'fastify'
import type { Browser } from 'playwright-core'
import { buildDemoApp } from '../../src/server/demo-server.ts'
import {
  type E2eServers,
  launchBrowser,
  newContext,
  screenshot,
  startServers,
  WAIT_MS,
  watchPage,
} from '../helpers/browser.ts'
import { service } from '../helpers/services.ts'

const browserPath = service('browser')
const PASSWORD = 'e2e-book-form-password-1'
const BOOK_PAGE = fileURLToPath(new URL('./fixtures/book-csrf/', import.meta.url))

type Handler = (request: IncomingMessage, response: ServerResponse) => void

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen({ port, host, exclusive: true }, () => {
      server.off('error', reject)
      resolve()
    })
  })
}

function close(server: Server): Promise<void> {
  if (!server.listening) return Promise.resolve()
  return new Promise((resolve) => {
    server.close(() => resolve())
    server.closeAllConnections()
  })
}

/**
 * A port on 127.0.0.1 and on ::1 (Chromium tries ::1 first for localhost): the page's origin
 * must be known before the API is built, to be in its CORS allowlist.
 */
async function listenOnLocalhost(handler: () => Handler): Promise<{ port: number; close(): Promise<void> }> {
  for (let attempt = 0; attempt < 10; attempt++) {
    const v4 = createServer((request, response) => handler()(request, response))
    await listen(v4, 0, '127.0.0.1')
    const port = (v4.address() as AddressInfo).port
    const servers = [v4]
    const v6 = createServer((request, response) => handler()(request, response))
    try {
      await listen(v6, port, '::1')
      servers.push(v6)
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE') {
        await close(v4)
        continue
      }
      // No IPv6 loopback here: Chromium falls back to 127.0.0.1.
    }
    return { port, close: async () => void (await Promise.all(servers.map(close))) }
  }
  throw new Error('no port free on both 127.0.0.1 and ::1 after 10 attempts')
}

describe("the book's CSRF page logs in with FormData in Chromium", {
  skip: browserPath.skip,
  timeout: 60_000,
}, () => {
  let browser: Browser | undefined
  let servers: E2eServers | undefined
  let pageApp: FastifyInstance | undefined
  let pageListener: { port: number; close(): Promise<void> } | undefined
  let pageUrl: string
  let route: Handler = (_request, response) => {
    response.statusCode = 503
    response.end()
  }

  before(async () => {
    pageListener = await listenOnLocalhost(() => route)
    pageUrl = `http://localhost:${pageListener.port}`
    ;[browser, servers] = await Promise.all([
      launchBrowser(browserPath.value),
      startServers({ CORS_ORIGINS: pageUrl }),
    ])
    pageApp = await buildDemoApp({ apiBaseUrl: servers.apiUrl, root: BOOK_PAGE })
    await pageApp.ready()
    route = pageApp.routing
  })
  after(async () => {
    await browser?.close()
    await pageListener?.close()
    await pageApp?.close()
    await servers?.close()
  })

  it('login posts multipart/form-data and answers 200, GET /me reads the cookie, the update passes CSRF', async () => {
    const api = servers!
    const email = 'book-page@example.com'
    const newEmail = 'book-page-moved@example.com'
    const registered = await fetch(`${api.apiUrl}/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email, password: PASSWORD }),
      signal: AbortSignal.timeout(WAIT_MS),
    })
    assert.equal(registered.status, 201)
    const userId = ((await registered.json()) as { id: number }).id

    const context = await newContext(browser!)
    try {
      const page = await context.newPage()
      const problems = watchPage(page)
      await page.goto(`${pageUrl}/`)
      await page.locator('html[data-ready="true"]').waitFor({ state: 'attached' })
      const start = api.apiRequests.length

      await page.locator('#email').fill(email)
      await page.locator('#password').fill(PASSWORD)
      await page.locator('#login-form button[type="submit"]').click()
      const result = page.locator('#result')
      await page.locator('#result[data-login]').waitFor({ state: 'attached' })
      assert.equal(await result.getAttribute('data-login'), '200', String(await result.textContent()))
      await page.locator('#result[data-me]').waitFor({ state: 'attached' })
      assert.equal(await result.getAttribute('data-me'), '200', String(await result.textContent()))
      assert.match((await result.textContent()) ?? '', new RegExp(`me 200 .*"email":"${email}"`))

      // What the API received: the browser's own multipart body, then a cookie-only GET /me.
      const seen = api.apiRequests.slice(start)
      const login = seen.find((r) => r.method === 'POST' && r.url === '/login')
      assert.ok(login, 'POST /login reached the API')
      assert.match(String(login.headers['content-type']), /^multipart\/form-data; boundary=/)
      assert.equal(login.headers.origin, pageUrl)
      assert.equal(login.status, 200)
      const me = seen.find((r) => r.method === 'GET' && r.url === '/me')
      assert.equal(me?.status, 200)
      assert.match(String(me?.headers.cookie), /(^|; )token=/)
      assert.equal(me?.headers.authorization, undefined, 'the session cookie alone authenticated')
      const sessions = await api.store.db
        .selectFrom('access_tokens')
        .select('kind')
        .where('user_id', '=', userId)
        .execute()
      assert.deepEqual(sessions, [{ kind: 'session' }])

      // Everything after login works too: the book's update with the csrftoken cookie as header.
      await page.locator('#new-email').fill(newEmail)
      await page.locator('#update-form button[type="submit"]').click()
      await page.locator('#result[data-update]').waitFor({ state: 'attached' })
      assert.equal(await result.getAttribute('data-update'), '200', String(await result.textContent()))
      const stored = await api.store.db
        .selectFrom('users')
        .select('email')
        .where('id', '=', userId)
        .executeTakeFirstOrThrow()
      assert.equal(stored.email, newEmail)

      await screenshot(page, 'book-form-login.png')
      assert.deepEqual(problems, { pageErrors: [], cspViolations: [] }, 'the page runs clean under the CSP')
    } finally {
      await context.close()
    }
  })
})
