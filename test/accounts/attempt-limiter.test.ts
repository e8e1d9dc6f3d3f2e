/**
 * The per-client attempt limiter (registration): every attempt counts, N per window per client
 * (IPv6 by /64), 429 with Retry-After beyond; bounded memory, or Redis with that as insurance.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { Redis } from 'ioredis'
import {
  type AttemptLimiterOptions,
  createAttemptLimiter,
  REGISTER_LIMIT_DEFAULTS,
} from '../../src/accounts/attempt-limiter.ts'
import { BoundedMemoryStore } from '../../src/accounts/bounded-memory-store.ts'
import { GatehouseError } from '../../src/core/errors.ts'
import { service } from '../helpers/services.ts'
import { unreachableRedis } from '../helpers/unreachable-redis.ts'

const redisService = service('redis')

function assertRateLimited(error: unknown, maxSeconds: number): true {
  assert.ok(error instanceof GatehouseError, String(error))
  assert.equal(error.code, 'RATE_LIMITED')
  assert.equal(error.status, 429)
  assert.equal(error.detail, 'Too many attempts, try again later')
  const retryAfter = Number(error.retryAfterSeconds)
  assert.ok(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= maxSeconds, String(retryAfter))
  return true
}

/** How many of `count` attempts by `ip` were let through. */
async function allowed(limiter: { consume(ip: string): Promise<void> }, ip: string, count: number) {
  const outcomes = await Promise.allSettled(Array.from({ length: count }, () => limiter.consume(ip)))
  for (const outcome of outcomes) {
    if (outcome.status === 'rejected') assertRateLimited(outcome.reason, 3600)
  }
  return outcomes.filter((outcome) => outcome.status === 'fulfilled').length
}

/** The behaviour both stores must have; `make` gives a fresh limiter with its own keys. */
function behaviour(make: (options: AttemptLimiterOptions) => { consume(ip: string): Promise<void> }) {
  it('lets maxAttempts through per client, then answers 429 with Retry-After within the window', async () => {
    const limiter = make({ maxAttempts: 5, windowSeconds: 60 })
    for (let i = 0; i < 5; i++) await limiter.consume('10.60.0.1')
    await assert.rejects(limiter.consume('10.60.0.1'), (e) => assertRateLimited(e, 60))
    await assert.rejects(limiter.consume('10.60.0.1'), (e) => assertRateLimited(e, 60))
    // Another client is not affected.
    await limiter.consume('10.60.0.2')
  })

  it('lets exactly maxAttempts of a concurrent burst through (one atomic count per attempt)', async () => {
    const limiter = make({ maxAttempts: 7, windowSeconds: 60 })
    assert.equal(await allowed(limiter, '10.61.0.1', 50), 7)
  })

  it('counts IPv6 clients by /64 and IPv4-mapped addresses as IPv4', async () => {
    const limiter = make({ maxAttempts: 2, windowSeconds: 60 })
    await limiter.consume('2001:db8:60:1::1')
    await limiter.consume('2001:db8:60:1:ffff::2')
    await assert.rejects(limiter.consume('2001:0db8:0060:0001::99'), (e) => assertRateLimited(e, 60))
    await limiter.consume('2001:db8:60:2::1')
    await limiter.consume('::ffff:192.0.2.60')
    await limiter.consume('192.0.2.60')
    await assert.rejects(limiter.consume('192.0.2.60'), (e) => assertRateLimited(e, 60))
  })

  it('lets a client in again when its window ends, refused attempts not extending it', async () => {
    const limiter = make({ maxAttempts: 2, windowSeconds: 1 })
    await limiter.consume('10.62.0.1')
    await limiter.consume('10.62.0.1')
    await sleep(500)
    await assert.rejects(limiter.consume('10.62.0.1'), (e) => assertRateLimited(e, 1))
    await sleep(600)
    await limiter.consume('10.62.0.1')
  })

  it('is off at 0', async () => {
    const limiter = make({ maxAttempts: 0 })
    assert.equal(await allowed(limiter, '10.63.0.1', 200), 200)
  })
}

describe('attempt limiter (memory store)', () => {
  behaviour((options) => createAttemptLimiter(options))

  it('defaults to 20 attempts an hour', async () => {
    assert.deepEqual(REGISTER_LIMIT_DEFAULTS, { maxAttempts: 20, windowSeconds: 3600 })
    const limiter = createAttemptLimiter()
    assert.equal(await allowed(limiter, '10.64.0.1', 25), 20)
    await assert.rejects(limiter.consume('10.64.0.1'), (error) => {
      assertRateLimited(error, 3600)
      return Number((error as GatehouseError).retryAfterSeconds) > 3590
    })
  })

  it('holds at most maxKeys clients, and a flood of new clients unblocks none', async () => {
    const memoryStore = new BoundedMemoryStore({ maxKeys: 100 })
    const limiter = createAttemptLimiter({ maxAttempts: 3, windowSeconds: 60, memoryStore })
    assert.equal(await allowed(limiter, '10.65.0.1', 4), 3)
    for (let i = 0; i < 1000; i++) await limiter.consume(`172.17.${i >> 8}.${i & 255}`)
    assert.equal(memoryStore.size, 100)
    await assert.rejects(limiter.consume('10.65.0.1'), (e) => assertRateLimited(e, 60))
  })

  it('keeps nothing when off', async () => {
    const memoryStore = new BoundedMemoryStore()
    const limiter = createAttemptLimiter({ maxAttempts: 0, memoryStore })
    await limiter.consume('10.66.0.1')
    assert.equal(memoryStore.size, 0)
  })
})

describe('attempt limiter with Redis unreachable (memory insurance)', () => {
  it('still limits, in its bounded memory store, without store errors', async () => {
    const redis = unreachableRedis()
    const errors: unknown[] = []
    try {
      const memoryStore = new BoundedMemoryStore({ maxKeys: 10 })
      const limiter = createAttemptLimiter({
        maxAttempts: 3,
        windowSeconds: 60,
        redis,
        memoryStore,
        onStoreError: (error) => errors.push(error),
      })
      assert.equal(await allowed(limiter, '10.67.0.1', 10), 3)
      for (let i = 0; i < 50; i++) await limiter.consume(`10.68.0.${i}`)
      assert.equal(memoryStore.size, 10)
      await assert.rejects(limiter.consume('10.67.0.1'), (e) => assertRateLimited(e, 60))
      assert.deepEqual(errors, [])
    } finally {
      redis.disconnect()
    }
  })
})

describe('attempt limiter on Redis', { skip: redisService.skip }, () => {
  const prefix = `gatehouse-test-${randomBytes(6).toString('hex')}`
  let redis: Redis
  let made = 0
  before(async () => {
    redis = new Redis(redisService.value, { maxRetriesPerRequest: 1, lazyConnect: true })
    await redis.connect()
  })
  after(async () => {
    if (!redis) return
    const keys = await redis.keys(`${prefix}:*`)
    if (keys.length > 0) await redis.del(...keys)
    await redis.quit()
  })

  behaviour((options) => {
    made += 1
    return createAttemptLimiter({ ...options, redis, keyPrefix: `${prefix}:case${made}:register` })
  })

  it('shares the count between instances, under <prefix>:register:ip:, expiring with the window', async () => {
    const keyPrefix = `${prefix}:register`
    const a = createAttemptLimiter({ maxAttempts: 4, windowSeconds: 120, redis, keyPrefix })
    const b = createAttemptLimiter({ maxAttempts: 4, windowSeconds: 120, redis, keyPrefix })
    for (let i = 0; i < 4; i++) await (i % 2 ? a : b).consume('2001:db8:69::1')
    await assert.rejects(a.consume('2001:db8:69::2'), (e) => assertRateLimited(e, 120))
    await assert.rejects(b.consume('2001:db8:69::3'), (e) => assertRateLimited(e, 120))
    const keys = await redis.keys(`${keyPrefix}:*`)
    assert.deepEqual(keys, [`${keyPrefix}:ip:2001:db8:69:0::/64`])
    const ttl = await redis.ttl(keys[0] as string)
    assert.ok(ttl > 0 && ttl <= 120, `ttl ${ttl}`)
  })
})
