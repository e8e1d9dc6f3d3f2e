/**
 * The throttles' in-process store: a hard bound on its keys, an eviction order that cannot be
 * used to lift a block, expiry without timers, and what rate-limiter-flexible needs of it.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible'
import { BoundedMemoryStore, DEFAULT_MAX_KEYS } from '../../src/accounts/bounded-memory-store.ts'
import { MemoryLimiter } from '../../src/accounts/memory-limiter.ts'
import { unreachableRedis } from '../helpers/unreachable-redis.ts'

const LIMIT = 3
const HOUR = 3_600_000

/** A store on a clock the test moves. */
function clocked(maxKeys: number) {
  let now = 1_000_000
  const store = new BoundedMemoryStore({ maxKeys, now: () => now })
  return { store, advance: (ms: number) => (now += ms) }
}

const block = (store: BoundedMemoryStore, key: string) => store.set(key, 2 ** 30, HOUR, LIMIT)

describe('bounded memory store', () => {
  it('never holds more than maxKeys: 5000 new keys into a store of 1000 keep the newest 1000', () => {
    const store = new BoundedMemoryStore({ maxKeys: 1000 })
    for (let i = 0; i < 5000; i++) {
      store.add(`k${i}`, 1, HOUR, LIMIT)
      assert.ok(store.size <= 1000, `size ${store.size} after ${i + 1} keys`)
    }
    assert.equal(store.size, 1000)
    assert.equal(store.get('k3999'), null)
    assert.equal(store.get('k4000')?.points, 1)
    assert.equal(store.get('k4999')?.points, 1)
  })

  it('keeps blocked entries through an eviction flood, evicting counts within their limit', () => {
    const store = new BoundedMemoryStore({ maxKeys: 1000 })
    block(store, 'blocked-first')
    store.add('over-limit', LIMIT + 1, HOUR, LIMIT)
    for (let i = 0; i < 5000; i++) store.add(`flood${i}`, 1, HOUR, LIMIT)
    block(store, 'blocked-later')
    for (let i = 5000; i < 10_000; i++) store.add(`flood${i}`, 1, HOUR, LIMIT)
    assert.equal(store.size, 1000)
    assert.equal(store.get('blocked-first')?.points, 2 ** 30)
    assert.equal(store.get('over-limit')?.points, LIMIT + 1)
    assert.equal(store.get('blocked-later')?.points, 2 ** 30)
    assert.ok((store.get('blocked-first')?.msBeforeNext ?? 0) > HOUR - 60_000)
  })

  it('a count reaching its limit is protected from then on; given back under it, evictable again', () => {
    const store = new BoundedMemoryStore({ maxKeys: 3 })
    store.add('guessed', 1, HOUR, LIMIT)
    store.add('guessed', LIMIT, HOUR, LIMIT) // over the limit: blocked
    for (let i = 0; i < 10; i++) store.add(`flood${i}`, 1, HOUR, LIMIT)
    assert.equal(store.get('guessed')?.points, LIMIT + 1)
    store.add('guessed', -2, HOUR, LIMIT)
    for (let i = 10; i < 20; i++) store.add(`flood${i}`, 1, HOUR, LIMIT)
    assert.equal(store.get('guessed'), null)
  })

  it('when every entry is blocked, the oldest block goes (the bound holds)', () => {
    const store = new BoundedMemoryStore({ maxKeys: 3 })
    for (const key of ['a', 'b', 'c']) block(store, key)
    store.add('d', 1, HOUR, LIMIT)
    assert.equal(store.size, 3)
    assert.equal(store.get('a'), null)
    for (const key of ['b', 'c', 'd']) assert.ok(store.get(key), key)
  })

  it('evicts in insertion order: an update keeps a count its age, a re-created key is the newest', () => {
    const store = new BoundedMemoryStore({ maxKeys: 3 })
    for (const key of ['a', 'b', 'c']) store.add(key, 1, HOUR, LIMIT)
    store.add('a', 1, HOUR, LIMIT) // still the oldest
    store.add('d', 1, HOUR, LIMIT)
    assert.equal(store.get('a'), null)
    assert.equal(store.get('b')?.points, 1)
    store.delete('b')
    store.add('b', 1, HOUR, LIMIT) // newest now
    store.add('e', 1, HOUR, LIMIT)
    assert.deepEqual(
      ['b', 'c', 'd', 'e'].map((key) => store.get(key) !== null),
      [true, false, true, true],
    )
  })

  it('stays within its bound and keeps its blocks under mixed churn', () => {
    const store = new BoundedMemoryStore({ maxKeys: 500 })
    for (let i = 0; i < 50; i++) block(store, `blocked${i}`)
    for (let i = 0; i < 20_000; i++) {
      store.add(`k${i % 3000}`, 1, HOUR, 100)
      if (i % 3 === 0) store.delete(`k${(i * 7) % 3000}`)
      if (i % 5 === 0) store.add(`k${(i * 11) % 3000}`, -1, HOUR, 100)
      assert.ok(store.size <= 500)
    }
    for (let i = 0; i < 50; i++) assert.ok(store.get(`blocked${i}`), `blocked${i}`)
  })

  it('expires counts without timers: gone when read after their time, dropped first for room', () => {
    const { store, advance } = clocked(2)
    store.add('short', 1, 1000, LIMIT)
    assert.equal(store.get('short')?.msBeforeNext, 1000)
    advance(1000)
    assert.equal(store.get('short'), null)
    assert.equal(store.size, 0)

    store.set('block-ending', 2 ** 30, 500, LIMIT)
    store.add('counting', 1, HOUR, LIMIT)
    advance(600)
    store.add('new', 1, HOUR, LIMIT)
    assert.equal(store.get('counting')?.points, 1, 'the expired block made room, not the live count')
    assert.equal(store.get('new')?.points, 1)
  })

  it('starts a window on the first point and keeps it while counting', () => {
    const { store, advance } = clocked(10)
    assert.equal(store.add('k', 1, 1000, LIMIT).created, true)
    advance(400)
    const second = store.add('k', 1, 1000, LIMIT)
    assert.deepEqual(second, { points: 2, msBeforeNext: 600, created: false })
  })

  it('creates nothing to give back to, and forgets a count given back to zero', () => {
    const store = new BoundedMemoryStore({ maxKeys: 10 })
    store.add('never-counted', -1, HOUR, LIMIT)
    assert.equal(store.size, 0)
    store.add('k', 1, HOUR, LIMIT)
    store.add('k', -1, HOUR, LIMIT)
    assert.equal(store.size, 0)
    assert.equal(store.get('k'), null)
  })

  it('refuses a bound that is not a positive integer, and defaults to 100 000', () => {
    for (const maxKeys of [0, -1, 1.5, Number.NaN]) {
      assert.throws(() => new BoundedMemoryStore({ maxKeys }), RangeError, String(maxKeys))
    }
    assert.equal(new BoundedMemoryStore().maxKeys, DEFAULT_MAX_KEYS)
    assert.equal(DEFAULT_MAX_KEYS, 100_000)
  })
})

describe('memory limiter (rate-limiter-flexible interface)', () => {
  const limiter = (store = new BoundedMemoryStore({ maxKeys: 100 })) =>
    new MemoryLimiter(store, { points: 2, duration: 60, keyPrefix: 'test' })

  it('consumes up to its points, then rejects with a RateLimiterRes', async () => {
    const l = limiter()
    const first = await l.consume('ip')
    assert.equal(first.consumedPoints, 1)
    assert.equal(first.remainingPoints, 1)
    assert.equal(first.isFirstInDuration, true)
    await l.consume('ip')
    const over = await l.consume('ip').catch((error: unknown) => error)
    assert.ok(over instanceof RateLimiterRes)
    assert.equal(over.consumedPoints, 3)
    assert.ok(over.msBeforeNext > 59_000 && over.msBeforeNext <= 60_000)
  })

  it('gets without creating, sets, rewards, deletes, and prefixes its keys', async () => {
    const store = new BoundedMemoryStore({ maxKeys: 100 })
    const l = limiter(store)
    assert.equal(await l.get('k'), null)
    assert.equal(store.size, 0)
    await l.set('k', 50, 10)
    assert.equal((await l.get('k'))?.consumedPoints, 50)
    assert.ok(store.get('test:k'))
    assert.equal((await l.reward('k')).consumedPoints, 49)
    assert.equal(await l.delete('k'), true)
    assert.equal(await l.get('k'), null)
    await l.block('b', 0)
    assert.equal((await l.get('b'))?.msBeforeNext, -1)
  })

  it('is accepted as the insurance limiter of RateLimiterRedis, and takes over when Redis is not ready', async () => {
    const store = new BoundedMemoryStore({ maxKeys: 100 })
    const redis = unreachableRedis()
    try {
      const insured = new RateLimiterRedis({
        storeClient: redis,
        keyPrefix: 'test',
        points: 2,
        duration: 60,
        rejectIfRedisNotReady: true,
        insuranceLimiter: limiter(store),
      })
      await insured.consume('k')
      await insured.consume('k')
      await assert.rejects(insured.consume('k'), (error) => error instanceof RateLimiterRes)
      assert.equal(store.get('test:k')?.points, 3)
      await insured.set('k', 7, 30)
      assert.equal((await insured.get('k'))?.consumedPoints, 7)
      await insured.delete('k')
      assert.equal(store.size, 0)
    } finally {
      redis.disconnect()
    }
  })
})
