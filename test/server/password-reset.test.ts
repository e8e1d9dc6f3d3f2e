/**
 * Forgot and reset password over HTTP with real mail: POST /forgot-password answers the same for
 * any email and mails a link only to an account's address (at most MAIL_REQUESTS_PER_EMAIL an
 * hour); POST /reset-password sets the password with the link's token, once, ends every session,
 * and answers an expired, used or unknown token alike. With the SMTP server down the request
 * still answers at once, and the mail goes out when the server is back.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { createServer, type Server, type Socket } from 'node:net'
import { after, before, describe, it } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import type { LightMyRequestResponse } from 'fastify'
import { loginWithCookie, sessionCookieOnly } from '../helpers/browser-session.ts'
import { dialects } from '../helpers/databases.ts'
import {
  APP_URL,
  type MailApp,
  NO_MAIL_WAIT_MS,
  startMailApp,
  tokenFromMail,
  waitForOutbox,
} from '../helpers/mail-app.ts'
import { bearer, login, register, requestToken, type TestApp } from '../helpers/test-app.ts'

const PASSWORD = 'reset-suite-password'
const ACCEPTED = { detail: 'If an account has this email, a message is on its way' }
const RESET_TOKEN_INVALID = {
  detail: 'This reset link is invalid or has expired',
  code: 'RESET_TOKEN_INVALID',
}

function forgot(t: TestApp, email: string, remoteAddress?: string): Promise<LightMyRequestResponse> {
  return t.app.inject({
    method: 'POST',
    url: '/forgot-password',
    ...(remoteAddress ? { remoteAddress } : {}),
    payload: { email },
  })
}

function reset(t: TestApp, token: string, password: string): Promise<LightMyRequestResponse> {
  return t.app.inject({ method: 'POST', url: '/reset-password', payload: { token, password } })
}

async function registered(t: TestApp, email: string): Promise<number> {
  const response = await register(t.app, email, PASSWORD)
  assert.equal(response.statusCode, 201, response.body)
  return response.json().id as number
}

/** Reset mails queued for this address. */
async function resetRowCount(t: TestApp, recipient: string): Promise<number> {
  const rows = await t.store.db
    .selectFrom('outbox')
    .select('id')
    .where('recipient', '=', recipient)
    .where('purpose', '=', 'password-reset')
    .execute()
  return rows.length
}

for (const { dialect, skip, create } of dialects()) {
  describe(`POST /forgot-password (${dialect})`, { skip }, () => {
    let t: MailApp
    before(async () => {
      t = await startMailApp({ create })
      await registered(t, 'known@example.com')
    })
    after(() => t?.close())

    it('answers a known and an unknown email alike: 202, the same body', async () => {
      const known = await forgot(t, 'known@example.com')
      const unknown = await forgot(t, 'nobody-here@example.com')
      assert.equal(known.statusCode, 202)
      assert.equal(unknown.statusCode, 202)
      assert.deepEqual(known.json(), ACCEPTED)
      assert.equal(known.body, unknown.body)
      assert.equal(known.headers['content-type'], unknown.headers['content-type'])
      // Taken here, so the next test reads its own mail.
      await t.nextToken('known@example.com', 'reset')
    })

    it(`mails the account's address a ${APP_URL}/reset-password#token=gthr_… link`, async () => {
      assert.equal((await forgot(t, 'Known@Example.com')).statusCode, 202)
      const resetMail = await t.nextLinkMail('known@example.com', 'reset')
      assert.deepEqual(resetMail.to, ['known@example.com'])
      assert.match(resetMail.subject, /Reset your Gatehouse password/)
      const token = tokenFromMail(resetMail, 'reset')
      assert.match(token, /^gthr_[A-Za-z0-9_-]{43}$/)
      assert.ok(resetMail.parsed.text.includes(`${APP_URL}/reset-password#token=${token}`))
      // The secret is in the mail only: the outbox never held it.
      const rows = await t.store.db.selectFrom('outbox').selectAll().execute()
      assert.ok(!JSON.stringify(rows).includes(token))
      const stored = await t.store.db.selectFrom('one_time_tokens').selectAll().execute()
      assert.ok(!JSON.stringify(stored).includes(token), 'only the hash of the token is stored')
    })

    it('mails nothing for an unknown email (the worker drops the row)', async () => {
      const nobody = `nobody-${randomBytes(4).toString('hex')}@example.com`
      assert.equal((await forgot(t, nobody)).statusCode, 202)
      await waitForOutbox(t, nobody, (row) => row.status === 'dropped', 'dropped')
      await t.assertNoMail(nobody, NO_MAIL_WAIT_MS)
      assert.deepEqual(t.mailsTo(nobody), [])
    })

    it('refuses a malformed email with 422 and queues nothing', async () => {
      const response = await forgot(t, 'not-an-email')
      assert.equal(response.statusCode, 422, response.body)
      assert.equal(await resetRowCount(t, 'not-an-email'), 0)
    })
  })

  describe(`POST /forgot-password limits (${dialect})`, { skip }, () => {
    let t: MailApp
    before(async () => {
      t = await startMailApp({
        create,
        env: { MAIL_REQUESTS_PER_EMAIL: '2', MAIL_REQUESTS_PER_IP: '4' },
      })
      // Accounts made with no mail at all: the outbox stays about resets only.
      for (const email of ['limited@example.com', 'neighbour@example.com', 'sprayed@example.com']) {
        await registered(t, email)
        await t.nextToken(email, 'verify')
      }
    })
    after(() => t?.close())

    it('beyond MAIL_REQUESTS_PER_EMAIL still answers 202 with the same body, and mails no more', async () => {
      const responses = []
      for (let i = 0; i < 4; i++) responses.push(await forgot(t, 'limited@example.com', '192.0.2.10'))
      assert.deepEqual(
        responses.map((response) => response.statusCode),
        [202, 202, 202, 202],
      )
      assert.equal(new Set(responses.map((response) => response.body)).size, 1, 'one body for all')
      const first = await t.nextToken('limited@example.com', 'reset')
      const second = await t.nextToken('limited@example.com', 'reset')
      assert.notEqual(first, second)
      await t.assertNoMail('limited@example.com')
      // An unknown email is limited the same way: no oracle in the limit either.
      const unknown = await forgot(t, 'limited-nobody@example.com', '192.0.2.11')
      assert.equal(unknown.body, responses[0]?.body)
    })

    it('counts per email: another address still gets its mail', async () => {
      assert.equal((await forgot(t, 'neighbour@example.com', '192.0.2.20')).statusCode, 202)
      await t.nextToken('neighbour@example.com', 'reset')
    })

    it('beyond MAIL_REQUESTS_PER_IP one client gets no more mail, whatever address it names', async () => {
      const client = '192.0.2.30'
      for (let i = 0; i < 4; i++) {
        assert.equal((await forgot(t, `spray-${i}@example.com`, client)).statusCode, 202)
      }
      const over = await forgot(t, 'sprayed@example.com', client)
      assert.equal(over.statusCode, 202)
      assert.deepEqual(over.json(), ACCEPTED)
      await t.assertNoMail('sprayed@example.com')
      assert.equal(await resetRowCount(t, 'sprayed@example.com'), 0, 'nothing was queued')
      // Another client asking for the same address is served.
      assert.equal((await forgot(t, 'sprayed@example.com', '192.0.2.31')).statusCode, 202)
      await t.nextToken('sprayed@example.com', 'reset')
    })
  })

  describe(`POST /reset-password (${dialect})`, { skip }, () => {
    let t: MailApp
    before(async () => {
      t = await startMailApp({ create, env: { RESET_TOKEN_TTL_SECONDS: '60' } })
    })
    after(() => t?.close())

    let users = 0
    /** A new account and a reset token mailed to it. */
    async function userWithResetToken(): Promise<{ email: string; id: number; token: string }> {
      const email = `resetter${++users}@example.com`
      const id = await registered(t, email)
      assert.equal((await forgot(t, email)).statusCode, 202)
      return { email, id, token: await t.nextToken(email, 'reset') }
    }

    it('sets the new password: 200 with the user; the new one logs in, the old one fails, old sessions are 401', async () => {
      const email = `resetter${++users}@example.com`
      const id = await registered(t, email)
      const oldBearer = await login(t.app, email, PASSWORD)
      const oldBrowser = await loginWithCookie(t.app, email, PASSWORD)
      assert.equal((await forgot(t, email)).statusCode, 202)
      const token = await t.nextToken(email, 'reset')
      assert.match(
        t
          .mailsTo(email)
          .map((mail) => mail.parsed.text)
          .join(),
        /works for 1 minute/,
      )

      const response = await reset(t, token, 'brand-new-reset-password')
      assert.equal(response.statusCode, 200, response.body)
      const user = response.json()
      assert.equal(user.id, id)
      assert.equal(user.email, email)
      assert.equal(user.is_verified, true, 'the link reached the address: it counts as verified')
      assert.equal('hashed_password' in user, false)

      assert.equal((await requestToken(t.app, email, 'brand-new-reset-password')).statusCode, 200)
      assert.equal((await requestToken(t.app, email, PASSWORD)).statusCode, 401)
      assert.equal((await t.app.inject({ url: '/me', headers: bearer(oldBearer) })).statusCode, 401)
      assert.equal(
        (await t.app.inject({ url: '/me', headers: sessionCookieOnly(oldBrowser) })).statusCode,
        401,
      )
    })

    it('refuses the same token a second time: 400 RESET_TOKEN_INVALID', async () => {
      const { email, token } = await userWithResetToken()
      assert.equal((await reset(t, token, 'first-use-password')).statusCode, 200)
      const again = await reset(t, token, 'second-use-password')
      assert.equal(again.statusCode, 400)
      assert.deepEqual(again.json(), RESET_TOKEN_INVALID)
      assert.equal((await requestToken(t.app, email, 'first-use-password')).statusCode, 200)
      assert.equal((await requestToken(t.app, email, 'second-use-password')).statusCode, 401)
    })

    it('answers an expired, an unknown, a malformed and a verification token with the same body, and changes nothing', async () => {
      const { email, id, token } = await userWithResetToken()
      await t.store.db
        .updateTable('one_time_tokens')
        .set({ expires_at: Date.now() - 1000 })
        .where('user_id', '=', id)
        .where('purpose', '=', 'reset')
        .execute()
      const verifyToken = await t.nextToken(email, 'verify')
      const candidates = {
        expired: token,
        unknown: `gthr_${randomBytes(32).toString('base64url')}`,
        malformed: 'gthr_not-a-token',
        'verification token': verifyToken,
      }
      const bodies = new Set<string>()
      for (const [name, candidate] of Object.entries(candidates)) {
        const response = await reset(t, candidate, `via-${name.replace(' ', '-')}-password`)
        assert.equal(response.statusCode, 400, `${name}: ${response.body}`)
        assert.deepEqual(response.json(), RESET_TOKEN_INVALID, name)
        bodies.add(response.body)
      }
      assert.equal(bodies.size, 1)
      assert.equal((await requestToken(t.app, email, PASSWORD)).statusCode, 200, 'the password is unchanged')
    })

    it('does not burn the link on a refused password: 422, then the same link works', async () => {
      const { email, token } = await userWithResetToken()
      const common = await reset(t, token, 'password123')
      assert.equal(common.statusCode, 422, common.body)
      assert.equal(common.json().code, 'PASSWORD_TOO_COMMON')
      assert.deepEqual(common.json().detail[0].loc, ['body', 'password'])
      assert.equal((await reset(t, token, 'accepted-after-refusal')).statusCode, 200)
      assert.equal((await requestToken(t.app, email, 'accepted-after-refusal')).statusCode, 200)
    })

    it('refuses extra fields with 422 and uses nothing up', async () => {
      const { token } = await userWithResetToken()
      const response = await t.app.inject({
        method: 'POST',
        url: '/reset-password',
        payload: { token, password: 'with-extra-field-pw', is_superuser: true },
      })
      assert.equal(response.statusCode, 422, response.body)
      assert.equal((await reset(t, token, 'after-the-extra-field')).statusCode, 200)
    })

    it('one reset ends the other links mailed to the account', async () => {
      const { email, token } = await userWithResetToken()
      assert.equal((await forgot(t, email)).statusCode, 202)
      const other = await t.nextToken(email, 'reset')
      assert.equal((await reset(t, token, 'first-link-password')).statusCode, 200)
      assert.deepEqual((await reset(t, other, 'second-link-password')).json(), RESET_TOKEN_INVALID)
    })

    it('two concurrent resets with one token: one 200, one 400, and the winner’s password is set', async () => {
      const { email, token } = await userWithResetToken()
      const [a, b] = await Promise.all([
        reset(t, token, 'racer-a-password'),
        reset(t, token, 'racer-b-password'),
      ])
      assert.deepEqual([a.statusCode, b.statusCode].sort(), [200, 400], `${a.body} / ${b.body}`)
      const loser = a.statusCode === 400 ? a : b
      assert.deepEqual(loser.json(), RESET_TOKEN_INVALID)
      const winner = a.statusCode === 200 ? 'racer-a-password' : 'racer-b-password'
      const other = winner === 'racer-a-password' ? 'racer-b-password' : 'racer-a-password'
      assert.equal((await requestToken(t.app, email, winner)).statusCode, 200)
      assert.equal((await requestToken(t.app, email, other)).statusCode, 401)
    })
  })

  describe(`POST /forgot-password while the SMTP server is down (${dialect})`, { skip }, () => {
    let t: MailApp
    let silent: Server | undefined
    const sockets = new Set<Socket>()
    before(async () => {
      t = await startMailApp({ create })
      await registered(t, 'outage@example.com')
      await t.nextToken('outage@example.com', 'verify')
    })
    after(async () => {
      for (const socket of sockets) socket.destroy()
      await new Promise<void>((resolve) => (silent?.listening ? silent.close(() => resolve()) : resolve()))
      await t?.close()
    })

    it('answers 202 at once, and the mail arrives once the server is back (the worker retries)', async () => {
      // The SMTP port now takes connections and never greets: a request that sent the mail itself
      // would hang for the 10 s greeting timeout.
      await t.stopSink()
      silent = createServer((socket) => {
        sockets.add(socket)
        socket.on('error', () => {})
      })
      await new Promise<void>((resolve, reject) => {
        silent?.once('error', reject)
        silent?.listen(t.smtpPort, '127.0.0.1', () => resolve())
      })

      const started = performance.now()
      const response = await forgot(t, 'outage@example.com')
      const elapsedMs = performance.now() - started
      assert.equal(response.statusCode, 202)
      assert.deepEqual(response.json(), ACCEPTED)
      assert.ok(elapsedMs < 1_000, `answered in ${Math.round(elapsedMs)} ms`)

      // The worker tried; the server then drops the connection: that attempt fails.
      const deadline = Date.now() + 5_000
      while (sockets.size === 0) {
        assert.ok(Date.now() < deadline, 'the worker never connected')
        await sleep(20)
      }
      for (const socket of sockets) socket.destroy()
      await new Promise<void>((resolve) => silent?.close(() => resolve()))
      await waitForOutbox(
        t,
        'outage@example.com',
        (row) =>
          row.purpose === 'password-reset' &&
          row.status === 'pending' &&
          row.attempts >= 1 &&
          row.last_error !== null,
        'failed an attempt',
      )
      assert.deepEqual(
        t.mailsTo('outage@example.com').filter((mail) => mail.parsed.text.includes('/reset-password#')),
        [],
      )

      // Back up on the same port: the retry (5 s back-off with jitter, polled every second) sends it.
      await t.startSink()
      const token = await t.nextToken('outage@example.com', 'reset', 15_000)
      assert.equal((await reset(t, token, 'after-the-outage-password')).statusCode, 200)
      await waitForOutbox(
        t,
        'outage@example.com',
        (row) => row.purpose === 'password-reset' && row.status === 'sent' && row.attempts >= 2,
        'sent on a later attempt',
      )
    })
  })
}
