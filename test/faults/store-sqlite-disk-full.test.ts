/**
 * SQLite on a disk that really fills up: a tiny tmpfs mounted by the test (root only; CI runs as
 * root, so there it always runs). While the disk is full, registering and logging in answer 503
 * STORE_UNAVAILABLE with Retry-After (not 500), /readyz is 503 although `select 1` still works, the
 * outage is logged once; the file is not corrupted; once space is freed, everything works again
 * without a restart, and the logins refused meanwhile locked nobody out.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { setTimeout as delay } from 'node:timers/promises'
import SqliteDatabase from 'better-sqlite3'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { buildApp } from '../../src/server/build-app.ts'
import { loadConfig } from '../../src/server/config.ts'
import { register, requestToken, TEST_SECRET } from '../helpers/test-app.ts'
import { cannotMount, mountTmpfs, type Tmpfs } from '../helpers/tmpfs.ts'

const PASSWORD = 'correct horse battery staple 42'
const skip = cannotMount()
/** CI (which names its required services) runs as root: there a mount that fails is a failure. */
const inCi = (process.env.GATEHOUSE_REQUIRE ?? '') !== ''

interface LogLine {
  level: number
  msg: string
  [key: string]: unknown
}

function assertStoreUnavailable(response: LightMyRequestResponse, what: string): void {
  assert.equal(response.statusCode, 503, `${what}: ${response.statusCode} ${response.body}`)
  assert.equal(response.json().code, 'STORE_UNAVAILABLE', what)
  assert.match(String(response.headers['retry-after']), /^[1-9]\d*$/, `${what}: Retry-After`)
}

describe('SQLite on a full disk (tmpfs)', {
  skip: skip && !inCi ? `skipped: ${skip}` : false,
  timeout: 60_000,
}, () => {
  let disk: Tmpfs
  let app: FastifyInstance
  let path: string
  let mailDir: string
  const lines: LogLine[] = []
  const uncaught: unknown[] = []
  const onUncaught = (error: unknown) => uncaught.push(error)
  let outageFrom = 0

  before(async () => {
    if (skip) throw new Error(skip)
    process.on('uncaughtException', onUncaught)
    disk = mountTmpfs(2 * 1024 * 1024)
    path = join(disk.dir, 'gatehouse.db')
    mailDir = mkdtempSync(join(tmpdir(), 'gatehouse-faults-mail-'))
    const config = loadConfig({
      DATABASE_URL: `sqlite:${path}`,
      DATABASE_TIMEOUT_SECONDS: '1',
      GATEHOUSE_SECRET: TEST_SECRET,
      ALLOWED_HOSTS: 'localhost,127.0.0.1,[::1]',
      PRUNE_INTERVAL_SECONDS: '0',
      REGISTER_MAX_PER_IP: '0',
      ACCOUNT_EMAILS: '0',
      MAIL_DIR: mailDir,
    })
    app = await buildApp(config, {
      logger: { level: 'info', stream: { write: (line: string) => lines.push(JSON.parse(line)) } },
    })
    await app.ready()
    assert.equal((await register(app, 'alice@example.com', PASSWORD)).statusCode, 201)
    assert.equal((await requestToken(app, 'alice@example.com', PASSWORD)).statusCode, 200)
  })

  after(async () => {
    process.off('uncaughtException', onUncaught)
    await app?.close()
    disk?.unmount()
    if (mailDir) rmSync(mailDir, { recursive: true, force: true })
  })

  it('a full disk: register, login and /readyz answer 503 STORE_UNAVAILABLE, logged once', async () => {
    outageFrom = lines.length
    disk.fill()
    for (let round = 0; round < 3; round++) {
      assertStoreUnavailable(await register(app, `bob${round}@example.com`, PASSWORD), 'register')
      assertStoreUnavailable(await requestToken(app, 'alice@example.com', PASSWORD), 'login')
      assertStoreUnavailable(await app.inject({ url: '/readyz' }), 'GET /readyz')
    }
    // The liveness probe does not depend on the store: a restart would not help.
    assert.equal((await app.inject({ url: '/healthz' })).statusCode, 200)
    const outage = lines.slice(outageFrom)
    assert.equal(outage.filter((l) => l.msg.startsWith('database unavailable')).length, 1)
    assert.deepEqual(
      outage.filter((l) => l.msg === 'unhandled error').map((l) => l.err),
      [],
    )
    assert.deepEqual(uncaught, [])
  })

  it('12 logins refused by the full disk are no failed attempts, and the file is not corrupted', async () => {
    for (let attempt = 0; attempt < 12; attempt++) {
      assertStoreUnavailable(await requestToken(app, 'alice@example.com', PASSWORD), `login ${attempt + 1}`)
    }
    const check = new SqliteDatabase(path, { readonly: true, fileMustExist: true })
    try {
      assert.deepEqual(check.pragma('integrity_check'), [{ integrity_check: 'ok' }])
    } finally {
      check.close()
    }
  })

  it('space freed: 200 within 5 s with no restart, the end of the outage logged once', async () => {
    disk.free()
    const started = Date.now()
    let response = await app.inject({ url: '/readyz' })
    while (response.statusCode !== 200 && Date.now() - started < 5000) {
      await delay(50)
      response = await app.inject({ url: '/readyz' })
    }
    assert.equal(response.statusCode, 200, `still ${response.statusCode} ${response.body} after 5 s`)
    assert.equal((await register(app, 'carol@example.com', PASSWORD)).statusCode, 201)
    const login = await requestToken(app, 'alice@example.com', PASSWORD)
    assert.equal(login.statusCode, 200, `alice is locked out after the outage: ${login.body}`)
    const deadline = Date.now() + 3000
    const ended = () => lines.slice(outageFrom).filter((l) => l.msg === 'database available again')
    while (ended().length === 0 && Date.now() < deadline) await delay(50)
    assert.equal(ended().length, 1)
    assert.ok(Number(ended()[0]?.refusedRequests) >= 9 + 12)
    assert.deepEqual(uncaught, [])
  })
})
