/**
 * The login throttle under bursts from one client, through the domain (real SQLite, real argon2id,
 * real hash admission): correct passwords are never refused because others are in flight, shed
 * checks count nowhere, and what the per-IP limit lets through past its limit is bounded by the
 * admission.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { type AccountsOptions, createAccounts } from '../../src/accounts/accounts.ts'
import { insertUser } from '../../src/accounts/users.ts'
import { GatehouseError } from '../../src/core/errors.ts'
import type { PasswordHasher } from '../../src/core/passwords/index.ts'
import { createPasswordHasher } from '../../src/core/passwords/index.ts'
import type { Store } from '../../src/store/open-store.ts'
import { createSqliteDatabase, openTestStore } from '../helpers/databases.ts'

const PASSWORD = 'correct horse battery staple'
const WRONG = 'correct horse battery stapler'
const hasher = createPasswordHasher()

let store: (Store & { url: string }) | undefined
let seeded = 0
let storedHash = ''

/** `count` active accounts with PASSWORD, inserted directly (one hash, not one per account). */
async function seedUsers(label: string, count: number): Promise<string[]> {
  const emails = Array.from({ length: count }, () => `${label}-${++seeded}@example.com`)
  for (const email of emails) await insertUser((store as Store).db, { email, hashedPassword: storedHash })
  return emails
}

function accountsWith(options: Partial<AccountsOptions>) {
  return createAccounts({
    db: (store as Store).db,
    hasher,
    accessTokenTtlSeconds: 3600,
    idleTimeoutSeconds: 0,
    ...options,
  })
}

const codeOf = (outcome: PromiseSettledResult<unknown>) =>
  outcome.status === 'fulfilled'
    ? 'OK'
    : outcome.reason instanceof GatehouseError
      ? outcome.reason.code
      : String(outcome.reason)

function tally(outcomes: PromiseSettledResult<unknown>[]): Record<string, number> {
  const counts: Record<string, number> = {}
  for (const outcome of outcomes) counts[codeOf(outcome)] = (counts[codeOf(outcome)] ?? 0) + 1
  return counts
}

describe('login bursts from one client IP (SQLite, real hasher)', () => {
  before(async () => {
    store = await openTestStore(createSqliteDatabase)
    storedHash = await hasher.hash(PASSWORD)
  })
  after(async () => {
    await store?.close()
  })

  it('150 logins at once, 51 correct: none refused while the failures stay under the limit', async () => {
    const accounts = accountsWith({
      limiters: { login: { maxFailuresPerAccount: 10, maxFailuresPerIp: 100 } },
      hashAdmission: { maxInFlight: 2, maxQueued: 500 },
    })
    const client = { ip: '198.51.100.7' }
    const users = await seedUsers('nat', 101)
    // 51 right passwords, 49 wrong ones for real accounts, 50 for unknown emails.
    const attempts = Array.from({ length: 150 }, (_, i) => {
      if (i % 3 === 0 || i === 1) return { email: users[i % 101] as string, password: PASSWORD, right: true }
      if (i % 3 === 1) return { email: users[i % 101] as string, password: WRONG, right: false }
      return { email: `unknown-${i}@example.com`, password: WRONG, right: false }
    })
    assert.equal(attempts.filter((a) => a.right).length, 51)
    const outcomes = await Promise.allSettled(
      attempts.map(({ email, password }) => accounts.login({ email, password, kind: 'bearer', client })),
    )
    const rightOutcomes = outcomes.filter((_, i) => attempts[i]?.right)
    const wrongOutcomes = outcomes.filter((_, i) => !attempts[i]?.right)
    assert.deepEqual(tally(rightOutcomes), { OK: 51 })
    assert.deepEqual(tally(wrongOutcomes), { BAD_CREDENTIALS: 99 })
    // The 100th failure blocks the address, for a right password too.
    await assert.rejects(
      accounts.login({ email: 'x@example.com', password: WRONG, kind: 'bearer', client }),
      {
        code: 'BAD_CREDENTIALS',
      },
    )
    await assert.rejects(
      accounts.login({ email: users[100] as string, password: PASSWORD, kind: 'bearer', client }),
      { code: 'RATE_LIMITED' },
    )
  })

  it('checks shed as OVERLOADED count nowhere: the client logs in after a burst of them', async () => {
    const accounts = accountsWith({
      limiters: { login: { maxFailuresPerAccount: 10, maxFailuresPerIp: 10 } },
      hashAdmission: { maxInFlight: 1, maxQueued: 1 },
    })
    const client = { ip: '198.51.100.8' }
    const [user] = await seedUsers('shed', 1)
    const outcomes = await Promise.allSettled(
      Array.from({ length: 30 }, (_, i) =>
        accounts.login({
          email: `nobody-${i}@example.com`,
          password: WRONG,
          kind: 'bearer',
          client,
        }),
      ),
    )
    assert.deepEqual(tally(outcomes), { BAD_CREDENTIALS: 2, OVERLOADED: 28 })
    // Two failures for the address, far from its limit of 10.
    const { user: loggedIn } = await accounts.login({
      email: user as string,
      password: PASSWORD,
      kind: 'bearer',
      client,
    })
    assert.equal(loggedIn.email, user)
  })

  it('past the per-IP limit, only the checks the admission let in were run', async () => {
    const accounts = accountsWith({
      limiters: { login: { maxFailuresPerAccount: 0, maxFailuresPerIp: 3 } },
      hashAdmission: { maxInFlight: 2, maxQueued: 3 },
    })
    const client = { ip: '198.51.100.9' }
    const [user] = await seedUsers('overshoot', 1)
    const outcomes = await Promise.allSettled(
      Array.from({ length: 40 }, (_, i) =>
        accounts.login({ email: `guess-${i}@example.com`, password: WRONG, kind: 'bearer', client }),
      ),
    )
    // All 40 passed the read of an empty counter; 5 reached a verdict (3 + an overshoot of 2, at
    // most maxInFlight + maxQueued), the others were shed before hashing.
    assert.deepEqual(tally(outcomes), { BAD_CREDENTIALS: 5, OVERLOADED: 35 })
    await assert.rejects(
      accounts.login({ email: user as string, password: PASSWORD, kind: 'bearer', client }),
      { code: 'RATE_LIMITED' },
    )
  })

  it('a login shed while every slot is taken reads nothing from the store and counts nowhere', async () => {
    let hashing: () => void = () => {}
    const started = new Promise<void>((resolve) => {
      hashing = resolve
    })
    const signalling: PasswordHasher = {
      ...hasher,
      verifyAndUpgrade: (password, stored) => {
        hashing()
        return hasher.verifyAndUpgrade(password, stored)
      },
    }
    let queries = 0
    // Kysely's own plugin hook, on the real database: counts what reaches the store.
    const db = (store as Store).db.withPlugin({
      transformQuery: (args) => {
        queries++
        return args.node
      },
      transformResult: async (args) => args.result,
    })
    const accounts = accountsWith({
      db,
      hasher: signalling,
      limiters: { login: { maxFailuresPerAccount: 1, maxFailuresPerIp: 1 } },
      hashAdmission: { maxInFlight: 1, maxQueued: 0 },
    })
    const client = { ip: '198.51.100.10' }
    const [user] = await seedUsers('early', 1)
    const inFlight = accounts.login({ email: user as string, password: PASSWORD, kind: 'bearer', client })
    await started
    const before = queries
    for (let i = 0; i < 5; i++) {
      await assert.rejects(
        accounts.login({ email: user as string, password: WRONG, kind: 'bearer', client }),
        {
          code: 'OVERLOADED',
        },
      )
    }
    assert.equal(queries, before, 'a shed login queried the store')
    await inFlight
    // Limits of 1: had any shed attempt counted, the account and the address would be blocked.
    await assert.rejects(accounts.login({ email: user as string, password: WRONG, kind: 'bearer', client }), {
      code: 'BAD_CREDENTIALS',
    })
  })
})
