/**
 * POST /me/password over HTTP: the current password is always required (a wrong one is 400
 * INVALID_CURRENT_PASSWORD and counts as a failed login for the throttle), the new one must pass
 * the policy, the user's other sessions end unless kept, and a reset link mailed before the
 * change dies with it. Every refusal is checked to have changed nothing.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { LightMyRequestResponse } from 'fastify'
import { loginWithCookie, sessionCookieOnly } from '../helpers/browser-session.ts'
import { dialects } from '../helpers/databases.ts'
import { type MailApp, startMailApp } from '../helpers/mail-app.ts'
import { bearer, login, register, requestToken, type TestApp } from '../helpers/test-app.ts'

const PASSWORD = 'change-suite-password'
const INVALID_CURRENT = { detail: 'The current password is incorrect', code: 'INVALID_CURRENT_PASSWORD' }

function changePassword(
  t: TestApp,
  headers: Record<string, string>,
  body: Record<string, unknown>,
): Promise<LightMyRequestResponse> {
  return t.app.inject({ method: 'POST', url: '/me/password', headers, payload: body })
}

async function storedHash(t: TestApp, email: string): Promise<string> {
  const row = await t.store.db
    .selectFrom('users')
    .select('hashed_password')
    .where('email_normalized', '=', email.toLowerCase())
    .executeTakeFirstOrThrow()
  return row.hashed_password
}

const me = (t: TestApp, headers: Record<string, string>) => t.app.inject({ url: '/me', headers })

for (const { dialect, skip, create } of dialects()) {
  describe(`POST /me/password (${dialect})`, { skip }, () => {
    let t: MailApp
    before(async () => {
      // Every session counts as old: a wrong password must still be INVALID_CURRENT_PASSWORD, never
      // the email change's FRESH_SESSION_REQUIRED.
      t = await startMailApp({ create, env: { FRESH_SESSION_SECONDS: '0' } })
    })
    after(() => t?.close())

    /** A fresh user per test: each one changes the password. */
    let users = 0
    async function newUser(): Promise<string> {
      const email = `changer${++users}@example.com`
      assert.equal((await register(t.app, email, PASSWORD)).statusCode, 201)
      return email
    }

    it('changes the password: 204; the new one logs in, the old one no longer does', async () => {
      const email = await newUser()
      const token = await login(t.app, email, PASSWORD)
      const response = await changePassword(t, bearer(token), {
        current_password: PASSWORD,
        new_password: 'a-brand-new-password',
      })
      assert.equal(response.statusCode, 204, response.body)
      assert.equal(response.body, '')
      assert.equal((await requestToken(t.app, email, 'a-brand-new-password')).statusCode, 200)
      const old = await requestToken(t.app, email, PASSWORD)
      assert.equal(old.statusCode, 401)
      assert.equal(old.json().code, 'BAD_CREDENTIALS')
    })

    it('ends every other session (bearer and cookie) and keeps the current one', async () => {
      const email = await newUser()
      const current = await login(t.app, email, PASSWORD)
      const other = await login(t.app, email, PASSWORD)
      const browser = await loginWithCookie(t.app, email, PASSWORD)
      const response = await changePassword(t, bearer(current), {
        current_password: PASSWORD,
        new_password: 'ends-the-others-password',
      })
      assert.equal(response.statusCode, 204, response.body)
      assert.equal((await me(t, bearer(other))).statusCode, 401)
      assert.equal((await me(t, sessionCookieOnly(browser))).statusCode, 401)
      assert.equal((await me(t, bearer(current))).statusCode, 200)
    })

    it('keeps the other sessions with keep_other_sessions: true', async () => {
      const email = await newUser()
      const current = await login(t.app, email, PASSWORD)
      const other = await login(t.app, email, PASSWORD)
      const browser = await loginWithCookie(t.app, email, PASSWORD)
      const response = await changePassword(t, bearer(current), {
        current_password: PASSWORD,
        new_password: 'keeps-the-others-password',
        keep_other_sessions: true,
      })
      assert.equal(response.statusCode, 204, response.body)
      assert.equal((await me(t, bearer(other))).statusCode, 200)
      assert.equal((await me(t, sessionCookieOnly(browser))).statusCode, 200)
      assert.equal((await me(t, bearer(current))).statusCode, 200)
    })

    it('refuses a wrong current password: 400 INVALID_CURRENT_PASSWORD (not FRESH_SESSION_REQUIRED), nothing changes', async () => {
      const email = await newUser()
      const token = await login(t.app, email, PASSWORD)
      const other = await login(t.app, email, PASSWORD)
      const before = await storedHash(t, email)
      const response = await changePassword(t, bearer(token), {
        current_password: 'not-the-password',
        new_password: 'never-set-password',
      })
      assert.equal(response.statusCode, 400, response.body)
      assert.deepEqual(response.json(), INVALID_CURRENT)
      assert.equal(await storedHash(t, email), before)
      assert.equal((await me(t, bearer(other))).statusCode, 200, 'no session was ended')
      assert.equal((await requestToken(t.app, email, 'never-set-password')).statusCode, 401)
    })

    it('refuses a common new password: 422 PASSWORD_TOO_COMMON at body.new_password', async () => {
      const email = await newUser()
      const token = await login(t.app, email, PASSWORD)
      const before = await storedHash(t, email)
      const response = await changePassword(t, bearer(token), {
        current_password: PASSWORD,
        new_password: 'password123',
      })
      assert.equal(response.statusCode, 422, response.body)
      const body = response.json()
      assert.equal(body.code, 'PASSWORD_TOO_COMMON')
      assert.ok(Array.isArray(body.detail))
      assert.deepEqual(body.detail[0].loc, ['body', 'new_password'])
      assert.equal(await storedHash(t, email), before)
    })

    it('refuses a too-short new password: 422 at body.new_password, and the old one still works', async () => {
      const email = await newUser()
      const token = await login(t.app, email, PASSWORD)
      const response = await changePassword(t, bearer(token), {
        current_password: PASSWORD,
        new_password: 'short',
      })
      assert.equal(response.statusCode, 422, response.body)
      assert.deepEqual(
        response.json().detail.map((item: { loc: unknown[] }) => item.loc),
        [['body', 'new_password']],
      )
      assert.equal((await requestToken(t.app, email, PASSWORD)).statusCode, 200)
    })

    it('refuses a field it does not take (is_superuser): 422 naming it, and sets nothing', async () => {
      const email = await newUser()
      const token = await login(t.app, email, PASSWORD)
      const before = await storedHash(t, email)
      const response = await changePassword(t, bearer(token), {
        current_password: PASSWORD,
        new_password: 'with-a-privilege-password',
        is_superuser: true,
      })
      assert.equal(response.statusCode, 422, response.body)
      const body = response.json()
      assert.equal(body.code, 'VALIDATION_FAILED')
      assert.ok(
        body.detail.some((item: { loc: unknown[] }) => item.loc.join('.') === 'body.is_superuser'),
        response.body,
      )
      assert.equal(await storedHash(t, email), before)
      const row = await t.store.db
        .selectFrom('users')
        .select('is_superuser')
        .where('email_normalized', '=', email)
        .executeTakeFirstOrThrow()
      assert.equal(row.is_superuser, 0)
    })

    it('refuses a missing current_password with 422 and an anonymous caller with 401', async () => {
      const email = await newUser()
      const token = await login(t.app, email, PASSWORD)
      const missing = await changePassword(t, bearer(token), { new_password: 'whatever-new-password' })
      assert.equal(missing.statusCode, 422)
      const anonymous = await changePassword(
        t,
        {},
        { current_password: PASSWORD, new_password: 'x-new-password' },
      )
      assert.equal(anonymous.statusCode, 401)
      assert.equal((await requestToken(t.app, email, PASSWORD)).statusCode, 200)
    })

    it('kills a reset link mailed before the change', async () => {
      const email = await newUser()
      const token = await login(t.app, email, PASSWORD)
      assert.equal(
        (await t.app.inject({ method: 'POST', url: '/forgot-password', payload: { email } })).statusCode,
        202,
      )
      const resetToken = await t.nextToken(email, 'reset')
      const changed = await changePassword(t, bearer(token), {
        current_password: PASSWORD,
        new_password: 'changed-after-the-mail',
      })
      assert.equal(changed.statusCode, 204, changed.body)
      const reset = await t.app.inject({
        method: 'POST',
        url: '/reset-password',
        payload: { token: resetToken, password: 'set-through-the-old-link' },
      })
      assert.equal(reset.statusCode, 400, reset.body)
      assert.equal(reset.json().code, 'RESET_TOKEN_INVALID')
      assert.equal((await requestToken(t.app, email, 'changed-after-the-mail')).statusCode, 200)
      assert.equal((await requestToken(t.app, email, 'set-through-the-old-link')).statusCode, 401)
    })
  })

  describe(`POST /me/password and the login throttle (${dialect})`, { skip }, () => {
    let t: MailApp
    before(async () => {
      t = await startMailApp({
        create,
        env: { LOGIN_MAX_FAILURES_PER_ACCOUNT: '3', LOGIN_BLOCK_SECONDS: '600' },
      })
    })
    after(() => t?.close())

    it('counts wrong current passwords as failed logins: at the limit a 429 with Retry-After, for /me/password and /token', async () => {
      const email = 'guesser@example.com'
      assert.equal((await register(t.app, email, PASSWORD)).statusCode, 201)
      const stolen = await login(t.app, email, PASSWORD)
      const before = await storedHash(t, email)
      for (let attempt = 1; attempt <= 3; attempt++) {
        const response = await changePassword(t, bearer(stolen), {
          current_password: `guess-number-${attempt}`,
          new_password: 'attacker-chosen-password',
        })
        assert.equal(response.statusCode, 400, `attempt ${attempt}: ${response.body}`)
        assert.equal(response.json().code, 'INVALID_CURRENT_PASSWORD')
      }
      const blocked = await changePassword(t, bearer(stolen), {
        current_password: PASSWORD,
        new_password: 'attacker-chosen-password',
      })
      assert.equal(blocked.statusCode, 429, blocked.body)
      assert.equal(blocked.json().code, 'RATE_LIMITED')
      const retryAfter = Number(blocked.headers['retry-after'])
      assert.ok(
        Number.isInteger(retryAfter) && retryAfter > 0 && retryAfter <= 600,
        `Retry-After: ${retryAfter}`,
      )
      assert.equal(
        await storedHash(t, email),
        before,
        'even the right password changes nothing while blocked',
      )

      // The same counter guards the login itself.
      const loginBlocked = await requestToken(t.app, email, PASSWORD)
      assert.equal(loginBlocked.statusCode, 429, loginBlocked.body)
      assert.ok(Number(loginBlocked.headers['retry-after']) > 0)
    })
  })
}
