import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { setTimeout as delay } from 'node:timers/promises'
import { type Algorithm, hash as argon2Hash, verify as argon2Verify } from '@node-rs/argon2'
import bcrypt from 'bcryptjs'
import { type Accounts, type AccountsOptions, createAccounts } from '../../src/accounts/accounts.ts'
import type { AccessTokenContext } from '../../src/accounts/session.ts'
import type { User } from '../../src/accounts/user.ts'
import type { GatehouseError } from '../../src/core/errors.ts'
import {
  argon2idParameters,
  createPasswordHasher,
  createPasswordPolicy,
  DEFAULT_ARGON2_PARAMETERS,
  PASSWORD_MAX_LENGTH,
  PASSWORD_MIN_LENGTH,
} from '../../src/core/passwords/index.ts'
import type { Store } from '../../src/store/open-store.ts'
import { dialects, openTestStore } from '../helpers/databases.ts'
import { refusedWith } from '../helpers/domain.ts'

// @node-rs/argon2's Algorithm is a const enum, unreadable under isolated modules: Argon2id is 2.
const ARGON2ID = 2 as Algorithm
const WEAK_ARGON2 = { memoryCost: 4096, timeCost: 1, parallelism: 1 }
const CURRENT_PHC = { version: 19, ...DEFAULT_ARGON2_PARAMETERS }

const PASSWORD = 'correct horse battery staple'
const WRONG_PASSWORD = 'correct horse battery stapler'
const NEW_PASSWORD = 'a brand new passphrase'
const USER_KEYS = ['createdAt', 'email', 'id', 'isActive', 'isSuperuser', 'isVerified', 'updatedAt']
const CLIENT = { ip: '198.51.100.20', userAgent: 'accounts-test/1.0' }

let emailCounter = 0
function uniqueEmail(label: string): string {
  emailCounter++
  return `${label}-${emailCounter}@example.com`
}

/** A PASSWORD_POLICY refusal of the `password` field whose message matches. */
function passwordPolicyError(message: RegExp) {
  return (error: unknown) => {
    refusedWith('PASSWORD_POLICY', 'password')(error)
    const refusal = error as GatehouseError
    assert.equal(refusal.status, 422)
    assert.match(refusal.message, message)
    assert.equal(refusal.detail, refusal.message)
    return true
  }
}

for (const { dialect, skip, create } of dialects()) {
  describe(`accounts on ${dialect}`, { skip }, () => {
    let store: Store | undefined
    let accounts: Accounts
    let baseOptions: AccountsOptions

    /** Another instance over the same store: its own limiters and settings. */
    const accountsWith = (overrides: Partial<AccountsOptions>) =>
      createAccounts({ ...baseOptions, ...overrides })

    before(async () => {
      store = await openTestStore(create)
      baseOptions = {
        db: store.db,
        hasher: createPasswordHasher(),
        accessTokenTtlSeconds: 3600,
        idleTimeoutSeconds: 0,
        touchIntervalSeconds: 60,
        // Email changes count against the registration budget; this suite makes many from one client.
        limiters: { register: { maxAttempts: 1000 } },
      }
      accounts = createAccounts(baseOptions)
    })
    after(async () => {
      await store?.close()
    })

    const login = (email: string, password: string, on: Accounts = accounts) =>
      on.login({ email, password, kind: 'bearer', client: CLIENT })
    const loginUser = async (email: string, password: string, on: Accounts = accounts) =>
      (await login(email, password, on)).user
    /** Signs in and returns the session as a protected route sees it. */
    const signIn = async (email: string, password: string, on: Accounts = accounts) => {
      const { issued } = await login(email, password, on)
      const session = await on.validateToken(issued.token, 'bearer')
      assert.ok(session)
      return { token: issued.token, session }
    }
    const badCredentials = refusedWith('BAD_CREDENTIALS')

    const storedHash = async (userId: number) =>
      (
        await accounts.db
          .selectFrom('users')
          .select('hashed_password')
          .where('id', '=', userId)
          .executeTakeFirstOrThrow()
      ).hashed_password
    const setStoredHash = (userId: number, hashedPassword: string) =>
      accounts.db
        .updateTable('users')
        .set({ hashed_password: hashedPassword })
        .where('id', '=', userId)
        .execute()
    const accountExists = async (email: string) =>
      (
        await accounts.db
          .selectFrom('users')
          .select('id')
          .where('email_normalized', '=', email.toLowerCase())
          .execute()
      ).length > 0
    const markVerifiedInDb = (userId: number) =>
      accounts.db.updateTable('users').set({ is_verified: 1 }).where('id', '=', userId).execute()
    const outboxOf = (userId: number) =>
      accounts.db
        .selectFrom('outbox')
        .select(['purpose', 'recipient', 'user_id'])
        .where('user_id', '=', userId)
        .orderBy('id')
        .execute()
    /** A reset link for the account, minted as the mail worker would. */
    const resetTokenFor = async (email: string) => {
      const prepared = await accounts.prepareMail({
        purpose: 'password-reset',
        recipient: email,
        user_id: null,
      })
      assert.ok(prepared?.token)
      return prepared.token
    }

    describe('register', () => {
      it('refuses a password one character too short, with a field error, and creates no account', async () => {
        const email = uniqueEmail('short')
        const password = 'x'.repeat(PASSWORD_MIN_LENGTH - 1)
        await assert.rejects(accounts.register({ email, password }), passwordPolicyError(/at least 8/))
        assert.equal(await accountExists(email), false)
      })

      it('refuses a password one character too long, and creates no account', async () => {
        const email = uniqueEmail('long')
        const password = 'x'.repeat(PASSWORD_MAX_LENGTH + 1)
        await assert.rejects(accounts.register({ email, password }), passwordPolicyError(/at most 1024/))
        assert.equal(await accountExists(email), false)
      })

      it('counts characters as code points: 4 emoji (8 UTF-16 units) are too short', async () => {
        const email = uniqueEmail('emoji-short')
        await assert.rejects(
          accounts.register({ email, password: '🔐'.repeat(4) }),
          passwordPolicyError(/at least/),
        )
        await assert.rejects(
          accounts.register({ email, password: '🔐'.repeat(PASSWORD_MAX_LENGTH + 1) }),
          passwordPolicyError(/at most/),
        )
        assert.equal(await accountExists(email), false)
      })

      it('accepts passwords at both length limits, emoji included, and they then log in', async () => {
        const passwords = [
          'x'.repeat(PASSWORD_MIN_LENGTH),
          'y'.repeat(PASSWORD_MAX_LENGTH),
          '🔐'.repeat(PASSWORD_MIN_LENGTH),
          // 1024 code points but 2048 UTF-16 units: the limit is in characters as the user sees them.
          '🔑'.repeat(PASSWORD_MAX_LENGTH),
        ]
        for (const password of passwords) {
          const email = uniqueEmail('limits')
          const user = await accounts.register({ email, password })
          assert.equal((await loginUser(email, password)).id, user.id)
        }
      })

      it('refuses a common password (PASSWORD_TOO_COMMON on the password field) and creates no account', async () => {
        for (const password of ['password123', 'PassWord123', 'qwertyuiop']) {
          const email = uniqueEmail('common')
          await assert.rejects(accounts.register({ email, password }), (error: unknown) => {
            refusedWith('PASSWORD_TOO_COMMON', 'password')(error)
            assert.equal((error as GatehouseError).status, 422)
            return true
          })
          assert.equal(await accountExists(email), false)
        }
      })

      it('stores an argon2id hash with the current parameters and never the password', async () => {
        const email = uniqueEmail('hashed')
        const user = await accounts.register({ email, password: PASSWORD })

        assert.deepEqual(Object.keys(user).sort(), USER_KEYS)
        const stored = await storedHash(user.id)
        assert.match(stored, /^\$argon2id\$/)
        assert.deepEqual(argon2idParameters(stored), CURRENT_PHC)
        assert.ok(!stored.includes(PASSWORD))
        assert.equal(await argon2Verify(stored, PASSWORD), true)
        assert.equal(await argon2Verify(stored, WRONG_PASSWORD), false)
      })

      it('salts every hash: one password registered twice gives two different hashes', async () => {
        const first = await accounts.register({ email: uniqueEmail('salt'), password: PASSWORD })
        const second = await accounts.register({ email: uniqueEmail('salt'), password: PASSWORD })
        assert.notEqual(await storedHash(first.id), await storedHash(second.id))
      })

      it('refuses an email already registered in another letter case', async () => {
        const email = uniqueEmail('Taken')
        await accounts.register({ email, password: PASSWORD })
        await assert.rejects(
          accounts.register({ email: email.toUpperCase(), password: PASSWORD }),
          refusedWith('EMAIL_EXISTS'),
        )
      })

      it('creates a superuser only through createUser, never through register', async () => {
        const admin = await accounts.createUser({
          email: uniqueEmail('admin'),
          password: PASSWORD,
          isSuperuser: true,
        })
        const plain = await accounts.createUser({
          email: uniqueEmail('plain'),
          password: PASSWORD,
          isSuperuser: false,
        })
        // A caller that hands a whole request body over still gets a plain account.
        const body = JSON.parse(
          `{"email":"${uniqueEmail('mass')}","password":"${PASSWORD}","isSuperuser":true,` +
            '"is_superuser":true,"isActive":false,"is_verified":true,"isVerified":true,"id":1}',
        )
        const registered = await accounts.register(body)
        assert.equal(admin.isSuperuser, true)
        assert.equal(plain.isSuperuser, false)
        assert.equal(registered.isSuperuser, false)
        assert.equal(registered.isVerified, false)
        assert.equal(registered.isActive, true)
        assert.notEqual(registered.id, 1)
      })

      for (const email of [
        '',
        'not-an-email',
        'a@b',
        ' a@example.com',
        'a@example.com\n',
        'x\ud800@example.com',
      ]) {
        it(`refuses the email ${JSON.stringify(email)} in register and createUser alike`, async () => {
          const invalidEmail = refusedWith('VALIDATION_FAILED', 'email')
          await assert.rejects(accounts.register({ email, password: PASSWORD }), invalidEmail)
          await assert.rejects(
            accounts.createUser({ email, password: PASSWORD, isSuperuser: true }),
            invalidEmail,
          )
        })
      }

      it('refuses a password with a lone surrogate, which would hash like U+FFFD', async () => {
        await assert.rejects(
          accounts.register({ email: uniqueEmail('surrogate'), password: 'pass\ud800word123' }),
          passwordPolicyError(/well-formed/),
        )
      })
    })

    describe('login credentials', () => {
      let email: string
      let user: User
      before(async () => {
        email = uniqueEmail('Login')
        user = await accounts.register({ email, password: PASSWORD })
      })

      it('returns the user for the right password', async () => {
        assert.deepEqual(await loginUser(email, PASSWORD), user)
      })

      it('matches the email whatever its letter case', async () => {
        assert.equal((await loginUser(email.toUpperCase(), PASSWORD)).id, user.id)
        assert.equal((await loginUser(email.toLowerCase(), PASSWORD)).id, user.id)
      })

      it('refuses a wrong password with BAD_CREDENTIALS', async () => {
        await assert.rejects(login(email, WRONG_PASSWORD), badCredentials)
        await assert.rejects(login(email, PASSWORD.toUpperCase()), badCredentials)
      })

      it('refuses passwords outside the policy with BAD_CREDENTIALS, not a policy error', async () => {
        await assert.rejects(login(email, 'short'), badCredentials)
        await assert.rejects(login(email, ''), badCredentials)
        await assert.rejects(login(email, 'x'.repeat(PASSWORD_MAX_LENGTH + 1)), badCredentials)
      })

      it('an unknown email, a wrong password and a deactivated account are one same refusal', async () => {
        const inactiveEmail = uniqueEmail('inactive')
        const inactive = await accounts.register({ email: inactiveEmail, password: PASSWORD })
        await accounts.setActive(inactive.id, false)
        const refusals = await Promise.allSettled([
          login(uniqueEmail('nobody'), PASSWORD),
          login(email, WRONG_PASSWORD),
          login(inactiveEmail, PASSWORD),
        ])
        const shapes = refusals.map((outcome) => {
          assert.equal(outcome.status, 'rejected')
          const error = (outcome as PromiseRejectedResult).reason
          badCredentials(error)
          return { status: error.status, message: error.message, detail: error.detail, field: error.field }
        })
        assert.deepEqual(shapes[1], shapes[0])
        assert.deepEqual(shapes[2], shapes[0])
        // The same account logs in again once reactivated: the refusal was the inactive flag alone.
        await accounts.setActive(inactive.id, true)
        assert.equal((await loginUser(inactiveEmail, PASSWORD)).id, inactive.id)
      })

      it('accepts the same password typed in another Unicode normalization form (NFKC)', async () => {
        const composed = 'Caf\u00e9-p\u00e4ssw\u00f6rd'
        const decomposed = composed.normalize('NFD')
        assert.notEqual(composed, decomposed)
        const unicodeEmail = uniqueEmail('unicode')
        const registered = await accounts.register({ email: unicodeEmail, password: composed })
        assert.equal((await loginUser(unicodeEmail, decomposed)).id, registered.id)
        await assert.rejects(login(unicodeEmail, 'Cafe-passwort'), badCredentials)
      })

      it('does not rehash a hash that already uses the current parameters', async () => {
        const before = await storedHash(user.id)
        assert.ok(await loginUser(email, PASSWORD))
        assert.equal(await storedHash(user.id), before)
      })

      it('still logs in an account whose password is shorter than a minimum raised since', async () => {
        const shortEmail = uniqueEmail('raised-minimum')
        const twelveCharacters = 'twelve chars'
        const registered = await accounts.register({ email: shortEmail, password: twelveCharacters })
        const stricter = accountsWith({ passwordRules: createPasswordPolicy({ minLength: 15 }) })
        assert.equal((await loginUser(shortEmail, twelveCharacters, stricter)).id, registered.id)
        // The raised minimum still applies to any password being set.
        await assert.rejects(
          stricter.register({ email: uniqueEmail('raised-minimum'), password: twelveCharacters }),
          passwordPolicyError(/at least 15/),
        )
      })
    })

    describe('hash upgrade on login', () => {
      const legacyHashes = [
        { label: 'a bcrypt hash (cost 4)', make: (password: string) => bcrypt.hash(password, 4) },
        {
          label: 'an argon2id hash with weaker parameters (m=4096, t=1, p=1)',
          make: (password: string) => argon2Hash(password, { ...WEAK_ARGON2, algorithm: ARGON2ID }),
        },
      ]

      for (const { label, make } of legacyHashes) {
        it(`replaces ${label} with a current argon2id hash after a successful login`, async () => {
          const email = uniqueEmail('legacy')
          const user = await accounts.register({ email, password: PASSWORD })
          const legacy = await make(PASSWORD)
          assert.notDeepEqual(argon2idParameters(legacy), CURRENT_PHC)
          await setStoredHash(user.id, legacy)

          assert.equal((await loginUser(email, PASSWORD)).id, user.id)

          const upgraded = await storedHash(user.id)
          assert.notEqual(upgraded, legacy)
          assert.deepEqual(argon2idParameters(upgraded), CURRENT_PHC)
          assert.equal(await argon2Verify(upgraded, PASSWORD), true)
          // The new hash logs in, and is not replaced again.
          assert.equal((await loginUser(email, PASSWORD)).id, user.id)
          assert.equal(await storedHash(user.id), upgraded)
        })

        it(`leaves ${label} untouched after a wrong password`, async () => {
          const email = uniqueEmail('legacy-wrong')
          const user = await accounts.register({ email, password: PASSWORD })
          const legacy = await make(PASSWORD)
          await setStoredHash(user.id, legacy)

          await assert.rejects(login(email, WRONG_PASSWORD), badCredentials)
          assert.equal(await storedHash(user.id), legacy)
        })
      }
    })

    describe('verifyPassword', () => {
      it('is true for the user’s password and false for anything else', async () => {
        const alice = await accounts.register({ email: uniqueEmail('alice'), password: PASSWORD })
        const bob = await accounts.register({ email: uniqueEmail('bob'), password: 'bobs own password' })

        assert.equal(await accounts.verifyPassword(alice, PASSWORD, CLIENT), true)
        assert.equal(await accounts.verifyPassword(alice, WRONG_PASSWORD, CLIENT), false)
        assert.equal(await accounts.verifyPassword(alice, 'bobs own password', CLIENT), false)
        assert.equal(await accounts.verifyPassword(alice, 'short', CLIENT), false)
        assert.equal(await accounts.verifyPassword(bob, 'bobs own password', CLIENT), true)
      })

      it('is counted by the login throttle: once blocked, even the right password is RATE_LIMITED', async () => {
        const throttled = accountsWith({ limiters: { login: { maxFailuresPerAccount: 3 } } })
        const email = uniqueEmail('verify-throttle')
        const user = await throttled.register({ email, password: PASSWORD })
        for (let i = 0; i < 3; i++)
          assert.equal(await throttled.verifyPassword(user, WRONG_PASSWORD, CLIENT), false)
        await assert.rejects(throttled.verifyPassword(user, PASSWORD, CLIENT), refusedWith('RATE_LIMITED'))
        await assert.rejects(login(email, PASSWORD, throttled), refusedWith('RATE_LIMITED'))
      })
    })

    describe('changePassword', () => {
      const change = (
        session: AccessTokenContext,
        currentPassword: string,
        newPassword: string,
        on = accounts,
      ) => on.changePassword({ session, currentPassword, newPassword, client: CLIENT })

      it('refuses a wrong current password with INVALID_CURRENT_PASSWORD and keeps the old one', async () => {
        const email = uniqueEmail('change-wrong')
        await accounts.register({ email, password: PASSWORD })
        const { session } = await signIn(email, PASSWORD)
        await assert.rejects(
          change(session, WRONG_PASSWORD, NEW_PASSWORD),
          refusedWith('INVALID_CURRENT_PASSWORD'),
        )
        assert.ok(await loginUser(email, PASSWORD))
        await assert.rejects(login(email, NEW_PASSWORD), badCredentials)
      })

      it('counts a wrong current password as a failed login: the account is then throttled', async () => {
        const throttled = accountsWith({ limiters: { login: { maxFailuresPerAccount: 3 } } })
        const email = uniqueEmail('change-throttle')
        await throttled.register({ email, password: PASSWORD })
        const { session } = await signIn(email, PASSWORD, throttled)
        for (let i = 0; i < 3; i++) {
          await assert.rejects(
            change(session, WRONG_PASSWORD, NEW_PASSWORD, throttled),
            refusedWith('INVALID_CURRENT_PASSWORD'),
          )
        }
        await assert.rejects(change(session, PASSWORD, NEW_PASSWORD, throttled), refusedWith('RATE_LIMITED'))
        await assert.rejects(login(email, PASSWORD, throttled), refusedWith('RATE_LIMITED'))
        // Nothing was changed by the refused attempt.
        assert.ok(await loginUser(email, PASSWORD))
      })

      it('refuses a new password outside the policy on the newPassword field, and changes nothing', async () => {
        const email = uniqueEmail('change-policy')
        await accounts.register({ email, password: PASSWORD })
        const { session } = await signIn(email, PASSWORD)
        await assert.rejects(
          change(session, PASSWORD, 'short'),
          refusedWith('PASSWORD_POLICY', 'newPassword'),
        )
        await assert.rejects(
          change(session, PASSWORD, 'password123'),
          refusedWith('PASSWORD_TOO_COMMON', 'newPassword'),
        )
        assert.ok(await loginUser(email, PASSWORD))
      })

      it('sets the new password, ends every other session and keeps the current one', async () => {
        const email = uniqueEmail('change-ok')
        await accounts.register({ email, password: PASSWORD })
        const other = await signIn(email, PASSWORD)
        const current = await signIn(email, PASSWORD)
        await change(current.session, PASSWORD, NEW_PASSWORD)

        assert.ok(await accounts.validateToken(current.token, 'bearer'))
        assert.equal(await accounts.validateToken(other.token, 'bearer'), null)
        assert.ok(await loginUser(email, NEW_PASSWORD))
        await assert.rejects(login(email, PASSWORD), badCredentials)
      })

      it('keeps the other sessions when asked to', async () => {
        const email = uniqueEmail('change-keep')
        await accounts.register({ email, password: PASSWORD })
        const other = await signIn(email, PASSWORD)
        const current = await signIn(email, PASSWORD)
        await accounts.changePassword({
          session: current.session,
          currentPassword: PASSWORD,
          newPassword: NEW_PASSWORD,
          keepOtherSessions: true,
          client: CLIENT,
        })
        assert.ok(await accounts.validateToken(current.token, 'bearer'))
        assert.ok(await accounts.validateToken(other.token, 'bearer'))
      })

      it('kills a pending password-reset link', async () => {
        const email = uniqueEmail('change-link')
        await accounts.register({ email, password: PASSWORD })
        const resetToken = await resetTokenFor(email)
        const { session } = await signIn(email, PASSWORD)
        await change(session, PASSWORD, NEW_PASSWORD)
        await assert.rejects(
          accounts.resetPassword({ token: resetToken, password: 'an attacker choice', client: CLIENT }),
          refusedWith('RESET_TOKEN_INVALID'),
        )
        assert.ok(await loginUser(email, NEW_PASSWORD))
      })
    })

    describe('changeEmail', () => {
      it('a fresh session changes the email without the password; then only the new one logs in', async () => {
        const oldEmail = uniqueEmail('old')
        const newEmail = uniqueEmail('new')
        const user = await accounts.register({ email: oldEmail, password: PASSWORD })
        const { session } = await signIn(oldEmail, PASSWORD)

        const changed = await accounts.changeEmail({ session, email: newEmail, client: CLIENT })
        assert.equal(changed.email, newEmail)
        assert.equal((await loginUser(newEmail, PASSWORD)).id, user.id)
        await assert.rejects(login(oldEmail, PASSWORD), badCredentials)
      })

      it('past the fresh window, needs the right current password (FRESH_SESSION_REQUIRED otherwise)', async () => {
        const stepUp = accountsWith({ freshSessionSeconds: 0 })
        const oldEmail = uniqueEmail('step-up')
        const newEmail = uniqueEmail('step-up-new')
        const user = await stepUp.register({ email: oldEmail, password: PASSWORD })
        const { session } = await signIn(oldEmail, PASSWORD, stepUp)
        await delay(5) // the session is now older than the (zero-second) fresh window

        const stale = refusedWith('FRESH_SESSION_REQUIRED')
        await assert.rejects(stepUp.changeEmail({ session, email: newEmail, client: CLIENT }), stale)
        await assert.rejects(
          stepUp.changeEmail({ session, email: newEmail, currentPassword: WRONG_PASSWORD, client: CLIENT }),
          stale,
        )
        assert.equal((await stepUp.findUserById(user.id))?.email, oldEmail)

        const changed = await stepUp.changeEmail({
          session,
          email: newEmail,
          currentPassword: PASSWORD,
          client: CLIENT,
        })
        assert.equal(changed.email, newEmail)
      })

      it('with freshSessionSeconds 0, asks for the password even within the login’s own millisecond', async (t) => {
        const stepUp = accountsWith({ freshSessionSeconds: 0 })
        const email = uniqueEmail('step-up-same-ms')
        const user = await stepUp.register({ email, password: PASSWORD })
        const { session } = await signIn(email, PASSWORD, stepUp)
        // The clock stands at the session's creation: its age is exactly 0, not younger than 0 s.
        t.mock.timers.enable({ apis: ['Date'], now: session.createdAt.getTime() })
        await assert.rejects(
          stepUp.changeEmail({ session, email: uniqueEmail('step-up-same-ms-new'), client: CLIENT }),
          refusedWith('FRESH_SESSION_REQUIRED'),
        )
        t.mock.timers.reset()
        assert.equal((await stepUp.findUserById(user.id))?.email, email)
      })

      it('unverifies the account and mails the new address (verify) and the old one (notice)', async () => {
        const oldEmail = uniqueEmail('mail-old')
        const newEmail = uniqueEmail('mail-new')
        const user = await accounts.register({ email: oldEmail, password: PASSWORD })
        await markVerifiedInDb(user.id)
        const { session } = await signIn(oldEmail, PASSWORD)
        assert.equal(session.user.isVerified, true)
        const queuedBefore = (await outboxOf(user.id)).length

        const changed = await accounts.changeEmail({ session, email: newEmail, client: CLIENT })
        assert.equal(changed.isVerified, false)
        assert.equal((await accounts.findUserById(user.id))?.isVerified, false)
        const queued = (await outboxOf(user.id)).slice(queuedBefore)
        assert.deepEqual(
          queued.sort((a, b) => a.purpose.localeCompare(b.purpose)),
          [
            { purpose: 'email-changed', recipient: oldEmail, user_id: user.id },
            { purpose: 'verify-email', recipient: newEmail, user_id: user.id },
          ],
        )
      })

      it('kills every pending link of the account', async () => {
        const oldEmail = uniqueEmail('links-old')
        await accounts.register({ email: oldEmail, password: PASSWORD })
        const resetToken = await resetTokenFor(oldEmail)
        const { session } = await signIn(oldEmail, PASSWORD)
        await accounts.changeEmail({ session, email: uniqueEmail('links-new'), client: CLIENT })
        await assert.rejects(
          accounts.resetPassword({ token: resetToken, password: NEW_PASSWORD, client: CLIENT }),
          refusedWith('RESET_TOKEN_INVALID'),
        )
      })

      it('a change of letter case only keeps the address verified and mails nobody', async () => {
        const email = uniqueEmail('case')
        const user = await accounts.register({ email, password: PASSWORD })
        await markVerifiedInDb(user.id)
        const { session } = await signIn(email, PASSWORD)
        const queuedBefore = (await outboxOf(user.id)).length

        const changed = await accounts.changeEmail({ session, email: email.toUpperCase(), client: CLIENT })
        assert.equal(changed.email, email.toUpperCase())
        assert.equal(changed.isVerified, true)
        assert.equal((await outboxOf(user.id)).length, queuedBefore)
      })

      it('refuses an address another account has, in any letter case (EMAIL_EXISTS)', async () => {
        const taken = uniqueEmail('taken')
        await accounts.register({ email: taken, password: PASSWORD })
        const email = uniqueEmail('wants-taken')
        await accounts.register({ email, password: PASSWORD })
        const { session } = await signIn(email, PASSWORD)
        await assert.rejects(
          accounts.changeEmail({ session, email: taken.toUpperCase(), client: CLIENT }),
          refusedWith('EMAIL_EXISTS'),
        )
        await assert.rejects(
          accounts.changeEmail({ session, email: 'not-an-email', client: CLIENT }),
          refusedWith('VALIDATION_FAILED', 'email'),
        )
        assert.ok(await loginUser(email, PASSWORD))
      })
    })

    describe('tokens through the accounts API', () => {
      it('an issued token resolves to its user until it is revoked', async () => {
        const user = await accounts.register({ email: uniqueEmail('token'), password: PASSWORD })
        const issued = await accounts.issueToken(user.id, 'bearer')
        assert.equal(issued.expiresInSeconds, 3600)

        assert.equal((await accounts.validateToken(issued.token, 'bearer'))?.user.id, user.id)
        assert.equal(await accounts.revokeToken(issued.tokenHash), true)
        assert.equal(await accounts.validateToken(issued.token, 'bearer'), null)
      })
    })
  })
}
