/**
 * Credentials that change while a request is in flight, on a real store (SQLite and PostgreSQL):
 * a login whose password check straddles a password change, a deactivation or a deletion gets no
 * session; a key whose creating session ends meanwhile is not kept; concurrent key creations stay
 * within the bound; a superuser demoted meanwhile cannot finish a change; keeping one's other
 * sessions through a password change does not keep the API keys. The window is held open by a
 * hasher that waits for the test before it answers: the one thing a real race cannot be made to
 * do on demand.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { type Accounts, createAccounts } from '../../src/accounts/accounts.ts'
import { MAX_API_KEYS_PER_USER } from '../../src/accounts/api-keys.ts'
import type { AccessTokenContext } from '../../src/accounts/session.ts'
import { createPasswordHasher, type PasswordHasher } from '../../src/core/passwords/index.ts'
import { defineScopes } from '../../src/core/scopes/index.ts'
import type { Store } from '../../src/store/open-store.ts'
import { dialects, openTestStore } from '../helpers/databases.ts'
import { refusedWith } from '../helpers/domain.ts'

const PASSWORD = 'the first password of all'
const CLIENT = { ip: '192.0.2.44', userAgent: null }
const SCOPES = defineScopes({ 'reports:read': 'Read reports' })

/** The real hasher; `hold()` makes the next verify wait, after its hash was read, for `release`. */
function holdingHasher(real: PasswordHasher) {
  let held: { reached: () => void; gate: Promise<void> } | null = null
  const hasher: PasswordHasher = {
    hash: (password) => real.hash(password),
    verifyDummy: (password) => real.verifyDummy(password),
    async verifyAndUpgrade(password, storedHash) {
      const result = await real.verifyAndUpgrade(password, storedHash)
      const waiting = held
      held = null
      if (waiting) {
        waiting.reached()
        await waiting.gate
      }
      return result
    },
  }
  function hold() {
    let release!: () => void
    let reached!: () => void
    const gate = new Promise<void>((resolve) => {
      release = resolve
    })
    const verified = new Promise<void>((resolve) => {
      reached = resolve
    })
    held = { reached, gate }
    return { verified, release }
  }
  return { hasher, hold }
}

for (const { dialect, skip, create } of dialects()) {
  describe(`credentials changing while a request runs (${dialect})`, { skip }, () => {
    let store: Store
    let accounts: Accounts
    let hold: ReturnType<typeof holdingHasher>['hold']
    let counter = 0
    before(async () => {
      store = await openTestStore(create)
      const holding = holdingHasher(createPasswordHasher())
      hold = holding.hold
      accounts = createAccounts({
        db: store.db,
        hasher: holding.hasher,
        accessTokenTtlSeconds: 3600,
        idleTimeoutSeconds: 0,
        tokenCacheSeconds: 5,
        sendsMail: false,
        scopes: SCOPES,
        hashAdmission: false,
      })
    })
    after(() => store?.close())

    async function signedIn(): Promise<{ email: string; session: AccessTokenContext }> {
      const email = `race-${++counter}@example.com`
      await accounts.register({ email, password: PASSWORD })
      const { issued } = await accounts.login({ email, password: PASSWORD, kind: 'bearer', client: CLIENT })
      const session = await accounts.validateToken(issued.token, 'bearer')
      assert.ok(session)
      return { email, session }
    }
    const tokenRows = async (userId: number) =>
      (await store.db.selectFrom('access_tokens').select('id').where('user_id', '=', userId).execute()).length

    /** A second login that verifies the password, then waits while `meanwhile` runs. */
    async function loginAcross(email: string, meanwhile: () => Promise<unknown>) {
      const { verified, release } = hold()
      const login = accounts.login({ email, password: PASSWORD, kind: 'bearer', client: CLIENT })
      login.catch(() => {})
      await verified
      await meanwhile()
      release()
      return login
    }

    it('a login checked against the old password gets no session once the password changed', async () => {
      const { email, session } = await signedIn()
      const login = loginAcross(email, () =>
        accounts.changePassword({
          session,
          currentPassword: PASSWORD,
          newPassword: 'a second, different password',
          client: CLIENT,
        }),
      )
      await assert.rejects(login, refusedWith('BAD_CREDENTIALS'))
      assert.equal(await tokenRows(session.user.id), 1, 'only the session that changed it')
    })

    it('a login that straddles a deactivation gets no session', async () => {
      const { email, session } = await signedIn()
      const login = loginAcross(email, () => accounts.setActive(session.user.id, false))
      await assert.rejects(login, refusedWith('BAD_CREDENTIALS'))
      assert.equal(await tokenRows(session.user.id), 0)
    })

    it('a login that straddles the deletion of the account is refused like a wrong password, not a 500', async () => {
      const { email, session } = await signedIn()
      const login = loginAcross(email, () =>
        store.db.deleteFrom('users').where('id', '=', session.user.id).execute(),
      )
      await assert.rejects(login, refusedWith('BAD_CREDENTIALS'))
    })

    it('the control: a login with nothing changed meanwhile gets its session', async () => {
      const { email, session } = await signedIn()
      const { issued } = await loginAcross(email, async () => {})
      assert.ok(await accounts.validateToken(issued.token, 'bearer'))
      assert.equal(await tokenRows(session.user.id), 2)
    })

    /** The user's stored hash replaced by one of weaker, outdated parameters (a login upgrades it). */
    async function withOutdatedHash(userId: number): Promise<void> {
      const weak = await createPasswordHasher({ memoryCost: 4096, timeCost: 1, parallelism: 1 }).hash(
        PASSWORD,
      )
      await store.db.updateTable('users').set({ hashed_password: weak }).where('id', '=', userId).execute()
    }
    const storedHash = async (userId: number) =>
      (
        await store.db
          .selectFrom('users')
          .select('hashed_password')
          .where('id', '=', userId)
          .executeTakeFirstOrThrow()
      ).hashed_password

    it("a login's rehash never writes the old password back over a reset made meanwhile", async () => {
      const { email, session } = await signedIn()
      await withOutdatedHash(session.user.id)
      const newHash = await createPasswordHasher().hash('the password after the reset')
      const login = loginAcross(email, async () => {
        // What a reset commits: the new hash, then every session ends.
        await store.db
          .updateTable('users')
          .set({ hashed_password: newHash })
          .where('id', '=', session.user.id)
          .execute()
        await accounts.revokeUserTokens(session.user.id)
      })
      await assert.rejects(login, refusedWith('BAD_CREDENTIALS'))
      assert.equal(await storedHash(session.user.id), newHash, 'the reset stands')
      assert.equal(await tokenRows(session.user.id), 0)
      await assert.rejects(
        accounts.login({ email, password: PASSWORD, kind: 'bearer', client: CLIENT }),
        refusedWith('BAD_CREDENTIALS'),
      )
    })

    it('two correct logins that both upgrade an outdated hash both get their session', async () => {
      const { email, session } = await signedIn()
      await withOutdatedHash(session.user.id)
      // B logs in (and upgrades the hash) while A, which read the outdated hash, is held.
      const first = loginAcross(email, () =>
        accounts.login({ email, password: PASSWORD, kind: 'bearer', client: CLIENT }),
      )
      const { issued } = await first
      assert.ok(await accounts.validateToken(issued.token, 'bearer'))
      assert.match(await storedHash(session.user.id), /\$m=19456,t=2,p=1\$/, 'upgraded once')
      assert.equal(await tokenRows(session.user.id), 3)
    })

    it('a key whose creating session has ended is not kept', async () => {
      const { session } = await signedIn()
      await accounts.revokeToken(session.tokenHash)
      await assert.rejects(
        accounts.createApiKey({
          session,
          name: 'late',
          scopes: ['reports:read'],
          expiresInDays: 1,
          client: CLIENT,
        }),
        refusedWith('INVALID_TOKEN'),
      )
      const keys = await store.db
        .selectFrom('api_keys')
        .select('id')
        .where('user_id', '=', session.user.id)
        .execute()
      assert.equal(keys.length, 0)
    })

    it(`concurrent key creations stop at ${MAX_API_KEYS_PER_USER}`, async () => {
      const { session } = await signedIn()
      const attempts = await Promise.allSettled(
        Array.from({ length: MAX_API_KEYS_PER_USER + 30 }, (_, i) =>
          accounts.createApiKey({
            session,
            name: `k${i}`,
            scopes: ['reports:read'],
            expiresInDays: 1,
            client: CLIENT,
          }),
        ),
      )
      const created = attempts.filter((attempt) => attempt.status === 'fulfilled').length
      const refused = attempts.filter(
        (attempt) =>
          attempt.status === 'rejected' && (attempt.reason as { code?: string }).code === 'API_KEY_LIMIT',
      ).length
      assert.equal(created, MAX_API_KEYS_PER_USER)
      assert.equal(refused, 30)
    })

    it('keeping the other sessions through a password change still ends the API keys', async () => {
      const { session } = await signedIn()
      const key = await accounts.createApiKey({
        session,
        name: 'script',
        scopes: ['reports:read'],
        expiresInDays: 1,
        client: CLIENT,
      })
      await accounts.changePassword({
        session,
        currentPassword: PASSWORD,
        newPassword: 'a third, different password',
        keepOtherSessions: true,
        client: CLIENT,
      })
      assert.equal(await accounts.validateApiKey(key.key), null)
    })

    it('a superuser demoted while its request waited cannot finish the change', async () => {
      const { session: root } = await signedIn()
      const { session: target } = await signedIn()
      const { session: other } = await signedIn()
      await store.db
        .updateTable('users')
        .set({ is_superuser: 1 })
        .where('id', 'in', [root.user.id, other.user.id])
        .execute()
      const superRoot = { ...root, user: { ...root.user, isSuperuser: true } }
      // Demoted by another superuser; the request still holds the context read before.
      await store.db.updateTable('users').set({ is_superuser: 0 }).where('id', '=', root.user.id).execute()
      await assert.rejects(
        accounts.admin.updateUser({ session: superRoot }, target.user.id, { isSuperuser: true }),
        refusedWith('SUPERUSER_REQUIRED'),
      )
      const row = await store.db
        .selectFrom('users')
        .select('is_superuser')
        .where('id', '=', target.user.id)
        .executeTakeFirst()
      assert.equal(row?.is_superuser, 0)
    })
  })
}
