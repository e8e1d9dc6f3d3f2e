/**
 * Superuser administration in the domain, on a real store: who may (superuser, never an API key, a
 * recent login for a change), keyset pages with filters and strict cursors, the last-superuser rule
 * (also under concurrent changes from two connections), what a change ends (sessions, keys, cached
 * contexts), and the trail naming the actor.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { type Accounts, createAccounts } from '../../src/accounts/accounts.ts'
import type { Actor } from '../../src/accounts/administration.ts'
import { insertApiKey } from '../../src/accounts/api-key-store.ts'
import { type AuditLog, createAuditLog } from '../../src/accounts/audit-log.ts'
import type { SecurityEvent } from '../../src/accounts/events.ts'
import type { AccessTokenContext } from '../../src/accounts/session.ts'
import { insertUser } from '../../src/accounts/users.ts'
import { createPasswordHasher } from '../../src/core/passwords/index.ts'
import { openStore, type Store } from '../../src/store/open-store.ts'
import { dialects, openTestStore } from '../helpers/databases.ts'
import { refusedWith } from '../helpers/domain.ts'

const CLI: Actor = { session: null }
const CLIENT = { ip: '198.51.100.7', userAgent: 'admin-test/1.0' }
const HOUR_MS = 3_600_000

for (const { dialect, skip, create } of dialects()) {
  describe(`administration on ${dialect}`, { skip }, () => {
    let store: (Store & { url: string }) | undefined
    let accounts: Accounts
    let trail: AuditLog
    const events: SecurityEvent[] = []
    let counter = 0

    before(async () => {
      store = await openTestStore(create)
      trail = createAuditLog({ db: store.db, flushIntervalMs: HOUR_MS })
      accounts = createAccounts({
        db: store.db,
        hasher: createPasswordHasher(),
        accessTokenTtlSeconds: 3600,
        idleTimeoutSeconds: 0,
        // The cache on, so every test also proves a change reaches the cached contexts.
        tokenCacheSeconds: 60,
        freshSessionSeconds: 600,
        sendsMail: false,
        onEvent: [trail.record, (event) => events.push(event)],
      })
    })
    after(async () => {
      await trail?.close()
      await store?.close()
    })

    const db = () => {
      assert.ok(store)
      return store.db
    }

    /** A user straight in the store (no hashing: these tests never log in with a password). */
    async function user(
      label: string,
      flags: { superuser?: boolean; active?: boolean; verified?: boolean } = {},
    ) {
      counter++
      const created = await insertUser(db(), {
        email: `${label}-${counter}@example.com`,
        hashedPassword: 'not-a-hash',
        isSuperuser: flags.superuser === true,
        isVerified: flags.verified === true,
      })
      if (flags.active === false) {
        await db().updateTable('users').set({ is_active: 0 }).where('id', '=', created.id).execute()
      }
      return created
    }

    /** A real bearer session of the user, validated (and so cached) like a request's. */
    async function sessionOf(userId: number): Promise<{ token: string; context: AccessTokenContext }> {
      const issued = await accounts.issueToken(userId, 'bearer', CLIENT)
      const context = await accounts.validateToken(issued.token, 'bearer')
      assert.ok(context)
      return { token: issued.token, context }
    }

    async function superuserActor(): Promise<{ id: number; actor: Actor; context: AccessTokenContext }> {
      const admin = await user('admin', { superuser: true })
      const { context } = await sessionOf(admin.id)
      return { id: admin.id, actor: { session: context, client: CLIENT }, context }
    }

    async function apiKeyOf(userId: number): Promise<{ key: string; id: string }> {
      const issued = await insertApiKey(db(), {
        userId,
        name: 'deploy script',
        scopes: ['profile:read'],
        expiresAt: Date.now() + HOUR_MS,
      })
      return { key: issued.key, id: issued.id }
    }

    /** Leaves exactly these users active superusers (earlier tests' superusers are demoted). */
    async function onlySuperusers(ids: number[]): Promise<void> {
      await db().updateTable('users').set({ is_superuser: 0 }).where('id', 'not in', ids).execute()
      await db().updateTable('users').set({ is_superuser: 1, is_active: 1 }).where('id', 'in', ids).execute()
    }

    const activeSuperusers = async () =>
      (
        await db()
          .selectFrom('users')
          .select('id')
          .where('is_superuser', '=', 1)
          .where('is_active', '=', 1)
          .execute()
      ).map((row) => row.id)

    describe('who may', () => {
      it('refuses a user who is not a superuser, for reads and changes alike', async () => {
        const plain = await user('plain')
        const target = await user('target')
        const { context } = await sessionOf(plain.id)
        const actor = { session: context, client: CLIENT }
        await assert.rejects(
          accounts.admin.listUsers(actor, { limit: 10 }),
          refusedWith('SUPERUSER_REQUIRED'),
        )
        await assert.rejects(accounts.admin.getUser(actor, target.id), refusedWith('SUPERUSER_REQUIRED'))
        await assert.rejects(
          accounts.admin.updateUser(actor, plain.id, { isSuperuser: true }),
          refusedWith('SUPERUSER_REQUIRED'),
        )
        await assert.rejects(accounts.admin.deleteUser(actor, target.id), refusedWith('SUPERUSER_REQUIRED'))
        await assert.rejects(
          accounts.admin.revokeUserSessions(actor, target.id),
          refusedWith('SUPERUSER_REQUIRED'),
        )
        assert.throws(() => accounts.admin.authorizeRead(actor), refusedWith('SUPERUSER_REQUIRED'))
        assert.equal((await accounts.findUserById(plain.id))?.isSuperuser, false)
        assert.ok(await accounts.findUserById(target.id), 'nothing was deleted')
      })

      it("refuses a superuser's API key, even for a read", async () => {
        const { id } = await superuserActor()
        const { key } = await apiKeyOf(id)
        const context = await accounts.validateApiKey(key)
        assert.ok(context)
        assert.equal(context.user.isSuperuser, true)
        const actor = { session: context, client: CLIENT }
        await assert.rejects(
          accounts.admin.listUsers(actor, { limit: 10 }),
          refusedWith('API_KEY_NOT_ALLOWED'),
        )
        await assert.rejects(
          accounts.admin.updateUser(actor, id, { isVerified: true }),
          refusedWith('API_KEY_NOT_ALLOWED'),
        )
      })

      it('lets a stale superuser session read, but not change anything', async () => {
        const admin = await user('stale-admin', { superuser: true })
        const target = await user('stale-target')
        const issued = await accounts.issueToken(admin.id, 'bearer', CLIENT)
        // Signed in two hours ago: past the 10-minute fresh window.
        await db()
          .updateTable('access_tokens')
          .set({ created_at: Date.now() - 2 * HOUR_MS })
          .where('public_id', '=', issued.sessionId)
          .execute()
        const context = await accounts.validateToken(issued.token, 'bearer')
        assert.ok(context)
        const actor = { session: context, client: CLIENT }
        assert.equal((await accounts.admin.getUser(actor, target.id)).id, target.id)
        await assert.rejects(
          accounts.admin.updateUser(actor, target.id, { isActive: false }),
          refusedWith('FRESH_SESSION_REQUIRED'),
        )
        await assert.rejects(
          accounts.admin.deleteUser(actor, target.id),
          refusedWith('FRESH_SESSION_REQUIRED'),
        )
        await assert.rejects(
          accounts.admin.revokeUserSessions(actor, target.id),
          refusedWith('FRESH_SESSION_REQUIRED'),
        )
        assert.equal((await accounts.findUserById(target.id))?.isActive, true)
      })

      it('refuses a superuser demoted a moment ago, though the old context was cached', async () => {
        const { id } = await superuserActor()
        const { actor: other } = await superuserActor()
        const { token } = await sessionOf(id)
        await accounts.admin.updateUser(other, id, { isSuperuser: false })
        // The demotion ended the sessions: the old token does not even validate any more.
        assert.equal(await accounts.validateToken(token, 'bearer'), null)
        const fresh = await sessionOf(id)
        await assert.rejects(
          accounts.admin.listUsers({ session: fresh.context }, { limit: 1 }),
          refusedWith('SUPERUSER_REQUIRED'),
        )
      })
    })

    describe('listUsers', () => {
      it('pages by id with filters; every page but the last has a cursor, and no account is missed or repeated', async () => {
        const { actor } = await superuserActor()
        const label = `page${Date.now()}`
        const made = []
        for (let i = 0; i < 9; i++) {
          made.push(await user(label, { active: i % 3 !== 0, verified: i % 2 === 0 }))
        }
        const expected = made.filter((u, i) => i % 3 !== 0 && u.id > 0).map((u) => u.id)
        const seen: number[] = []
        let cursor: string | null = null
        let pages = 0
        do {
          const page = await accounts.admin.listUsers(actor, {
            limit: 2,
            cursor,
            emailPrefix: label.toUpperCase(),
            isActive: true,
          })
          pages++
          assert.ok(page.users.length <= 2)
          for (const found of page.users) {
            assert.ok(found.isActive)
            assert.ok(found.email.startsWith(label))
            seen.push(found.id)
          }
          cursor = page.nextCursor
          if (cursor !== null) assert.equal(page.users.length, 2)
        } while (cursor !== null)
        assert.deepEqual(seen, expected)
        assert.equal(pages, Math.ceil(expected.length / 2))

        const verifiedInactive = await accounts.admin.listUsers(actor, {
          limit: 100,
          emailPrefix: label,
          isActive: false,
          isVerified: true,
        })
        assert.deepEqual(
          verifiedInactive.users.map((u) => u.id),
          made.filter((_, i) => i % 3 === 0 && i % 2 === 0).map((u) => u.id),
        )
        assert.equal(verifiedInactive.nextCursor, null)
        // A page exactly full at the end: the cursor is null, not a pointer to an empty page.
        const exact = await accounts.admin.listUsers(actor, {
          limit: expected.length,
          emailPrefix: label,
          isActive: true,
        })
        assert.equal(exact.users.length, expected.length)
        assert.equal(exact.nextCursor, null)
      })

      it('matches the prefix literally: LIKE wildcards and the escape character are plain characters', async () => {
        const { actor } = await superuserActor()
        const tag = `w${Date.now()}`
        const underscore = await insertUser(db(), { email: `${tag}_a@example.com`, hashedPassword: 'x' })
        await insertUser(db(), { email: `${tag}xa@example.com`, hashedPassword: 'x' })
        const percent = await insertUser(db(), { email: `${tag}%b@example.com`, hashedPassword: 'x' })
        const ids = async (emailPrefix: string) =>
          (await accounts.admin.listUsers(actor, { limit: 100, emailPrefix })).users.map((u) => u.id)
        assert.deepEqual(await ids(`${tag}_`), [underscore.id])
        assert.deepEqual(await ids(`${tag}%`), [percent.id])
        assert.deepEqual(await ids(`${tag}\\`), [])
        assert.deepEqual(await ids('%'), [])
        assert.equal((await ids(tag)).length, 3)
      })

      it('refuses a cursor it did not issue, and a limit out of 1..100, as a 422 on that field', async () => {
        const { actor } = await superuserActor()
        await user('cursor')
        const first = await accounts.admin.listUsers(actor, { limit: 1 })
        assert.ok(first.nextCursor)
        const encode = (text: string) => Buffer.from(text).toString('base64url')
        const tampered = [
          '',
          '!!!!',
          'not a cursor',
          `${first.nextCursor}=`,
          `${first.nextCursor}A`,
          encode('audit:1'),
          encode('users:0'),
          encode('users:-1'),
          encode('users:01'),
          encode('users:1.5'),
          encode('users:1e3'),
          encode('users:99999999999'),
          encode('users:2147483648'),
          encode('users:1 '),
          encode("users:1' or 1=1--"),
          'A'.repeat(500),
        ]
        for (const cursor of tampered) {
          await assert.rejects(
            accounts.admin.listUsers(actor, { limit: 10, cursor }),
            refusedWith('VALIDATION_FAILED', 'cursor'),
            cursor,
          )
        }
        for (const limit of [0, 101, -1, 1.5, Number.NaN]) {
          await assert.rejects(
            accounts.admin.listUsers(actor, { limit }),
            refusedWith('VALIDATION_FAILED', 'limit'),
            String(limit),
          )
        }
        await assert.rejects(
          accounts.admin.listUsers(actor, { limit: 1, emailPrefix: 'a\u0000' }),
          refusedWith('VALIDATION_FAILED', 'emailPrefix'),
        )
        // A well-formed cursor past the end is simply the last page.
        assert.deepEqual(
          await accounts.admin.listUsers(actor, { limit: 5, cursor: encode('users:2147483647') }),
          {
            users: [],
            nextCursor: null,
          },
        )
      })
    })

    describe('getUser and updateUser', () => {
      it('answers NOT_FOUND for an id that names no account, whatever its size', async () => {
        for (const id of [987_654, 0, -1, 2 ** 31, Number.MAX_SAFE_INTEGER, 1.5]) {
          await assert.rejects(accounts.admin.getUser(CLI, id), refusedWith('NOT_FOUND'), String(id))
          await assert.rejects(
            accounts.admin.updateUser(CLI, id, { isVerified: true }),
            refusedWith('NOT_FOUND'),
            String(id),
          )
          await assert.rejects(accounts.admin.deleteUser(CLI, id), refusedWith('NOT_FOUND'), String(id))
          await assert.rejects(accounts.admin.listUserSessions(CLI, id), refusedWith('NOT_FOUND'), String(id))
        }
      })

      it('takes only the four fields, validates the email as registration does, and refuses an empty change', async () => {
        const { actor } = await superuserActor()
        const target = await user('fields')
        const taken = await user('taken')
        const smuggled = { isVerified: true, hashedPassword: 'x', id: 1, email: undefined } as never
        const changed = await accounts.admin.updateUser(actor, target.id, smuggled)
        assert.equal(changed.isVerified, true)
        const row = await db()
          .selectFrom('users')
          .selectAll()
          .where('id', '=', target.id)
          .executeTakeFirstOrThrow()
        assert.equal(row.hashed_password, 'not-a-hash')
        assert.equal(row.id, target.id)

        await assert.rejects(
          accounts.admin.updateUser(actor, target.id, {}),
          refusedWith('VALIDATION_FAILED', ''),
        )
        await assert.rejects(
          accounts.admin.updateUser(actor, target.id, { email: 'not an email' }),
          refusedWith('VALIDATION_FAILED', 'email'),
        )
        await assert.rejects(
          accounts.admin.updateUser(actor, target.id, { isActive: 'false' as never }),
          refusedWith('VALIDATION_FAILED', 'isActive'),
        )
        await assert.rejects(
          accounts.admin.updateUser(actor, target.id, { email: taken.email.toUpperCase() }),
          refusedWith('EMAIL_EXISTS'),
        )
        // A refused change leaves everything as it was, the other fields of it included.
        await assert.rejects(
          accounts.admin.updateUser(actor, target.id, { email: taken.email, isSuperuser: true }),
          refusedWith('EMAIL_EXISTS'),
        )
        assert.equal((await accounts.findUserById(target.id))?.isSuperuser, false)

        const moved = await accounts.admin.updateUser(actor, target.id, { email: `Moved-${target.email}` })
        assert.equal(moved.email, `Moved-${target.email}`)
        assert.equal(moved.isVerified, false, 'a new address is unproven')
        const verified = await accounts.admin.updateUser(actor, target.id, {
          email: `again-${target.email}`,
          isVerified: true,
        })
        assert.equal(verified.isVerified, true, 'unless the superuser says it is verified')
      })

      it('an email change reaches the cached context at once, and the session stays', async () => {
        const { actor } = await superuserActor()
        const target = await user('cached-email')
        const { token, context } = await sessionOf(target.id)
        assert.equal(context.user.email, target.email)
        await accounts.admin.updateUser(actor, target.id, { email: `new-${target.email}` })
        const after = await accounts.validateToken(token, 'bearer')
        assert.equal(after?.user.email, `new-${target.email}`)
      })

      it('deactivation ends every session and API key at once, even cached ones', async () => {
        const { actor } = await superuserActor()
        const target = await user('deactivated')
        const bearer = await sessionOf(target.id)
        const cookie = await accounts.issueToken(target.id, 'session', CLIENT)
        const key = await apiKeyOf(target.id)
        assert.ok(await accounts.validateApiKey(key.key), 'the key works (and is cached) before')

        const changed = await accounts.admin.updateUser(actor, target.id, { isActive: false })
        assert.equal(changed.isActive, false)
        assert.equal(await accounts.validateToken(bearer.token, 'bearer'), null)
        assert.equal(await accounts.validateToken(cookie.token, 'session'), null)
        assert.equal(await accounts.validateApiKey(key.key), null)
        const tokens = await db()
          .selectFrom('access_tokens')
          .select('id')
          .where('user_id', '=', target.id)
          .execute()
        const keys = await db().selectFrom('api_keys').select('id').where('user_id', '=', target.id).execute()
        assert.deepEqual([tokens.length, keys.length], [0, 0])

        const activated = await accounts.admin.updateUser(actor, target.id, { isActive: true })
        assert.equal(activated.isActive, true)
      })

      it('a superuser flag granted or taken ends the sessions (the key survives and carries the new flag)', async () => {
        const { actor } = await superuserActor()
        const target = await user('promoted')
        const before = await sessionOf(target.id)
        const key = await apiKeyOf(target.id)
        assert.equal((await accounts.validateApiKey(key.key))?.user.isSuperuser, false)

        const promoted = await accounts.admin.updateUser(actor, target.id, { isSuperuser: true })
        assert.equal(promoted.isSuperuser, true)
        assert.equal(await accounts.validateToken(before.token, 'bearer'), null, 'renewed after promotion')
        assert.equal((await accounts.validateApiKey(key.key))?.user.isSuperuser, true, 'never the old flag')

        const during = await sessionOf(target.id)
        assert.equal(during.context.user.isSuperuser, true)
        await accounts.admin.updateUser(actor, target.id, { isSuperuser: false })
        assert.equal(await accounts.validateToken(during.token, 'bearer'), null, 'renewed after demotion')
        assert.equal((await accounts.validateApiKey(key.key))?.user.isSuperuser, false)
      })

      it('a flag set to the value it has ends nothing', async () => {
        const { actor } = await superuserActor()
        const target = await user('unchanged')
        const session = await sessionOf(target.id)
        await accounts.admin.updateUser(actor, target.id, { isSuperuser: false, isActive: true })
        assert.ok(await accounts.validateToken(session.token, 'bearer'))
      })
    })

    describe('the last active superuser', () => {
      it('cannot be demoted, deactivated or deleted; with a second one it can, and then the second cannot', async () => {
        const a = await user('last-a', { superuser: true })
        const b = await user('last-b', { superuser: true })
        // An inactive superuser does not count: it cannot administer anything.
        const dormant = await user('last-dormant', { superuser: true, active: false })
        await onlySuperusers([a.id])
        await db()
          .updateTable('users')
          .set({ is_superuser: 1 })
          .where('id', 'in', [b.id, dormant.id])
          .execute()
        await db().updateTable('users').set({ is_active: 0 }).where('id', 'in', [b.id, dormant.id]).execute()
        assert.deepEqual(await activeSuperusers(), [a.id])
        const aSession = await sessionOf(a.id)

        for (const changes of [
          { isSuperuser: false },
          { isActive: false },
          { isActive: false, isSuperuser: true },
        ]) {
          await assert.rejects(accounts.admin.updateUser(CLI, a.id, changes), refusedWith('LAST_SUPERUSER'))
        }
        await assert.rejects(accounts.admin.deleteUser(CLI, a.id), refusedWith('LAST_SUPERUSER'))
        assert.deepEqual(await activeSuperusers(), [a.id])
        assert.ok(await accounts.validateToken(aSession.token, 'bearer'), 'a refusal ends no session')
        // Demoting an inactive superuser takes nothing away.
        assert.equal(
          (await accounts.admin.updateUser(CLI, dormant.id, { isSuperuser: false })).isSuperuser,
          false,
        )

        await accounts.admin.updateUser(CLI, b.id, { isActive: true })
        const demoted = await accounts.admin.updateUser({ session: aSession.context }, a.id, {
          isSuperuser: false,
        })
        assert.equal(demoted.isSuperuser, false, 'a superuser may step down while another remains')
        await assert.rejects(
          accounts.admin.updateUser(CLI, b.id, { isActive: false }),
          refusedWith('LAST_SUPERUSER'),
        )
        await assert.rejects(accounts.admin.deleteUser(CLI, b.id), refusedWith('LAST_SUPERUSER'))
        assert.deepEqual(await activeSuperusers(), [b.id])
      })

      it('survives two superusers demoting (or deleting, or deactivating) each other at the same moment', async () => {
        assert.ok(store)
        // PostgreSQL: a second pool, so the two transactions really overlap. SQLite: the same
        // connection (better-sqlite3 waits for a lock synchronously, so two connections in one
        // process would stall each other); two processes are raced in test/cli/users-command.test.ts.
        const second = dialect === 'postgres' ? openStore(store.url) : null
        try {
          const other = second
            ? createAccounts({
                db: second.db,
                hasher: createPasswordHasher(),
                accessTokenTtlSeconds: 3600,
                idleTimeoutSeconds: 0,
                sendsMail: false,
              })
            : accounts
          const a = await user('race-a', { superuser: true })
          const b = await user('race-b', { superuser: true })
          const moves = [
            (on: Accounts, id: number) => on.admin.updateUser(CLI, id, { isSuperuser: false }),
            (on: Accounts, id: number) => on.admin.updateUser(CLI, id, { isActive: false }),
            (on: Accounts, id: number) => on.admin.deleteUser(CLI, id),
          ]
          for (let round = 0; round < 12; round++) {
            const ids = [a.id, b.id]
            await db().updateTable('users').set({ is_superuser: 0 }).where('id', 'not in', ids).execute()
            await onlySuperusers(ids)
            const [first, secondMove] = [moves[round % 3], moves[Math.floor(round / 3) % 3]]
            assert.ok(first && secondMove)
            const results = await Promise.allSettled([first(accounts, a.id), secondMove(other, b.id)])
            const refused = results.filter((result) => result.status === 'rejected')
            assert.equal(refused.length, 1, `round ${round}: exactly one of the two is refused`)
            refusedWith('LAST_SUPERUSER')((refused[0] as PromiseRejectedResult).reason)
            assert.equal((await activeSuperusers()).length, 1, `round ${round}: one superuser remains`)
            // A deleted one comes back for the next round.
            for (const [index, label] of [
              [0, 'race-a'],
              [1, 'race-b'],
            ] as const) {
              const id = ids[index] as number
              if (!(await accounts.findUserById(id))) {
                const again = await user(label, { superuser: true })
                if (index === 0) a.id = again.id
                else b.id = again.id
              }
            }
          }
        } finally {
          await second?.close()
        }
      })
    })

    describe('deleteUser, sessions and API keys', () => {
      it('deletes the account with its sessions and keys; its trail stays', async () => {
        const { actor, id: adminId } = await superuserActor()
        const target = await user('deleted')
        const session = await sessionOf(target.id)
        const key = await apiKeyOf(target.id)
        await accounts.admin.updateUser(actor, target.id, { isVerified: true })
        await accounts.admin.deleteUser(actor, target.id)
        assert.equal(await accounts.findUserById(target.id), null)
        assert.equal(await accounts.validateToken(session.token, 'bearer'), null)
        assert.equal(await accounts.validateApiKey(key.key), null)
        await assert.rejects(accounts.admin.deleteUser(actor, target.id), refusedWith('NOT_FOUND'))
        const page = await trail.search({ userId: target.id, limit: 10 })
        assert.deepEqual(
          page.events.map((entry) => [entry.type, entry.actorId, entry.reason]),
          [
            ['admin.user_deleted', adminId, 'by_admin'],
            ['admin.user_updated', adminId, 'is_verified'],
          ],
        )
      })

      it('lists and ends sessions (not keys), and lists and revokes only the user’s own keys', async () => {
        const { actor } = await superuserActor()
        const target = await user('sessions')
        const bystander = await user('bystander')
        const one = await sessionOf(target.id)
        const two = await accounts.issueToken(target.id, 'session', CLIENT)
        const key = await apiKeyOf(target.id)
        const foreign = await apiKeyOf(bystander.id)
        const theirs = await sessionOf(bystander.id)

        const listed = await accounts.admin.listUserSessions(actor, target.id)
        assert.deepEqual(listed.map((s) => s.id).sort(), [one.context.sessionId, two.sessionId].sort())
        assert.ok(listed.every((s) => s.current === false))
        assert.deepEqual(
          (await accounts.admin.listUserApiKeys(actor, target.id)).map((k) => k.id),
          [key.id],
        )

        assert.equal(await accounts.admin.revokeUserSessions(actor, target.id), 2)
        assert.equal(await accounts.validateToken(one.token, 'bearer'), null)
        assert.equal(await accounts.validateToken(two.token, 'session'), null)
        assert.ok(await accounts.validateApiKey(key.key), 'keys are not sessions')
        assert.ok(await accounts.validateToken(theirs.token, 'bearer'), "another user's session stays")

        await assert.rejects(
          accounts.admin.revokeUserApiKey(actor, target.id, foreign.id),
          refusedWith('NOT_FOUND'),
        )
        assert.ok(await accounts.validateApiKey(foreign.key), 'a key named under the wrong user is untouched')
        await accounts.admin.revokeUserApiKey(actor, target.id, key.id)
        assert.equal(await accounts.validateApiKey(key.key), null)
        await assert.rejects(
          accounts.admin.revokeUserApiKey(actor, target.id, key.id),
          refusedWith('NOT_FOUND'),
        )
        for (const keyId of ['', 'short', `${'A'.repeat(21)}\u0000`, `${foreign.id}x`]) {
          await assert.rejects(
            accounts.admin.revokeUserApiKey(actor, bystander.id, keyId),
            refusedWith('NOT_FOUND'),
          )
        }
        assert.ok(await accounts.validateApiKey(foreign.key))
      })
    })

    describe('the trail', () => {
      it('names the actor of every change: the superuser and their session, or null for the CLI', async () => {
        const { actor, id: adminId, context } = await superuserActor()
        const target = await user('trail')
        const key = await apiKeyOf(target.id)
        const start = events.length
        await accounts.admin.updateUser(actor, target.id, { isActive: false, isVerified: true })
        await accounts.admin.updateUser(CLI, target.id, { isActive: true })
        await accounts.admin.revokeUserSessions(actor, target.id)
        await accounts.admin.revokeUserSessions(CLI, target.id)
        const second = await apiKeyOf(target.id)
        await accounts.admin.revokeUserApiKey(actor, target.id, second.id)
        const emitted = events.slice(start)
        assert.deepEqual(
          emitted.map((e) => [e.type, e.userId, e.actorId, e.sessionId, e.ip, e.reason]),
          [
            ['admin.user_updated', target.id, adminId, context.sessionId, CLIENT.ip, 'is_active,is_verified'],
            ['admin.user_updated', target.id, null, null, null, 'is_active'],
            ['admin.sessions_revoked', target.id, adminId, context.sessionId, CLIENT.ip, 'by_admin'],
            ['admin.sessions_revoked', target.id, null, null, null, 'cli'],
            ['api_key.revoked', target.id, adminId, context.sessionId, CLIENT.ip, `by_admin:${second.id}`],
          ],
        )
        // No event carries a secret.
        const raw = JSON.stringify(emitted)
        assert.ok(!raw.includes(key.key) && !raw.includes(second.key) && !raw.includes(context.tokenHash))

        const stored = await trail.search({ userId: target.id, limit: 10 })
        assert.deepEqual(
          stored.events.map((e) => [e.type, e.actorId, e.userId]),
          [
            ['api_key.revoked', adminId, target.id],
            ['admin.sessions_revoked', null, target.id],
            ['admin.sessions_revoked', adminId, target.id],
            ['admin.user_updated', null, target.id],
            ['admin.user_updated', adminId, target.id],
          ],
        )
        const row = await db()
          .selectFrom('audit_events')
          .select(['actor_id', 'user_id'])
          .where('user_id', '=', target.id)
          .where('type', '=', 'api_key.revoked')
          .executeTakeFirstOrThrow()
        assert.deepEqual(row, { actor_id: adminId, user_id: target.id })
      })

      it('search pages newest first with filters, includes queued events, and checks its input', async () => {
        const log = createAuditLog({ db: db(), flushIntervalMs: HOUR_MS })
        const subject = 900_000 + counter++
        const base = Date.now() - 10 * HOUR_MS
        for (let i = 0; i < 7; i++) {
          log.record({
            type: i % 2 === 0 ? 'admin.user_updated' : 'login.failed',
            at: base + i * 1000,
            userId: subject,
            actorId: i % 2 === 0 ? 42 : null,
            sessionId: null,
            ip: null,
            userAgent: null,
            reason: `r${i}`,
          })
        }
        assert.equal(log.stats().queued, 7, 'nothing written yet')
        const reasons: (string | null)[] = []
        let cursor: string | null = null
        do {
          const page = await log.search({ userId: subject, type: 'admin.user_updated', limit: 3, cursor })
          reasons.push(...page.events.map((e) => e.reason))
          for (const e of page.events) assert.equal(e.actorId, 42)
          cursor = page.nextCursor
        } while (cursor !== null)
        assert.deepEqual(reasons, ['r6', 'r4', 'r2', 'r0'])

        const window = await log.search({
          userId: subject,
          since: new Date(base + 2000),
          until: new Date(base + 4000),
          limit: 200,
        })
        assert.deepEqual(
          window.events.map((e) => e.reason),
          ['r4', 'r3', 'r2'],
        )
        assert.deepEqual(Object.keys(window.events[0] ?? {}).sort(), [
          'actorId',
          'at',
          'id',
          'ip',
          'reason',
          'sessionId',
          'type',
          'userAgent',
          'userId',
        ])

        const encode = (text: string) => Buffer.from(text).toString('base64url')
        for (const bad of ['x', encode('users:5'), encode('audit:0'), encode('audit:abc')]) {
          await assert.rejects(
            log.search({ limit: 5, cursor: bad }),
            refusedWith('VALIDATION_FAILED', 'cursor'),
          )
        }
        for (const limit of [0, 201, 2.5]) {
          await assert.rejects(log.search({ limit }), refusedWith('VALIDATION_FAILED', 'limit'))
        }
        await assert.rejects(
          log.search({ limit: 5, userId: 2 ** 31 }),
          refusedWith('VALIDATION_FAILED', 'userId'),
        )
        await assert.rejects(
          log.search({ limit: 5, type: 'x'.repeat(65) }),
          refusedWith('VALIDATION_FAILED', 'type'),
        )
        await assert.rejects(
          log.search({ limit: 5, since: new Date(Number.NaN) }),
          refusedWith('VALIDATION_FAILED', 'since'),
        )
        await log.close()
      })
    })
  })
}
