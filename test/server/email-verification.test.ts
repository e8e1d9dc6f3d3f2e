/**
 * Email verification over HTTP with real mail: registration mails a link, POST /verify uses its
 * token once, POST /request-verify-token mails a new one (answering alike for any email), and an
 * email change unverifies the account, mails the new address a link and the old one a notice.
 * With REQUIRE_VERIFIED_EMAIL=1 an unverified account cannot sign in; with ACCOUNT_EMAILS=0 the
 * mail routes do not exist.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import type { LightMyRequestResponse } from 'fastify'
import { postLogin } from '../helpers/browser-session.ts'
import { dialects } from '../helpers/databases.ts'
import { APP_URL, type MailApp, startMailApp, tokenFromMail, waitForOutbox } from '../helpers/mail-app.ts'
import { bearer, login, register, requestToken, type TestApp } from '../helpers/test-app.ts'

const PASSWORD = 'verify-suite-password'
const ACCEPTED = { detail: 'If an account has this email, a message is on its way' }
const VERIFY_TOKEN_INVALID = {
  detail: 'This verification link is invalid or has expired',
  code: 'VERIFY_TOKEN_INVALID',
}
const NOT_FOUND = { detail: 'Not Found', code: 'NOT_FOUND' }

const verify = (t: TestApp, token: string): Promise<LightMyRequestResponse> =>
  t.app.inject({ method: 'POST', url: '/verify', payload: { token } })
const requestVerification = (t: TestApp, email: string): Promise<LightMyRequestResponse> =>
  t.app.inject({ method: 'POST', url: '/request-verify-token', payload: { email } })

async function registered(t: TestApp, email: string): Promise<number> {
  const response = await register(t.app, email, PASSWORD)
  assert.equal(response.statusCode, 201, response.body)
  assert.equal(response.json().is_verified, false)
  return response.json().id as number
}

for (const { dialect, skip, create } of dialects()) {
  describe(`email verification (${dialect})`, { skip }, () => {
    let t: MailApp
    before(async () => {
      t = await startMailApp({ create })
    })
    after(() => t?.close())

    it(`registration mails a ${APP_URL}/verify-email#token=gthv_… link; POST /verify answers 200 with is_verified true`, async () => {
      const id = await registered(t, 'newcomer@example.com')
      const mail = await t.nextLinkMail('newcomer@example.com', 'verify')
      assert.deepEqual(mail.to, ['newcomer@example.com'])
      assert.match(mail.subject, /Confirm your email address/)
      const token = tokenFromMail(mail, 'verify')
      assert.match(token, /^gthv_[A-Za-z0-9_-]{43}$/)

      const bearerToken = await login(t.app, 'newcomer@example.com', PASSWORD)
      assert.equal(
        (await t.app.inject({ url: '/me', headers: bearer(bearerToken) })).json().is_verified,
        false,
      )

      const response = await verify(t, token)
      assert.equal(response.statusCode, 200, response.body)
      assert.equal(response.json().id, id)
      assert.equal(response.json().is_verified, true)
      const me = await t.app.inject({ url: '/me', headers: bearer(bearerToken) })
      assert.equal(me.json().is_verified, true, 'a session opened before sees the change at once')

      const again = await verify(t, token)
      assert.equal(again.statusCode, 400)
      assert.deepEqual(again.json(), VERIFY_TOKEN_INVALID)
    })

    it('answers an unknown, a malformed and a reset token with the same 400 body', async () => {
      await registered(t, 'kinds@example.com')
      assert.equal(
        (
          await t.app.inject({
            method: 'POST',
            url: '/forgot-password',
            payload: { email: 'kinds@example.com' },
          })
        ).statusCode,
        202,
      )
      const resetToken = await t.nextToken('kinds@example.com', 'reset')
      const bodies = new Set<string>()
      for (const candidate of [`gthv_${randomBytes(32).toString('base64url')}`, 'gthv_short', resetToken]) {
        const response = await verify(t, candidate)
        assert.equal(response.statusCode, 400, response.body)
        assert.deepEqual(response.json(), VERIFY_TOKEN_INVALID)
        bodies.add(response.body)
      }
      assert.equal(bodies.size, 1)
      const row = await t.store.db
        .selectFrom('users')
        .select('is_verified')
        .where('email_normalized', '=', 'kinds@example.com')
        .executeTakeFirstOrThrow()
      assert.equal(row.is_verified, 0)
    })

    it('POST /request-verify-token answers alike for any email and mails a new link to an unverified account', async () => {
      await registered(t, 'again@example.com')
      await t.nextToken('again@example.com', 'verify')
      const known = await requestVerification(t, 'again@example.com')
      const unknown = await requestVerification(t, 'nobody-verify@example.com')
      assert.equal(known.statusCode, 202)
      assert.equal(unknown.statusCode, 202)
      assert.deepEqual(known.json(), ACCEPTED)
      assert.equal(known.body, unknown.body)
      const token = await t.nextToken('again@example.com', 'verify')
      assert.equal((await verify(t, token)).json().is_verified, true)
      await waitForOutbox(t, 'nobody-verify@example.com', (row) => row.status === 'dropped', 'dropped')
      await t.assertNoMail('nobody-verify@example.com')
    })

    it('POST /request-verify-token mails nothing to an address already verified', async () => {
      await registered(t, 'done@example.com')
      assert.equal((await verify(t, await t.nextToken('done@example.com', 'verify'))).statusCode, 200)
      assert.equal((await requestVerification(t, 'done@example.com')).statusCode, 202)
      await waitForOutbox(
        t,
        'done@example.com',
        (row) => row.purpose === 'verify-email' && row.status === 'dropped',
        'dropped',
      )
      await t.assertNoMail('done@example.com')
    })

    it('an email change unverifies the account, mails a link to the new address and a notice to the old one', async () => {
      const id = await registered(t, 'mover@example.com')
      const oldLink = await t.nextToken('mover@example.com', 'verify')
      assert.equal((await verify(t, oldLink)).json().is_verified, true)
      const token = await login(t.app, 'mover@example.com', PASSWORD)
      const response = await t.app.inject({
        method: 'POST',
        url: '/me',
        headers: bearer(token),
        payload: { email: 'moved@example.com' },
      })
      assert.equal(response.statusCode, 200, response.body)
      assert.equal(response.json().email, 'moved@example.com')
      assert.equal(response.json().is_verified, false)

      const notice = await t.nextMail('mover@example.com')
      assert.match(notice.subject, /email address of your Gatehouse account was changed/)
      assert.doesNotMatch(notice.parsed.text, /#token=/, 'the notice carries no link that signs in or resets')
      const newToken = await t.nextToken('moved@example.com', 'verify')

      const verified = await verify(t, newToken)
      assert.equal(verified.statusCode, 200, verified.body)
      assert.equal(verified.json().id, id)
      assert.equal(verified.json().email, 'moved@example.com')
      assert.equal(verified.json().is_verified, true)
    })

    it('a link mailed to the old address does not verify the new one', async () => {
      await registered(t, 'before@example.com')
      const oldLink = await t.nextToken('before@example.com', 'verify')
      const token = await login(t.app, 'before@example.com', PASSWORD)
      const changed = await t.app.inject({
        method: 'POST',
        url: '/me',
        headers: bearer(token),
        payload: { email: 'after@example.com' },
      })
      assert.equal(changed.statusCode, 200, changed.body)
      assert.deepEqual((await verify(t, oldLink)).json(), VERIFY_TOKEN_INVALID)
      assert.equal((await t.app.inject({ url: '/me', headers: bearer(token) })).json().is_verified, false)
      await t.nextToken('after@example.com', 'verify')
    })
  })

  describe(`REQUIRE_VERIFIED_EMAIL=1 (${dialect})`, { skip }, () => {
    let t: MailApp
    before(async () => {
      t = await startMailApp({ create, env: { REQUIRE_VERIFIED_EMAIL: '1' } })
    })
    after(() => t?.close())

    it('refuses the right password of an unverified account 403 EMAIL_NOT_VERIFIED, a wrong one 401, and signs in after /verify', async () => {
      await registered(t, 'pending@example.com')
      const right = await requestToken(t.app, 'pending@example.com', PASSWORD)
      assert.equal(right.statusCode, 403, right.body)
      assert.equal(right.json().code, 'EMAIL_NOT_VERIFIED')
      const cookie = await postLogin(t.app, 'pending@example.com', PASSWORD)
      assert.equal(cookie.statusCode, 403, cookie.body)
      assert.equal(cookie.json().code, 'EMAIL_NOT_VERIFIED')
      assert.equal(cookie.headers['set-cookie'], undefined, 'no session cookie')

      const wrong = await requestToken(t.app, 'pending@example.com', 'not-the-password')
      assert.equal(wrong.statusCode, 401)
      assert.equal(wrong.json().code, 'BAD_CREDENTIALS')
      const unknown = await requestToken(t.app, 'nobody-pending@example.com', PASSWORD)
      assert.equal(unknown.body, wrong.body, 'a wrong password says nothing about verification')

      const sessions = await t.store.db.selectFrom('access_tokens').select('id').execute()
      assert.equal(sessions.length, 0, 'no token was issued')

      assert.equal((await verify(t, await t.nextToken('pending@example.com', 'verify'))).statusCode, 200)
      assert.equal((await requestToken(t.app, 'pending@example.com', PASSWORD)).statusCode, 200)
      assert.equal((await postLogin(t.app, 'pending@example.com', PASSWORD)).statusCode, 200)
    })
  })

  describe(`ACCOUNT_EMAILS=0 (${dialect})`, { skip }, () => {
    let t: MailApp
    before(async () => {
      t = await startMailApp({ create, env: { ACCOUNT_EMAILS: '0' } })
    })
    after(() => t?.close())

    for (const [url, payload] of [
      ['/forgot-password', { email: 'quiet@example.com' }],
      ['/reset-password', { token: `gthr_${'A'.repeat(43)}`, password: 'some-new-password' }],
      ['/request-verify-token', { email: 'quiet@example.com' }],
      ['/verify', { token: `gthv_${'A'.repeat(43)}` }],
    ] as const) {
      it(`POST ${url} is 404`, async () => {
        const response = await t.app.inject({ method: 'POST', url, payload })
        assert.equal(response.statusCode, 404, response.body)
        assert.deepEqual(response.json(), NOT_FOUND)
      })
    }

    it('registers without queuing mail, and POST /me/password still works', async () => {
      await registered(t, 'quiet@example.com')
      const rows = await t.store.db.selectFrom('outbox').select('id').execute()
      assert.equal(rows.length, 0)
      const token = await login(t.app, 'quiet@example.com', PASSWORD)
      const changed = await t.app.inject({
        method: 'POST',
        url: '/me/password',
        headers: bearer(token),
        payload: { current_password: PASSWORD, new_password: 'quiet-new-password' },
      })
      assert.equal(changed.statusCode, 204, changed.body)
      await t.assertNoMail('quiet@example.com')
    })
  })
}
