/**
 * Processes on one SQLite file without Redis (two `serve` instances, the CLI in its own process):
 * revocations travel through the file's revocation log (migration 003, polled every 100 ms).
 * With TOKEN_CACHE_SECONDS=60 a revoked token is refused on the other instance within the poll
 * bound instead of a minute later; on a file without the table, nothing breaks and the TTL is
 * the bound, as before.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { Writable } from 'node:stream'
import { after, before, describe, it } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { type Kysely, sql } from 'kysely'
import { SQLITE_POLL_MS } from '../../src/server/revocation-sqlite.ts'
import { revocationEpochMigration } from '../../src/store/migrations/003-revocation-epoch.ts'
import { createSqliteDatabase } from '../helpers/databases.ts'
import { bearer, login, registerAndLogin, startTestApp, type TestApp } from '../helpers/test-app.ts'

const PASSWORD = 'revocation-log-password'
const CLI = fileURLToPath(new URL('../../src/cli/index.ts', import.meta.url))
const TSX = import.meta.resolve('tsx')
/** One poll, and the request that sees its result. */
const BOUND_MS = SQLITE_POLL_MS + 100

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

async function within(boundMs: number, done: () => Promise<boolean>): Promise<void> {
  const started = performance.now()
  while (!(await done())) {
    assert.ok(performance.now() - started < boundMs, `not seen within ${boundMs} ms`)
    await sleep(1)
  }
}

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

describe('revocations through the SQLite revocation log', () => {
  let a: TestApp
  let b: TestApp
  const logB = capturingLogger()
  const env = { TOKEN_CACHE_SECONDS: '60' }
  before(async () => {
    a = await startTestApp({ create: createSqliteDatabase, env })
    b = await startTestApp({
      create: async () => ({ url: a.store.url, drop: async () => {} }),
      env,
      logger: logB.logger,
    })
  })
  after(async () => {
    await b?.close()
    await a?.close()
  })

  const cachedOnB = async (email: string) => {
    const user = await registerAndLogin(a.app, email, PASSWORD)
    assert.equal(await me(b, user.token), 200)
    return user
  }

  it('without the table (a file not migrated to 003): the TTL bound, an info line, no warning', async () => {
    // As a file of an older version has it (whether or not migrate.ts already lists 003).
    await sql`drop table if exists revocation_events`.execute(a.store.db)
    const user = await cachedOnB('no-table@example.com')
    const out = await a.app.inject({ method: 'POST', url: '/logout', headers: bearer(user.token) })
    assert.equal(out.statusCode, 204)
    await sleep(BOUND_MS * 2)
    assert.equal(await me(b, user.token), 200, 'B answers from its cache: nothing told it')
    assert.equal(
      logB.lines.filter((line) => line.msg.includes('migration 003-revocation-epoch not applied')).length,
      1,
    )
    assert.deepEqual(
      logB.lines.filter((line) => line.level >= 40),
      [],
    )
  })

  it('with it: logout on A, then the CLI in its own process, are refused on B within one poll', async () => {
    await revocationEpochMigration('sqlite').up(a.store.db as unknown as Kysely<unknown>)
    await sleep(SQLITE_POLL_MS * 2)
    const user = await cachedOnB('log@example.com')
    const out = await a.app.inject({ method: 'POST', url: '/logout', headers: bearer(user.token) })
    assert.equal(out.statusCode, 204)
    await within(BOUND_MS, async () => (await me(b, user.token)) === 401)

    const again = await login(a.app, 'log@example.com', PASSWORD)
    assert.equal(await me(b, again), 200)
    const revoked = await cli(['revoke-tokens', 'log@example.com'], { ...env, DATABASE_URL: a.store.url })
    assert.equal(revoked.code, 0, revoked.output)
    assert.doesNotMatch(revoked.output, /warning/)
    await within(BOUND_MS, async () => (await me(b, again)) === 401)
    assert.deepEqual(
      logB.lines.filter((line) => line.level >= 40),
      [],
    )
  })
})
