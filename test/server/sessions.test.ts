/**
 * The caller's sessions over HTTP: GET /sessions lists bearer tokens and cookie sessions alike,
 * with the one in use marked and the user agent summarised; DELETE /sessions/{id} ends one of
 * them (another user's id is indistinguishable from an unknown one); DELETE /sessions ends all
 * but the current one. Every ending is proven by the ended token's next request being refused.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import type { LightMyRequestResponse } from 'fastify'
import { loginWithCookie, sessionCookieOnly, sessionHeaders } from '../helpers/browser-session.ts'
import { dialects } from '../helpers/databases.ts'
import { assertNoStackTrace, bearer, register, startTestApp, type TestApp } from '../helpers/test-app.ts'

const PASSWORD = 'sessions-suite-password'
const FIREFOX =
  'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0 <script>alert(1)</script>'
const CHROME =
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36'
const NOT_FOUND = { detail: 'Not Found', code: 'NOT_FOUND' }

interface WireSession {
  id: string
  kind: 'bearer' | 'session'
  created_at: string
  last_used_at: string | null
  expires_at: string
  user_agent: string | null
  ip: string | null
  current: boolean
}

/** POST /token with a User-Agent; returns the access token (asserting 200). */
async function bearerLogin(t: TestApp, email: string, userAgent?: string): Promise<string> {
  const response = await t.app.inject({
    method: 'POST',
    url: '/token',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      ...(userAgent ? { 'user-agent': userAgent } : {}),
    },
    payload: new URLSearchParams({ username: email, password: PASSWORD }).toString(),
  })
  assert.equal(response.statusCode, 200, response.body)
  return response.json().access_token as string
}

async function listSessions(t: TestApp, headers: Record<string, string>): Promise<WireSession[]> {
  const response = await t.app.inject({ url: '/sessions', headers })
  assert.equal(response.statusCode, 200, response.body)
  assert.equal(response.headers['cache-control'], 'no-store')
  return response.json() as WireSession[]
}

const me = (t: TestApp, headers: Record<string, string>) => t.app.inject({ url: '/me', headers })
const revoke = (t: TestApp, id: string, headers: Record<string, string>) =>
  t.app.inject({ method: 'DELETE', url: `/sessions/${id}`, headers })
const revokeOthers = (t: TestApp, headers: Record<string, string>) =>
  t.app.inject({ method: 'DELETE', url: '/sessions', headers })

/** The id GET /sessions marks current for this credential. */
async function currentId(t: TestApp, headers: Record<string, string>): Promise<string> {
  const current = (await listSessions(t, headers)).filter((session) => session.current)
  assert.equal(current.length, 1, 'exactly one session is current')
  return (current[0] as WireSession).id
}

function assertRefused(response: LightMyRequestResponse, what: string): void {
  assert.equal(response.statusCode, 401, `${what}: ${response.body}`)
  assert.equal(response.json().code, 'INVALID_TOKEN')
}

for (const { dialect, skip, create } of dialects()) {
  describe(`GET /sessions (${dialect})`, { skip }, () => {
    let t: TestApp
    before(async () => {
      t = await startTestApp({ create })
      for (const email of ['lister@example.com', 'other@example.com']) {
        assert.equal((await register(t.app, email, PASSWORD)).statusCode, 201)
      }
    })
    after(() => t?.close())

    it('lists a bearer login and a cookie login, marks only the one in use current, and summarises the user agent', async () => {
      const token = await bearerLogin(t, 'lister@example.com', FIREFOX)
      const browser = await loginWithCookie(t.app, 'lister@example.com', PASSWORD, {
        headers: { 'user-agent': CHROME },
      })

      const viaBearer = await listSessions(t, bearer(token))
      assert.equal(viaBearer.length, 2, JSON.stringify(viaBearer))
      const bearerRow = viaBearer.find((session) => session.kind === 'bearer')
      const cookieRow = viaBearer.find((session) => session.kind === 'session')
      assert.ok(bearerRow && cookieRow, 'both kinds are listed')
      assert.deepEqual(
        viaBearer.filter((session) => session.current).map((session) => session.id),
        [bearerRow.id],
      )
      assert.equal(bearerRow.user_agent, 'Firefox 128 on Linux')
      assert.equal(cookieRow.user_agent, 'Chrome 126 on macOS')
      assert.equal(bearerRow.ip, '127.0.0.1')
      for (const session of viaBearer) {
        assert.deepEqual(Object.keys(session).sort(), [
          'created_at',
          'current',
          'expires_at',
          'id',
          'ip',
          'kind',
          'last_used_at',
          'user_agent',
        ])
        assert.match(session.id, /^[A-Za-z0-9_-]{22}$/)
        assert.ok(Date.parse(session.expires_at) > Date.parse(session.created_at))
        assert.ok(Math.abs(Date.parse(session.created_at) - Date.now()) < 60_000)
      }
      // The list names sessions by public id: neither secret appears anywhere in it.
      const raw = JSON.stringify(viaBearer)
      assert.ok(!raw.includes(token) && !raw.includes(browser.sessionToken))
      assert.ok(!raw.includes('<script>') && !raw.includes('Mozilla/5.0'), 'never the raw header')

      const viaCookie = await listSessions(t, sessionCookieOnly(browser))
      assert.deepEqual(
        viaCookie.filter((session) => session.current).map((session) => session.id),
        [cookieRow.id],
        'the cookie request sees its own session as current',
      )
      assert.deepEqual(viaCookie.map((session) => session.id).sort(), [bearerRow.id, cookieRow.id].sort())
    })

    it("never shows another user's sessions", async () => {
      const mine = await bearerLogin(t, 'lister@example.com')
      const theirs = await bearerLogin(t, 'other@example.com', 'OtherClient/2.0')
      const myIds = (await listSessions(t, bearer(mine))).map((session) => session.id)
      const theirList = await listSessions(t, bearer(theirs))
      assert.equal(theirList.length, 1)
      assert.equal(theirList[0]?.user_agent, 'OtherClient/2.0')
      assert.ok(!myIds.includes(theirList[0]?.id ?? ''), 'their session is not in my list')
      assert.ok(
        (await listSessions(t, bearer(mine))).every((session) => session.user_agent !== 'OtherClient/2.0'),
      )
    })

    it('answers 401 without credentials and with a revoked token', async () => {
      const anonymous = await t.app.inject({ url: '/sessions' })
      assert.equal(anonymous.statusCode, 401)
      assert.equal(anonymous.json().code, 'NOT_AUTHENTICATED')
      const token = await bearerLogin(t, 'lister@example.com')
      assert.equal(
        (await t.app.inject({ method: 'POST', url: '/logout', headers: bearer(token) })).statusCode,
        204,
      )
      assertRefused(await t.app.inject({ url: '/sessions', headers: bearer(token) }), 'logged-out token')
    })
  })

  describe(`DELETE /sessions/{id} and DELETE /sessions (${dialect})`, { skip }, () => {
    let t: TestApp
    before(async () => {
      t = await startTestApp({ create })
      for (const email of ['owner@example.com', 'victim@example.com']) {
        assert.equal((await register(t.app, email, PASSWORD)).statusCode, 201)
      }
    })
    after(() => t?.close())

    it('ends one of my bearer tokens: 204, and that token is refused on its next request', async () => {
      const laptop = await bearerLogin(t, 'owner@example.com')
      const phone = await bearerLogin(t, 'owner@example.com')
      const phoneId = await currentId(t, bearer(phone))
      const response = await revoke(t, phoneId, bearer(laptop))
      assert.equal(response.statusCode, 204, response.body)
      assert.equal(response.body, '')
      assertRefused(await me(t, bearer(phone)), 'the ended token')
      assert.equal((await me(t, bearer(laptop))).statusCode, 200, 'the caller is still signed in')
      assert.ok(!(await listSessions(t, bearer(laptop))).some((session) => session.id === phoneId))
      // Already gone: the same id is now unknown.
      assert.deepEqual((await revoke(t, phoneId, bearer(laptop))).json(), NOT_FOUND)
    })

    it('ends a cookie session from a bearer client, and the current session itself', async () => {
      const browser = await loginWithCookie(t.app, 'owner@example.com', PASSWORD)
      const token = await bearerLogin(t, 'owner@example.com')
      const browserId = await currentId(t, sessionCookieOnly(browser))
      assert.equal((await revoke(t, browserId, bearer(token))).statusCode, 204)
      assertRefused(await me(t, sessionCookieOnly(browser)), 'the ended cookie session')

      const ownId = await currentId(t, bearer(token))
      assert.equal((await revoke(t, ownId, bearer(token))).statusCode, 204)
      assertRefused(await me(t, bearer(token)), 'the session that ended itself')
    })

    it("answers another user's session id 404 with the body of an id that never existed, and leaves it alive", async () => {
      const attacker = await bearerLogin(t, 'owner@example.com')
      const victim = await bearerLogin(t, 'victim@example.com')
      const victimId = await currentId(t, bearer(victim))

      const foreign = await revoke(t, victimId, bearer(attacker))
      const unknown = await revoke(t, randomBytes(16).toString('base64url'), bearer(attacker))
      assert.equal(foreign.statusCode, 404)
      assert.equal(unknown.statusCode, 404)
      assert.deepEqual(foreign.json(), NOT_FOUND)
      assert.equal(foreign.body, unknown.body, 'no difference to tell a foreign id from an unknown one')
      assert.equal((await me(t, bearer(victim))).statusCode, 200, "the victim's session still works")
    })

    it('answers a malformed id with a 4xx (422 for a bad shape), never a 500, and ends nothing', async () => {
      const token = await bearerLogin(t, 'owner@example.com')
      const other = await bearerLogin(t, 'owner@example.com')
      const before = (await listSessions(t, bearer(token))).length
      const malformed = [
        'abc',
        'A'.repeat(21),
        'A'.repeat(23),
        'A'.repeat(500),
        '%00AAAAAAAAAAAAAAAAAAAAA',
        "'%20OR%201=1--AAAAAAAAAA",
        '..%2F..%2Fetc%2Fpasswd',
        `${'A'.repeat(21)}%C3%A9`,
        '%E0%A4%A',
      ]
      for (const id of malformed) {
        const response = await revoke(t, id, bearer(token))
        // 400 for a broken percent-encoding, 414 past Fastify's parameter length, 422 otherwise.
        assert.ok(
          [400, 404, 414, 422].includes(response.statusCode),
          `${id.slice(0, 40)}: ${response.statusCode} ${response.body}`,
        )
        assert.notEqual(response.statusCode, 500)
        assertNoStackTrace(response.body)
        assert.equal(typeof response.json().code, 'string')
      }
      assert.equal((await listSessions(t, bearer(token))).length, before)
      assert.equal((await me(t, bearer(other))).statusCode, 200)
    })

    it('DELETE /sessions ends every session but the current one', async () => {
      const current = await bearerLogin(t, 'owner@example.com')
      const others = [await bearerLogin(t, 'owner@example.com'), await bearerLogin(t, 'owner@example.com')]
      const browser = await loginWithCookie(t.app, 'owner@example.com', PASSWORD)
      const victim = await bearerLogin(t, 'victim@example.com')

      const response = await revokeOthers(t, bearer(current))
      assert.equal(response.statusCode, 204, response.body)
      assert.equal(response.body, '')
      for (const token of others) assertRefused(await me(t, bearer(token)), 'another bearer token')
      assertRefused(await me(t, sessionCookieOnly(browser)), 'the cookie session')
      assert.equal((await me(t, bearer(current))).statusCode, 200, 'the current one still works')
      const left = await listSessions(t, bearer(current))
      assert.equal(left.length, 1)
      assert.equal(left[0]?.current, true)
      assert.equal((await me(t, bearer(victim))).statusCode, 200, "another user's sessions are untouched")
    })

    it('DELETE /sessions from a cookie session (with its CSRF token) keeps that session', async () => {
      const token = await bearerLogin(t, 'owner@example.com')
      const browser = await loginWithCookie(t.app, 'owner@example.com', PASSWORD)
      assert.equal((await revokeOthers(t, sessionHeaders(browser))).statusCode, 204)
      assertRefused(await me(t, bearer(token)), 'the bearer token')
      assert.equal((await me(t, sessionCookieOnly(browser))).statusCode, 200)
    })

    it('ending the current cookie session by its id expires the cookies, as logout does', async () => {
      const browser = await loginWithCookie(t.app, 'owner@example.com', PASSWORD)
      const id = await currentId(t, sessionCookieOnly(browser))
      const response = await revoke(t, id, sessionHeaders(browser))
      assert.equal(response.statusCode, 204)
      const cleared = [response.headers['set-cookie']].flat().join('\n')
      assert.match(cleared, /^token=;.*Max-Age=0/m)
      assert.match(cleared, /^csrftoken=;.*Max-Age=0/m)
      assert.equal(response.headers['clear-site-data'], '"cookies"')
      assertRefused(await me(t, sessionCookieOnly(browser)), 'the ended session')
    })

    it("ending another session by its id leaves this browser's cookies alone", async () => {
      const other = await bearerLogin(t, 'owner@example.com')
      const browser = await loginWithCookie(t.app, 'owner@example.com', PASSWORD)
      const otherId = (await listSessions(t, bearer(other))).find((session) => session.current)!.id
      const response = await revoke(t, otherId, sessionHeaders(browser))
      assert.equal(response.statusCode, 204)
      assert.equal(response.headers['set-cookie'], undefined)
      assert.equal(response.headers['clear-site-data'], undefined)
    })

    it('answers both routes 401 without credentials', async () => {
      const id = randomBytes(16).toString('base64url')
      assert.equal((await revoke(t, id, {})).statusCode, 401)
      assert.equal((await revokeOthers(t, {})).statusCode, 401)
    })
  })
}
