import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { type Accounts, type AccountsOptions, createAccounts } from '../../src/accounts/accounts.ts'
import type { TokenKind } from '../../src/accounts/session.ts'
import type { GatehouseError } from '../../src/core/errors.ts'
import { createPasswordHasher } from '../../src/core/passwords/index.ts'
import { hashToken } from '../../src/core/tokens/index.ts'
import type { Store } from '../../src/store/open-store.ts'
import { dialects, openTestStore } from '../helpers/databases.ts'
import { refusedWith } from '../helpers/domain.ts'

const PASSWORD = 'correct horse battery staple'
const WRONG_PASSWORD = 'correct horse battery stapler'
const FIREFOX = 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0'
const CLIENT = { ip: '203.0.113.9', userAgent: FIREFOX }

let emailCounter = 0
const uniqueEmail = (label: string) => `${label}-${++emailCounter}@example.com`

for (const { dialect, skip, create } of dialects()) {
  describe(`login on ${dialect}`, { skip }, () => {
    let store: Store | undefined
    let baseOptions: AccountsOptions
    let accounts: Accounts

    const accountsWith = (overrides: Partial<AccountsOptions>) =>
      createAccounts({ ...baseOptions, ...overrides })
    const login = (email: string, password: string, kind: TokenKind = 'bearer', on: Accounts = accounts) =>
      on.login({ email, password, kind, client: CLIENT })
    const tokenRows = (userId: number) =>
      accounts.db.selectFrom('access_tokens').selectAll().where('user_id', '=', userId).execute()

    before(async () => {
      store = await openTestStore(create)
      baseOptions = {
        db: store.db,
        hasher: createPasswordHasher(),
        accessTokenTtlSeconds: 3600,
        idleTimeoutSeconds: 0,
      }
      accounts = createAccounts(baseOptions)
    })
    after(async () => {
      await store?.close()
    })

    describe('a successful login', () => {
      for (const kind of ['bearer', 'session'] as const) {
        it(`issues a ${kind} token valid as ${kind} only, with a public session id`, async () => {
          const email = uniqueEmail(`ok-${kind}`)
          const registered = await accounts.register({ email, password: PASSWORD })
          const { user, issued } = await login(email, PASSWORD, kind)

          assert.equal(user.id, registered.id)
          assert.match(issued.token, /^gth_[A-Za-z0-9_-]{43}$/)
          assert.equal(issued.tokenHash, hashToken(issued.token))
          assert.equal(issued.expiresInSeconds, 3600)
          // The public id is its own random value: neither the secret nor its hash, nor part of them.
          assert.match(issued.sessionId, /^[A-Za-z0-9_-]{22}$/)
          assert.ok(!issued.token.includes(issued.sessionId))
          assert.ok(!issued.tokenHash.includes(issued.sessionId))

          const context = await accounts.validateToken(issued.token, kind)
          assert.equal(context?.user.id, registered.id)
          assert.equal(context?.sessionId, issued.sessionId)
          assert.equal(context?.kind, kind)
          const otherKind = kind === 'bearer' ? 'session' : 'bearer'
          assert.equal(await accounts.validateToken(issued.token, otherKind), null)
        })
      }

      it('stores the session with its id, the client ip and a summary of the user agent (never the token)', async () => {
        const email = uniqueEmail('stored')
        const user = await accounts.register({ email, password: PASSWORD })
        const { issued } = await login(email, PASSWORD, 'session')

        const rows = await tokenRows(user.id)
        assert.equal(rows.length, 1)
        const [row] = rows
        assert.equal(row?.public_id, issued.sessionId)
        assert.equal(row?.kind, 'session')
        assert.equal(row?.ip, CLIENT.ip)
        assert.equal(row?.user_agent, 'Firefox 128 on Linux')
        assert.equal(row?.token_hash, issued.tokenHash)
        assert.ok(!JSON.stringify(row).includes(issued.token))
        assert.ok(!JSON.stringify(row).includes(FIREFOX))
      })

      it('keeps at most 64 characters of the client address', async () => {
        const email = uniqueEmail('long-ip')
        const user = await accounts.register({ email, password: PASSWORD })
        await accounts.login({ email, password: PASSWORD, kind: 'bearer', client: { ip: '1'.repeat(1000) } })
        const [row] = await tokenRows(user.id)
        assert.equal(row?.ip, '1'.repeat(64))
        assert.equal(row?.user_agent, null)
      })

      it('with replacesToken, revokes the token the client held and hands out a fresh one', async () => {
        const email = uniqueEmail('rotate')
        await accounts.register({ email, password: PASSWORD })
        const first = (await login(email, PASSWORD, 'session')).issued
        const second = (
          await accounts.login({
            email,
            password: PASSWORD,
            kind: 'session',
            client: CLIENT,
            replacesToken: first.token,
          })
        ).issued
        assert.notEqual(second.token, first.token)
        assert.notEqual(second.sessionId, first.sessionId)
        assert.equal(await accounts.validateToken(first.token, 'session'), null)
        assert.ok(await accounts.validateToken(second.token, 'session'))
      })

      it('a failed login does not revoke the token named in replacesToken', async () => {
        const email = uniqueEmail('rotate-failed')
        await accounts.register({ email, password: PASSWORD })
        const held = (await login(email, PASSWORD, 'session')).issued
        await assert.rejects(
          accounts.login({
            email,
            password: WRONG_PASSWORD,
            kind: 'session',
            client: CLIENT,
            replacesToken: held.token,
          }),
          refusedWith('BAD_CREDENTIALS'),
        )
        assert.ok(await accounts.validateToken(held.token, 'session'))
      })
    })

    describe('a refused login', () => {
      it('is BAD_CREDENTIALS for a wrong password and for an unknown email, and issues no token', async () => {
        const email = uniqueEmail('refused')
        const user = await accounts.register({ email, password: PASSWORD })
        await assert.rejects(login(email, WRONG_PASSWORD), refusedWith('BAD_CREDENTIALS'))
        await assert.rejects(login(uniqueEmail('nobody'), PASSWORD), refusedWith('BAD_CREDENTIALS'))
        assert.equal((await tokenRows(user.id)).length, 0)
      })
    })

    describe('the brute-force throttle', () => {
      const throttled = () => accountsWith({ limiters: { login: { maxFailuresPerAccount: 3 } } })

      it('blocks the account after 3 failures: even the right password is RATE_LIMITED, with a wait', async () => {
        const on = throttled()
        const email = uniqueEmail('throttle')
        const user = await on.register({ email, password: PASSWORD })
        for (let i = 0; i < 3; i++) {
          await assert.rejects(login(email, WRONG_PASSWORD, 'bearer', on), refusedWith('BAD_CREDENTIALS'))
        }
        await assert.rejects(login(email.toUpperCase(), PASSWORD, 'bearer', on), (error: unknown) => {
          refusedWith('RATE_LIMITED')(error)
          const refusal = error as GatehouseError
          assert.equal(refusal.status, 429)
          assert.ok(
            Number.isInteger(refusal.retryAfterSeconds) &&
              (refusal.retryAfterSeconds ?? 0) >= 1 &&
              (refusal.retryAfterSeconds ?? 0) <= 900,
            String(refusal.retryAfterSeconds),
          )
          // The domain builds no HTTP header: an adapter turns retryAfterSeconds into Retry-After.
          assert.deepEqual(refusal.headers, {})
          return true
        })
        assert.equal((await tokenRows(user.id)).length, 0)
        // Another account from the same client is not blocked by this one's failures.
        const other = uniqueEmail('throttle-other')
        await on.register({ email: other, password: PASSWORD })
        assert.ok(await login(other, PASSWORD, 'bearer', on))
      })

      it('blocks an unknown email alike, so a block tells nothing about whether the account exists', async () => {
        const on = throttled()
        const email = uniqueEmail('throttle-nobody')
        for (let i = 0; i < 3; i++) {
          await assert.rejects(login(email, PASSWORD, 'bearer', on), refusedWith('BAD_CREDENTIALS'))
        }
        await assert.rejects(login(email, PASSWORD, 'bearer', on), refusedWith('RATE_LIMITED'))
      })

      it('counts consecutive failures only: a success starts the count again', async () => {
        const on = throttled()
        const email = uniqueEmail('throttle-reset')
        await on.register({ email, password: PASSWORD })
        for (let i = 0; i < 2; i++) {
          await assert.rejects(login(email, WRONG_PASSWORD, 'bearer', on), refusedWith('BAD_CREDENTIALS'))
        }
        assert.ok(await login(email, PASSWORD, 'bearer', on))
        for (let i = 0; i < 2; i++) {
          await assert.rejects(login(email, WRONG_PASSWORD, 'bearer', on), refusedWith('BAD_CREDENTIALS'))
        }
        assert.ok(await login(email, PASSWORD, 'bearer', on))
      })
    })

    describe('requireVerifiedEmail', () => {
      it('refuses an unverified account with EMAIL_NOT_VERIFIED only once the password is right', async () => {
        const strict = accountsWith({ requireVerifiedEmail: true })
        const email = uniqueEmail('unverified')
        const user = await strict.register({ email, password: PASSWORD })

        await assert.rejects(login(email, WRONG_PASSWORD, 'bearer', strict), refusedWith('BAD_CREDENTIALS'))
        await assert.rejects(login(email, PASSWORD, 'bearer', strict), refusedWith('EMAIL_NOT_VERIFIED'))
        assert.equal((await tokenRows(user.id)).length, 0)

        await strict.db.updateTable('users').set({ is_verified: 1 }).where('id', '=', user.id).execute()
        assert.equal((await login(email, PASSWORD, 'bearer', strict)).user.id, user.id)
      })

      it('is off by default: an unverified account logs in', async () => {
        const email = uniqueEmail('unverified-default')
        const user = await accounts.register({ email, password: PASSWORD })
        assert.equal(user.isVerified, false)
        assert.equal((await login(email, PASSWORD)).user.id, user.id)
      })
    })
  })
}
