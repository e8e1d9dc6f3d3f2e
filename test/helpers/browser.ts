/**
 * Browser end-to-end support: Debian's Chromium driven by playwright-core (never a downloaded
 * browser), and the real servers it talks to — the API (buildApp) and the demo front end
 * (buildDemoApp) on two loopback ports, so the page is on http://localhost:<demoPort> and the API on
 * http://localhost:<apiPort> (same site, different origins, like :9000 and :8000), plus a third-party
 * "attacker" server on http://127.0.0.1:<port>, a different site from localhost.
 *
 * Chromium resolves `localhost` itself, to ::1 first and then 127.0.0.1, whatever /etc/hosts says;
 * Node's resolver here may know only 127.0.0.1 (so Fastify's `listen({ host: 'localhost' })` would
 * bind one of them). Every localhost server is therefore bound on both loopback addresses, same
 * port, so no other process on the other address can answer in its place. The sockets are bound
 * before the apps are built: each app must know the other's port (CORS allowlist, CSP connect-src).
 */
import assert from 'node:assert/strict'
import { mkdirSync } from 'node:fs'
import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before } from 'node:test'
import { fileURLToPath } from 'node:url'
import type { FastifyInstance } from 'fastify'
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core'
import { buildApp } from '../../src/server/build-app.ts'
import { type GatehouseConfig, loadConfig } from '../../src/server/config.ts'
import { buildDemoApp } from '../../src/server/demo-server.ts'
import { openStore, type Store } from '../../src/store/open-store.ts'
import { createSqliteDatabase, type TestDatabase } from './databases.ts'

/** Upper bound of every wait in the browser suites (navigation, selectors, polling). */
export const WAIT_MS = 10_000

/** Screenshots land here (git-ignored). */
export const OUTPUT_DIR = fileURLToPath(new URL('../../test-output/', import.meta.url))

const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
]

/** 44 characters: a valid GATEHOUSE_SECRET. */
const E2E_SECRET = 'e2e-browser-secret-0123456789-abcdefghijklmn'

export function launchBrowser(executablePath: string): Promise<Browser> {
  return chromium.launch({ executablePath, headless: true, args: CHROMIUM_ARGS, timeout: WAIT_MS })
}

/** A fresh context (own cookies, own CORS preflight cache) with every wait bounded. */
export async function newContext(browser: Browser): Promise<BrowserContext> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } })
  context.setDefaultTimeout(WAIT_MS)
  context.setDefaultNavigationTimeout(WAIT_MS)
  return context
}

/** Problems a page reported: uncaught exceptions and CSP violations (from the console). */
export interface PageProblems {
  pageErrors: string[]
  cspViolations: string[]
}

export function watchPage(page: Page): PageProblems {
  const problems: PageProblems = { pageErrors: [], cspViolations: [] }
  page.on('pageerror', (error) => problems.pageErrors.push(error.message))
  page.on('console', (message) => {
    if (message.type() === 'error' && /Content Security Policy/.test(message.text())) {
      problems.cspViolations.push(message.text())
    }
  })
  return problems
}

// ---------------------------------------------------------------- loopback listeners

type Handler = (request: IncomingMessage, response: ServerResponse) => void

/** One request as the server saw it, and the status it answered. */
export interface SeenRequest {
  method: string
  /** Path and query. */
  url: string
  headers: IncomingHttpHeaders
  /** Filled in when the response is finished. */
  status?: number
  /** The response headers, filled in when the response is finished. */
  responseHeaders?: Record<string, unknown>
}

interface Listener {
  port: number
  /** Every request received on any of the bindings, in arrival order. */
  seen: SeenRequest[]
  /** Routes requests from now on (to a Fastify app's `routing`). */
  handle(handler: Handler): void
  close(): Promise<void>
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error) => reject(error)
    server.once('error', onError)
    server.listen({ port, host, exclusive: true }, () => {
      server.off('error', onError)
      resolve()
    })
  })
}

function closeServer(server: Server): Promise<void> {
  if (!server.listening) return Promise.resolve()
  return new Promise((resolve) => {
    server.close(() => resolve())
    server.closeAllConnections()
  })
}

/**
 * Fills `entry` with the status and headers actually sent. Fastify passes its headers to
 * `writeHead()`, which `getHeaders()` never sees, so they are taken from that call.
 */
function recordResponse(response: ServerResponse, entry: SeenRequest): void {
  const writeHead = response.writeHead
  // biome-ignore lint/suspicious/noExplicitAny: writeHead's overloads cannot be forwarded with types.
  response.writeHead = function (this: ServerResponse, ...args: any[]) {
    const headers: Record<string, unknown> = { ...this.getHeaders() }
    const given = args.find((arg, index) => index > 0 && typeof arg === 'object' && arg !== null)
    if (Array.isArray(given)) {
      for (let i = 0; i + 1 < given.length; i += 2) headers[String(given[i]).toLowerCase()] = given[i + 1]
    } else if (given) {
      for (const [name, value] of Object.entries(given)) headers[name.toLowerCase()] = value
    }
    entry.responseHeaders = headers
    return writeHead.apply(this, args as Parameters<ServerResponse['writeHead']>)
  } as ServerResponse['writeHead']
  response.on('finish', () => {
    entry.status = response.statusCode
    entry.responseHeaders ??= { ...response.getHeaders() }
  })
}

/**
 * A free port bound on 127.0.0.1 and, when this machine has IPv6 loopback, on ::1 too. `localhost`
 * false binds 127.0.0.1 only (the attacker's site).
 */
async function listenLoopback(localhost: boolean): Promise<Listener> {
  const seen: SeenRequest[] = []
  let handler: Handler = (_request, response) => {
    response.statusCode = 503
    response.end()
  }
  const makeServer = (): Server => {
    const server = createServer((request, response) => {
      const entry: SeenRequest = {
        method: request.method ?? '',
        url: request.url ?? '',
        headers: request.headers,
      }
      seen.push(entry)
      recordResponse(response, entry)
      handler(request, response)
    })
    // Chromium keeps connections alive; a server that is closed must not wait for them.
    server.keepAliveTimeout = 1000
    return server
  }

  for (let attempt = 0; attempt < 10; attempt++) {
    const v4 = makeServer()
    await listen(v4, 0, '127.0.0.1')
    const port = (v4.address() as AddressInfo).port
    const servers = [v4]
    if (localhost) {
      const v6 = makeServer()
      try {
        await listen(v6, port, '::1')
        servers.push(v6)
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code
        if (code === 'EADDRINUSE') {
          // Someone holds this port on ::1, where Chromium would go first: pick another one.
          await closeServer(v4)
          continue
        }
        // EADDRNOTAVAIL / EAFNOSUPPORT: no IPv6 loopback here, so Chromium falls back to 127.0.0.1.
      }
    }
    return {
      port,
      seen,
      handle(next) {
        handler = next
      },
      close: async () => {
        await Promise.all(servers.map(closeServer))
      },
    }
  }
  throw new Error('no port free on both 127.0.0.1 and ::1 after 10 attempts')
}

// ---------------------------------------------------------------- the servers

export interface E2eServers {
  /** http://localhost:<apiPort> */
  apiUrl: string
  /** http://localhost:<demoPort> */
  demoUrl: string
  api: FastifyInstance
  demo: FastifyInstance
  config: GatehouseConfig
  /** The API's own store (read it to see what the server stored). */
  store: Store
  /** Requests the API received, as the HTTP server saw them (preflights included). */
  apiRequests: SeenRequest[]
  close(): Promise<void>
}

/**
 * The API on a fresh SQLite database and the demo front end, on loopback, with
 * CORS_ORIGINS=http://localhost:<demoPort>. `env` adds configuration (e.g. FRESH_SESSION_SECONDS).
 */
export async function startServers(env: Record<string, string> = {}): Promise<E2eServers> {
  const cleanups: (() => Promise<void>)[] = []
  const close = async () => {
    // Reverse order: listeners first (no new requests), then the apps, then the database.
    for (const cleanup of cleanups.splice(0).reverse()) {
      await cleanup().catch(() => {})
    }
  }
  try {
    const database: TestDatabase = await createSqliteDatabase()
    cleanups.push(() => database.drop())
    const store = openStore(database.url)
    cleanups.push(() => store.close())

    const apiListener = await listenLoopback(true)
    const demoListener = await listenLoopback(true)
    const apiUrl = `http://localhost:${apiListener.port}`
    const demoUrl = `http://localhost:${demoListener.port}`

    const config = loadConfig({
      DATABASE_URL: database.url,
      GATEHOUSE_SECRET: E2E_SECRET,
      PORT: String(apiListener.port),
      DEMO_PORT: String(demoListener.port),
      CORS_ORIGINS: demoUrl,
      PRUNE_INTERVAL_SECONDS: '0',
      ...env,
    })
    const api = await buildApp(config, { store, logger: false })
    cleanups.push(() => api.close())
    const demo = await buildDemoApp({ apiBaseUrl: apiUrl })
    cleanups.push(() => demo.close())
    await Promise.all([api.ready(), demo.ready()])

    apiListener.handle(api.routing)
    demoListener.handle(demo.routing)
    cleanups.push(
      () => apiListener.close(),
      () => demoListener.close(),
    )

    return { apiUrl, demoUrl, api, demo, config, store, apiRequests: apiListener.seen, close }
  } catch (error) {
    await close()
    throw error
  }
}

/** A third-party site on http://127.0.0.1:<port>: `pages` maps a path to the HTML it serves. */
export async function startAttacker(
  pages: (origin: string) => Record<string, string>,
): Promise<{ origin: string; seen: SeenRequest[]; close(): Promise<void> }> {
  const listener = await listenLoopback(false)
  const origin = `http://127.0.0.1:${listener.port}`
  const html = pages(origin)
  listener.handle((request, response) => {
    const body = html[new URL(request.url ?? '/', origin).pathname]
    response.statusCode = body === undefined ? 404 : 200
    response.setHeader('content-type', 'text/html; charset=utf-8')
    response.end(body ?? 'not found')
  })
  return { origin, seen: listener.seen, close: listener.close }
}

// ---------------------------------------------------------------- the demo page

/** Opens the demo and waits until it has its config and a CSRF token (`<html data-ready>`). */
export async function openDemo(page: Page, demoUrl: string): Promise<void> {
  await page.goto(`${demoUrl}/`)
  await page.locator('html[data-ready="true"]').waitFor({ state: 'attached' })
  const csrf = await page.locator('#log li.log-entry[data-method="GET"][data-path="/csrf"]').first()
  assert.equal(await csrf.getAttribute('data-status'), '200', 'the startup GET /csrf succeeded')
}

export interface LogEntry {
  status: number
  method: string
  path: string
  seq: number
  /** The entry's text (status line, request chips, error lines, body). */
  text: string
}

/** The page's response-log entries, oldest first. */
export async function logEntries(page: Page): Promise<LogEntry[]> {
  return page.$$eval('#log li.log-entry', (items) =>
    items.map((li) => {
      const item = li as HTMLElement
      return {
        status: Number(item.dataset.status),
        method: item.dataset.method ?? '',
        path: item.dataset.path ?? '',
        seq: Number(item.dataset.seq),
        text: item.textContent ?? '',
      }
    }),
  )
}

/**
 * Does `action` (a click or a submit) and returns the first new log entry for `method path`: the
 * moment the page shows the API's answer (the server has finished its work by then).
 */
export async function logAfter(
  page: Page,
  method: string,
  path: string,
  action: () => Promise<void>,
): Promise<LogEntry> {
  const before = Math.max(0, ...(await logEntries(page)).map((entry) => entry.seq))
  await action()
  await page.waitForFunction(
    ([m, p, seq]) =>
      [...document.querySelectorAll<HTMLElement>('#log li.log-entry')].some(
        (li) => li.dataset.method === m && li.dataset.path === p && Number(li.dataset.seq) > Number(seq),
      ),
    [method, path, String(before)] as const,
    { timeout: WAIT_MS },
  )
  const entry = (await logEntries(page)).find(
    (candidate) => candidate.seq > before && candidate.method === method && candidate.path === path,
  )
  assert.ok(entry)
  return entry
}

/** Saves a full-page screenshot under test-output/ and returns its path. */
export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(OUTPUT_DIR, { recursive: true })
  const path = `${OUTPUT_DIR}${name}`
  await page.screenshot({ path, fullPage: true, timeout: WAIT_MS })
  return path
}

/**
 * One browser and one set of servers for a test file (started in `before`, closed in `after`),
 * and a fresh context per test, closed with them.
 */
export function useE2e(executablePath: string): {
  readonly servers: E2eServers
  context(): Promise<BrowserContext>
} {
  let browser: Browser | undefined
  let servers: E2eServers | undefined
  const contexts: BrowserContext[] = []
  before(async () => {
    ;[browser, servers] = await Promise.all([launchBrowser(executablePath), startServers()])
  })
  after(async () => {
    for (const context of contexts) await context.close().catch(() => {})
    await browser?.close()
    await servers?.close()
  })
  return {
    get servers() {
      if (!servers) throw new Error('useE2e: servers are not started yet (use them inside tests)')
      return servers
    },
    async context() {
      if (!browser) throw new Error('useE2e: the browser is not launched yet')
      const context = await newContext(browser)
      contexts.push(context)
      return context
    },
  }
}
