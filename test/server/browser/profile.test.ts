/**
 * The signed-in user's own data over a cookie session: the email change (POST and PATCH /me, JSON
 * or form) with its fresh-session rule, GET /profile, and the owner-only preferences at
 * /prefs/{user_id}. Every refusal is checked against the database: nothing was written.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import type { LightMyRequestResponse } from 'fastify'
import {
  type BrowserSession,
  loginWithCookie,
  sessionCookieOnly,
  sessionHeaders,
  storedEmail,
  storedPreferences,
} from '../../helpers/browser-session.ts'
import { dialects } from '../../helpers/databases.ts'
import { bearer, login, register, startTestApp, type TestApp } from '../../helpers/test-app.ts'

const PASSWORD = 'profile-suite-password'
const FRESH_SESSION_REQUIRED = {
  detail: 'This change needs a recent login or the current password',
  code: 'FRESH_SESSION_REQUIRED',
}
const ENCODINGS = ['json', 'form'] as const
const METHODS = ['POST', 'PATCH'] as const

/** POST or PATCH /me with the body as JSON or as an HTML form would send it. */
function changeEmail(
  t: TestApp,
  method: (typeof METHODS)[number],
  encoding: (typeof ENCODINGS)[number],
  headers: Record<string, string>,
  body: Record<string, string>,
): Promise<LightMyRequestResponse> {
  if (encoding === 'json') return t.app.inject({ method, url: '/me', headers, payload: body })
  return t.app.inject({
    method,
    url: '/me',
    headers: { ...headers, 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams(body).toString(),
  })
}

async function registerUser(t: TestApp, email: string): Promise<number> {
  const response = await register(t.app, email, PASSWORD)
  assert.equal(response.statusCode, 201, response.body)
  return response.json().id as number
}

for (const { dialect, skip, create } of dialects()) {
  describe(`email change on a fresh cookie session: POST and PATCH /me (${dialect})`, { skip }, () => {
    let t: TestApp
    let userId: number
    let session: BrowserSession
    before(async () => {
      t = await startTestApp({ create })
      userId = await registerUser(t, 'changer@example.com')
      await registerUser(t, 'taken@example.com')
      session = await loginWithCookie(t.app, 'changer@example.com', PASSWORD)
    })
    after(() => t?.close())

    let current = 'changer@example.com'
    for (const method of METHODS) {
      for (const encoding of ENCODINGS) {
        it(`${method} /me (${encoding}) with the cookie and a valid CSRF token answers 200 with the updated user`, async () => {
          const next = `${method.toLowerCase()}-${encoding}@example.com`
          const response = await changeEmail(t, method, encoding, sessionHeaders(session), { email: next })
          assert.equal(response.statusCode, 200, response.body)
          assert.equal(response.json().email, next)
          assert.equal(response.json().id, userId)
          assert.equal(response.headers['cache-control'], 'no-store')
          assert.equal(await storedEmail(t.store, userId), next)
          const me = await t.app.inject({ url: '/me', headers: sessionCookieOnly(session) })
          assert.equal(me.json().email, next, 'GET /me sees the new email')
          current = next
        })
      }

      for (const taken of ['taken@example.com', 'TAKEN@Example.COM']) {
        it(`${method} /me to an email already taken (${taken}) is 400 EMAIL_EXISTS, not 500, and changes nothing`, async () => {
          const response = await changeEmail(t, method, 'json', sessionHeaders(session), { email: taken })
          assert.equal(response.statusCode, 400, response.body)
          assert.deepEqual(response.json(), { detail: 'Email already exists', code: 'EMAIL_EXISTS' })
          assert.equal(await storedEmail(t.store, userId), current)
        })
      }

      it(`${method} /me with an invalid email is 422 and changes nothing`, async () => {
        const response = await changeEmail(t, method, 'form', sessionHeaders(session), {
          email: 'not-an-email',
        })
        assert.equal(response.statusCode, 422, response.body)
        assert.equal(response.json().code, 'VALIDATION_FAILED')
        assert.equal(await storedEmail(t.store, userId), current)
      })

      it(`${method} /me without any session is 401 and changes nothing`, async () => {
        const response = await changeEmail(t, method, 'json', {}, { email: 'anonymous@example.com' })
        assert.equal(response.statusCode, 401)
        assert.equal(response.json().code, 'NOT_AUTHENTICATED')
        assert.equal(await storedEmail(t.store, userId), current)
      })
    }

    it('the new email is the login from now on, the old one no longer is', async () => {
      const fresh = await loginWithCookie(t.app, current, PASSWORD)
      assert.equal(fresh.user.id, userId)
      const old = await t.app.inject({
        method: 'POST',
        url: '/login',
        payload: { email: 'changer@example.com', password: PASSWORD },
      })
      assert.equal(old.statusCode, 401)
    })
  })

  describe(`email change on a session older than FRESH_SESSION_SECONDS (${dialect})`, { skip }, () => {
    let t: TestApp
    let userId: number
    let stale: BrowserSession
    let staleBearer: string
    before(async () => {
      t = await startTestApp({ create, env: { FRESH_SESSION_SECONDS: '1' } })
      userId = await registerUser(t, 'stale@example.com')
      stale = await loginWithCookie(t.app, 'stale@example.com', PASSWORD)
      staleBearer = await login(t.app, 'stale@example.com', PASSWORD)
      await sleep(1100)
    })
    after(() => t?.close())

    let current = 'stale@example.com'
    const refusedBodies: { name: string; extra: Record<string, string> }[] = [
      { name: 'without current_password', extra: {} },
      { name: 'with a wrong current_password', extra: { current_password: 'not-the-password' } },
      { name: 'with an empty current_password', extra: { current_password: '' } },
      { name: 'with the password in another case', extra: { current_password: PASSWORD.toUpperCase() } },
    ]
    for (const method of METHODS) {
      for (const encoding of ENCODINGS) {
        for (const { name, extra } of refusedBodies) {
          it(`${method} /me (${encoding}) ${name} is 403 FRESH_SESSION_REQUIRED and changes nothing`, async () => {
            const response = await changeEmail(t, method, encoding, sessionHeaders(stale), {
              email: 'thief@example.com',
              ...extra,
            })
            assert.equal(response.statusCode, 403, response.body)
            assert.deepEqual(response.json(), FRESH_SESSION_REQUIRED)
            assert.equal(await storedEmail(t.store, userId), current)
          })
        }

        it(`${method} /me (${encoding}) with the right current_password answers 200`, async () => {
          const next = `stale-${method.toLowerCase()}-${encoding}@example.com`
          const response = await changeEmail(t, method, encoding, sessionHeaders(stale), {
            email: next,
            current_password: PASSWORD,
          })
          assert.equal(response.statusCode, 200, response.body)
          assert.equal(response.json().email, next)
          assert.equal(await storedEmail(t.store, userId), next)
          current = next
        })
      }
    }

    it('an old bearer token is held to the same rule: 403 without the password', async () => {
      const response = await t.app.inject({
        method: 'PATCH',
        url: '/me',
        headers: bearer(staleBearer),
        payload: { email: 'thief@example.com' },
      })
      assert.equal(response.statusCode, 403)
      assert.deepEqual(response.json(), FRESH_SESSION_REQUIRED)
      assert.equal(await storedEmail(t.store, userId), current)
    })

    it('a new login is fresh again: the email changes without the password', async () => {
      const fresh = await loginWithCookie(t.app, current, PASSWORD)
      const response = await changeEmail(t, 'PATCH', 'json', sessionHeaders(fresh), {
        email: 'renewed@example.com',
      })
      assert.equal(response.statusCode, 200, response.body)
      assert.equal(await storedEmail(t.store, userId), 'renewed@example.com')
    })
  })

  describe(`GET /profile and the owner-only /prefs/{user_id} (${dialect})`, { skip }, () => {
    let t: TestApp
    let ownerId: number
    let otherId: number
    let owner: BrowserSession
    let other: BrowserSession
    before(async () => {
      t = await startTestApp({ create })
      ownerId = await registerUser(t, 'owner@example.com')
      otherId = await registerUser(t, 'other@example.com')
      owner = await loginWithCookie(t.app, 'owner@example.com', PASSWORD)
      other = await loginWithCookie(t.app, 'other@example.com', PASSWORD)
      const seeded = await t.app.inject({
        method: 'POST',
        url: `/prefs/${otherId}`,
        headers: sessionHeaders(other),
        payload: { theme: 'theirs' },
      })
      assert.equal(seeded.statusCode, 200, seeded.body)
    })
    after(() => t?.close())

    const readPrefs = (userId: number | string, headers: Record<string, string>) =>
      t.app.inject({ method: 'GET', url: `/prefs/${userId}`, headers })
    const writePrefs = (userId: number | string, headers: Record<string, string>, payload: unknown) =>
      t.app.inject({
        method: 'POST',
        url: `/prefs/${userId}`,
        headers: { 'content-type': 'application/json', ...headers },
        payload: JSON.stringify(payload),
      })

    it('GET /profile with the session cookie answers the signed-in user', async () => {
      const response = await t.app.inject({ url: '/profile', headers: sessionCookieOnly(owner) })
      assert.equal(response.statusCode, 200)
      assert.equal(response.json().id, ownerId)
      assert.equal(response.json().email, 'owner@example.com')
      assert.equal(response.json().hashed_password, undefined)
      assert.equal(response.headers['cache-control'], 'no-store')
    })

    it('GET /profile without a session is 401', async () => {
      const response = await t.app.inject({ url: '/profile' })
      assert.equal(response.statusCode, 401)
      assert.equal(response.json().code, 'NOT_AUTHENTICATED')
    })

    it('GET and POST /prefs/{user_id} without a session are 401 and store nothing', async () => {
      assert.equal((await readPrefs(ownerId, {})).statusCode, 401)
      const write = await writePrefs(ownerId, {}, { theme: 'anonymous' })
      assert.equal(write.statusCode, 401)
      assert.equal(write.json().code, 'NOT_AUTHENTICATED')
      assert.equal(await storedPreferences(t.store, ownerId), undefined)
    })

    it("GET /prefs of another user's id is 403 FORBIDDEN and leaks nothing", async () => {
      const response = await readPrefs(otherId, sessionCookieOnly(owner))
      assert.equal(response.statusCode, 403)
      assert.deepEqual(response.json(), { detail: 'Forbidden', code: 'FORBIDDEN' })
      assert.doesNotMatch(response.body, /theirs/)
    })

    it("POST /prefs to another user's id is 403 FORBIDDEN and leaves their preferences alone", async () => {
      const response = await writePrefs(otherId, sessionHeaders(owner), { theme: 'overwritten' })
      assert.equal(response.statusCode, 403)
      assert.equal(response.json().code, 'FORBIDDEN')
      assert.deepEqual(await storedPreferences(t.store, otherId), { theme: 'theirs' })
    })

    it('GET /prefs of your own id before any write answers 200 {}', async () => {
      const response = await readPrefs(ownerId, sessionCookieOnly(owner))
      assert.equal(response.statusCode, 200)
      assert.deepEqual(response.json(), {})
    })

    const document = { theme: 'dark', nested: { lang: 'fr', list: [1, 'two', null, true] }, ünïcode: '✓' }
    it('POST /prefs of your own id stores the object: 200, read back equal by GET and from the database', async () => {
      const response = await writePrefs(ownerId, sessionHeaders(owner), document)
      assert.equal(response.statusCode, 200, response.body)
      assert.deepEqual(response.json(), document)
      assert.deepEqual((await readPrefs(ownerId, sessionCookieOnly(owner))).json(), document)
      assert.deepEqual(await storedPreferences(t.store, ownerId), document)
    })

    it('the preferences survive a new login (a new session reads what the old one wrote)', async () => {
      const again = await loginWithCookie(t.app, 'owner@example.com', PASSWORD, {
        headers: sessionCookieOnly(owner),
      })
      owner = again
      const response = await readPrefs(ownerId, sessionCookieOnly(again))
      assert.equal(response.statusCode, 200)
      assert.deepEqual(response.json(), document)
    })

    it('a second POST replaces the document rather than merging', async () => {
      const response = await writePrefs(ownerId, sessionHeaders(owner), { theme: 'light' })
      assert.equal(response.statusCode, 200)
      assert.deepEqual(await storedPreferences(t.store, ownerId), { theme: 'light' })
      const restore = await writePrefs(ownerId, sessionHeaders(owner), document)
      assert.equal(restore.statusCode, 200)
    })

    const notObjects: { name: string; raw: string }[] = [
      { name: 'an array', raw: '[1, 2, 3]' },
      { name: 'a string', raw: '"dark"' },
      { name: 'a number', raw: '42' },
      { name: 'null', raw: 'null' },
      { name: 'true', raw: 'true' },
    ]
    for (const { name, raw } of notObjects) {
      it(`POST /prefs with ${name} as the JSON body is 422, not 500, and stores nothing`, async () => {
        const response = await t.app.inject({
          method: 'POST',
          url: `/prefs/${ownerId}`,
          headers: { ...sessionHeaders(owner), 'content-type': 'application/json' },
          payload: raw,
        })
        assert.equal(response.statusCode, 422, response.body)
        assert.equal(response.json().code, 'VALIDATION_FAILED')
        assert.deepEqual(await storedPreferences(t.store, ownerId), document)
      })
    }

    it('POST /prefs with malformed JSON is 400, not 500', async () => {
      const response = await t.app.inject({
        method: 'POST',
        url: `/prefs/${ownerId}`,
        headers: { ...sessionHeaders(owner), 'content-type': 'application/json' },
        payload: '{"theme": ',
      })
      assert.equal(response.statusCode, 400, response.body)
      assert.equal(response.json().code, 'MALFORMED_BODY')
      assert.deepEqual(await storedPreferences(t.store, ownerId), document)
    })

    /** A JSON object of exactly `bytes` bytes. */
    const ofSize = (bytes: number) => {
      const shell = JSON.stringify({ pad: '' }).length
      return JSON.stringify({ pad: 'x'.repeat(bytes - shell) })
    }
    it('POST /prefs accepts a body of exactly 16 KiB', async () => {
      const body = ofSize(16 * 1024)
      assert.equal(Buffer.byteLength(body), 16 * 1024)
      const response = await t.app.inject({
        method: 'POST',
        url: `/prefs/${ownerId}`,
        headers: { ...sessionHeaders(owner), 'content-type': 'application/json' },
        payload: body,
      })
      assert.equal(response.statusCode, 200, response.body)
      const restore = await writePrefs(ownerId, sessionHeaders(owner), document)
      assert.equal(restore.statusCode, 200)
    })

    it('POST /prefs with a body one byte over 16 KiB is 413 and stores nothing', async () => {
      const response = await t.app.inject({
        method: 'POST',
        url: `/prefs/${ownerId}`,
        headers: { ...sessionHeaders(owner), 'content-type': 'application/json' },
        payload: ofSize(16 * 1024 + 1),
      })
      assert.equal(response.statusCode, 413, response.body)
      assert.equal(response.json().code, 'BODY_TOO_LARGE')
      assert.deepEqual(await storedPreferences(t.store, ownerId), document)
    })

    const badIds = ['abc', '1.0', '-1', '1e3', '0x1', '%20', ' 1', `1${'0'.repeat(15)}`, '1;drop']
    for (const id of badIds) {
      it(`GET and POST /prefs/${JSON.stringify(id)} (not a numeric id) are 422 or 404, never 500`, async () => {
        const url = `/prefs/${id.replaceAll(' ', '%20').replaceAll(';', '%3B')}`
        const read = await t.app.inject({ url, headers: sessionCookieOnly(owner) })
        assert.ok([404, 422].includes(read.statusCode), `GET ${url}: ${read.statusCode} ${read.body}`)
        const write = await t.app.inject({
          method: 'POST',
          url,
          headers: sessionHeaders(owner),
          payload: { theme: 'bad-id' },
        })
        assert.ok([404, 422].includes(write.statusCode), `POST ${url}: ${write.statusCode} ${write.body}`)
        assert.deepEqual(await storedPreferences(t.store, ownerId), document)
      })
    }

    it('a bearer token reads its own preferences too', async () => {
      const token = await login(t.app, 'owner@example.com', PASSWORD)
      const response = await readPrefs(ownerId, bearer(token))
      assert.equal(response.statusCode, 200)
      assert.deepEqual(response.json(), document)
    })
  })
}
