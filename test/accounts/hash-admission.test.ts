/**
 * Hash admission on the real argon2id hasher: at most maxInFlight hashes at once, maxQueued
 * waiting, and everything beyond refused OVERLOADED at once, before any hashing.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import {
  admitHashing,
  defaultHashConcurrency,
  overloaded,
  wouldShed,
} from '../../src/accounts/hash-admission.ts'
import { GatehouseError } from '../../src/core/errors.ts'
import { createPasswordHasher, type PasswordHasher } from '../../src/core/passwords/index.ts'

const PASSWORD = 'correct horse battery staple'
const real = createPasswordHasher()
const storedHash = await real.hash(PASSWORD)

/** The real hasher, counting the calls that reached it, how many ran at once, and in what order. */
function instrumented(hasher: PasswordHasher, onSettled?: (label: string) => void) {
  const stats = { calls: 0, running: 0, maxRunning: 0, order: [] as string[] }
  const run = <T>(label: string, work: () => Promise<T>): Promise<T> => {
    const running = measured(label, work)
    // Attached after admission's own `await` of this promise: runs right after admission's
    // continuation, i.e. between the slot being freed and the next waiter resuming.
    if (onSettled) queueMicrotask(() => running.finally(() => onSettled(label)))
    return running
  }
  const measured = async <T>(label: string, work: () => Promise<T>): Promise<T> => {
    stats.calls++
    stats.order.push(label)
    stats.running++
    stats.maxRunning = Math.max(stats.maxRunning, stats.running)
    try {
      return await work()
    } finally {
      stats.running--
    }
  }
  let n = 0
  const wrapped: PasswordHasher = {
    hash: (password) => run(`hash-${n++}`, () => hasher.hash(password)),
    verifyAndUpgrade: (password, stored) =>
      run(`verify-${n++}`, () => hasher.verifyAndUpgrade(password, stored)),
    verifyDummy: (password) => run(`dummy-${n++}`, () => hasher.verifyDummy(password)),
  }
  return { hasher: wrapped, stats }
}

const isOverloaded = (error: unknown) =>
  error instanceof GatehouseError &&
  error.code === 'OVERLOADED' &&
  error.status === 503 &&
  error.retryAfterSeconds === 1

describe('hash admission', () => {
  it('runs inFlight + queued of a burst and refuses the rest at once, without hashing them', async () => {
    const { hasher, stats } = instrumented(real)
    const admitted = admitHashing(hasher, { maxInFlight: 2, maxQueued: 3 })
    let firstDoneAt = Number.POSITIVE_INFINITY
    const refusedAt: number[] = []
    const calls = Array.from({ length: 24 }, (_, i) => {
      const call =
        i % 3 === 0
          ? admitted.verifyAndUpgrade(PASSWORD, storedHash)
          : i % 3 === 1
            ? admitted.verifyDummy(PASSWORD)
            : admitted.hash(PASSWORD)
      return call.then(
        (value) => {
          firstDoneAt = Math.min(firstDoneAt, performance.now())
          return value
        },
        (error: unknown) => {
          refusedAt.push(performance.now())
          throw error
        },
      )
    })
    const outcomes = await Promise.allSettled(calls)
    const refused = outcomes.filter((o) => o.status === 'rejected')
    assert.equal(refused.length, 19)
    for (const outcome of refused) assert.ok(isOverloaded(outcome.reason), String(outcome.reason))
    // The first five calls are the ones served, in their order; the others never reached argon2.
    assert.deepEqual(
      outcomes.slice(0, 5).map((o) => o.status),
      Array(5).fill('fulfilled'),
    )
    assert.equal(stats.calls, 5)
    assert.equal(stats.maxRunning, 2)
    // Shed at once: every refusal came before the first hash finished.
    assert.ok(Math.max(...refusedAt) < firstDoneAt, 'a refusal waited for a hash')
    const verified = outcomes[0] as PromiseFulfilledResult<unknown>
    assert.deepEqual(verified.value, { valid: true, upgradedHash: null })
  })

  it('hands a finished slot to the next in line: an arrival in between queues behind it', async () => {
    const later: Promise<unknown>[] = []
    let admitted: PasswordHasher | undefined
    const { hasher, stats } = instrumented(real, (label) => {
      if (label === 'dummy-0') later.push((admitted as PasswordHasher).verifyDummy(PASSWORD))
    })
    admitted = admitHashing(hasher, { maxInFlight: 1, maxQueued: 10 })
    await Promise.all([admitted.verifyDummy(PASSWORD), admitted.verifyDummy(PASSWORD)])
    await Promise.all(later)
    assert.equal(stats.calls, 3)
    assert.equal(stats.maxRunning, 1)
    assert.deepEqual(stats.order, ['dummy-0', 'dummy-1', 'dummy-2'])
  })

  it('never runs more than maxInFlight under waves of arrivals, and serves them in order', async () => {
    const { hasher, stats } = instrumented(real)
    const admitted = admitHashing(hasher, { maxInFlight: 2, maxQueued: 1000 })
    const results: Promise<unknown>[] = []
    for (let i = 0; i < 12; i++) {
      results.push(
        admitted.verifyDummy(PASSWORD).then(() => {
          if (i < 6) results.push(admitted.verifyDummy(PASSWORD), admitted.verifyDummy(PASSWORD))
        }),
      )
    }
    for (let settled = 0; settled < results.length; settled++) await results[settled]
    assert.equal(stats.calls, 24)
    assert.equal(stats.maxRunning, 2)
    assert.equal(stats.running, 0)
    assert.deepEqual(
      stats.order.slice(0, 12),
      Array.from({ length: 12 }, (_, i) => `dummy-${i}`),
    )
  })

  it('frees the slot of a hash that throws', async () => {
    const { hasher, stats } = instrumented(real)
    const admitted = admitHashing(hasher, { maxInFlight: 1, maxQueued: 0 })
    // The native binding refuses a non-string password: a real error from inside the slot.
    await assert.rejects(admitted.hash(undefined as unknown as string), (error) => !isOverloaded(error))
    assert.equal(stats.running, 0)
    assert.equal((await admitted.verifyAndUpgrade(PASSWORD, storedHash)).valid, true)
  })

  it('with no queue, refuses as soon as every slot is busy', async () => {
    const { hasher, stats } = instrumented(real)
    const admitted = admitHashing(hasher, { maxInFlight: 1, maxQueued: 0 })
    const outcomes = await Promise.allSettled([
      admitted.verifyDummy(PASSWORD),
      admitted.verifyDummy(PASSWORD),
    ])
    assert.deepEqual(
      outcomes.map((o) => o.status),
      ['fulfilled', 'rejected'],
    )
    assert.equal(stats.calls, 1)
  })

  it('says when a call would be shed, so a login can be refused before any other work', async () => {
    const admitted = admitHashing(real, { maxInFlight: 1, maxQueued: 1 })
    assert.equal(wouldShed(real), false, 'a hasher without admission never sheds')
    assert.equal(wouldShed(admitted), false)
    const first = admitted.verifyDummy(PASSWORD)
    assert.equal(wouldShed(admitted), false, 'one queue place left')
    const second = admitted.verifyDummy(PASSWORD)
    assert.equal(wouldShed(admitted), true)
    await Promise.all([first, second])
    assert.equal(wouldShed(admitted), false)
  })

  it('makes its 503 without a stack trace (it is thrown at flood rate)', () => {
    const error = overloaded()
    assert.ok(isOverloaded(error))
    assert.doesNotMatch(String(error.stack), /\n\s+at /)
    assert.match(String(new Error('x').stack), /\n\s+at /, 'stack traces are on again')
  })

  it('refuses bounds that would park every call for ever', () => {
    for (const bad of [-1, 1.5, Number.NaN]) {
      assert.throws(() => admitHashing(real, { maxInFlight: bad }), RangeError)
      assert.throws(() => admitHashing(real, { maxQueued: bad }), RangeError)
    }
  })

  it('defaults to one core and one pool thread fewer than there are, at least one', () => {
    assert.equal(defaultHashConcurrency(2, 4), 1)
    assert.equal(defaultHashConcurrency(1, 4), 1)
    assert.equal(defaultHashConcurrency(8, 4), 3)
    assert.equal(defaultHashConcurrency(8, 16), 7)
    assert.equal(defaultHashConcurrency(16, 1), 1)
  })
})
