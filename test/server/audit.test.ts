/**
 * GET /me/audit over HTTP: the caller's own security events, newest first, at most 50, with the
 * public session id, the client address and the user agent's summary, and never a secret: no
 * password, no token (bearer, cookie, CSRF or mailed) appears in the answer or in the table.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { hashToken } from '../../src/core/tokens/index.ts'
import { loginWithCookie, sessionCookieOnly } from '../helpers/browser-session.ts'
import { dialects } from '../helpers/databases.ts'
import { type MailApp, startMailApp } from '../helpers/mail-app.ts'
import { bearer, register, type TestApp } from '../helpers/test-app.ts'

const PASSWORD = 'audit-suite-password'
const FIREFOX = 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0'

interface WireEntry {
  at: string
  type: string
  session_id: string | null
  ip: string | null
  user_agent: string | null
  reason: string | null
}

function tokenRequest(t: TestApp, email: string, password: string, userAgent: string) {
  return t.app.inject({
    method: 'POST',
    url: '/token',
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'user-agent': userAgent },
    payload: new URLSearchParams({ username: email, password }).toString(),
  })
}

async function trail(t: TestApp, headers: Record<string, string>): Promise<WireEntry[]> {
  const response = await t.app.inject({ url: '/me/audit', headers })
  assert.equal(response.statusCode, 200, response.body)
  return response.json() as WireEntry[]
}

/** The current session's public id, as GET /sessions shows it. */
async function currentSessionId(t: TestApp, headers: Record<string, string>): Promise<string> {
  const sessions = (await t.app.inject({ url: '/sessions', headers })).json() as {
    id: string
    current: boolean
  }[]
  const current = sessions.find((session) => session.current)
  assert.ok(current)
  return current.id
}

function assertNewestFirst(entries: WireEntry[]): void {
  for (let i = 1; i < entries.length; i++) {
    assert.ok(
      Date.parse((entries[i - 1] as WireEntry).at) >= Date.parse((entries[i] as WireEntry).at),
      `entry ${i} is newer than the one before it`,
    )
  }
}

for (const { dialect, skip, create } of dialects()) {
  describe(`GET /me/audit (${dialect})`, { skip }, () => {
    let t: MailApp
    before(async () => {
      t = await startMailApp({ create })
      for (const email of ['alice@example.com', 'bob@example.com', 'carol@example.com', 'busy@example.com']) {
        assert.equal((await register(t.app, email, PASSWORD)).statusCode, 201)
      }
    })
    after(() => t?.close())

    /** Every secret a test handled: none may appear in an answer or in the table. */
    const secrets: string[] = [PASSWORD]
    /** Credentials of the users whose trails were read, to read them again at the end. */
    const readers: Record<string, string>[] = []

    it("shows a failed login, a login and a password change, newest first, and only the caller's own", async () => {
      const failed = await tokenRequest(t, 'alice@example.com', 'alice-wrong-guess', FIREFOX)
      assert.equal(failed.statusCode, 401)
      const ok = await tokenRequest(t, 'alice@example.com', PASSWORD, FIREFOX)
      assert.equal(ok.statusCode, 200)
      const token = ok.json().access_token as string
      const sessionId = await currentSessionId(t, bearer(token))
      const changed = await t.app.inject({
        method: 'POST',
        url: '/me/password',
        headers: { ...bearer(token), 'user-agent': FIREFOX },
        payload: { current_password: PASSWORD, new_password: 'alice-new-password' },
      })
      assert.equal(changed.statusCode, 204, changed.body)
      secrets.push(token, 'alice-wrong-guess', 'alice-new-password')
      readers.push(bearer(token))

      // Bob's events, from a client of his own, and a failure for an address without an account.
      assert.equal(
        (await tokenRequest(t, 'bob@example.com', 'bob-wrong-guess', 'BobTool/9.9')).statusCode,
        401,
      )
      const bob = await tokenRequest(t, 'bob@example.com', PASSWORD, 'BobTool/9.9')
      assert.equal(bob.statusCode, 200)
      const bobSession = await currentSessionId(t, bearer(bob.json().access_token))
      secrets.push(bob.json().access_token, 'bob-wrong-guess')
      readers.push(bearer(bob.json().access_token))
      assert.equal((await tokenRequest(t, 'ghost@example.com', 'ghost-guess-pw', FIREFOX)).statusCode, 401)
      secrets.push('ghost-guess-pw')

      // Read at once: the event of the request just made is already in the list.
      const entries = await trail(t, bearer(token))
      assertNewestFirst(entries)
      const types = entries.map((entry) => entry.type)
      const changedAt = types.indexOf('password.changed')
      const succeededAt = types.indexOf('login.succeeded')
      const failedAt = types.indexOf('login.failed')
      assert.ok(changedAt >= 0 && succeededAt >= 0 && failedAt >= 0, `types: ${types.join(', ')}`)
      assert.ok(changedAt < succeededAt && succeededAt < failedAt, `newest first: ${types.join(', ')}`)

      const failure = entries[failedAt] as WireEntry
      assert.equal(failure.reason, 'bad_credentials')
      assert.equal(failure.session_id, null)
      const success = entries[succeededAt] as WireEntry
      assert.equal(success.session_id, sessionId, 'the public id GET /sessions shows')
      assert.equal((entries[changedAt] as WireEntry).session_id, sessionId)
      for (const entry of [failure, success, entries[changedAt] as WireEntry]) {
        assert.equal(entry.ip, '127.0.0.1')
        assert.equal(entry.user_agent, 'Firefox 128 on Linux', 'the summary, never the raw header')
        assert.ok(Math.abs(Date.parse(entry.at) - Date.now()) < 60_000)
        assert.deepEqual(Object.keys(entry).sort(), [
          'at',
          'ip',
          'reason',
          'session_id',
          'type',
          'user_agent',
        ])
      }

      assert.ok(
        entries.every((entry) => entry.user_agent !== 'BobTool/9.9' && entry.session_id !== bobSession),
        "none of Bob's events",
      )
      assert.equal(
        entries.filter((entry) => entry.type === 'login.failed').length,
        1,
        'not the ghost failure',
      )
      const bobs = await trail(t, bearer(bob.json().access_token))
      assert.ok(bobs.length >= 2)
      assert.ok(
        bobs.every((entry) => entry.user_agent === 'BobTool/9.9'),
        JSON.stringify(bobs),
      )
    })

    it('a cookie session reads its trail too, and sees its reset and its sign-in', async () => {
      assert.equal(
        (
          await t.app.inject({
            method: 'POST',
            url: '/forgot-password',
            payload: { email: 'carol@example.com' },
          })
        ).statusCode,
        202,
      )
      const resetToken = await t.nextToken('carol@example.com', 'reset')
      const reset = await t.app.inject({
        method: 'POST',
        url: '/reset-password',
        payload: { token: resetToken, password: 'carol-reset-password' },
      })
      assert.equal(reset.statusCode, 200, reset.body)
      const browser = await loginWithCookie(t.app, 'carol@example.com', 'carol-reset-password')
      secrets.push(resetToken, 'carol-reset-password', browser.sessionToken, browser.csrfToken)
      readers.push(sessionCookieOnly(browser))

      const entries = await trail(t, sessionCookieOnly(browser))
      const types = entries.map((entry) => entry.type)
      assert.equal(types[0], 'login.succeeded')
      assert.ok(types.includes('password.reset'), types.join(', '))
      assertNewestFirst(entries)
    })

    it('answers at most the 50 newest events', async () => {
      const { id } = await t.store.db
        .selectFrom('users')
        .select('id')
        .where('email_normalized', '=', 'busy@example.com')
        .executeTakeFirstOrThrow()
      const start = Date.now() - 3_600_000
      await t.store.db
        .insertInto('audit_events')
        .values(
          Array.from({ length: 60 }, (_, i) => ({
            created_at: start + i * 1000,
            type: 'logout',
            user_id: id,
            session_id: `old-session-${String(i).padStart(2, '0')}`,
            ip: '192.0.2.1',
            user_agent: null,
            reason: null,
          })),
        )
        .execute()
      const ok = await tokenRequest(t, 'busy@example.com', PASSWORD, FIREFOX)
      assert.equal(ok.statusCode, 200)
      secrets.push(ok.json().access_token)
      readers.push(bearer(ok.json().access_token))
      const entries = await trail(t, bearer(ok.json().access_token))
      assert.equal(entries.length, 50)
      assert.equal(entries[0]?.type, 'login.succeeded', 'the newest is the sign-in just made')
      assertNewestFirst(entries)
      const old = entries.slice(1).map((entry) => entry.session_id)
      // 49 of the 60 older ones: the newest of them, the oldest 11 left out.
      assert.equal(old[0], 'old-session-59')
      assert.equal(old.at(-1), 'old-session-11')
      assert.ok(!old.includes('old-session-10'))
    })

    it('carries no password and no token, neither in the answers nor in the table', async () => {
      assert.ok(secrets.length >= 10 && readers.length === 4, 'the earlier tests ran')
      // Every link token mailed in this suite (verification and reset) counts as well.
      for (const mail of t.mails()) {
        for (const match of mail.parsed.text.matchAll(/#token=([^\s]+)/g))
          secrets.push(decodeURIComponent(match[1] ?? ''))
      }
      const all = [...secrets, ...secrets.filter((secret) => secret.startsWith('gth')).map(hashToken)]
      const stored = JSON.stringify(await t.store.db.selectFrom('audit_events').selectAll().execute())
      for (const secret of all)
        assert.ok(!stored.includes(secret), `the audit table holds ${secret.slice(0, 8)}…`)
      for (const headers of readers) {
        const response = await t.app.inject({ url: '/me/audit', headers })
        assert.equal(response.statusCode, 200, response.body)
        for (const secret of all)
          assert.ok(!response.body.includes(secret), `an answer holds ${secret.slice(0, 8)}…`)
      }
    })

    it('answers 401 without credentials', async () => {
      const response = await t.app.inject({ url: '/me/audit' })
      assert.equal(response.statusCode, 401)
      assert.equal(response.json().code, 'NOT_AUTHENTICATED')
    })
  })
}
