/**
 * Instant revocation across instances with the token cache on (TOKEN_CACHE_SECONDS=60): two real
 * instances on one database, a revocation made on A (or by the CLI, in its own process) is a 401
 * on B within 100 ms, where B's cache alone would have answered 200 for a minute more. Once on
 * PostgreSQL (LISTEN/NOTIFY), once on SQLite with Redis (pub/sub). A channel connection killed
 * on the server's side comes back by itself, and the cache is flushed: a revocation B could not
 * hear meanwhile is honoured as soon as it is back.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { Writable } from 'node:stream'
import { after, before, describe, it } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { Redis } from 'ioredis'
import pg from 'pg'
import { createPostgresDatabase, createSqliteDatabase, type TestDatabase } from '../helpers/databases.ts'
import { service } from '../helpers/services.ts'
import { bearer, login, registerAndLogin, startTestApp, type TestApp } from '../helpers/test-app.ts'

const postgres = service('postgres')
const redisService = service('redis')
const PASSWORD = 'revocation-channel-password'
const CLI = fileURLToPath(new URL('../../src/cli/index.ts', import.meta.url))
const TSX = import.meta.resolve('tsx')
/** The guarantee under test, on loopback. */
const INSTANT_MS = 100

/** Log lines of one instance (warn and above), to check what an outage says. */
function capturingLogger() {
  const lines: { level: number; msg: string }[] = []
  const stream = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line))
      done()
    },
  })
  return { lines, logger: { level: 'info', stream } }
}

const me = async (t: TestApp, token: string) =>
  (await t.app.inject({ method: 'GET', url: '/me', headers: bearer(token) })).statusCode

/** Polls B until `done`; returns the milliseconds it took, or fails past `boundMs`. */
async function within(boundMs: number, done: () => Promise<boolean>): Promise<number> {
  const started = performance.now()
  for (;;) {
    if (await done()) return performance.now() - started
    const elapsed = performance.now() - started
    assert.ok(elapsed < boundMs, `not seen within ${boundMs} ms`)
    await sleep(1)
  }
}

/** Runs the real CLI in its own process against the deployment's settings. */
function cli(args: string[], env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', TSX, CLI, ...args], {
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let output = ''
    child.stdout.on('data', (chunk) => (output += chunk))
    child.stderr.on('data', (chunk) => (output += chunk))
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000)
    child.on('error', reject)
    child.on('exit', (code) => {
      clearTimeout(timer)
      resolve({ code, output })
    })
  })
}

interface Deployment {
  name: string
  skip: string | false
  create: () => Promise<TestDatabase>
  env: () => Record<string, string>
  /** Ends the listening connections of this deployment on the server's side (not a restart). */
  killListeners: (a: TestApp) => Promise<number>
  close: () => Promise<void>
}

const redisPrefix = `gatehouse-test-revocations-${randomBytes(6).toString('hex')}`
let redisAdmin: Redis | undefined

const deployments: Deployment[] = [
  {
    name: 'PostgreSQL LISTEN/NOTIFY',
    skip: postgres.skip,
    create: () => createPostgresDatabase(postgres.value),
    env: () => ({}),
    async killListeners(a) {
      // Only this test's database, and only the listeners (by their application_name).
      const admin = new pg.Client({ connectionString: a.store.url })
      await admin.connect()
      try {
        const { rows } = await admin.query(
          `select pg_terminate_backend(pid) from pg_stat_activity
            where datname = current_database() and application_name like 'gatehouse-revocations-%'`,
        )
        return rows.length
      } finally {
        await admin.end()
      }
    },
    close: async () => {},
  },
  {
    name: 'Redis pub/sub (SQLite)',
    skip: redisService.skip,
    create: createSqliteDatabase,
    env: () => ({ REDIS_URL: redisService.value, REDIS_KEY_PREFIX: redisPrefix }),
    async killListeners() {
      redisAdmin ??= new Redis(redisService.value, { maxRetriesPerRequest: 1 })
      const list = (await redisAdmin.client('LIST')) as string
      // Our own subscribers only, by the name the channel gives them, then by id.
      const ids = list
        .split('\n')
        .filter((line) => line.includes(` name=${redisPrefix}:revocations-subscriber `))
        .map((line) => /(?:^|\s)id=(\d+)/.exec(line)?.[1])
        .filter((id): id is string => id !== undefined)
      for (const id of ids) await redisAdmin.client('KILL', 'ID', id)
      return ids.length
    },
    async close() {
      await redisAdmin?.quit()
    },
  },
]

for (const deployment of deployments) {
  describe(`instant revocation across instances: ${deployment.name}`, { skip: deployment.skip }, () => {
    let a: TestApp
    let b: TestApp
    const logB = capturingLogger()
    let env: Record<string, string>
    before(async () => {
      env = { TOKEN_CACHE_SECONDS: '60', ...deployment.env() }
      a = await startTestApp({ create: deployment.create, env })
      // A second instance of the same deployment: same database, same settings.
      b = await startTestApp({
        create: async () => ({ url: a.store.url, drop: async () => {} }),
        env,
        logger: logB.logger,
      })
      // Both listeners connected (the PostgreSQL one connects in the background).
      await sleep(300)
    })
    after(async () => {
      await b?.close()
      await a?.close()
      await deployment.close()
    })

    /** A user whose token B has validated once, so B now answers from its cache. */
    async function cachedOnB(email: string) {
      const user = await registerAndLogin(a.app, email, PASSWORD)
      assert.equal(await me(b, user.token), 200)
      return user
    }

    it('B answers from its cache: a token deleted behind its back (no message) still passes', async () => {
      const user = await cachedOnB('control@example.com')
      await a.store.db.deleteFrom('access_tokens').where('user_id', '=', user.id).execute()
      await sleep(INSTANT_MS * 2)
      assert.equal(await me(b, user.token), 200, 'the cache is on: only the channel makes revocation instant')
      assert.equal(await me(a, user.token), 401, 'A never validated it: it reads the database')
    })

    it('logout on A', async () => {
      const user = await cachedOnB('logout@example.com')
      const out = await a.app.inject({ method: 'POST', url: '/logout', headers: bearer(user.token) })
      assert.equal(out.statusCode, 204)
      await within(INSTANT_MS, async () => (await me(b, user.token)) === 401)
    })

    it('DELETE /sessions/{id} on A', async () => {
      const user = await cachedOnB('session@example.com')
      const second = await login(a.app, 'session@example.com', PASSWORD)
      assert.equal(await me(b, second), 200)
      const list = await a.app.inject({ method: 'GET', url: '/sessions', headers: bearer(user.token) })
      const target = (list.json() as { id: string; current: boolean }[]).find((s) => !s.current)
      assert.ok(target)
      const out = await a.app.inject({
        method: 'DELETE',
        url: `/sessions/${target.id}`,
        headers: bearer(user.token),
      })
      assert.equal(out.statusCode, 204)
      await within(INSTANT_MS, async () => (await me(b, second)) === 401)
      assert.equal(await me(b, user.token), 200, 'the other session lives on')
    })

    it('password change on A ends the other sessions on B', async () => {
      const user = await cachedOnB('password@example.com')
      const other = await login(a.app, 'password@example.com', PASSWORD)
      assert.equal(await me(b, other), 200)
      const out = await a.app.inject({
        method: 'POST',
        url: '/me/password',
        headers: bearer(user.token),
        payload: { current_password: PASSWORD, new_password: 'a-brand-new-password-2' },
      })
      assert.equal(out.statusCode, 204, out.body)
      await within(INSTANT_MS, async () => (await me(b, other)) === 401)
    })

    it('deactivation (accounts.setActive) on A', async () => {
      const user = await cachedOnB('deactivated@example.com')
      await a.app.gatehouse.accounts.setActive(user.id, false)
      await within(INSTANT_MS, async () => (await me(b, user.token)) === 401)
    })

    it('an email change on A is what B shows at once', async () => {
      const user = await cachedOnB('before@example.com')
      const out = await a.app.inject({
        method: 'PATCH',
        url: '/me',
        headers: bearer(user.token),
        payload: { email: 'after@example.com', current_password: PASSWORD },
      })
      assert.equal(out.statusCode, 200, out.body)
      await within(INSTANT_MS, async () => {
        const seen = await b.app.inject({ method: 'GET', url: '/me', headers: bearer(user.token) })
        return seen.json().email === 'after@example.com'
      })
    })

    it('the CLI (revoke-tokens, deactivate), in its own process', async () => {
      const user = await cachedOnB('cli@example.com')
      const cliEnv = { ...env, DATABASE_URL: a.store.url }
      const revoked = await cli(['revoke-tokens', 'cli@example.com'], cliEnv)
      assert.equal(revoked.code, 0, revoked.output)
      assert.match(revoked.output, /revoked 1 token/)
      await within(INSTANT_MS, async () => (await me(b, user.token)) === 401)

      const again = await login(a.app, 'cli@example.com', PASSWORD)
      assert.equal(await me(b, again), 200)
      const deactivated = await cli(['deactivate', 'cli@example.com'], cliEnv)
      assert.equal(deactivated.code, 0, deactivated.output)
      await within(INSTANT_MS, async () => (await me(b, again)) === 401)
    })

    it('a killed channel connection comes back, and the cache is flushed: what it missed is honoured', async () => {
      const user = await cachedOnB('outage@example.com')
      assert.ok((await deployment.killListeners(a)) >= 2, 'both instances had a listener')
      // The revocation B cannot hear: straight in the database, no message at all.
      await a.store.db.deleteFrom('access_tokens').where('user_id', '=', user.id).execute()
      const took = await within(5000, async () => (await me(b, user.token)) === 401)
      assert.ok(took < 5000)
      const says = (text: string) => logB.lines.filter((line) => line.msg?.includes(text)).length
      assert.equal(says('revocations from other instances may take up to TOKEN_CACHE_SECONDS (60 s)'), 1)
      await within(5000, async () => says('token cache flushed') === 1)
      // And the channel carries messages again.
      const fresh = await cachedOnB('after-outage@example.com')
      await a.app.inject({ method: 'POST', url: '/logout', headers: bearer(fresh.token) })
      await within(INSTANT_MS, async () => (await me(b, fresh.token)) === 401)
    })
  })
}
