import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { BoundedMemoryStore } from '../../src/accounts/bounded-memory-store.ts'
import {
  createLoginThrottle,
  type LoginThrottleOptions,
  NoVerdict,
} from '../../src/accounts/login-throttle.ts'
import { accountKey, clientKey } from '../../src/accounts/throttle-keys.ts'
import { GatehouseError } from '../../src/core/errors.ts'

const FAIL = async () => null
const SUCCEED = async () => ({ id: 1 })

/** A throttle and a password check that counts how often it really ran. */
function setup(options: LoginThrottleOptions) {
  const throttle = createLoginThrottle(options)
  let runs = 0
  const attempt = (email: string, ip: string, check: () => Promise<unknown> = FAIL) =>
    throttle.guard(email, ip, () => {
      runs += 1
      return check()
    })
  return { attempt, runs: () => runs }
}

function assertRateLimited(error: unknown, maxSeconds = 900): true {
  assert.ok(error instanceof GatehouseError)
  assert.equal(error.code, 'RATE_LIMITED')
  assert.equal(error.status, 429)
  assert.equal(error.detail, 'Too many failed attempts, try again later')
  const retryAfter = Number(error.retryAfterSeconds)
  assert.ok(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= maxSeconds, String(retryAfter))
  return true
}

describe('login throttle (memory store)', () => {
  it('blocks an account after its limit of failures, without running the check again', async () => {
    const { attempt, runs } = setup({ maxFailuresPerAccount: 3, maxFailuresPerIp: 0 })
    for (let i = 0; i < 3; i++) assert.equal(await attempt('a@example.com', '10.0.0.1'), null)
    await assert.rejects(attempt('a@example.com', '10.0.0.1', SUCCEED), (e) => assertRateLimited(e))
    await assert.rejects(attempt('a@example.com', '10.0.0.2', SUCCEED), (e) => assertRateLimited(e))
    assert.equal(runs(), 3)
  })

  it('lets at most the limit of concurrent guesses reach the check (no check-then-count race)', async () => {
    const { attempt, runs } = setup({ maxFailuresPerAccount: 3, maxFailuresPerIp: 0 })
    const slowFailure = () => sleep(20).then(() => null)
    const outcomes = await Promise.allSettled(
      Array.from({ length: 50 }, () => attempt('burst@example.com', '10.0.0.1', slowFailure)),
    )
    assert.equal(runs(), 3)
    assert.equal(outcomes.filter((o) => o.status === 'rejected').length, 47)
    // The third failure blocked the account for the full block time.
    await assert.rejects(attempt('burst@example.com', '10.0.0.1', SUCCEED), (error) => {
      assertRateLimited(error)
      return Number((error as GatehouseError).retryAfterSeconds) > 890
    })
  })

  it('answers concurrent attempts over the limit 429 "retry in 1 s", blocking nothing if they succeed', async () => {
    const { attempt, runs } = setup({ maxFailuresPerAccount: 3, maxFailuresPerIp: 0 })
    const slowSuccess = () => sleep(20).then(() => ({ id: 1 }))
    const outcomes = await Promise.allSettled(
      Array.from({ length: 5 }, () => attempt('busy@example.com', '10.0.0.1', slowSuccess)),
    )
    assert.equal(runs(), 3)
    const refused = outcomes.filter((o) => o.status === 'rejected')
    assert.equal(refused.length, 2)
    for (const outcome of refused) assert.equal(outcome.reason.retryAfterSeconds, 1)
    assert.deepEqual(await attempt('busy@example.com', '10.0.0.1', SUCCEED), { id: 1 })
  })

  it('forgets an account failures on a success (consecutive failures only)', async () => {
    const { attempt } = setup({ maxFailuresPerAccount: 3, maxFailuresPerIp: 0 })
    for (let round = 0; round < 4; round++) {
      await attempt('b@example.com', '10.0.0.1')
      await attempt('b@example.com', '10.0.0.1')
      assert.deepEqual(await attempt('b@example.com', '10.0.0.1', SUCCEED), { id: 1 })
    }
  })

  it('keys an account by its normalised email', async () => {
    const { attempt } = setup({ maxFailuresPerAccount: 2, maxFailuresPerIp: 0 })
    await attempt('Case@Example.com', '10.0.0.1')
    await attempt(' case@example.COM ', '10.0.0.2')
    await assert.rejects(attempt('case@example.com', '10.0.0.3', SUCCEED), (e) => assertRateLimited(e))
  })

  it('blocks a client IP after its limit of failures over any accounts, and only that IP', async () => {
    const { attempt } = setup({ maxFailuresPerAccount: 0, maxFailuresPerIp: 5 })
    for (let i = 0; i < 5; i++) await attempt(`user${i}@example.com`, '10.0.0.9')
    await assert.rejects(attempt('new@example.com', '10.0.0.9', SUCCEED), (e) => assertRateLimited(e))
    assert.deepEqual(await attempt('new@example.com', '10.0.0.10', SUCCEED), { id: 1 })
  })

  it('counts a refused attempt on no other key', async () => {
    const { attempt } = setup({ maxFailuresPerAccount: 1, maxFailuresPerIp: 3 })
    await attempt('locked@example.com', '10.0.0.1')
    for (let i = 0; i < 10; i++) {
      await assert.rejects(attempt('locked@example.com', '10.0.0.1'), (e) => assertRateLimited(e))
    }
    // The IP saw one failure, not eleven: another account from it still gets through.
    assert.deepEqual(await attempt('other@example.com', '10.0.0.1', SUCCEED), { id: 1 })
  })

  it('counts an IPv6 client by its /64 and an IPv4-mapped address as IPv4', async () => {
    const { attempt } = setup({ maxFailuresPerAccount: 0, maxFailuresPerIp: 2 })
    await attempt('x@example.com', '2001:db8:1:2::1')
    await attempt('x@example.com', '2001:db8:1:2:ffff:ffff:ffff:ffff')
    await assert.rejects(attempt('y@example.com', '2001:0db8:0001:0002::9', SUCCEED), (e) =>
      assertRateLimited(e),
    )
    assert.deepEqual(await attempt('y@example.com', '2001:db8:1:3::1', SUCCEED), { id: 1 })

    await attempt('x@example.com', '::ffff:192.0.2.7')
    await attempt('x@example.com', '192.0.2.7')
    await assert.rejects(attempt('y@example.com', '192.0.2.7', SUCCEED), (e) => assertRateLimited(e))
  })

  it('counts a check that throws as a failure', async () => {
    const { attempt } = setup({ maxFailuresPerAccount: 2, maxFailuresPerIp: 0 })
    const broken = async () => {
      throw new Error('database down')
    }
    await assert.rejects(attempt('c@example.com', '10.0.0.1', broken), /database down/)
    await assert.rejects(attempt('c@example.com', '10.0.0.1', broken), /database down/)
    await assert.rejects(attempt('c@example.com', '10.0.0.1', SUCCEED), (e) => assertRateLimited(e))
  })

  it('gives back an attempt whose check reached no verdict, and rethrows what it wraps', async () => {
    const memoryStore = new BoundedMemoryStore()
    const { attempt, runs } = setup({ maxFailuresPerAccount: 2, maxFailuresPerIp: 3, memoryStore })
    const storeDown = new Error('connect ECONNREFUSED 127.0.0.1:5432')
    const noVerdict = async () => {
      throw new NoVerdict(storeDown)
    }
    for (let i = 0; i < 15; i++) {
      await assert.rejects(attempt('f@example.com', '10.0.0.1', noVerdict), (error) => error === storeDown)
    }
    assert.equal(runs(), 15)
    assert.equal(memoryStore.size, 0, 'nothing counted, on either key')
    assert.deepEqual(await attempt('f@example.com', '10.0.0.1', SUCCEED), { id: 1 })
  })

  it('counts failures, not attempts in flight, per IP: 150 at once, none correct refused below the limit', async () => {
    const { attempt, runs } = setup({ maxFailuresPerAccount: 10, maxFailuresPerIp: 100 })
    const slow = <T>(value: T) => sleep(30).then(() => value)
    // 99 wrong and 51 right passwords from one address (a NAT, an office), all in flight at once.
    const outcomes = await Promise.allSettled(
      Array.from({ length: 150 }, (_, i) =>
        attempt(`nat${i}@example.com`, '10.0.0.200', () => slow(i % 3 === 0 || i === 1 ? { id: i } : null)),
      ),
    )
    assert.equal(outcomes.filter((o) => o.status === 'rejected').length, 0)
    assert.equal(runs(), 150)
    const right = outcomes.filter((o) => o.status === 'fulfilled' && o.value !== null)
    assert.equal(right.length, 51)
    // 100 failures now: the limit still blocks the address, for the right password too.
    await attempt('one-more@example.com', '10.0.0.200')
    await assert.rejects(attempt('nat0@example.com', '10.0.0.200', SUCCEED), (e) => assertRateLimited(e))
  })

  it('per IP, lets the failures of checks already in flight land past the limit, then blocks', async () => {
    const { attempt, runs } = setup({ maxFailuresPerAccount: 0, maxFailuresPerIp: 5 })
    const slowFailure = () => sleep(20).then(() => null)
    await Promise.all(
      Array.from({ length: 8 }, (_, i) => attempt(`o${i}@example.com`, '10.0.0.7', slowFailure)),
    )
    // Every one was in flight before the fifth failure: the overshoot is what was in flight, which
    // the hash admission bounds (test/accounts/login-throttle-concurrency.test.ts).
    assert.equal(runs(), 8)
    await assert.rejects(attempt('later@example.com', '10.0.0.7', SUCCEED), (error) => {
      assertRateLimited(error)
      return Number((error as GatehouseError).retryAfterSeconds) > 890
    })
  })

  it('ends a block blockSeconds after the failure that reached the limit', async () => {
    const { attempt } = setup({ maxFailuresPerAccount: 2, maxFailuresPerIp: 2, blockSeconds: 1 })
    await attempt('d@example.com', '10.0.0.1')
    await attempt('d@example.com', '10.0.0.1')
    await assert.rejects(attempt('d@example.com', '10.0.0.1', SUCCEED), (e) => assertRateLimited(e, 1))
    await sleep(1100)
    assert.deepEqual(await attempt('d@example.com', '10.0.0.1', SUCCEED), { id: 1 })
    // Never refused in between: the block still ran from the second failure, not from a later try.
    await attempt('e@example.com', '10.0.0.2')
    await attempt('e@example.com', '10.0.0.3')
    await sleep(1100)
    assert.deepEqual(await attempt('e@example.com', '10.0.0.4', SUCCEED), { id: 1 })
  })

  it('limits at 0 are off', async () => {
    const { attempt, runs } = setup({ maxFailuresPerAccount: 0, maxFailuresPerIp: 0 })
    for (let i = 0; i < 50; i++) await attempt('e@example.com', '10.0.0.1')
    assert.deepEqual(await attempt('e@example.com', '10.0.0.1', SUCCEED), { id: 1 })
    assert.equal(runs(), 51)
  })
})

describe('login throttle memory (bounded, nothing stored for a refused attempt)', () => {
  it('a refused attempt from a blocked IP creates no per-account counter, whatever the email', async () => {
    const memoryStore = new BoundedMemoryStore()
    const { attempt, runs } = setup({ maxFailuresPerAccount: 3, maxFailuresPerIp: 2, memoryStore })
    await attempt('a@example.com', '10.0.0.1')
    await attempt('b@example.com', '10.0.0.1')
    assert.equal(memoryStore.size, 3, 'the IP and two accounts')
    for (let i = 0; i < 500; i++) {
      await assert.rejects(attempt(`new${i}@example.com`, '10.0.0.1', SUCCEED), (e) => assertRateLimited(e))
    }
    assert.equal(memoryStore.size, 3)
    assert.equal(runs(), 2)
  })

  it('a refused attempt on a blocked account creates no per-IP counter, whatever the address', async () => {
    const memoryStore = new BoundedMemoryStore()
    const { attempt } = setup({ maxFailuresPerAccount: 2, maxFailuresPerIp: 100, memoryStore })
    await attempt('locked@example.com', '10.0.0.1')
    await attempt('locked@example.com', '10.0.0.1')
    assert.equal(memoryStore.size, 2)
    for (let i = 0; i < 500; i++) {
      await assert.rejects(attempt('locked@example.com', `172.16.${i >> 8}.${i & 255}`), (e) =>
        assertRateLimited(e),
      )
    }
    assert.equal(memoryStore.size, 2)
  })

  it('holds at most maxKeys counters, and a flood of new keys lifts no block', async () => {
    const memoryStore = new BoundedMemoryStore({ maxKeys: 1000 })
    const { attempt } = setup({ maxFailuresPerAccount: 3, maxFailuresPerIp: 5, memoryStore })
    for (let i = 0; i < 3; i++) await attempt('victim@example.com', `10.0.0.${i + 1}`)
    for (let i = 0; i < 5; i++) await attempt(`spray${i}@example.com`, '10.9.9.9')
    // 5000 failures that get through, each a new account from a new address: 10 000 new keys.
    for (let i = 0; i < 5000; i++) {
      assert.equal(await attempt(`flood${i}@example.com`, `172.16.${i >> 8}.${i & 255}`), null)
    }
    assert.equal(memoryStore.size, 1000)
    await assert.rejects(attempt('victim@example.com', '10.0.0.99', SUCCEED), (e) => assertRateLimited(e))
    await assert.rejects(attempt('someone@example.com', '10.9.9.9', SUCCEED), (e) => assertRateLimited(e))
  })

  it('forgets a client IP whose attempts all succeeded (a count given back to zero)', async () => {
    const memoryStore = new BoundedMemoryStore()
    const { attempt } = setup({ maxFailuresPerAccount: 3, maxFailuresPerIp: 5, memoryStore })
    for (let i = 0; i < 100; i++) await attempt(`user${i}@example.com`, `10.0.${i}.1`, SUCCEED)
    assert.equal(memoryStore.size, 0)
  })
})

describe('throttle keys', () => {
  it('hashes the normalised email (no address in a shared store)', () => {
    assert.equal(accountKey(' Alice@Example.COM'), accountKey('alice@example.com'))
    assert.notEqual(accountKey('alice@example.com'), accountKey('bob@example.com'))
    assert.match(accountKey('alice@example.com'), /^[\w-]{43}$/)
  })

  it('keeps IPv4, unwraps IPv4-mapped IPv6, and cuts IPv6 to its /64', () => {
    assert.equal(clientKey('203.0.113.5'), '203.0.113.5')
    assert.equal(clientKey('::ffff:203.0.113.5'), '203.0.113.5')
    assert.equal(clientKey('2001:db8::1'), '2001:db8:0:0::/64')
    assert.equal(clientKey('2001:DB8:0:0:1:2:3:4'), '2001:db8:0:0::/64')
    assert.equal(clientKey('fe80::1%eth0'), 'fe80:0:0:0::/64')
    assert.equal(clientKey('::1'), '0:0:0:0::/64')
    assert.equal(clientKey('64:ff9b::192.0.2.1'), '64:ff9b:0:0::/64')
    assert.equal(clientKey(''), 'unknown')
  })
})
