/**
 * The login throttle on a real Redis: a refused attempt writes no key, and with Redis unreachable
 * the insurance (this process's memory) is the same bounded store.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import { Redis } from 'ioredis'
import { BoundedMemoryStore } from '../../src/accounts/bounded-memory-store.ts'
import { createLoginThrottle } from '../../src/accounts/login-throttle.ts'
import { service } from '../helpers/services.ts'
import { unreachableRedis } from '../helpers/unreachable-redis.ts'

const redisService = service('redis')
const FAIL = async () => null
const SUCCEED = async () => ({ id: 1 })

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

describe('login throttle on Redis: refused attempts', { skip: redisService.skip }, () => {
  const prefix = `gatehouse-test-${randomBytes(6).toString('hex')}`
  let redis: Redis
  before(async () => {
    redis = new Redis(redisService.value, { maxRetriesPerRequest: 1, lazyConnect: true })
    await redis.connect()
  })
  after(async () => {
    if (!redis) return
    const keys = await keysOf(redis, prefix)
    if (keys.length > 0) await redis.del(...keys)
    await redis.quit()
  })

  it('a refused attempt from a blocked IP writes no account key, whatever the email', async () => {
    const keyPrefix = `${prefix}:ip-blocked`
    const throttle = createLoginThrottle({ maxFailuresPerAccount: 3, maxFailuresPerIp: 2, redis, keyPrefix })
    await throttle.guard('a@example.com', '10.40.0.1', FAIL)
    await throttle.guard('b@example.com', '10.40.0.1', FAIL)
    assert.equal((await keysOf(redis, keyPrefix)).length, 3, 'the IP and two accounts')
    for (let i = 0; i < 100; i++) {
      await assert.rejects(throttle.guard(`new${i}@example.com`, '10.40.0.1', SUCCEED), {
        code: 'RATE_LIMITED',
      })
    }
    const keys = await keysOf(redis, keyPrefix)
    assert.equal(keys.length, 3, `${keys.length} keys, e.g. ${keys.slice(0, 3).join(' ')}`)
    assert.equal(keys.filter((key) => key.includes(':account:')).length, 2)
  })

  it('a refused attempt on a blocked account writes no IP key, whatever the address', async () => {
    const keyPrefix = `${prefix}:account-blocked`
    const throttle = createLoginThrottle({
      maxFailuresPerAccount: 1,
      maxFailuresPerIp: 100,
      redis,
      keyPrefix,
    })
    await throttle.guard('locked@example.com', '10.41.0.1', FAIL)
    for (let i = 0; i < 50; i++) {
      await assert.rejects(throttle.guard('locked@example.com', `10.41.1.${i}`, SUCCEED), {
        code: 'RATE_LIMITED',
      })
    }
    assert.equal((await keysOf(redis, keyPrefix)).length, 2)
  })
})

describe('login throttle on Redis: the per-IP counter counts failures only', {
  skip: redisService.skip,
}, () => {
  const keyPrefix = `gatehouse-test-${randomBytes(6).toString('hex')}:ip-failures`
  let redis: Redis
  before(async () => {
    redis = new Redis(redisService.value, { maxRetriesPerRequest: 1, lazyConnect: true })
    await redis.connect()
  })
  after(async () => {
    if (!redis) return
    const keys = await keysOf(redis, keyPrefix)
    if (keys.length > 0) await redis.del(...keys)
    await redis.quit()
  })

  it('30 correct passwords in flight from one IP with a limit of 5: none refused; 5 failures block', async () => {
    const throttle = createLoginThrottle({ maxFailuresPerAccount: 10, maxFailuresPerIp: 5, redis, keyPrefix })
    const slowSuccess = () => new Promise((resolve) => setTimeout(() => resolve({ id: 1 }), 20))
    const outcomes = await Promise.allSettled(
      Array.from({ length: 30 }, (_, i) => throttle.guard(`r${i}@example.com`, '10.60.0.1', slowSuccess)),
    )
    assert.deepEqual(
      outcomes.map((o) => o.status),
      Array(30).fill('fulfilled'),
    )
    for (let i = 0; i < 5; i++) await throttle.guard(`w${i}@example.com`, '10.60.0.1', FAIL)
    await assert.rejects(throttle.guard('r0@example.com', '10.60.0.1', SUCCEED), { code: 'RATE_LIMITED' })
  })
})

describe('login throttle with Redis unreachable: the insurance store is bounded', () => {
  it('counts in the bounded memory store, and keeps blocks through a flood', async () => {
    const redis = unreachableRedis()
    const errors: unknown[] = []
    try {
      const memoryStore = new BoundedMemoryStore({ maxKeys: 200 })
      const throttle = createLoginThrottle({
        maxFailuresPerAccount: 3,
        maxFailuresPerIp: 1000,
        redis,
        memoryStore,
        onStoreError: (error) => errors.push(error),
      })
      for (let i = 0; i < 3; i++) await throttle.guard('victim@example.com', '10.50.0.1', FAIL)
      for (let i = 0; i < 1000; i++)
        await throttle.guard(`flood${i}@example.com`, `10.51.${i >> 8}.${i & 255}`, FAIL)
      assert.equal(memoryStore.size, 200)
      await assert.rejects(throttle.guard('victim@example.com', '10.50.0.2', SUCCEED), {
        code: 'RATE_LIMITED',
      })
      assert.deepEqual(errors, [])
    } finally {
      redis.disconnect()
    }
  })
})
