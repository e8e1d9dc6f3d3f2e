import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { type Accounts, type AccountsOptions, createAccounts } from '../../src/accounts/accounts.ts'
import { admitHashing } from '../../src/accounts/hash-admission.ts'
import { createPasswordHasher } from '../../src/core/passwords/index.ts'
import { generateToken, hashToken } from '../../src/core/tokens/index.ts'
import type { Store } from '../../src/store/open-store.ts'
import { dialects, openTestStore } from '../helpers/databases.ts'
import { refusedWith } from '../helpers/domain.ts'

const PASSWORD = 'correct horse battery staple'
const NEW_PASSWORD = 'a brand new passphrase'
const CLIENT = { ip: '198.51.100.77', userAgent: 'curl/8.5.0' }

let emailCounter = 0
const uniqueEmail = (label: string) => `${label}-${++emailCounter}@example.com`

const resetInvalid = refusedWith('RESET_TOKEN_INVALID')
const verifyInvalid = refusedWith('VERIFY_TOKEN_INVALID')

for (const { dialect, skip, create } of dialects()) {
  describe(`recovery on ${dialect}`, { skip }, () => {
    let store: Store | undefined
    let baseOptions: AccountsOptions
    let accounts: Accounts

    const accountsWith = (overrides: Partial<AccountsOptions>) =>
      createAccounts({ ...baseOptions, ...overrides })

    before(async () => {
      store = await openTestStore(create)
      baseOptions = {
        db: store.db,
        hasher: createPasswordHasher(),
        accessTokenTtlSeconds: 3600,
        idleTimeoutSeconds: 0,
        tokenCacheSeconds: 5,
        // Many requests from one client and to few addresses: the limits have their own tests.
        limiters: {
          forgotPassword: { maxPerEmail: 100, maxPerIp: 1000 },
          verify: { maxPerEmail: 100, maxPerIp: 1000 },
          register: { maxAttempts: 1000 },
        },
      }
      accounts = createAccounts(baseOptions)
    })
    after(async () => {
      await store?.close()
    })

    const outbox = () =>
      accounts.db
        .selectFrom('outbox')
        .select(['id', 'purpose', 'recipient', 'user_id', 'status', 'attempts'])
        .orderBy('id')
        .execute()
    const outboxFor = async (recipient: string) =>
      (await outbox()).filter((row) => row.recipient.toLowerCase() === recipient.toLowerCase())
    const login = (email: string, password: string, on: Accounts = accounts) =>
      on.login({ email, password, kind: 'session', client: CLIENT })
    const resetTokenFor = async (email: string, on: Accounts = accounts) => {
      const prepared = await on.prepareMail({ purpose: 'password-reset', recipient: email, user_id: null })
      assert.ok(prepared?.token, `a reset token for ${email}`)
      return prepared.token
    }
    const verifyTokenFor = async (userId: number, email: string, on: Accounts = accounts) => {
      const prepared = await on.prepareMail({ purpose: 'verify-email', recipient: email, user_id: userId })
      assert.ok(prepared?.token, `a verification token for ${email}`)
      return prepared.token
    }
    const signedIn = async (email: string) => {
      const { issued } = await login(email, PASSWORD)
      assert.ok(await accounts.validateToken(issued.token, 'session')) // cached from here on
      return issued.token
    }

    describe('requestPasswordReset', () => {
      it('queues exactly one row, with no secret, for a known and for an unknown email alike', async () => {
        const known = uniqueEmail('forgot-known')
        await accounts.register({ email: known, password: PASSWORD })
        const unknown = uniqueEmail('forgot-unknown')
        const before = (await outbox()).length

        assert.equal(await accounts.requestPasswordReset({ email: known, client: CLIENT }), undefined)
        assert.equal(await accounts.requestPasswordReset({ email: unknown, client: CLIENT }), undefined)

        const queued = (await outbox()).slice(before)
        assert.equal(queued.length, 2)
        const shape = ({ id: _id, recipient: _recipient, ...rest }: (typeof queued)[number]) => rest
        // The row does not say whether the account exists: that is decided when it is sent.
        assert.deepEqual(shape(queued[0]!), {
          purpose: 'password-reset',
          user_id: null,
          status: 'pending',
          attempts: 0,
        })
        assert.deepEqual(shape(queued[1]!), shape(queued[0]!))
        assert.deepEqual(
          queued.map((row) => row.recipient),
          [known, unknown],
        )
      })

      it('queues nothing once the per-email limit refuses, and answers the same (no throw)', async () => {
        const limited = accountsWith({ limiters: { forgotPassword: { maxPerEmail: 1 } } })
        const email = uniqueEmail('forgot-limited')
        await limited.register({ email, password: PASSWORD })
        await limited.requestPasswordReset({ email, client: CLIENT })
        assert.equal(await limited.requestPasswordReset({ email, client: CLIENT }), undefined)
        assert.equal(
          await limited.requestPasswordReset({ email: email.toUpperCase(), client: CLIENT }),
          undefined,
        )
        assert.equal((await outboxFor(email)).filter((row) => row.purpose === 'password-reset').length, 1)
        // The limit is per address: another one is still served.
        const other = uniqueEmail('forgot-limited-other')
        await limited.requestPasswordReset({ email: other, client: CLIENT })
        assert.equal((await outboxFor(other)).length, 1)
      })

      it('refuses what is not an email (VALIDATION_FAILED, as the HTTP schema does) and queues nothing', async () => {
        // Not an email cannot name an account, so refusing it tells nothing; queueing it stores
        // any string of any length, and a NUL is a driver error on PostgreSQL.
        for (const email of ['a\u0000@example.com', 'not an email', `${'x'.repeat(10_000)}@example.com`]) {
          for (const request of [accounts.requestPasswordReset, accounts.requestVerification]) {
            const before = (await outbox()).length
            await assert.rejects(
              request({ email, client: CLIENT }),
              refusedWith('VALIDATION_FAILED', 'email'),
            )
            assert.equal((await outbox()).length, before)
          }
        }
      })

      it('queues nothing when the account sends no mail', async () => {
        const silent = accountsWith({ sendsMail: false })
        const email = uniqueEmail('forgot-silent')
        await silent.requestPasswordReset({ email, client: CLIENT })
        assert.equal((await outboxFor(email)).length, 0)
      })
    })

    describe('prepareMail for a reset', () => {
      it('is null for an unknown and for an inactive account, a gthr_ token for a known one', async () => {
        assert.equal(
          await accounts.prepareMail({
            purpose: 'password-reset',
            recipient: uniqueEmail('nobody'),
            user_id: null,
          }),
          null,
        )
        const inactiveEmail = uniqueEmail('reset-inactive')
        const inactive = await accounts.register({ email: inactiveEmail, password: PASSWORD })
        await accounts.setActive(inactive.id, false)
        assert.equal(
          await accounts.prepareMail({ purpose: 'password-reset', recipient: inactiveEmail, user_id: null }),
          null,
        )

        const email = uniqueEmail('Reset-Known')
        await accounts.register({ email, password: PASSWORD })
        const prepared = await accounts.prepareMail({
          purpose: 'password-reset',
          recipient: email.toLowerCase(),
          user_id: null,
        })
        assert.equal(prepared?.purpose, 'password-reset')
        assert.equal(prepared?.to, email) // the address as the account has it
        assert.match(prepared?.token ?? '', /^gthr_[A-Za-z0-9_-]{43}$/)
        assert.equal(prepared?.expiresInSeconds, 3600)
      })

      it('stores only the SHA-256 of the token, nowhere the token itself', async () => {
        const email = uniqueEmail('reset-hash')
        const user = await accounts.register({ email, password: PASSWORD })
        await accounts.requestPasswordReset({ email, client: CLIENT })
        const token = await resetTokenFor(email)

        const rows = await accounts.db
          .selectFrom('one_time_tokens')
          .selectAll()
          .where('user_id', '=', user.id)
          .execute()
        assert.equal(rows.length, 1)
        assert.equal(rows[0]?.token_hash, hashToken(token))
        assert.equal(rows[0]?.purpose, 'reset')
        const secret = token.slice('gthr_'.length)
        const everything = JSON.stringify({
          tokens: await accounts.db.selectFrom('one_time_tokens').selectAll().execute(),
          outbox: await accounts.db.selectFrom('outbox').selectAll().execute(),
        })
        assert.ok(!everything.includes(secret))
      })
    })

    describe('resetPassword', () => {
      it('sets the new password once: the token is then used up', async () => {
        const email = uniqueEmail('reset-once')
        const user = await accounts.register({ email, password: PASSWORD })
        const token = await resetTokenFor(email)

        const reset = await accounts.resetPassword({ token, password: NEW_PASSWORD, client: CLIENT })
        assert.equal(reset.id, user.id)
        // The link reached the address: it counts as verified.
        assert.equal(reset.isVerified, true)
        assert.equal((await login(email, NEW_PASSWORD)).user.id, user.id)
        await assert.rejects(login(email, PASSWORD), refusedWith('BAD_CREDENTIALS'))

        await assert.rejects(
          accounts.resetPassword({ token, password: 'yet another passphrase', client: CLIENT }),
          resetInvalid,
        )
        assert.ok(await login(email, NEW_PASSWORD))
      })

      it('refuses an expired token and changes nothing', async () => {
        const email = uniqueEmail('reset-expired')
        const user = await accounts.register({ email, password: PASSWORD })
        const token = await resetTokenFor(email)
        await accounts.db
          .updateTable('one_time_tokens')
          .set({ expires_at: Date.now() - 1 })
          .where('token_hash', '=', hashToken(token))
          .execute()
        await assert.rejects(
          accounts.resetPassword({ token, password: NEW_PASSWORD, client: CLIENT }),
          resetInvalid,
        )
        assert.equal((await login(email, PASSWORD)).user.id, user.id)
      })

      it('refuses a token past a short lifetime (resetTokenTtlSeconds)', async () => {
        const shortLived = accountsWith({ resetTokenTtlSeconds: 1 })
        const email = uniqueEmail('reset-ttl')
        await shortLived.register({ email, password: PASSWORD })
        const prepared = await shortLived.prepareMail({
          purpose: 'password-reset',
          recipient: email,
          user_id: null,
        })
        assert.equal(prepared?.expiresInSeconds, 1)
        await new Promise((resolve) => setTimeout(resolve, 1100))
        await assert.rejects(
          shortLived.resetPassword({ token: prepared!.token!, password: NEW_PASSWORD, client: CLIENT }),
          resetInvalid,
        )
      })

      it('refuses unknown, malformed and other-purpose tokens with the same code', async () => {
        const email = uniqueEmail('reset-garbage')
        const user = await accounts.register({ email, password: PASSWORD })
        const verifyToken = await verifyTokenFor(user.id, email)
        for (const token of [
          generateToken('gthr_').token, // well formed, never issued
          'gthr_short',
          '',
          'x'.repeat(10_000),
          `${generateToken('gthr_').token}\u0000`,
          verifyToken, // a verification link is not a reset link
          generateToken().token, // nor is an access token
        ]) {
          await assert.rejects(
            accounts.resetPassword({ token, password: NEW_PASSWORD, client: CLIENT }),
            resetInvalid,
          )
        }
        // The verification token was not used up by being tried as a reset token.
        assert.equal((await accounts.verifyEmail({ token: verifyToken, client: CLIENT })).isVerified, true)
      })

      it('of two concurrent resets with one token, exactly one succeeds', async () => {
        const email = uniqueEmail('reset-race')
        await accounts.register({ email, password: PASSWORD })
        const token = await resetTokenFor(email)
        const passwords = ['first racing passphrase', 'second racing passphrase']
        const outcomes = await Promise.allSettled(
          passwords.map((password) => accounts.resetPassword({ token, password, client: CLIENT })),
        )
        const winners = outcomes.flatMap((outcome, i) => (outcome.status === 'fulfilled' ? [i] : []))
        assert.equal(winners.length, 1, JSON.stringify(outcomes.map((outcome) => outcome.status)))
        const loser = outcomes.find((outcome) => outcome.status === 'rejected') as PromiseRejectedResult
        resetInvalid(loser.reason)
        const winner = passwords[winners[0]!]!
        const other = passwords[1 - winners[0]!]!
        assert.ok(await login(email, winner))
        await assert.rejects(login(email, other), refusedWith('BAD_CREDENTIALS'))
      })

      it('of 20 racing resets with one token, only the winner pays for a password hash', async () => {
        const email = uniqueEmail('reset-hash-race')
        const counting = createPasswordHasher()
        let hashes = 0
        const hash = counting.hash.bind(counting)
        counting.hash = (password: string) => {
          hashes++
          return hash(password)
        }
        const racing = accountsWith({ hasher: counting })
        await racing.register({ email, password: PASSWORD })
        const token = await resetTokenFor(email)
        hashes = 0
        const outcomes = await Promise.allSettled(
          Array.from({ length: 20 }, (_, i) =>
            racing.resetPassword({ token, password: `racing passphrase ${i}`, client: CLIENT }),
          ),
        )
        assert.equal(outcomes.filter((outcome) => outcome.status === 'fulfilled').length, 1)
        assert.equal(hashes, 1)
        // And an unknown token costs none.
        await assert.rejects(
          racing.resetPassword({ token: `gthr_${'A'.repeat(43)}`, password: NEW_PASSWORD, client: CLIENT }),
          resetInvalid,
        )
        assert.equal(hashes, 1)
      })

      it('ends every session of the user, cached ones included', async () => {
        const email = uniqueEmail('reset-sessions')
        await accounts.register({ email, password: PASSWORD })
        const tokens = [await signedIn(email), await signedIn(email)]
        const bystander = uniqueEmail('reset-bystander')
        await accounts.register({ email: bystander, password: PASSWORD })
        const bystanderToken = await signedIn(bystander)

        await accounts.resetPassword({
          token: await resetTokenFor(email),
          password: NEW_PASSWORD,
          client: CLIENT,
        })
        for (const token of tokens) assert.equal(await accounts.validateToken(token, 'session'), null)
        assert.ok(await accounts.validateToken(bystanderToken, 'session'))
      })

      it('refuses a too common or too short password without burning the token', async () => {
        const email = uniqueEmail('reset-policy')
        await accounts.register({ email, password: PASSWORD })
        const token = await resetTokenFor(email)
        await assert.rejects(
          accounts.resetPassword({ token, password: 'password123', client: CLIENT }),
          refusedWith('PASSWORD_TOO_COMMON', 'password'),
        )
        await assert.rejects(
          accounts.resetPassword({ token, password: 'short', client: CLIENT }),
          refusedWith('PASSWORD_POLICY', 'password'),
        )
        assert.ok(await login(email, PASSWORD))
        await accounts.resetPassword({ token, password: NEW_PASSWORD, client: CLIENT })
        assert.ok(await login(email, NEW_PASSWORD))
      })

      it('kills the other pending links of the user', async () => {
        const email = uniqueEmail('reset-siblings')
        await accounts.register({ email, password: PASSWORD })
        const first = await resetTokenFor(email)
        const second = await resetTokenFor(email)
        await accounts.resetPassword({ token: first, password: NEW_PASSWORD, client: CLIENT })
        await assert.rejects(
          accounts.resetPassword({ token: second, password: 'an attacker choice', client: CLIENT }),
          resetInvalid,
        )
      })
    })

    describe('email verification', () => {
      it('register queues a verify-email row for the new account', async () => {
        const email = uniqueEmail('verify-queued')
        const user = await accounts.register({ email, password: PASSWORD })
        assert.deepEqual(
          (await outboxFor(email)).map(({ purpose, recipient, user_id, status }) => ({
            purpose,
            recipient,
            user_id,
            status,
          })),
          [{ purpose: 'verify-email', recipient: email, user_id: user.id, status: 'pending' }],
        )
      })

      it('requestVerification queues one row per request, none past its limit', async () => {
        const limited = accountsWith({ limiters: { verify: { maxPerEmail: 1 } } })
        const email = uniqueEmail('verify-request')
        await limited.requestVerification({ email, client: CLIENT })
        assert.equal(await limited.requestVerification({ email, client: CLIENT }), undefined)
        const rows = await outboxFor(email)
        assert.deepEqual(
          rows.map((row) => [row.purpose, row.user_id]),
          [['verify-email', null]],
        )
      })

      it('verifyEmail with the prepared gthv_ token verifies the account, once', async () => {
        const email = uniqueEmail('verify-once')
        const user = await accounts.register({ email, password: PASSWORD })
        const sessionToken = await signedIn(email)
        const [row] = await outboxFor(email)
        assert.ok(row)
        const prepared = await accounts.prepareMail(row)
        assert.equal(prepared?.purpose, 'verify-email')
        assert.equal(prepared?.to, email)
        assert.match(prepared?.token ?? '', /^gthv_[A-Za-z0-9_-]{43}$/)
        assert.equal(prepared?.expiresInSeconds, 86400)

        const verified = await accounts.verifyEmail({ token: prepared!.token!, client: CLIENT })
        assert.equal(verified.id, user.id)
        assert.equal(verified.isVerified, true)
        assert.equal((await accounts.findUserById(user.id))?.isVerified, true)
        // A cached session sees the change at once.
        assert.equal((await accounts.validateToken(sessionToken, 'session'))?.user.isVerified, true)
        await assert.rejects(accounts.verifyEmail({ token: prepared!.token!, client: CLIENT }), verifyInvalid)
      })

      it('refuses unknown, malformed and reset tokens', async () => {
        const email = uniqueEmail('verify-garbage')
        const user = await accounts.register({ email, password: PASSWORD })
        const resetToken = await resetTokenFor(email)
        for (const token of [generateToken('gthv_').token, 'gthv_x', '', resetToken]) {
          await assert.rejects(accounts.verifyEmail({ token, client: CLIENT }), verifyInvalid)
        }
        assert.equal((await accounts.findUserById(user.id))?.isVerified, false)
      })

      it('refuses a token minted before an email change', async () => {
        const email = uniqueEmail('verify-before-change')
        const user = await accounts.register({ email, password: PASSWORD })
        const token = await verifyTokenFor(user.id, email)
        const { issued } = await login(email, PASSWORD)
        const session = await accounts.validateToken(issued.token, 'session')
        assert.ok(session)
        const newEmail = uniqueEmail('verify-after-change')
        await accounts.changeEmail({ session, email: newEmail, client: CLIENT })

        await assert.rejects(accounts.verifyEmail({ token, client: CLIENT }), verifyInvalid)
        assert.equal((await accounts.findUserById(user.id))?.isVerified, false)
        // A mail queued for the old address is not sent any more; the new address gets its own link.
        assert.equal(
          await accounts.prepareMail({ purpose: 'verify-email', recipient: email, user_id: user.id }),
          null,
        )
        const fresh = await verifyTokenFor(user.id, newEmail)
        assert.equal((await accounts.verifyEmail({ token: fresh, client: CLIENT })).email, newEmail)
      })

      it('prepareMail is null for an account already verified, and for an unknown or inactive one', async () => {
        const email = uniqueEmail('verify-done')
        const user = await accounts.register({ email, password: PASSWORD })
        await accounts.verifyEmail({ token: await verifyTokenFor(user.id, email), client: CLIENT })
        assert.equal(
          await accounts.prepareMail({ purpose: 'verify-email', recipient: email, user_id: user.id }),
          null,
        )
        assert.equal(
          await accounts.prepareMail({ purpose: 'verify-email', recipient: email, user_id: null }),
          null,
        )
        assert.equal(
          await accounts.prepareMail({
            purpose: 'verify-email',
            recipient: uniqueEmail('nobody'),
            user_id: null,
          }),
          null,
        )
        const inactiveEmail = uniqueEmail('verify-inactive')
        const inactive = await accounts.register({ email: inactiveEmail, password: PASSWORD })
        await accounts.setActive(inactive.id, false)
        assert.equal(
          await accounts.prepareMail({
            purpose: 'verify-email',
            recipient: inactiveEmail,
            user_id: inactive.id,
          }),
          null,
        )
      })

      it('an email-changed notice carries no token', async () => {
        const prepared = await accounts.prepareMail({
          purpose: 'email-changed',
          recipient: 'old@example.com',
          user_id: null,
        })
        assert.deepEqual(prepared, { purpose: 'email-changed', to: 'old@example.com' })
      })
    })

    describe('an overloaded server', () => {
      it('sheds a reset before spending its link, and a registration before counting it', async () => {
        const email = uniqueEmail('reset-shed')
        await accounts.register({ email, password: PASSWORD })
        // One hash slot, no queue, and a registration limit of 1: both refusals must spend nothing.
        const hasher = admitHashing(createPasswordHasher(), { maxInFlight: 1, maxQueued: 0 })
        const busy = accountsWith({
          hasher,
          hashAdmission: false,
          limiters: { register: { maxAttempts: 1 } },
        })
        const token = await resetTokenFor(email, busy)
        const occupying = hasher.hash('the one slot is taken')
        await assert.rejects(
          busy.resetPassword({ token, password: NEW_PASSWORD, client: CLIENT }),
          refusedWith('OVERLOADED'),
        )
        await assert.rejects(
          busy.register({ email: uniqueEmail('register-shed'), password: PASSWORD }, CLIENT),
          refusedWith('OVERLOADED'),
        )
        await occupying
        await busy.resetPassword({ token, password: NEW_PASSWORD, client: CLIENT })
        await busy.register({ email: uniqueEmail('register-after'), password: PASSWORD }, CLIENT)
      })
    })
  })
}
