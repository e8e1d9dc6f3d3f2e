import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { type Algorithm, hash as argon2Hash, verify as argon2Verify } from '@node-rs/argon2'
import bcrypt from 'bcryptjs'
import { type Accounts, createAccounts } from '../../src/accounts/accounts.ts'
import type { User } from '../../src/accounts/user.ts'
import { GatehouseError } from '../../src/core/errors.ts'
import {
  argon2idParameters,
  createPasswordHasher,
  DEFAULT_ARGON2_PARAMETERS,
  PASSWORD_MAX_LENGTH,
  PASSWORD_MIN_LENGTH,
} from '../../src/core/passwords/index.ts'
import type { Store } from '../../src/store/open-store.ts'
import { dialects, openTestStore } from '../helpers/databases.ts'

// @node-rs/argon2's Algorithm is a const enum, unreadable under isolated modules: Argon2id is 2.
const ARGON2ID = 2 as Algorithm
const WEAK_ARGON2 = { memoryCost: 4096, timeCost: 1, parallelism: 1 }
const CURRENT_PHC = { version: 19, ...DEFAULT_ARGON2_PARAMETERS }

const PASSWORD = 'correct horse battery staple'
const WRONG_PASSWORD = 'correct horse battery stapler'
const USER_KEYS = ['createdAt', 'email', 'id', 'isActive', 'isSuperuser', 'isVerified', 'updatedAt']

let emailCounter = 0
function uniqueEmail(label: string): string {
  emailCounter++
  return `${label}-${emailCounter}@example.com`
}

/** Asserts a PASSWORD_POLICY rejection carrying a FastAPI-style field error whose message matches. */
function passwordPolicyError(message: RegExp) {
  return (error: unknown) => {
    assert.ok(error instanceof GatehouseError, `expected a GatehouseError, got ${String(error)}`)
    assert.equal(error.code, 'PASSWORD_POLICY')
    assert.equal(error.status, 422)
    assert.ok(Array.isArray(error.detail))
    assert.equal(error.detail.length, 1)
    const [field] = error.detail as { loc: unknown; msg: string; type: string }[]
    assert.deepEqual(field?.loc, ['body', 'password'])
    assert.equal(field?.type, 'value_error')
    assert.match(field?.msg ?? '', message)
    return true
  }
}

for (const { dialect, skip, create } of dialects()) {
  describe(`accounts on ${dialect}`, { skip }, () => {
    let store: Store | undefined
    let accounts: Accounts

    before(async () => {
      store = await openTestStore(create)
      accounts = createAccounts({
        db: store.db,
        hasher: createPasswordHasher(),
        accessTokenTtlSeconds: 3600,
        idleTimeoutSeconds: 0,
        touchIntervalSeconds: 60,
      })
    })
    after(async () => {
      await store?.close()
    })

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
          assert.equal((await accounts.authenticate(email, password))?.id, user.id)
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
          (error: unknown) => error instanceof GatehouseError && error.code === 'EMAIL_EXISTS',
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
          const isValidationError = (error: unknown) =>
            error instanceof GatehouseError && error.code === 'VALIDATION_FAILED'
          await assert.rejects(accounts.register({ email, password: PASSWORD }), isValidationError)
          await assert.rejects(
            accounts.createUser({ email, password: PASSWORD, isSuperuser: true }),
            isValidationError,
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

    describe('authenticate', () => {
      let email: string
      let user: User
      before(async () => {
        email = uniqueEmail('Login')
        user = await accounts.register({ email, password: PASSWORD })
      })

      it('returns the user for the right password', async () => {
        assert.deepEqual(await accounts.authenticate(email, PASSWORD), user)
      })

      it('matches the email whatever its letter case', async () => {
        assert.equal((await accounts.authenticate(email.toUpperCase(), PASSWORD))?.id, user.id)
        assert.equal((await accounts.authenticate(email.toLowerCase(), PASSWORD))?.id, user.id)
      })

      it('returns null for a wrong password', async () => {
        assert.equal(await accounts.authenticate(email, WRONG_PASSWORD), null)
        assert.equal(await accounts.authenticate(email, PASSWORD.toUpperCase()), null)
      })

      it('returns null for passwords outside the policy instead of throwing', async () => {
        assert.equal(await accounts.authenticate(email, 'short'), null)
        assert.equal(await accounts.authenticate(email, ''), null)
        assert.equal(await accounts.authenticate(email, 'x'.repeat(PASSWORD_MAX_LENGTH + 1)), null)
      })

      it('returns null for an email nobody registered', async () => {
        assert.equal(await accounts.authenticate(uniqueEmail('nobody'), PASSWORD), null)
      })

      it('returns null for a deactivated user even with the right password', async () => {
        const inactiveEmail = uniqueEmail('inactive')
        const inactive = await accounts.register({ email: inactiveEmail, password: PASSWORD })
        await accounts.db.updateTable('users').set({ is_active: 0 }).where('id', '=', inactive.id).execute()
        assert.equal(await accounts.authenticate(inactiveEmail, PASSWORD), null)
      })

      it('accepts the same password typed in another Unicode normalization form (NFKC)', async () => {
        const composed = 'Caf\u00e9-p\u00e4ssw\u00f6rd'
        const decomposed = composed.normalize('NFD')
        assert.notEqual(composed, decomposed)
        const unicodeEmail = uniqueEmail('unicode')
        const registered = await accounts.register({ email: unicodeEmail, password: composed })
        assert.equal((await accounts.authenticate(unicodeEmail, decomposed))?.id, registered.id)
      })

      it('does not rehash a hash that already uses the current parameters', async () => {
        const before = await storedHash(user.id)
        assert.ok(await accounts.authenticate(email, PASSWORD))
        assert.equal(await storedHash(user.id), before)
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

          assert.equal((await accounts.authenticate(email, PASSWORD))?.id, user.id)

          const upgraded = await storedHash(user.id)
          assert.notEqual(upgraded, legacy)
          assert.deepEqual(argon2idParameters(upgraded), CURRENT_PHC)
          assert.equal(await argon2Verify(upgraded, PASSWORD), true)
          // The new hash logs in, and is not replaced again.
          assert.equal((await accounts.authenticate(email, PASSWORD))?.id, user.id)
          assert.equal(await storedHash(user.id), upgraded)
        })

        it(`leaves ${label} untouched after a wrong password`, async () => {
          const email = uniqueEmail('legacy-wrong')
          const user = await accounts.register({ email, password: PASSWORD })
          const legacy = await make(PASSWORD)
          await setStoredHash(user.id, legacy)

          assert.equal(await accounts.authenticate(email, WRONG_PASSWORD), null)
          assert.equal(await storedHash(user.id), legacy)
        })
      }
    })

    describe('verifyPassword', () => {
      it('is true for the user’s password and false for anything else', async () => {
        const alice = await accounts.register({ email: uniqueEmail('alice'), password: PASSWORD })
        const bob = await accounts.register({ email: uniqueEmail('bob'), password: 'bobs own password' })

        assert.equal(await accounts.verifyPassword(alice, PASSWORD), true)
        assert.equal(await accounts.verifyPassword(alice, WRONG_PASSWORD), false)
        assert.equal(await accounts.verifyPassword(alice, 'bobs own password'), false)
        assert.equal(await accounts.verifyPassword(alice, 'short'), false)
        assert.equal(await accounts.verifyPassword(bob, 'bobs own password'), true)
      })
    })

    describe('tokens and email through the accounts API', () => {
      it('an issued token resolves to its user until it is revoked', async () => {
        const user = await accounts.register({ email: uniqueEmail('token'), password: PASSWORD })
        const issued = await accounts.issueToken(user.id, 'bearer')
        assert.equal(issued.expiresInSeconds, 3600)

        assert.equal((await accounts.validateToken(issued.token, 'bearer'))?.user.id, user.id)
        assert.equal(await accounts.revokeToken(issued.tokenHash), true)
        assert.equal(await accounts.validateToken(issued.token, 'bearer'), null)
      })

      it('after an email change the user logs in with the new email only', async () => {
        const oldEmail = uniqueEmail('old')
        const newEmail = uniqueEmail('new')
        const user = await accounts.register({ email: oldEmail, password: PASSWORD })

        assert.equal((await accounts.changeEmail(user.id, newEmail)).email, newEmail)
        assert.equal((await accounts.authenticate(newEmail, PASSWORD))?.id, user.id)
        assert.equal(await accounts.authenticate(oldEmail, PASSWORD), null)
      })
    })
  })
}
