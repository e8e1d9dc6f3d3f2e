/**
 * Redis blips don't reset blocks (issue 8): a redis-server of the test's own is killed and started
 * again (empty, as after a crash) while the real login throttle counts through it, with the
 * server's own ioredis settings (src/server/redis.ts: no offline queue, 1 s command timeout).
 * Instance A and instance B are two limiter sets, each with its own client and memory, on one Redis.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import type { FastifyBaseLogger } from 'fastify'
import type { Redis } from 'ioredis'
import { BoundedMemoryStore } from '../../src/accounts/bounded-memory-store.ts'
import { createAccountLimiters } from '../../src/accounts/limiters.ts'
import { createLoginThrottle } from '../../src/accounts/login-throttle.ts'
import { redisCounters } from '../../src/accounts/redis-write-back.ts'
import { accountKey } from '../../src/accounts/throttle-keys.ts'
import { writeBackFor } from '../../src/accounts/write-back.ts'
import { GatehouseError } from '../../src/core/errors.ts'
import { closeRedis, connectRedis } from '../../src/server/redis.ts'
import { type RedisServer, redisServerSkip, startRedisServer } from '../helpers/redis-server.ts'

const FAIL = async () => null
const SUCCEED = async () => ({ id: 1 })
const BLOCK_SECONDS = 900
const silent = { warn() {}, info() {}, error() {} } as unknown as FastifyBaseLogger

async function until(condition: () => boolean | Promise<boolean>, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(20)
  }
}

/** The attempt is refused with 429, and a Retry-After of about the rest of a fresh block. */
async function assertBlocked(attempt: Promise<unknown>, what: string, minSeconds = BLOCK_SECONDS - 15) {
  await assert.rejects(attempt, (error) => {
    assert.ok(error instanceof GatehouseError, `${what}: ${String(error)}`)
    assert.equal(error.code, 'RATE_LIMITED', what)
    const retryAfter = Number(error.retryAfterSeconds)
    assert.ok(retryAfter >= minSeconds && retryAfter <= BLOCK_SECONDS, `${what}: Retry-After ${retryAfter}`)
    return true
  })
}

describe('login throttle across a Redis outage (a redis-server the test kills and restarts)', {
  skip: redisServerSkip(),
}, () => {
  let server: RedisServer
  const clients: Redis[] = []
  let admin: Redis
  const prefix = `gatehouse-blip-${randomBytes(4).toString('hex')}`

  /** One instance: its own client and its own limiters (and so its own memory). */
  async function instance(name: string) {
    const redis = await connectRedis(server.url, name, silent)
    clients.push(redis)
    const limiters = createAccountLimiters({
      redis,
      keyPrefix: prefix,
      login: { blockSeconds: BLOCK_SECONDS },
    })
    return { redis, login: limiters.login }
  }
  const down = () => until(() => clients.every((c) => c.status !== 'ready'), 'every client to see Redis down')
  const up = () => until(() => clients.every((c) => c.status === 'ready'), 'every client to reconnect')
  const stored = async (email: string) =>
    Number(await admin.get(`${prefix}:login:account:${accountKey(email)}`))

  before(async () => {
    server = await startRedisServer()
    admin = await connectRedis(server.url, 'admin', silent)
    clients.push(admin)
  })
  after(async () => {
    await Promise.all(clients.map((client) => closeRedis(client)))
    await server?.stop()
  })

  it('an account blocked while Redis is down stays blocked when it is back, here and on another instance', async () => {
    const a = await instance('a')
    const b = await instance('b')
    const email = 'during@example.com'
    // The very first attempt once the connection is back, made before the background write-back
    // starts (this listener is older than the write-back's): even the right password.
    const first = new Promise<{ attempt: Promise<unknown> }>((resolve) =>
      a.redis.once('ready', () => {
        const attempt = a.login.guard(email, '10.60.0.3', SUCCEED)
        attempt.catch(() => {})
        resolve({ attempt })
      }),
    )
    await server.stop()
    await down()
    // Other accounts failed first: the victim's block is far down the background write-back.
    for (let i = 0; i < 600; i++)
      await a.login.guard(`other${i}@example.com`, `10.59.${i >> 8}.${i & 255}`, FAIL)
    for (let i = 0; i < 10; i++) assert.equal(await a.login.guard(email, '10.60.0.1', FAIL), null)
    await assertBlocked(a.login.guard(email, '10.60.0.2', SUCCEED), 'A during the outage')

    await server.start()
    await up()
    await assertBlocked((await first).attempt, 'A on reconnection')
    await assertBlocked(a.login.guard(email, '10.60.0.3', SUCCEED), 'A after recovery')
    await until(async () => (await stored(email)) > 2 ** 29, 'the block to be written back')
    const ttl = await admin.pttl(`${prefix}:login:account:${accountKey(email)}`)
    assert.ok(ttl > (BLOCK_SECONDS - 15) * 1000 && ttl <= BLOCK_SECONDS * 1000, `PTTL ${ttl}`)
    await assertBlocked(b.login.guard(email, '10.60.0.4', SUCCEED), 'B after recovery')
  })

  it('failures counted during the outage still count after it: no fresh ten guesses', async () => {
    const a = await instance('a2')
    const b = await instance('b2')
    const email = 'counted@example.com'
    await server.stop()
    await down()
    for (let i = 0; i < 4; i++) assert.equal(await a.login.guard(email, '10.61.0.1', FAIL), null)
    await server.start()
    await up()
    await until(async () => (await stored(email)) === 4, 'the count to be written back')
    let checks = 0
    const guess = () =>
      b.login.guard(email, '10.61.0.2', async () => {
        checks++
        return null
      })
    for (let i = 0; i < 6; i++) assert.equal(await guess(), null)
    await assertBlocked(guess(), 'B after 4 + 6 failures')
    assert.equal(checks, 6)
  })

  it('failures before an outage plus those during it reach the limit: a block, not a 1 s retry for a day', async () => {
    const b = await instance('b-sum')
    const email = 'summed@example.com'
    const rlKey = `${prefix}:login:account:${accountKey(email)}`
    // Nine failures in Redis before the outage, nine more counted in memory during it: the
    // instance's write-back merges them once Redis answers again.
    for (let i = 0; i < 9; i++) assert.equal(await b.login.guard(email, '10.62.0.1', FAIL), null)
    assert.equal(await stored(email), 9)
    await redisCounters(admin).merge(rlKey, 9, 86_400_000, { limit: 10, blockMs: BLOCK_SECONDS * 1000 })
    assert.ok((await stored(email)) > 2 ** 29, 'the sum became a block')
    const ttl = await admin.pttl(rlKey)
    assert.ok(ttl > (BLOCK_SECONDS - 15) * 1000 && ttl <= BLOCK_SECONDS * 1000, `PTTL ${ttl}`)
    await assertBlocked(b.login.guard(email, '10.62.0.2', SUCCEED), 'after the merge')
  })

  it('a block set before the outage holds during it on the instances that saw it, and survives the restart', async () => {
    const a = await instance('a3')
    const b = await instance('b3')
    const email = 'before@example.com'
    for (let i = 0; i < 10; i++) assert.equal(await a.login.guard(email, '10.62.0.1', FAIL), null)
    // B sees the block once (a refused attempt reads it).
    await assertBlocked(b.login.guard(email, '10.62.0.2', SUCCEED), 'B before the outage')
    await server.stop()
    await down()
    await assertBlocked(a.login.guard(email, '10.62.0.3', SUCCEED), 'A (set it) during the outage')
    await assertBlocked(b.login.guard(email, '10.62.0.4', SUCCEED), 'B (read it) during the outage')
    // The restarted Redis is empty: the refused attempts during the outage wrote the block back.
    await server.start()
    await up()
    await until(async () => (await stored(email)) > 2 ** 29, 'the block to be written back')
    const c = await instance('c3')
    await assertBlocked(c.login.guard(email, '10.62.0.5', SUCCEED), 'C (new) after recovery')
  })

  it('what an outage leaves to write back is bounded by the memory store', async () => {
    const redis = await connectRedis(server.url, 'bounded', silent)
    clients.push(redis)
    const memoryStore = new BoundedMemoryStore({ maxKeys: 50 })
    const keyPrefix = `${prefix}:bounded`
    const throttle = createLoginThrottle({ redis, memoryStore, keyPrefix, maxFailuresPerIp: 0 })
    await server.stop()
    await down()
    for (let i = 0; i < 500; i++) await throttle.guard(`flood${i}@example.com`, '10.63.0.1', FAIL)
    const writeBack = writeBackFor(redisCounters(redis), memoryStore)
    assert.ok(writeBack.pending <= 50, `${writeBack.pending} keys pending`)
    assert.ok(memoryStore.size <= 50)
    await server.start()
    await up()
    await until(() => writeBack.pending === 0, 'the write-back to finish')
    const keys = await admin.keys(`${keyPrefix}:*`)
    assert.ok(keys.length > 0 && keys.length <= 50, `${keys.length} keys written back`)
  })
})
