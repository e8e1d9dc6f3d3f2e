/**
 * Brute-force protection of the password-checking routes (OWASP Authentication Cheat Sheet,
 * "Protect against automated attacks"; ASVS 5.0 V6.3.1), on the default memory store.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { loadConfig } from '../../src/server/config.ts'
import { createSqliteDatabase } from '../helpers/databases.ts'
import { bearer, register, requestToken, startTestApp, type TestApp } from '../helpers/test-app.ts'

const PASSWORD = 'throttle-test-password'
const WRONG = 'not-the-password'
const RATE_LIMITED = { detail: 'Too many failed attempts, try again later', code: 'RATE_LIMITED' }
const SMALL_LIMITS = { LOGIN_MAX_FAILURES_PER_ACCOUNT: '3', LOGIN_MAX_FAILURES_PER_IP: '5' }

/** POST /token (form) from a given client address. */
const token = (app: FastifyInstance, username: string, password: string, ip: string) =>
  requestToken(app, username, password, {}, ip)

/** POST /login (JSON) from a given client address. */
function sessionLogin(app: FastifyInstance, email: string, password: string, ip: string) {
  return app.inject({ method: 'POST', url: '/login', remoteAddress: ip, payload: { email, password } })
}

function assertRateLimited(response: LightMyRequestResponse): void {
  assert.equal(response.statusCode, 429, response.body)
  assert.deepEqual(response.json(), RATE_LIMITED)
  const retryAfter = Number(response.headers['retry-after'])
  assert.ok(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 900, `Retry-After ${retryAfter}`)
}

async function failTimes(app: FastifyInstance, email: string, ip: string, times: number): Promise<void> {
  for (let i = 0; i < times; i++) assert.equal((await token(app, email, WRONG, ip)).statusCode, 401)
}

describe('login throttling on /token, /login and the current_password check', () => {
  let t: TestApp
  const registered = async (email: string) =>
    assert.equal((await register(t.app, email, PASSWORD)).statusCode, 201)
  before(async () => {
    t = await startTestApp({
      create: createSqliteDatabase,
      env: { ...SMALL_LIMITS, FRESH_SESSION_SECONDS: '0' },
    })
  })
  after(() => t?.close())

  it('after 3 wrong passwords, even the right one is 429 with Retry-After (no password check)', async () => {
    await registered('victim@example.com')
    await failTimes(t.app, 'victim@example.com', '10.1.0.1', 3)
    assertRateLimited(await token(t.app, 'victim@example.com', PASSWORD, '10.1.0.1'))
    // Per account: another address gets the same answer.
    assertRateLimited(await token(t.app, 'Victim@Example.com', PASSWORD, '10.1.0.2'))
  })

  it('does not block another account from the same IP (the per-account limit is per account)', async () => {
    await registered('blocked@example.com')
    await registered('neighbour@example.com')
    await failTimes(t.app, 'blocked@example.com', '10.2.0.1', 3)
    assertRateLimited(await token(t.app, 'blocked@example.com', PASSWORD, '10.2.0.1'))
    assert.equal((await token(t.app, 'neighbour@example.com', PASSWORD, '10.2.0.1')).statusCode, 200)
  })

  it('blocks any account from an IP past 5 failures, and only from that IP', async () => {
    await registered('sprayed@example.com')
    for (const email of ['s1@example.com', 's1@example.com', 's2@example.com', 's2@example.com']) {
      assert.equal((await token(t.app, email, WRONG, '10.3.0.1')).statusCode, 401)
    }
    assert.equal((await sessionLogin(t.app, 's3@example.com', WRONG, '10.3.0.1')).statusCode, 401)
    assertRateLimited(await token(t.app, 'sprayed@example.com', PASSWORD, '10.3.0.1'))
    assertRateLimited(await sessionLogin(t.app, 'sprayed@example.com', PASSWORD, '10.3.0.1'))
    assert.equal((await token(t.app, 'sprayed@example.com', PASSWORD, '10.3.0.2')).statusCode, 200)
  })

  it('a success resets the account counter: only consecutive failures count', async () => {
    await registered('typo@example.com')
    for (let round = 0; round < 3; round++) {
      const ip = `10.4.0.${round + 1}`
      await failTimes(t.app, 'typo@example.com', ip, 2)
      assert.equal((await token(t.app, 'typo@example.com', PASSWORD, ip)).statusCode, 200)
    }
  })

  it('an unknown email is counted and blocked exactly like a known one', async () => {
    await registered('known@example.com')
    await failTimes(t.app, 'known@example.com', '10.5.0.1', 3)
    await failTimes(t.app, 'nobody@example.com', '10.5.0.2', 3)
    const known = await token(t.app, 'known@example.com', PASSWORD, '10.5.0.1')
    const unknown = await token(t.app, 'nobody@example.com', PASSWORD, '10.5.0.2')
    assertRateLimited(known)
    assertRateLimited(unknown)
    assert.equal(unknown.body, known.body)
    assert.deepEqual(Object.keys(unknown.headers).sort(), Object.keys(known.headers).sort())
  })

  it('/login and /token share the counters', async () => {
    await registered('both@example.com')
    assert.equal((await token(t.app, 'both@example.com', WRONG, '10.6.0.1')).statusCode, 401)
    assert.equal((await sessionLogin(t.app, 'both@example.com', WRONG, '10.6.0.1')).statusCode, 401)
    assert.equal((await token(t.app, 'both@example.com', WRONG, '10.6.0.1')).statusCode, 401)
    assertRateLimited(await sessionLogin(t.app, 'both@example.com', PASSWORD, '10.6.0.1'))
    assertRateLimited(await token(t.app, 'both@example.com', PASSWORD, '10.6.0.1'))
  })

  it('a wrong current_password on POST/PATCH /me counts as a failure of that account', async () => {
    await registered('stepup@example.com')
    const access = (await token(t.app, 'stepup@example.com', PASSWORD, '10.7.0.1')).json().access_token
    await sleep(5) // older than FRESH_SESSION_SECONDS=0: the password is required
    const change = (method: 'POST' | 'PATCH', currentPassword: string) =>
      t.app.inject({
        method,
        url: '/me',
        remoteAddress: '10.7.0.2',
        headers: bearer(access),
        payload: { email: 'thief@example.com', current_password: currentPassword },
      })
    for (const method of ['PATCH', 'POST', 'PATCH'] as const) {
      assert.equal((await change(method, WRONG)).statusCode, 403)
    }
    assertRateLimited(await change('PATCH', PASSWORD))
    assertRateLimited(await token(t.app, 'stepup@example.com', PASSWORD, '10.7.0.3'))
  })

  it('requests refused by validation (422) check no password and count nothing', async () => {
    await registered('valid@example.com')
    for (let i = 0; i < 10; i++) {
      const response = await t.app.inject({
        method: 'POST',
        url: '/login',
        remoteAddress: '10.8.0.1',
        payload: { email: 'valid@example.com' },
      })
      assert.equal(response.statusCode, 422)
    }
    assert.equal((await sessionLogin(t.app, 'valid@example.com', PASSWORD, '10.8.0.1')).statusCode, 200)
  })

  it('documents the 429 in OpenAPI', async () => {
    const doc = (await t.app.inject({ url: '/openapi.json' })).json()
    for (const [path, method] of [
      ['/token', 'post'],
      ['/login', 'post'],
      ['/me', 'patch'],
    ] as const) {
      assert.ok(doc.paths[path][method].responses['429'], `${method} ${path}`)
    }
  })
})

describe('login throttling with limits at 0 (off)', () => {
  let t: TestApp
  before(async () => {
    t = await startTestApp({
      create: createSqliteDatabase,
      env: { LOGIN_MAX_FAILURES_PER_ACCOUNT: '0', LOGIN_MAX_FAILURES_PER_IP: '0' },
    })
  })
  after(() => t?.close())

  it('never blocks', async () => {
    assert.equal((await register(t.app, 'free@example.com', PASSWORD)).statusCode, 201)
    await failTimes(t.app, 'free@example.com', '10.9.0.1', 12)
    assert.equal((await token(t.app, 'free@example.com', PASSWORD, '10.9.0.1')).statusCode, 200)
  })
})

describe('login throttling defaults', () => {
  let t: TestApp
  before(async () => {
    t = await startTestApp({ create: createSqliteDatabase })
  })
  after(() => t?.close())

  it('are on: 10 consecutive failures block the account for 900 s', async () => {
    assert.equal(t.config.loginMaxFailuresPerAccount, 10)
    assert.equal(t.config.loginMaxFailuresPerIp, 100)
    assert.equal(t.config.loginBlockSeconds, 900)
    assert.equal((await register(t.app, 'default@example.com', PASSWORD)).statusCode, 201)
    await failTimes(t.app, 'default@example.com', '10.10.0.1', 9)
    assert.equal((await token(t.app, 'default@example.com', PASSWORD, '10.10.0.1')).statusCode, 200)
    await failTimes(t.app, 'default@example.com', '10.10.0.1', 10)
    const blocked = await token(t.app, 'default@example.com', PASSWORD, '10.10.0.1')
    assertRateLimited(blocked)
    assert.ok(Number(blocked.headers['retry-after']) > 890)
  })
})

describe('the client IP behind a proxy', () => {
  const spray = async (app: FastifyInstance, forwarded: (i: number) => string) => {
    for (let i = 0; i < 5; i++) {
      const response = await app.inject({
        method: 'POST',
        url: '/login',
        remoteAddress: '127.0.0.1',
        headers: { 'x-forwarded-for': forwarded(i) },
        payload: { email: `spray${i}@example.com`, password: WRONG },
      })
      assert.equal(response.statusCode, 401)
    }
    return app.inject({
      method: 'POST',
      url: '/login',
      remoteAddress: '127.0.0.1',
      headers: { 'x-forwarded-for': '198.51.100.77' },
      payload: { email: 'bystander@example.com', password: PASSWORD },
    })
  }

  it('ignores X-Forwarded-For by default: a forged header does not escape the per-IP limit', async () => {
    const t = await startTestApp({ create: createSqliteDatabase, env: SMALL_LIMITS })
    try {
      assert.equal((await register(t.app, 'bystander@example.com', PASSWORD)).statusCode, 201)
      assertRateLimited(await spray(t.app, (i) => `203.0.113.${i}`))
    } finally {
      await t.close()
    }
  })

  it('with TRUST_PROXY naming the proxy, counts the forwarded client address', async () => {
    const t = await startTestApp({
      create: createSqliteDatabase,
      env: { ...SMALL_LIMITS, TRUST_PROXY: 'loopback' },
    })
    try {
      assert.equal((await register(t.app, 'bystander@example.com', PASSWORD)).statusCode, 201)
      assert.equal((await spray(t.app, () => '203.0.113.9')).statusCode, 200)
    } finally {
      await t.close()
    }
  })
})

describe('login throttling configuration', () => {
  it('reads the limits, the block, the Redis URL and prefix, and the trusted proxies', () => {
    const config = loadConfig({
      LOGIN_MAX_FAILURES_PER_ACCOUNT: '5',
      LOGIN_MAX_FAILURES_PER_IP: '0',
      LOGIN_IP_WINDOW_SECONDS: '60',
      LOGIN_BLOCK_SECONDS: '120',
      REDIS_URL: 'redis://127.0.0.1:6379/2',
      REDIS_KEY_PREFIX: 'app:staging',
      TRUST_PROXY: '10.0.0.1, 192.168.0.0/16,loopback',
    })
    assert.equal(config.loginMaxFailuresPerAccount, 5)
    assert.equal(config.loginMaxFailuresPerIp, 0)
    assert.equal(config.loginIpWindowSeconds, 60)
    assert.equal(config.loginBlockSeconds, 120)
    assert.equal(config.redisUrl, 'redis://127.0.0.1:6379/2')
    assert.equal(config.redisKeyPrefix, 'app:staging')
    assert.deepEqual(config.trustProxy, ['10.0.0.1', '192.168.0.0/16', 'loopback'])
    const defaults = loadConfig({})
    assert.equal(defaults.redisUrl, null)
    assert.equal(defaults.redisKeyPrefix, 'gatehouse')
    assert.deepEqual(defaults.trustProxy, [])
  })

  it('refuses bad values at boot (and never echoes a Redis URL, which may hold a password)', () => {
    for (const [name, value] of [
      ['LOGIN_MAX_FAILURES_PER_ACCOUNT', '-1'],
      ['LOGIN_MAX_FAILURES_PER_IP', '1e3'],
      ['LOGIN_BLOCK_SECONDS', '0'],
      ['LOGIN_IP_WINDOW_SECONDS', '0'],
      ['REDIS_KEY_PREFIX', 'has space'],
      ['TRUST_PROXY', 'true'],
      ['TRUST_PROXY', '*'],
    ]) {
      assert.throws(
        () => loadConfig({ [name as string]: value }),
        new RegExp(name as string),
        `${name}=${value}`,
      )
    }
    assert.throws(
      () => loadConfig({ REDIS_URL: 'http://user:s3cret@redis:6379' }),
      (error: Error) => /REDIS_URL/.test(error.message) && !error.message.includes('s3cret'),
    )
  })
})
