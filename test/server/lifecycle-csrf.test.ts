/**
 * CSRF on the account-lifecycle routes a cookie session can call: POST /me/password,
 * DELETE /sessions/{id} and DELETE /sessions. With the session cookie alone (what a cross-site
 * form or fetch would carry), with another session's token, or from a cross-site page, each is
 * 403 and changes nothing; with the double-submit token it works; a bearer request needs none.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import type { LightMyRequestResponse } from 'fastify'
import {
  type BrowserSession,
  cookieHeader,
  loginWithCookie,
  sessionCookieOnly,
  sessionHeaders,
} from '../helpers/browser-session.ts'
import { dialects } from '../helpers/databases.ts'
import { bearer, login, register, requestToken, startTestApp, type TestApp } from '../helpers/test-app.ts'

const PASSWORD = 'lifecycle-csrf-password'
const NEW_PASSWORD = 'lifecycle-csrf-new-password'
const CSRF_FAILED = { detail: 'CSRF token verification failed', code: 'CSRF_FAILED' }
const CROSS_SITE = { detail: 'Cross-site request refused', code: 'CROSS_SITE_REQUEST' }

/** A user with a browser session and a second session (a bearer token) the routes can end. */
interface Victim {
  email: string
  browser: BrowserSession
  other: string
  otherId: string
}

interface Route {
  name: string
  send: (t: TestApp, victim: Victim, headers: Record<string, string>) => Promise<LightMyRequestResponse>
  ok: number
  /** The route did what it does. */
  done: (t: TestApp, victim: Victim) => Promise<void>
  /** Nothing happened. */
  unchanged: (t: TestApp, victim: Victim) => Promise<void>
}

const status = async (t: TestApp, headers: Record<string, string>) =>
  (await t.app.inject({ url: '/me', headers })).statusCode

const ROUTES: Route[] = [
  {
    name: 'POST /me/password',
    send: (t, _victim, headers) =>
      t.app.inject({
        method: 'POST',
        url: '/me/password',
        headers,
        payload: { current_password: PASSWORD, new_password: NEW_PASSWORD },
      }),
    ok: 204,
    done: async (t, victim) => {
      assert.equal((await requestToken(t.app, victim.email, NEW_PASSWORD)).statusCode, 200)
      assert.equal(await status(t, bearer(victim.other)), 401, 'the other session ended')
    },
    unchanged: async (t, victim) => {
      assert.equal(
        (await requestToken(t.app, victim.email, PASSWORD)).statusCode,
        200,
        'the password is unchanged',
      )
      assert.equal(await status(t, bearer(victim.other)), 200, 'the other session lives')
    },
  },
  {
    name: 'DELETE /sessions/{id}',
    send: (t, victim, headers) =>
      t.app.inject({ method: 'DELETE', url: `/sessions/${victim.otherId}`, headers }),
    ok: 204,
    done: async (t, victim) => assert.equal(await status(t, bearer(victim.other)), 401),
    unchanged: async (t, victim) => assert.equal(await status(t, bearer(victim.other)), 200),
  },
  {
    name: 'DELETE /sessions',
    send: (t, _victim, headers) => t.app.inject({ method: 'DELETE', url: '/sessions', headers }),
    ok: 204,
    done: async (t, victim) => assert.equal(await status(t, bearer(victim.other)), 401),
    unchanged: async (t, victim) => assert.equal(await status(t, bearer(victim.other)), 200),
  },
]

for (const { dialect, skip, create } of dialects()) {
  describe(`CSRF on the lifecycle routes (${dialect})`, { skip }, () => {
    let t: TestApp
    let stranger: BrowserSession
    before(async () => {
      t = await startTestApp({ create })
      assert.equal((await register(t.app, 'stranger@example.com', PASSWORD)).statusCode, 201)
      stranger = await loginWithCookie(t.app, 'stranger@example.com', PASSWORD)
    })
    after(() => t?.close())

    let users = 0
    async function victim(): Promise<Victim> {
      const email = `csrf-victim${++users}@example.com`
      assert.equal((await register(t.app, email, PASSWORD)).statusCode, 201)
      const other = await login(t.app, email, PASSWORD)
      const sessions = (await t.app.inject({ url: '/sessions', headers: bearer(other) })).json()
      const otherId = (sessions as { id: string; current: boolean }[]).find((session) => session.current)?.id
      assert.ok(otherId)
      return { email, browser: await loginWithCookie(t.app, email, PASSWORD), other, otherId }
    }

    for (const route of ROUTES) {
      it(`${route.name} with the session cookie but no x-csrftoken: 403 CSRF_FAILED, nothing changes`, async () => {
        const v = await victim()
        // The CSRF cookie rides along as a browser would send it; only the header is missing.
        const response = await route.send(t, v, { cookie: cookieHeader(v.browser.cookies) })
        assert.equal(response.statusCode, 403, response.body)
        assert.deepEqual(response.json(), CSRF_FAILED)
        const bare = await route.send(t, v, sessionCookieOnly(v.browser))
        assert.deepEqual(bare.json(), CSRF_FAILED)
        await route.unchanged(t, v)
      })

      it(`${route.name} with another session's CSRF token: 403 CSRF_FAILED, nothing changes`, async () => {
        const v = await victim()
        const response = await route.send(t, v, {
          cookie: cookieHeader({ ...v.browser.cookies, csrftoken: stranger.csrfToken }),
          'x-csrftoken': stranger.csrfToken,
        })
        assert.equal(response.statusCode, 403, response.body)
        assert.deepEqual(response.json(), CSRF_FAILED)
        await route.unchanged(t, v)
      })

      it(`${route.name} from a cross-site page, even with the token: 403, nothing changes`, async () => {
        const v = await victim()
        const response = await route.send(
          t,
          v,
          sessionHeaders(v.browser, { origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' }),
        )
        assert.equal(response.statusCode, 403, response.body)
        assert.deepEqual(response.json(), CROSS_SITE)
        await route.unchanged(t, v)
      })

      it(`${route.name} with the cookie and its x-csrftoken works, and the browser session stays`, async () => {
        const v = await victim()
        const response = await route.send(t, v, sessionHeaders(v.browser))
        assert.equal(response.statusCode, route.ok, response.body)
        await route.done(t, v)
        assert.equal(await status(t, sessionCookieOnly(v.browser)), 200)
      })

      it(`${route.name} with a bearer token needs no CSRF token`, async () => {
        const v = await victim()
        const caller = await login(t.app, v.email, PASSWORD)
        const response = await route.send(t, v, bearer(caller))
        assert.equal(response.statusCode, route.ok, response.body)
        await route.done(t, v)
        assert.equal(await status(t, bearer(caller)), 200, 'the calling token stays')
      })
    }

    it('reports refused requests in the session owner’s audit trail', async () => {
      const v = await victim()
      const refused = await ROUTES[0]?.send(t, v, sessionCookieOnly(v.browser))
      assert.equal(refused?.statusCode, 403)
      // The refusal is reported after the session lookup, off the request path: poll briefly.
      const deadline = Date.now() + 3_000
      let entries: { type: string; reason: string | null }[] = []
      while (!entries.some((entry) => entry.type === 'csrf.refused' && entry.reason === 'bad_token')) {
        assert.ok(Date.now() < deadline, `no csrf.refused in ${JSON.stringify(entries)}`)
        await sleep(20)
        entries = (await t.app.inject({ url: '/me/audit', headers: bearer(v.other) })).json()
      }
    })
  })
}
