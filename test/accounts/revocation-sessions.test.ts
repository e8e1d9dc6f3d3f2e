/**
 * The domain's side of cross-instance revocation: every revocation path publishes what it
 * revoked, after the database has it; a received message drops exactly what it names; a missed()
 * forgets everything (and caches nothing read before it); a publish that fails never fails the
 * revocation. Two accounts instances on one real SQLite file, joined by an in-process bus that
 * delivers like a channel does (to every subscriber, the sender included).
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { type Accounts, type AccountsOptions, createAccounts } from '../../src/accounts/accounts.ts'
import {
  createLinkState,
  decodeRevocation,
  encodeRevocation,
  type Revocation,
  type RevocationChannel,
  type RevocationListener,
} from '../../src/accounts/revocation-channel.ts'
import { createTokenCache } from '../../src/accounts/token-cache.ts'
import { createPasswordHasher } from '../../src/core/passwords/index.ts'
import { generateToken, hashToken } from '../../src/core/tokens/index.ts'
import { redisRevocationChannel } from '../../src/server/revocation-redis.ts'
import type { Store } from '../../src/store/open-store.ts'
import { createSqliteDatabase, openTestStore } from '../helpers/databases.ts'
import { unreachableRedis } from '../helpers/unreachable-redis.ts'

const PASSWORD = 'correct horse battery staple'
const CLIENT = { ip: '192.0.2.7', userAgent: null }
let counter = 0
const uniqueEmail = (label: string) => `${label}-${++counter}@example.com`

/** Every instance's messages to every instance, as LISTEN/NOTIFY or pub/sub would. */
function createBus() {
  const listeners: RevocationListener[] = []
  const published: { revocation: Revocation; rowsLeft: number }[] = []
  let countRows: (revocation: Revocation) => Promise<number> = async () => 0
  return {
    published,
    /** What to check at the moment of publishing (the database must already have the revocation). */
    checkWith(count: typeof countRows) {
      countRows = count
    },
    missed: () => {
      for (const listener of listeners) listener.missed()
    },
    channel(): RevocationChannel {
      return {
        async publish(revocation) {
          published.push({ revocation, rowsLeft: await countRows(revocation) })
          for (const listener of listeners) listener.revoked(revocation)
        },
        subscribe: (listener) => void listeners.push(listener),
        close: async () => {},
      }
    },
  }
}

describe('revocations published by the sessions module', () => {
  let store: Store
  let a: Accounts
  let b: Accounts
  const bus = createBus()
  before(async () => {
    store = await openTestStore(createSqliteDatabase)
    const options: AccountsOptions = {
      db: store.db,
      hasher: createPasswordHasher(),
      accessTokenTtlSeconds: 3600,
      idleTimeoutSeconds: 0,
      tokenCacheSeconds: 60,
      sendsMail: false,
    }
    a = createAccounts({ ...options, revocations: bus.channel() })
    b = createAccounts({ ...options, revocations: bus.channel() })
    bus.checkWith(async (revocation) => {
      const query = store.db.selectFrom('access_tokens').select((eb) => eb.fn.countAll().as('n'))
      const row = await (revocation.kind === 'token'
        ? query.where('token_hash', '=', revocation.tokenHash)
        : revocation.kind === 'user'
          ? query.where('user_id', '=', revocation.userId)
          : query
      ).executeTakeFirstOrThrow()
      return Number(row.n)
    })
  })
  after(async () => {
    await store?.close()
  })

  /** A user with `count` bearer tokens, each validated once on B (so B holds them in its cache). */
  async function cachedOnB(label: string, count = 1) {
    const email = uniqueEmail(label)
    const user = await a.register({ email, password: PASSWORD })
    const tokens = []
    for (let i = 0; i < count; i++) {
      const { issued } = await a.login({ email, password: PASSWORD, kind: 'bearer', client: CLIENT })
      const context = await b.validateToken(issued.token, 'bearer')
      assert.ok(context)
      tokens.push({ token: issued.token, context })
    }
    return { email, user, tokens }
  }
  const validOnB = async (token: string) => (await b.validateToken(token, 'bearer')) !== null
  /** What was published by `work`, and how many matching rows the database still had at that moment. */
  async function publishedBy(work: () => Promise<unknown>) {
    const from = bus.published.length
    await work()
    return bus.published.slice(from)
  }

  it('B answers from its cache until told: the control', async () => {
    const { tokens } = await cachedOnB('control')
    await store.db
      .deleteFrom('access_tokens')
      .where('token_hash', '=', tokens[0]!.context.tokenHash)
      .execute()
    assert.equal(await validOnB(tokens[0]!.token), true)
  })

  it('every session of every user: one message once the rows are gone; B refuses them all', async () => {
    const first = await cachedOnB('everyone-a')
    const second = await cachedOnB('everyone-b')
    const sent = await publishedBy(() => a.admin.revokeEverySession({ session: null }))
    assert.deepEqual(sent, [{ revocation: { kind: 'all' }, rowsLeft: 0 }])
    assert.equal(await validOnB(first.tokens[0]!.token), false)
    assert.equal(await validOnB(second.tokens[0]!.token), false)
  })

  it('logout: the token hash, once its row is gone; B refuses it', async () => {
    const { tokens } = await cachedOnB('logout')
    const sent = await publishedBy(() => a.logout(tokens[0]!.context, CLIENT))
    assert.deepEqual(sent, [
      { revocation: { kind: 'token', tokenHash: tokens[0]!.context.tokenHash }, rowsLeft: 0 },
    ])
    assert.equal(await validOnB(tokens[0]!.token), false)
  })

  it('ending one session by id: that token only', async () => {
    const { tokens } = await cachedOnB('by-id', 2)
    const [keep, end] = [tokens[0]!, tokens[1]!]
    const sent = await publishedBy(() => a.revokeSession(keep.context, end.context.sessionId, CLIENT))
    assert.deepEqual(sent, [{ revocation: { kind: 'token', tokenHash: end.context.tokenHash }, rowsLeft: 0 }])
    assert.equal(await validOnB(end.token), false)
    assert.equal(await validOnB(keep.token), true)
  })

  it('"everywhere else", the operator and deactivation: the user, after the rows are deleted', async () => {
    const others = await cachedOnB('others', 3)
    const [current, ...rest] = others.tokens
    const sent = await publishedBy(() => a.revokeOtherSessions(current!.context, CLIENT))
    assert.deepEqual(sent, [{ revocation: { kind: 'user', userId: others.user.id }, rowsLeft: 1 }])
    for (const { token } of rest) assert.equal(await validOnB(token), false)

    const operator = await cachedOnB('operator', 2)
    const byOperator = await publishedBy(() => a.revokeUserTokens(operator.user.id))
    assert.deepEqual(byOperator, [{ revocation: { kind: 'user', userId: operator.user.id }, rowsLeft: 0 }])
    for (const { token } of operator.tokens) assert.equal(await validOnB(token), false)

    const deactivated = await cachedOnB('deactivated')
    const off = await publishedBy(() => a.setActive(deactivated.user.id, false))
    assert.deepEqual(off, [{ revocation: { kind: 'user', userId: deactivated.user.id }, rowsLeft: 0 }])
    assert.equal(await validOnB(deactivated.tokens[0]!.token), false)
    const on = await publishedBy(() => a.setActive(deactivated.user.id, true))
    assert.deepEqual(
      on.map((entry) => entry.revocation),
      [{ kind: 'user', userId: deactivated.user.id }],
    )
  })

  it('password change and email change: the user; B shows the new email', async () => {
    const changer = await cachedOnB('password', 2)
    const [current, other] = [changer.tokens[0]!, changer.tokens[1]!]
    const sent = await publishedBy(() =>
      a.changePassword({
        session: current.context,
        currentPassword: PASSWORD,
        newPassword: 'an entirely new passphrase',
        client: CLIENT,
      }),
    )
    assert.deepEqual(
      sent.map((entry) => entry.revocation),
      [{ kind: 'user', userId: changer.user.id }],
    )
    assert.equal(await validOnB(other.token), false)

    const mover = await cachedOnB('mover')
    const newEmail = uniqueEmail('moved')
    const from = bus.published.length
    await a.changeEmail({ session: mover.tokens[0]!.context, email: newEmail, client: CLIENT })
    // The email change does not wait for its message (src/accounts/credentials.ts): it follows.
    for (let i = 0; i < 100 && bus.published.length === from; i++) await sleep(5)
    const moved = bus.published.slice(from)
    assert.deepEqual(
      moved.map((entry) => entry.revocation),
      [{ kind: 'user', userId: mover.user.id }],
    )
    assert.equal((await b.validateToken(mover.tokens[0]!.token, 'bearer'))?.user.email, newEmail)
  })

  it('missed(): B forgets every cached token, whoever it belongs to', async () => {
    const one = await cachedOnB('missed-one')
    const two = await cachedOnB('missed-two')
    await store.db.deleteFrom('access_tokens').where('user_id', 'in', [one.user.id, two.user.id]).execute()
    assert.equal(await validOnB(one.tokens[0]!.token), true)
    bus.missed()
    assert.equal(await validOnB(one.tokens[0]!.token), false)
    assert.equal(await validOnB(two.tokens[0]!.token), false)
  })
})

describe('the token cache after clear()', () => {
  const context = (userId: number) => ({
    user: {
      id: userId,
      email: 'x@example.com',
      isActive: true,
      isSuperuser: false,
      isVerified: false,
      createdAt: new Date(0),
      updatedAt: new Date(0),
    },
    tokenId: userId,
    tokenHash: 'h',
    sessionId: 's',
    kind: 'bearer' as const,
    createdAt: new Date(0),
    expiresAt: new Date(10_000_000),
    scopes: null,
  })

  it('holds nothing, and caches no validation that began before it', () => {
    const cache = createTokenCache({ ttlSeconds: 60 })
    assert.ok(cache)
    cache.set('a', context(1), 1000)
    cache.clear(2000)
    assert.equal(cache.get('a', 2001), undefined)
    // Its database read may predate the revocation that was missed.
    cache.set('b', context(2), 1999)
    cache.set('c', context(2), 2000)
    assert.equal(cache.get('b', 2001), undefined)
    assert.equal(cache.get('c', 2001), undefined)
    cache.set('d', context(2), 2001)
    assert.ok(cache.get('d', 2002))
  })
})

describe('the wire form', () => {
  it('round-trips a token hash and a user id', () => {
    const tokenHash = hashToken(generateToken().token)
    for (const revocation of [
      { kind: 'token', tokenHash },
      { kind: 'user', userId: 42 },
    ] as const) {
      assert.deepEqual(decodeRevocation(encodeRevocation(revocation)), revocation)
    }
    assert.equal(encodeRevocation({ kind: 'token', tokenHash }).length, 66)
  })

  it('ignores anything else: a raw token, a bad hash, a bad id, not a string', () => {
    const { token } = generateToken()
    for (const message of [
      `t:${token}`,
      token,
      't:',
      `t:${'A'.repeat(64)}`,
      `t:${'a'.repeat(63)}`,
      `t:${'a'.repeat(65)}`,
      'u:0',
      'u:-1',
      'u:1.5',
      'u:12345678901234567',
      'u:',
      'x:1',
      '',
      42,
      null,
      { kind: 'user', userId: 1 },
    ]) {
      assert.equal(decodeRevocation(message), null, String(message))
    }
  })
})

describe('a publish that fails', () => {
  it('never fails the revocation, and is logged once while it keeps failing', async () => {
    const store = await openTestStore(createSqliteDatabase)
    const redis = unreachableRedis()
    const warnings: string[] = []
    const channel = redisRevocationChannel({
      publisher: redis,
      keyPrefix: 'gatehouse-test-unreachable',
      log: { warn: (_details, message) => warnings.push(message), info: () => {} },
      ttlSeconds: 60,
      listen: false,
    })
    try {
      const accounts = createAccounts({
        db: store.db,
        hasher: createPasswordHasher(),
        accessTokenTtlSeconds: 3600,
        idleTimeoutSeconds: 0,
        tokenCacheSeconds: 60,
        sendsMail: false,
        revocations: channel,
      })
      const email = uniqueEmail('unpublished')
      const user = await accounts.register({ email, password: PASSWORD })
      for (let i = 0; i < 2; i++) {
        const { issued } = await accounts.login({ email, password: PASSWORD, kind: 'bearer', client: CLIENT })
        const session = await accounts.validateToken(issued.token, 'bearer')
        assert.ok(session)
        await accounts.logout(session, CLIENT)
        assert.equal(await accounts.validateToken(issued.token, 'bearer'), null)
      }
      assert.equal(await accounts.revokeUserTokens(user.id), 0)
      assert.deepEqual(warnings, [
        'revocation not published: other instances honour it within TOKEN_CACHE_SECONDS (60 s)',
      ])
    } finally {
      await channel.close()
      redis.disconnect()
      await store.close()
    }
  })
})

describe('a channel going up and down', () => {
  it('flushes whenever it starts hearing, and logs one line per change, not per retry', () => {
    const said: string[] = []
    let flushes = 0
    const link = createLinkState({
      name: 'test',
      ttlSeconds: 60,
      log: {
        warn: (_details, message) => said.push(`warn ${message}`),
        info: (message) => said.push(`info ${message}`),
      },
      listeners: { missed: () => flushes++ },
    })
    // First subscription: whatever was cached before it may have been revoked unheard.
    link.up()
    assert.equal(flushes, 1)
    assert.deepEqual(said, [])
    link.up()
    assert.equal(flushes, 1)
    link.down(new Error('gone'))
    link.down(new Error('still gone'))
    assert.deepEqual(said, [
      'warn revocation channel (test) unavailable: revocations from other instances may take up to ' +
        'TOKEN_CACHE_SECONDS (60 s) until it is back',
    ])
    link.up()
    assert.equal(flushes, 2)
    assert.equal(said.length, 2)
    assert.match(said[1]!, /^info revocation channel \(test\) restored: token cache flushed/)
  })
})
