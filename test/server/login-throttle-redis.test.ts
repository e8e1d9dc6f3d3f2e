/**
 * Login throttling on Redis: counters shared by every instance, the connection closed with the
 * app, and an unreachable Redis that neither crashes nor locks anyone out (memory insurance).
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import type { FastifyInstance } from 'fastify'
import { Redis } from 'ioredis'
import { createSqliteDatabase } from '../helpers/databases.ts'
import { service } from '../helpers/services.ts'
import { register, requestToken, startTestApp, type TestApp } from '../helpers/test-app.ts'

const redisService = service('redis')
const PASSWORD = 'redis-throttle-password'
const WRONG = 'not-the-password'
const LIMITS = { LOGIN_MAX_FAILURES_PER_ACCOUNT: '3', LOGIN_MAX_FAILURES_PER_IP: '5' }

/** POST /token (form) from a given client address. */
const token = (app: FastifyInstance, username: string, password: string, ip: string) =>
  requestToken(app, username, password, {}, ip)

/** A key prefix of its own per run, so parallel runs on one Redis never meet. */
const uniquePrefix = () => `gatehouse-test-${randomBytes(6).toString('hex')}`

async function keysOf(redis: Redis, prefix: string): Promise<string[]> {
  const keys: string[] = []
  let cursor = '0'
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000)
    keys.push(...batch)
    cursor = next
  } while (cursor !== '0')
  return keys
}

/** How many connections carry this name (ioredis sets it with CLIENT SETNAME). */
async function connectionsNamed(redis: Redis, name: string): Promise<number> {
  const list = (await redis.client('LIST')) as string
  return list.split('\n').filter((line) => line.includes(` name=${name} `)).length
}

describe('login throttling on Redis', { skip: redisService.skip }, () => {
  const prefix = uniquePrefix()
  let redis: Redis
  let a: TestApp
  let b: TestApp
  before(async () => {
    redis = new Redis(redisService.value, { maxRetriesPerRequest: 1, lazyConnect: true })
    await redis.connect()
    const env = { ...LIMITS, REDIS_URL: redisService.value, REDIS_KEY_PREFIX: prefix }
    a = await startTestApp({ create: createSqliteDatabase, env })
    // A second instance of the same deployment: same database, same Redis, same prefix.
    b = await startTestApp({ create: async () => ({ url: a.store.url, drop: async () => {} }), env })
  })
  after(async () => {
    await b?.close()
    await a?.close()
    if (redis) {
      const keys = await keysOf(redis, prefix)
      if (keys.length > 0) await redis.del(...keys)
      await redis.quit()
    }
  })

  it('failures on instance A block the account on instance B', async () => {
    assert.equal((await register(a.app, 'shared@example.com', PASSWORD)).statusCode, 201)
    for (let i = 0; i < 3; i++) {
      const app = i % 2 === 0 ? a.app : b.app
      assert.equal((await token(app, 'shared@example.com', WRONG, '10.20.0.1')).statusCode, 401)
    }
    const blocked = await token(b.app, 'shared@example.com', PASSWORD, '10.20.0.2')
    assert.equal(blocked.statusCode, 429, blocked.body)
    assert.deepEqual(blocked.json(), {
      detail: 'Too many failed attempts, try again later',
      code: 'RATE_LIMITED',
    })
    assert.ok(Number(blocked.headers['retry-after']) > 890)
    assert.equal((await token(a.app, 'shared@example.com', PASSWORD, '10.20.0.3')).statusCode, 429)
  })

  it('lets at most the limit of a concurrent burst over both instances reach a password check', async () => {
    const responses = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        token(i % 2 ? a.app : b.app, 'burst@example.com', WRONG, `10.22.0.${i}`),
      ),
    )
    const statuses = responses.map((response) => response.statusCode)
    assert.equal(statuses.filter((status) => status === 401).length, 3, statuses.join(' '))
    assert.equal(statuses.filter((status) => status === 429).length, 27)
    const blocked = await token(a.app, 'burst@example.com', WRONG, '10.22.1.1')
    assert.equal(blocked.statusCode, 429)
    assert.ok(Number(blocked.headers['retry-after']) > 890)
  })

  it('shares the per-IP counter too', async () => {
    for (let i = 0; i < 5; i++) {
      const app = i % 2 === 0 ? a.app : b.app
      assert.equal((await token(app, `ip${i}@example.com`, WRONG, '10.21.0.1')).statusCode, 401)
    }
    assert.equal((await register(a.app, 'fresh@example.com', PASSWORD)).statusCode, 201)
    assert.equal((await token(b.app, 'fresh@example.com', PASSWORD, '10.21.0.1')).statusCode, 429)
    assert.equal((await token(b.app, 'fresh@example.com', PASSWORD, '10.21.0.2')).statusCode, 200)
  })

  it('keeps its keys under <prefix>:login, with no email address in them, and expiring', async () => {
    const keys = await keysOf(redis, prefix)
    assert.ok(keys.length > 0)
    for (const key of keys) {
      assert.match(key, new RegExp(`^${prefix}:login:(account|ip):`))
      assert.ok(!key.includes('@'), key)
      const ttl = await redis.ttl(key)
      assert.ok(ttl > 0 && ttl <= 86400, `${key} ttl ${ttl}`)
    }
  })

  it('closes its Redis connection when the app closes', async () => {
    const own = uniquePrefix()
    const c = await startTestApp({
      create: createSqliteDatabase,
      env: { REDIS_URL: redisService.value, REDIS_KEY_PREFIX: own },
    })
    try {
      assert.equal(await connectionsNamed(redis, own), 1)
    } finally {
      await c.close()
    }
    for (let i = 0; i < 20 && (await connectionsNamed(redis, own)) > 0; i++) await sleep(50)
    assert.equal(await connectionsNamed(redis, own), 0)
  })
})

describe('login throttling with Redis unreachable', () => {
  let t: TestApp
  let startMs = 0
  before(async () => {
    const started = Date.now()
    // Port 1: nothing listens, the connection is refused at once.
    t = await startTestApp({
      create: createSqliteDatabase,
      env: { ...LIMITS, REDIS_URL: 'redis://127.0.0.1:1', REDIS_KEY_PREFIX: uniquePrefix() },
    })
    startMs = Date.now() - started
  })
  after(() => t?.close())

  it('starts promptly and lets a legitimate login through', async () => {
    assert.ok(startMs < 3000, `started in ${startMs} ms`)
    assert.equal((await register(t.app, 'ok@example.com', PASSWORD)).statusCode, 201)
    assert.equal((await token(t.app, 'ok@example.com', PASSWORD, '10.30.0.1')).statusCode, 200)
  })

  it('still limits guessing, with this process memory (the insurance limiter)', async () => {
    assert.equal((await register(t.app, 'guessed@example.com', PASSWORD)).statusCode, 201)
    for (let i = 0; i < 3; i++) {
      assert.equal((await token(t.app, 'guessed@example.com', WRONG, '10.30.0.2')).statusCode, 401)
    }
    assert.equal((await token(t.app, 'guessed@example.com', PASSWORD, '10.30.0.2')).statusCode, 429)
  })

  it('closes promptly', async () => {
    const started = Date.now()
    await t.close()
    assert.ok(Date.now() - started < 2000, `closed in ${Date.now() - started} ms`)
  })
})
