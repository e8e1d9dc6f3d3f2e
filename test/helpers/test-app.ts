/**
 * The whole server (buildApp) on a fresh real database, for HTTP tests through `inject()`.
 * Every app gets its own database (SQLite file or PostgreSQL database), dropped by `close()`.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { FastifyInstance, FastifyServerOptions, LightMyRequestResponse } from 'fastify'
import { buildApp } from '../../src/server/build-app.ts'
import { type GatehouseConfig, loadConfig } from '../../src/server/config.ts'
import type { Store } from '../../src/store/open-store.ts'
import { openTestStore, type TestDatabase } from './databases.ts'

/** 43 characters: passes the production profile's secret check. */
export const TEST_SECRET = 'test-secret-0123456789-abcdefghijklmnopqrstu'

export interface TestAppOptions {
  /** Makes the fresh database: an entry of `dialects()` fits as is. */
  create: () => Promise<TestDatabase>
  /** Environment variables on top of the test defaults (e.g. ACCESS_TOKEN_TTL_SECONDS). */
  env?: Record<string, string>
  /** Fastify's logger option; silent by default. */
  logger?: FastifyServerOptions['logger']
}

export interface TestApp {
  app: FastifyInstance
  /** The store the app runs on. `store.close()` may be called early (the app keeps running). */
  store: Store & { url: string }
  config: GatehouseConfig
  /** Closes the app, then the store, and drops the database. Safe to call twice. */
  close(): Promise<void>
}

/** Development mail (.eml files) of this test process: never in the repository's ./data. */
let mailDir: string | undefined
function testMailDir(): string {
  if (mailDir === undefined) {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-test-mail-'))
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }))
    mailDir = dir
  }
  return mailDir
}

export async function startTestApp(options: TestAppOptions): Promise<TestApp> {
  const opened = await openTestStore(options.create)
  let storeClosed: Promise<void> | undefined
  const store = { ...opened, close: () => (storeClosed ??= opened.close()) }
  try {
    const config = loadConfig({
      DATABASE_URL: opened.url,
      GATEHOUSE_SECRET: TEST_SECRET,
      PRUNE_INTERVAL_SECONDS: '0',
      // inject() sends `Host: localhost:80`; production configs need the list spelled out (unless
      // the suite derives it from PUBLIC_URL).
      ...(options.env?.PUBLIC_URL ? {} : { ALLOWED_HOSTS: 'localhost,127.0.0.1,[::1]' }),
      // Suites register far more than one client's hourly quota; the limit's own tests set it.
      REGISTER_MAX_PER_IP: '0',
      MAIL_DIR: testMailDir(),
      ...options.env,
    })
    const app = await buildApp(config, { store, logger: options.logger ?? false })
    await app.ready()
    let closed: Promise<void> | undefined
    return {
      app,
      store,
      config,
      close: () =>
        (closed ??= (async () => {
          try {
            await app.close()
          } finally {
            await store.close()
          }
        })()),
    }
  } catch (error) {
    await store.close()
    throw error
  }
}

/** POST /register with JSON; returns the raw response (the caller asserts the status). */
export function register(
  app: FastifyInstance,
  email: string,
  password: string,
): Promise<LightMyRequestResponse> {
  return app.inject({ method: 'POST', url: '/register', payload: { email, password } })
}

/** POST /token with a form body; returns the raw response. */
export function requestToken(
  app: FastifyInstance,
  username: string,
  password: string,
  extra: Record<string, string> = {},
  remoteAddress?: string,
): Promise<LightMyRequestResponse> {
  return app.inject({
    method: 'POST',
    url: '/token',
    ...(remoteAddress ? { remoteAddress } : {}),
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams({ username, password, ...extra }).toString(),
  })
}

/** Logs in and returns the access token; fails the test when login does not answer 200. */
export async function login(app: FastifyInstance, email: string, password: string): Promise<string> {
  const response = await requestToken(app, email, password)
  assert.equal(response.statusCode, 200, `login of ${email} failed: ${response.body}`)
  const token = response.json().access_token
  assert.equal(typeof token, 'string')
  return token as string
}

/** Registers (asserting 201) and logs in: returns the new user's id and a token. */
export async function registerAndLogin(
  app: FastifyInstance,
  email: string,
  password: string,
): Promise<{ id: number; token: string }> {
  const registered = await register(app, email, password)
  assert.equal(registered.statusCode, 201, `register of ${email} failed: ${registered.body}`)
  return { id: registered.json().id as number, token: await login(app, email, password) }
}

export function bearer(token: string): { authorization: string } {
  return { authorization: `Bearer ${token}` }
}

/** A body must never carry a stack frame or a source path. */
export function assertNoStackTrace(body: string): void {
  assert.doesNotMatch(body, /\bat .+[(:]\d+/, 'stack frame in body')
  assert.doesNotMatch(body, /\/(work|src|node_modules|home|usr|tmp)\//, 'file path in body')
  assert.doesNotMatch(body, /\.(ts|js|mjs|cjs):\d+/, 'source location in body')
}

/** How many rows a table holds (read straight from the store, not through the API). */
export async function countRows(store: Store, table: 'users' | 'access_tokens'): Promise<number> {
  const row = await store.db
    .selectFrom(table)
    .select((eb) => eb.fn.countAll().as('n'))
    .executeTakeFirstOrThrow()
  return Number(row.n)
}
