import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { type Accounts, type AccountsOptions, createAccounts } from '../../src/accounts/accounts.ts'
import type { SecurityEvent } from '../../src/accounts/events.ts'
import type { TokenKind } from '../../src/accounts/session.ts'
import { GatehouseError } from '../../src/core/errors.ts'
import { createPasswordHasher } from '../../src/core/passwords/index.ts'
import { generatePublicId } from '../../src/core/tokens/index.ts'
import type { Store } from '../../src/store/open-store.ts'
import { dialects, openTestStore } from '../helpers/databases.ts'
import { refusedWith } from '../helpers/domain.ts'

const PASSWORD = 'correct horse battery staple'
const CHROME =
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36'
const CLIENT = { ip: '192.0.2.44', userAgent: CHROME }
const SUMMARY_KEYS = ['createdAt', 'current', 'expiresAt', 'id', 'ip', 'kind', 'lastUsedAt', 'userAgent']

let emailCounter = 0
const uniqueEmail = (label: string) => `${label}-${++emailCounter}@example.com`

const notFound = refusedWith('NOT_FOUND')

for (const { dialect, skip, create } of dialects()) {
  describe(`sessions on ${dialect}`, { skip }, () => {
    let store: Store | undefined
    let accounts: Accounts
    let baseOptions: AccountsOptions
    const events: SecurityEvent[] = []

    before(async () => {
      store = await openTestStore(create)
      baseOptions = {
        db: store.db,
        hasher: createPasswordHasher(),
        accessTokenTtlSeconds: 3600,
        idleTimeoutSeconds: 0,
        // On, so every test also proves a revocation is not hidden by a cached validation.
        tokenCacheSeconds: 5,
        onEvent: (event) => events.push(event),
      }
      accounts = createAccounts(baseOptions)
    })
    after(async () => {
      await store?.close()
    })

    /** A new account and `count` signed-in sessions of it, as protected routes see them. */
    async function userWithSessions(label: string, count: number, kind: TokenKind = 'session') {
      const email = uniqueEmail(label)
      const user = await accounts.register({ email, password: PASSWORD })
      const sessions = []
      for (let i = 0; i < count; i++) {
        const { issued } = await accounts.login({ email, password: PASSWORD, kind, client: CLIENT })
        const context = await accounts.validateToken(issued.token, kind)
        assert.ok(context)
        sessions.push({ token: issued.token, kind, context })
      }
      return { email, user, sessions }
    }
    const stillValid = async (session: { token: string; kind: TokenKind }) =>
      (await accounts.validateToken(session.token, session.kind)) !== null

    describe('listSessions', () => {
      it("lists the caller's live sessions, newest first, the current one flagged, nobody else's", async () => {
        const alice = await userWithSessions('alice', 3)
        const bob = await userWithSessions('bob', 1)
        const current = alice.sessions[1]!

        const listed = await accounts.listSessions(current.context)
        assert.deepEqual(
          listed.map((session) => session.id),
          alice.sessions.map((session) => session.context.sessionId).reverse(),
        )
        assert.deepEqual(
          listed.filter((session) => session.current).map((session) => session.id),
          [current.context.sessionId],
        )
        assert.ok(!listed.some((session) => session.id === bob.sessions[0]!.context.sessionId))
        for (const session of listed) {
          // What the owner sees: no secret, no hash, no internal row id.
          assert.deepEqual(Object.keys(session).sort(), SUMMARY_KEYS)
          assert.equal(session.userAgent, 'Chrome 126 on Windows')
          assert.equal(session.ip, CLIENT.ip)
          assert.equal(session.kind, 'session')
        }
      })

      it('leaves out an expired session', async () => {
        const { sessions } = await userWithSessions('expired', 2)
        const [gone, kept] = sessions
        await accounts.db
          .updateTable('access_tokens')
          .set({ expires_at: Date.now() - 1 })
          .where('public_id', '=', gone!.context.sessionId)
          .execute()
        const listed = await accounts.listSessions(kept!.context)
        assert.deepEqual(
          listed.map((session) => session.id),
          [kept!.context.sessionId],
        )
      })
    })

    describe('revokeSession', () => {
      it('ends one of the caller’s own sessions at once, and only that one', async () => {
        const { sessions } = await userWithSessions('revoke-own', 3)
        const [target, current, bystander] = sessions
        await accounts.revokeSession(current!.context, target!.context.sessionId, CLIENT)
        assert.equal(await stillValid(target!), false)
        assert.equal(await stillValid(current!), true)
        assert.equal(await stillValid(bystander!), true)
        const listed = await accounts.listSessions(current!.context)
        assert.ok(!listed.some((session) => session.id === target!.context.sessionId))
        // Already gone: the same answer as an id that never existed.
        await assert.rejects(
          accounts.revokeSession(current!.context, target!.context.sessionId, CLIENT),
          notFound,
        )
      })

      it("answers NOT_FOUND for another user's session, which keeps working", async () => {
        const attacker = await userWithSessions('attacker', 1)
        const victim = await userWithSessions('victim', 1)
        const victimSession = victim.sessions[0]!
        await assert.rejects(
          accounts.revokeSession(attacker.sessions[0]!.context, victimSession.context.sessionId, CLIENT),
          notFound,
        )
        await assert.rejects(
          accounts.revokeSession(attacker.sessions[0]!.context, generatePublicId(), CLIENT),
          notFound,
        )
        assert.equal(await stillValid(victimSession), true)
      })
    })

    describe('revokeOtherSessions', () => {
      it('keeps only the current session and says how many ended', async () => {
        const { sessions } = await userWithSessions('others', 3)
        const bystander = await userWithSessions('others-bystander', 1)
        const current = sessions[2]!
        assert.equal(await accounts.revokeOtherSessions(current.context, CLIENT), 2)
        assert.equal(await stillValid(sessions[0]!), false)
        assert.equal(await stillValid(sessions[1]!), false)
        assert.equal(await stillValid(current), true)
        assert.equal(await stillValid(bystander.sessions[0]!), true)
        assert.deepEqual(
          (await accounts.listSessions(current.context)).map((session) => session.id),
          [current.context.sessionId],
        )
        assert.equal(await accounts.revokeOtherSessions(current.context, CLIENT), 0)
      })
    })

    describe('logout', () => {
      it('ends the session it is called with', async () => {
        const { sessions } = await userWithSessions('logout', 2)
        await accounts.logout(sessions[0]!.context, CLIENT)
        assert.equal(await stillValid(sessions[0]!), false)
        assert.equal(await stillValid(sessions[1]!), true)
      })
    })

    describe('operator actions', () => {
      it('listUserSessions shows every live session with none current', async () => {
        const { user, sessions } = await userWithSessions('operator-list', 2)
        const listed = await accounts.listUserSessions(user.id)
        assert.equal(listed.length, 2)
        assert.ok(listed.every((session) => session.current === false))
        assert.deepEqual(
          listed.map((session) => session.id).sort(),
          sessions.map((session) => session.context.sessionId).sort(),
        )
      })

      it('revokeUserSession ends a session of that user only', async () => {
        const owner = await userWithSessions('operator-owner', 1)
        const someoneElse = await userWithSessions('operator-else', 1)
        const session = owner.sessions[0]!
        assert.equal(await accounts.revokeUserSession(someoneElse.user.id, session.context.sessionId), false)
        assert.equal(await stillValid(session), true)
        assert.equal(await accounts.revokeUserSession(owner.user.id, session.context.sessionId), true)
        assert.equal(await stillValid(session), false)
      })
    })

    describe('setActive', () => {
      it('deactivation refuses every token at once, though validations are cached', async () => {
        const { email, user, sessions } = await userWithSessions('deactivate', 2)
        for (const session of sessions) assert.equal(await stillValid(session), true) // now cached
        await accounts.setActive(user.id, false)
        for (const session of sessions) assert.equal(await stillValid(session), false)
        await assert.rejects(
          accounts.login({ email, password: PASSWORD, kind: 'session', client: CLIENT }),
          (error: unknown) => error instanceof GatehouseError && error.code === 'BAD_CREDENTIALS',
        )

        // Reactivated, the account logs in again; the sessions it had stay ended.
        assert.equal((await accounts.setActive(user.id, true))?.isActive, true)
        for (const session of sessions) assert.equal(await stillValid(session), false)
        assert.ok(await accounts.login({ email, password: PASSWORD, kind: 'session', client: CLIENT }))
      })

      it('another instance reading the database refuses the token of a deactivated account', async () => {
        // The second instance never saw the token: it reads the database, where the flag is.
        const { user, sessions } = await userWithSessions('deactivate-elsewhere', 1)
        const elsewhere = createAccounts({ ...baseOptions, tokenCacheSeconds: 0 })
        assert.ok(await elsewhere.validateToken(sessions[0]!.token, 'session'))
        await accounts.db.updateTable('users').set({ is_active: 0 }).where('id', '=', user.id).execute()
        assert.equal(await elsewhere.validateToken(sessions[0]!.token, 'session'), null)
      })
    })

    describe('token kind', () => {
      for (const [issuedAs, presentedAs] of [
        ['bearer', 'session'],
        ['session', 'bearer'],
      ] as const) {
        it(`a ${issuedAs} token presented as ${presentedAs} is refused and reported`, async () => {
          const { user, sessions } = await userWithSessions(`kind-${issuedAs}`, 1, issuedAs)
          const session = sessions[0]!
          for (const cached of [true, false]) {
            // Once from the cache (the login's validation filled it), once from the database.
            const on = cached ? accounts : createAccounts({ ...baseOptions, tokenCacheSeconds: 0 })
            const before = events.length
            assert.equal(await on.validateToken(session.token, presentedAs), null)
            const reported = events.slice(before).filter((event) => event.type === 'token.kind_mismatch')
            assert.equal(reported.length, 1, `one report (${cached ? 'cached' : 'database'} path)`)
            assert.equal(reported[0]?.userId, user.id)
            assert.equal(reported[0]?.sessionId, session.context.sessionId)
          }
          // Refusing it in the wrong place does not end it where it belongs.
          assert.equal(await stillValid(session), true)
        })
      }
    })
  })
}
