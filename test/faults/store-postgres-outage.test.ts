/**
 * A PostgreSQL outage, for real: the app reaches PostgreSQL through a TCP proxy the test controls
 * (refusing, resetting, or silently swallowing every byte), and its connections are terminated by
 * pg_terminate_backend. During the outage every request that needs the store answers 503
 * STORE_UNAVAILABLE with Retry-After, within the configured timeout; the process lives; the log
 * says it twice (start, end), not once per request; the first 200 comes within 5 s of the database
 * accepting again, with no restart; and a login refused by the outage is no failed attempt.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { setTimeout as delay } from 'node:timers/promises'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import pg from 'pg'
import { buildApp } from '../../src/server/build-app.ts'
import { loadConfig } from '../../src/server/config.ts'
import { createPostgresDatabase, type TestDatabase } from '../helpers/databases.ts'
import { service } from '../helpers/services.ts'
import { type ProxyMode, startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.ts'
import { bearer, register, requestToken, TEST_SECRET } from '../helpers/test-app.ts'

const postgres = service('postgres')
const TIMEOUT_SECONDS = 1
/** The statement bound, the client's margin over it, and slack for a loaded 2-core machine. */
const BLACKHOLE_BOUND_MS = TIMEOUT_SECONDS * 1000 + 500 + 1500
const RECOVERY_BOUND_MS = 5000
const PASSWORD = 'correct horse battery staple 42'

interface LogLine {
  level: number
  msg: string
  [key: string]: unknown
}

function assertStoreUnavailable(response: LightMyRequestResponse, what: string): void {
  assert.equal(response.statusCode, 503, `${what}: ${response.statusCode} ${response.body}`)
  assert.equal(response.json().code, 'STORE_UNAVAILABLE', what)
  assert.equal(typeof response.json().detail, 'string', what)
  assert.match(String(response.headers['retry-after']), /^[1-9]\d*$/, `${what}: Retry-After`)
}

/** Polls until `attempt` answers 200; returns how long that took. */
async function msUntilOk(attempt: () => Promise<LightMyRequestResponse>, boundMs: number): Promise<number> {
  const started = Date.now()
  let last: LightMyRequestResponse | undefined
  while (Date.now() - started < boundMs) {
    last = await attempt()
    if (last.statusCode === 200) return Date.now() - started
    await delay(50)
  }
  assert.fail(`no 200 within ${boundMs} ms; last: ${last?.statusCode} ${last?.body}`)
}

describe('a PostgreSQL outage seen through a TCP proxy', { skip: postgres.skip, timeout: 90_000 }, () => {
  let database: TestDatabase
  let proxy: TcpProxy
  let app: FastifyInstance
  let mailDir: string
  const lines: LogLine[] = []
  const uncaught: unknown[] = []
  const onUncaught = (error: unknown) => uncaught.push(error)
  let token: string

  before(async () => {
    process.on('uncaughtException', onUncaught)
    database = await createPostgresDatabase(postgres.value)
    const direct = new URL(database.url)
    proxy = await startTcpProxy({ host: direct.hostname, port: Number(direct.port || 5432) })
    const viaProxy = new URL(database.url)
    viaProxy.hostname = '127.0.0.1'
    viaProxy.port = String(proxy.port)
    mailDir = mkdtempSync(join(tmpdir(), 'gatehouse-faults-mail-'))
    const config = loadConfig({
      DATABASE_URL: viaProxy.toString(),
      DATABASE_TIMEOUT_SECONDS: String(TIMEOUT_SECONDS),
      GATEHOUSE_SECRET: TEST_SECRET,
      ALLOWED_HOSTS: 'localhost,127.0.0.1,[::1]',
      PRUNE_INTERVAL_SECONDS: '0',
      REGISTER_MAX_PER_IP: '0',
      // Every bearer request reads the store (the cache would answer from memory).
      TOKEN_CACHE_SECONDS: '0',
      ACCOUNT_EMAILS: '0',
      MAIL_DIR: mailDir,
    })
    app = await buildApp(config, {
      logger: { level: 'info', stream: { write: (line: string) => lines.push(JSON.parse(line)) } },
    })
    await app.ready()
    assert.equal((await register(app, 'alice@example.com', PASSWORD)).statusCode, 201)
    assert.equal((await register(app, 'carol@example.com', PASSWORD)).statusCode, 201)
    const login = await requestToken(app, 'alice@example.com', PASSWORD)
    assert.equal(login.statusCode, 200, login.body)
    token = login.json().access_token
  })

  after(async () => {
    process.off('uncaughtException', onUncaught)
    await proxy?.setMode('pass')
    await app?.close()
    await proxy?.close()
    await database?.drop()
    if (mailDir) rmSync(mailDir, { recursive: true, force: true })
  })

  /** Every kind of request that needs the store, at once; each must be a timely 503. */
  async function duringOutage(boundMs: number): Promise<void> {
    const requests: [string, () => Promise<LightMyRequestResponse>][] = [
      ['register', () => register(app, `new-${Date.now()}@example.com`, PASSWORD)],
      ['login', () => requestToken(app, 'alice@example.com', PASSWORD)],
      ['GET /me', () => app.inject({ url: '/me', headers: bearer(token) })],
      ['GET /readyz', () => app.inject({ url: '/readyz' })],
    ]
    await Promise.all(
      requests.map(async ([what, send]) => {
        const started = Date.now()
        const response = await send()
        const elapsed = Date.now() - started
        assertStoreUnavailable(response, what)
        assert.ok(elapsed < boundMs, `${what} took ${elapsed} ms (bound ${boundMs} ms)`)
      }),
    )
  }

  /** Back to pass: the first 200 within 5 s, then the log's one line saying the outage is over. */
  async function recover(from: number): Promise<void> {
    await proxy.setMode('pass')
    const ms = await msUntilOk(() => app.inject({ url: '/me', headers: bearer(token) }), RECOVERY_BOUND_MS)
    assert.ok(ms < RECOVERY_BOUND_MS)
    assert.equal((await app.inject({ url: '/readyz' })).statusCode, 200)
    assert.equal((await requestToken(app, 'alice@example.com', PASSWORD)).statusCode, 200)
    const deadline = Date.now() + 3000
    while (!lines.slice(from).some((l) => l.msg === 'database available again') && Date.now() < deadline) {
      await delay(50)
    }
    const outage = lines.slice(from)
    const started = outage.filter((l) => l.msg.startsWith('database unavailable'))
    const ended = outage.filter((l) => l.msg === 'database available again')
    assert.equal(started.length, 1, `outage start lines: ${started.length}`)
    assert.equal(started[0]?.level, 40, 'the start is a warning')
    assert.equal(ended.length, 1, `outage end lines: ${ended.length}`)
    assert.equal(ended[0]?.level, 30, 'the end is an info line')
    assert.ok(Number(ended[0]?.refusedRequests) >= 4, `refusedRequests: ${ended[0]?.refusedRequests}`)
    assert.ok(Number(ended[0]?.outageMs) > 0)
    assert.deepEqual(
      outage.filter((l) => l.msg === 'unhandled error'),
      [],
      'an unavailable store is not an unhandled error',
    )
    assert.deepEqual(uncaught, [])
  }

  for (const mode of ['refuse', 'reset', 'blackhole'] satisfies ProxyMode[]) {
    it(`${mode}: 503 STORE_UNAVAILABLE with Retry-After, then 200 within 5 s, logged twice`, async () => {
      const from = lines.length
      await proxy.setMode(mode)
      // A stopped server also ends its sessions; a silent one leaves them open, and mute.
      if (mode !== 'blackhole') proxy.cut()
      await duringOutage(mode === 'blackhole' ? BLACKHOLE_BOUND_MS : 1000)
      await duringOutage(mode === 'blackhole' ? BLACKHOLE_BOUND_MS : 1000)
      await recover(from)
    })
  }

  /** Ends this database's sessions (the app's pool and any listener); returns how many. */
  async function terminateSessions(): Promise<number> {
    const admin = new pg.Client({ connectionString: postgres.value })
    await admin.connect()
    try {
      const { rowCount } = await admin.query(
        `select pg_terminate_backend(pid) from pg_stat_activity
         where datname = $1 and application_name = 'gatehouse' and pid <> pg_backend_pid()`,
        [new URL(database.url).pathname.slice(1)],
      )
      return rowCount ?? 0
    } finally {
      await admin.end()
    }
  }

  async function adminQuery(text: string): Promise<void> {
    const admin = new pg.Client({ connectionString: postgres.value })
    await admin.connect()
    try {
      await admin.query(text)
    } finally {
      await admin.end()
    }
  }

  it('a read-only server (a standby after failover): writes and /readyz are 503, reads still work', async () => {
    const name = new URL(database.url).pathname.slice(1)
    const from = lines.length
    await adminQuery(`alter database ${name} set default_transaction_read_only = on`)
    try {
      await terminateSessions()
      await delay(200)
      assertStoreUnavailable(await register(app, 'dave@example.com', PASSWORD), 'register')
      assertStoreUnavailable(await requestToken(app, 'alice@example.com', PASSWORD), 'login')
      // `select 1` answers on a read-only server: only a write tells it is not ready.
      assertStoreUnavailable(await app.inject({ url: '/readyz' }), 'GET /readyz')
      assert.equal((await app.inject({ url: '/me', headers: bearer(token) })).statusCode, 200)
    } finally {
      await adminQuery(`alter database ${name} reset default_transaction_read_only`)
    }
    await terminateSessions()
    await msUntilOk(() => app.inject({ url: '/readyz' }), RECOVERY_BOUND_MS)
    assert.equal((await register(app, 'dave@example.com', PASSWORD)).statusCode, 201)
    assert.equal(lines.slice(from).filter((l) => l.msg.startsWith('database unavailable')).length, 1)
    assert.deepEqual(uncaught, [])
  })

  it("pg_terminate_backend of the app's connections: the process lives, the next request is a 200", async () => {
    await Promise.all(Array.from({ length: 4 }, () => app.inject({ url: '/me', headers: bearer(token) })))
    assert.ok((await terminateSessions()) >= 1, 'no connection was terminated')
    await delay(200)
    assert.deepEqual(uncaught, [])
    const response = await app.inject({ url: '/me', headers: bearer(token) })
    assert.equal(response.statusCode, 200, response.body)
  })

  it('15 logins refused by the outage are no failed attempts: the user logs in right after', async () => {
    await proxy.setMode('refuse')
    proxy.cut()
    for (let attempt = 0; attempt < 15; attempt++) {
      assertStoreUnavailable(await requestToken(app, 'carol@example.com', PASSWORD), `login ${attempt + 1}`)
    }
    await proxy.setMode('pass')
    await msUntilOk(() => app.inject({ url: '/readyz' }), RECOVERY_BOUND_MS)
    const response = await requestToken(app, 'carol@example.com', PASSWORD)
    assert.equal(response.statusCode, 200, `carol is locked out after the outage: ${response.body}`)
  })
})
