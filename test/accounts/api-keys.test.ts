/**
 * The domain's API keys: created only by a person (never by a key), scoped by the application's
 * registry, bounded in number, cached like tokens and revoked everywhere at once through the
 * revocation channel. Two accounts instances on one real SQLite file, joined by an in-process bus
 * that delivers like LISTEN/NOTIFY or pub/sub do.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { type Accounts, type AccountsOptions, createAccounts } from '../../src/accounts/accounts.ts'
import { MAX_API_KEYS_PER_USER } from '../../src/accounts/api-keys.ts'
import type { RevocationChannel, RevocationListener } from '../../src/accounts/revocation-channel.ts'
import type { AccessTokenContext } from '../../src/accounts/session.ts'
import { createPasswordHasher } from '../../src/core/passwords/index.ts'
import { defineScopes } from '../../src/core/scopes/index.ts'
import type { Store } from '../../src/store/open-store.ts'
import { createSqliteDatabase, openTestStore } from '../helpers/databases.ts'
import { refusedWith } from '../helpers/domain.ts'

const PASSWORD = 'correct horse battery staple'
const CLIENT = { ip: '192.0.2.9', userAgent: null }
const SCOPES = defineScopes({ 'reports:read': 'Read reports', 'reports:write': 'Write reports' })
let counter = 0

function createBus() {
  const listeners: RevocationListener[] = []
  let delivering = true
  return {
    pause: () => {
      delivering = false
    },
    channel(): RevocationChannel {
      return {
        async publish(revocation) {
          if (delivering) for (const listener of listeners) listener.revoked(revocation)
        },
        subscribe: (listener) => void listeners.push(listener),
        close: async () => {},
      }
    },
  }
}

describe('API keys in the domain', () => {
  let store: Store
  let a: Accounts
  let b: Accounts
  before(async () => {
    store = await openTestStore(createSqliteDatabase)
    const bus = createBus()
    const options: AccountsOptions = {
      db: store.db,
      hasher: createPasswordHasher(),
      accessTokenTtlSeconds: 3600,
      idleTimeoutSeconds: 0,
      tokenCacheSeconds: 60,
      sendsMail: false,
      scopes: SCOPES,
    }
    a = createAccounts({ ...options, revocations: bus.channel() })
    b = createAccounts({ ...options, revocations: bus.channel() })
  })
  after(() => store?.close())

  async function signedIn(): Promise<AccessTokenContext> {
    const email = `domain-keys-${++counter}@example.com`
    await a.register({ email, password: PASSWORD })
    const { issued } = await a.login({ email, password: PASSWORD, kind: 'bearer', client: CLIENT })
    const session = await a.validateToken(issued.token, 'bearer')
    assert.ok(session)
    return session
  }
  const newKey = (session: AccessTokenContext, scopes = ['reports:read']) =>
    a.createApiKey({ session, name: 'nightly', scopes, expiresInDays: 30, client: CLIENT })

  it('gives a key exactly its own scopes; the user’s own token carries every scope (null)', async () => {
    const session = await signedIn()
    assert.equal(session.scopes, null)
    const issued = await newKey(session)
    const context = await a.validateApiKey(issued.key)
    assert.ok(context)
    assert.equal(context.kind, 'api_key')
    assert.deepEqual([...(context.scopes ?? [])], ['reports:read'])
    assert.equal(context.user.id, session.user.id)
    assert.equal(await a.validateToken(issued.key, 'bearer'), null, 'a key is no access token')
  })

  it('a revocation on one instance is honoured by the other at once, despite its cache', async () => {
    const session = await signedIn()
    const issued = await newKey(session)
    assert.ok(await b.validateApiKey(issued.key), 'B has it cached')
    await a.revokeApiKey(session, issued.id, CLIENT)
    assert.equal(await b.validateApiKey(issued.key), null)
  })

  it('deactivating the owner on one instance ends the key on the other at once', async () => {
    const session = await signedIn()
    const issued = await newKey(session)
    assert.ok(await b.validateApiKey(issued.key))
    await a.setActive(session.user.id, false)
    assert.equal(await b.validateApiKey(issued.key), null)
  })

  it('a key cannot manage credentials, sessions or keys (defence beyond the HTTP layer)', async () => {
    const session = await signedIn()
    const key = await a.validateApiKey((await newKey(session, ['reports:read', 'reports:write'])).key)
    assert.ok(key)
    const refused = refusedWith('API_KEY_NOT_ALLOWED')
    await assert.rejects(newKey(key), refused)
    await assert.rejects(
      a.changePassword({
        session: key,
        currentPassword: PASSWORD,
        newPassword: 'a-brand-new-password',
        client: CLIENT,
      }),
      refused,
    )
    await assert.rejects(a.changeEmail({ session: key, email: 'new@example.com', client: CLIENT }), refused)
    await assert.rejects(a.logout(key, CLIENT), refused)
    await assert.rejects(a.listSessions(key), refused)
    await assert.rejects(a.revokeOtherSessions(key, CLIENT), refused)
    await assert.rejects(a.listApiKeys(key), refused)
    await assert.rejects(a.revokeApiKey(key, key.sessionId, CLIENT), refused)
  })

  it('grants only scopes the application declares', async () => {
    const session = await signedIn()
    await assert.rejects(newKey(session, ['reports:delete']), refusedWith('UNKNOWN_SCOPE', 'scopes'))
    await assert.rejects(newKey(session, []), refusedWith('VALIDATION_FAILED', 'scopes'))
    const bare = createAccounts({
      db: store.db,
      hasher: createPasswordHasher(),
      accessTokenTtlSeconds: 3600,
      idleTimeoutSeconds: 0,
      sendsMail: false,
    })
    await assert.rejects(
      bare.createApiKey({ session, name: 'x', scopes: ['reports:read'], expiresInDays: 1, client: CLIENT }),
      refusedWith('UNKNOWN_SCOPE', 'scopes'),
      'without a registry no scope exists',
    )
  })

  it(`stops at ${MAX_API_KEYS_PER_USER} live keys per user`, async () => {
    const session = await signedIn()
    for (let i = 0; i < MAX_API_KEYS_PER_USER; i++) await newKey(session)
    await assert.rejects(newKey(session), refusedWith('API_KEY_LIMIT'))
    const [first] = await a.listApiKeys(session)
    assert.ok(first)
    await a.revokeApiKey(session, first.id, CLIENT)
    assert.ok(await newKey(session), 'one revoked, one more fits')
  })

  it('prunes expired keys, and only those', async () => {
    const session = await signedIn()
    const live = await newKey(session)
    const dead = await newKey(session)
    await store.db
      .updateTable('api_keys')
      .set({ expires_at: Date.now() - 1 })
      .where('public_id', '=', dead.id)
      .execute()
    assert.ok((await a.pruneTokens()) >= 1)
    const ids = (
      await store.db
        .selectFrom('api_keys')
        .select('public_id')
        .where('user_id', '=', session.user.id)
        .execute()
    ).map((row) => row.public_id)
    assert.deepEqual(ids, [live.id])
  })
})
