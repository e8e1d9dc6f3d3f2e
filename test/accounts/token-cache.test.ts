import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { AccessTokenContext } from '../../src/accounts/access-tokens.ts'
import { createTokenCache } from '../../src/accounts/token-cache.ts'
import { openGatehouse } from '../../src/open-gatehouse.ts'
import { createSqliteDatabase, type TestDatabase } from '../helpers/databases.ts'

const NOW = 1_800_000_000_000
const PASSWORD = 'correct horse battery staple'

function contextFor(userId: number, tokenHash: string, expiresAt = NOW + 3_600_000): AccessTokenContext {
  const date = new Date(NOW)
  return {
    user: {
      id: userId,
      email: `u${userId}@example.com`,
      isActive: true,
      isSuperuser: false,
      isVerified: false,
      createdAt: date,
      updatedAt: date,
    },
    tokenId: 1,
    tokenHash,
    sessionId: `session-of-${tokenHash}`,
    kind: 'bearer',
    createdAt: date,
    expiresAt: new Date(expiresAt),
    scopes: null,
  }
}

describe('token cache', () => {
  it('is off (null) when its TTL is 0', () => {
    assert.equal(createTokenCache({ ttlSeconds: 0 }), null)
  })

  it('returns a cached context until its TTL passes, then forgets it', () => {
    const cache = createTokenCache({ ttlSeconds: 5 })!
    const context = contextFor(1, 'a')
    assert.equal(cache.get('a', NOW), undefined)
    cache.set('a', context, NOW)
    assert.equal(cache.get('a', NOW + 4_999)?.context, context)
    assert.equal(cache.get('a', NOW + 5_000), undefined)
  })

  it('never keeps an entry past its token expiry', () => {
    const cache = createTokenCache({ ttlSeconds: 60 })!
    cache.set('a', contextFor(1, 'a', NOW + 1_000), NOW)
    assert.ok(cache.get('a', NOW + 999))
    assert.equal(cache.get('a', NOW + 1_000), undefined)
  })

  it('forgets a revoked token and refuses to cache it again for one TTL', () => {
    const cache = createTokenCache({ ttlSeconds: 5 })!
    cache.set('a', contextFor(1, 'a'), NOW)
    cache.deleteToken('a', NOW)
    assert.equal(cache.get('a', NOW), undefined)
    // A validation that read the database just before the revocation comes back late.
    cache.set('a', contextFor(1, 'a'), NOW + 10)
    assert.equal(cache.get('a', NOW + 10), undefined)
    cache.set('a', contextFor(1, 'a'), NOW + 5_001)
    assert.ok(cache.get('a', NOW + 5_001))
  })

  it("forgets every token of one user and no one else's", () => {
    const cache = createTokenCache({ ttlSeconds: 5 })!
    cache.set('a1', contextFor(1, 'a1'), NOW)
    cache.set('a2', contextFor(1, 'a2'), NOW)
    cache.set('b1', contextFor(2, 'b1'), NOW)
    cache.deleteUser(1, NOW)
    assert.equal(cache.get('a1', NOW), undefined)
    assert.equal(cache.get('a2', NOW), undefined)
    assert.ok(cache.get('b1', NOW))
    cache.set('a1', contextFor(1, 'a1'), NOW + 1)
    assert.equal(cache.get('a1', NOW + 1), undefined)
  })

  it('holds at most maxEntries, evicting the oldest first', () => {
    const cache = createTokenCache({ ttlSeconds: 5, maxEntries: 2 })!
    cache.set('a', contextFor(1, 'a'), NOW)
    cache.set('b', contextFor(2, 'b'), NOW)
    cache.set('c', contextFor(3, 'c'), NOW)
    assert.equal(cache.get('a', NOW), undefined)
    assert.ok(cache.get('b', NOW))
    assert.ok(cache.get('c', NOW))
  })
})

describe('accounts with the token cache on', () => {
  let database: TestDatabase
  let gatehouse: Awaited<ReturnType<typeof openGatehouse>>
  before(async () => {
    database = await createSqliteDatabase()
    gatehouse = await openGatehouse({ databaseUrl: database.url, tokenCacheSeconds: 60 })
  })
  after(async () => {
    await gatehouse?.close()
    await database?.drop()
  })

  it('refuses a revoked token at once, though it was cached', async () => {
    const { accounts } = gatehouse
    const user = await accounts.register({ email: 'cache@example.com', password: PASSWORD })
    const issued = await accounts.issueToken(user.id, 'bearer')
    assert.ok(await accounts.validateToken(issued.token, 'bearer'))
    await accounts.revokeToken(issued.tokenHash)
    assert.equal(await accounts.validateToken(issued.token, 'bearer'), null)
  })

  it('shows a changed email at once, though the session was cached', async () => {
    const { accounts } = gatehouse
    const user = await accounts.register({ email: 'before@example.com', password: PASSWORD })
    const issued = await accounts.issueToken(user.id, 'session')
    const session = await accounts.validateToken(issued.token, 'session')
    assert.equal(session?.user.email, 'before@example.com')
    assert.ok(session)
    await accounts.changeEmail({ session, email: 'after@example.com', client: { ip: '127.0.0.1' } })
    assert.equal((await accounts.validateToken(issued.token, 'session'))?.user.email, 'after@example.com')
  })

  it('refuses every token of a user whose tokens were all revoked', async () => {
    const { accounts } = gatehouse
    const user = await accounts.register({ email: 'all@example.com', password: PASSWORD })
    const first = await accounts.issueToken(user.id, 'bearer')
    const second = await accounts.issueToken(user.id, 'session')
    assert.ok(await accounts.validateToken(first.token, 'bearer'))
    assert.ok(await accounts.validateToken(second.token, 'session'))
    assert.equal(await accounts.revokeUserTokens(user.id), 2)
    assert.equal(await accounts.validateToken(first.token, 'bearer'), null)
    assert.equal(await accounts.validateToken(second.token, 'session'), null)
  })
})
