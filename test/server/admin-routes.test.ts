/**
 * The superuser routes over HTTP (buildApp + inject, real store): who gets in (401 anonymous, 403
 * for a user, an API key or a stale session on a change), what a request may say (422 for an
 * unknown field, a bad id, cursor or query value), what a change does at once (a deactivated or
 * signed-out user's next request is refused), the last-superuser rule, CSRF for cookie sessions,
 * and the audit trail with the actor of each change.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { LightMyRequestResponse } from 'fastify'
import { insertApiKey } from '../../src/accounts/api-key-store.ts'
import { hashToken } from '../../src/core/tokens/index.ts'
import { loginWithCookie, sessionCookieOnly, sessionHeaders } from '../helpers/browser-session.ts'
import { dialects } from '../helpers/databases.ts'
import {
  assertNoStackTrace,
  bearer,
  login,
  register,
  registerAndLogin,
  startTestApp,
  type TestApp,
} from '../helpers/test-app.ts'

const PASSWORD = 'admin-routes-suite-password'
const HOUR_MS = 3_600_000

interface WireUser {
  id: number
  email: string
  is_active: boolean
  is_superuser: boolean
  is_verified: boolean
  created_at: string
}

function assertCode(response: LightMyRequestResponse, status: number, code: string, what = ''): void {
  assert.equal(response.statusCode, status, `${what} ${response.body}`)
  assert.equal(response.json().code, code, what)
  assertNoStackTrace(response.body)
}

/** The fields a 422 names, as `loc` paths joined by dots. */
const namedFields = (response: LightMyRequestResponse) =>
  (response.json().detail as { loc: (string | number)[] }[]).map((item) => item.loc.join('.'))

for (const { dialect, skip, create } of dialects()) {
  describe(`admin routes (${dialect})`, { skip }, () => {
    let t: TestApp
    let adminId: number
    let adminToken: string
    let counter = 0

    /** A registered user (an active, unverified, ordinary account) and its bearer token. */
    async function account(label: string): Promise<{ id: number; email: string; token: string }> {
      counter++
      const email = `${label}-${counter}@example.com`
      const { id, token } = await registerAndLogin(t.app, email, PASSWORD)
      return { id, email, token }
    }

    async function makeSuperuser(id: number): Promise<void> {
      await t.store.db.updateTable('users').set({ is_superuser: 1 }).where('id', '=', id).execute()
    }

    const as = (token: string) => ({
      get: (url: string) => t.app.inject({ url, headers: bearer(token) }),
      delete: (url: string) => t.app.inject({ method: 'DELETE', url, headers: bearer(token) }),
      patch: (url: string, payload: unknown) =>
        t.app.inject({ method: 'PATCH', url, headers: bearer(token), payload: payload as object }),
    })
    const admin = () => as(adminToken)

    before(async () => {
      t = await startTestApp({ create })
      const registered = await register(t.app, 'root@example.com', PASSWORD)
      assert.equal(registered.statusCode, 201)
      adminId = registered.json().id
      await makeSuperuser(adminId)
      adminToken = await login(t.app, 'root@example.com', PASSWORD)
    })
    after(() => t?.close())

    it('answers 401 without credentials and 403 SUPERUSER_REQUIRED for a user, on every route, changing nothing', async () => {
      const user = await account('plain')
      const routes: [string, string][] = [
        ['GET', '/admin/users'],
        ['GET', `/admin/users/${user.id}`],
        ['PATCH', `/admin/users/${user.id}`],
        ['DELETE', `/admin/users/${user.id}`],
        ['GET', `/admin/users/${user.id}/sessions`],
        ['DELETE', `/admin/users/${user.id}/sessions`],
        ['GET', `/admin/users/${user.id}/api-keys`],
        ['DELETE', `/admin/users/${user.id}/api-keys/AAAAAAAAAAAAAAAAAAAAAA`],
        ['GET', '/admin/audit'],
      ]
      for (const [method, url] of routes) {
        const payload = method === 'PATCH' ? { is_superuser: true } : undefined
        const anonymous = await t.app.inject({ method: method as 'GET', url, payload })
        assertCode(anonymous, 401, 'NOT_AUTHENTICATED', `${method} ${url} anonymous`)
        const refused = await t.app.inject({
          method: method as 'GET',
          url,
          payload,
          headers: bearer(user.token),
        })
        assertCode(refused, 403, 'SUPERUSER_REQUIRED', `${method} ${url} as a user`)
      }
      const me = await t.app.inject({ url: '/me', headers: bearer(user.token) })
      assert.equal(me.statusCode, 200, 'the user still exists and is signed in')
      assert.equal(me.json().is_superuser, false)
    })

    it("refuses a superuser's API key (403) before any lookup", async () => {
      const issued = await insertApiKey(t.store.db, {
        userId: adminId,
        name: 'ci',
        scopes: ['profile:read'],
        expiresAt: Date.now() + HOUR_MS,
      })
      for (const url of ['/admin/users', '/admin/audit']) {
        assertCode(await as(issued.key).get(url), 403, 'API_KEY_NOT_ALLOWED', url)
      }
    })

    it('lists users a page at a time, with filters, through next_cursor', async () => {
      const tag = `pg${Date.now()}`
      const made = [] as { id: number; email: string }[]
      for (let i = 0; i < 5; i++) made.push(await account(tag))
      const off = made[2] as { id: number }
      assert.equal((await admin().patch(`/admin/users/${off.id}`, { is_active: false })).statusCode, 200)

      const seen: WireUser[] = []
      let cursor: string | null = null
      do {
        const query = new URLSearchParams({ limit: '2', email_prefix: tag.toUpperCase(), is_active: 'true' })
        if (cursor) query.set('cursor', cursor)
        const response = await admin().get(`/admin/users?${query}`)
        assert.equal(response.statusCode, 200, response.body)
        const body = response.json() as { users: WireUser[]; next_cursor: string | null }
        assert.deepEqual(Object.keys(body).sort(), ['next_cursor', 'users'])
        seen.push(...body.users)
        cursor = body.next_cursor
      } while (cursor)
      assert.deepEqual(
        seen.map((u) => u.id),
        made.filter((u) => u.id !== off.id).map((u) => u.id),
      )
      for (const user of seen) {
        assert.deepEqual(Object.keys(user).sort(), [
          'created_at',
          'email',
          'id',
          'is_active',
          'is_superuser',
          'is_verified',
        ])
      }
      const inactive = await admin().get(`/admin/users?email_prefix=${tag}&is_active=false`)
      assert.deepEqual(
        (inactive.json().users as WireUser[]).map((u) => u.id),
        [off.id],
      )
      assert.equal(inactive.json().next_cursor, null)
    })

    it('answers 422 naming the query value for a bad cursor, limit, flag or unknown parameter', async () => {
      const cases: [string, string][] = [
        ['cursor=not-ours', 'querystring.cursor'],
        [`cursor=${Buffer.from('audit:3').toString('base64url')}`, 'querystring.cursor'],
        ['limit=0', 'querystring.limit'],
        ['limit=101', 'querystring.limit'],
        ['limit=abc', 'querystring.limit'],
        ['limit=1&limit=2', 'querystring.limit'],
        ['is_active=yes', 'querystring.is_active'],
        ['is_superuser=true', 'querystring.is_superuser'],
      ]
      for (const [query, field] of cases) {
        const response = await admin().get(`/admin/users?${query}`)
        assertCode(response, 422, 'VALIDATION_FAILED', query)
        assert.ok(namedFields(response).includes(field), `${query}: ${response.body}`)
      }
    })

    it('validates the id in the path: 422 for a non-number, 404 for an unknown one, never a 500', async () => {
      for (const id of ['abc', '-1', '1.5', '1e3', '%00', "1'%20or%201=1", '12345678901']) {
        const response = await admin().get(`/admin/users/${id}`)
        assert.ok([400, 422].includes(response.statusCode), `${id}: ${response.statusCode} ${response.body}`)
        assertNoStackTrace(response.body)
      }
      assertCode(await admin().get('/admin/users/abc'), 422, 'VALIDATION_FAILED')
      for (const id of ['999999', '0', '2147483648', '9999999999']) {
        assertCode(await admin().get(`/admin/users/${id}`), 404, 'NOT_FOUND', id)
        assertCode(await admin().patch(`/admin/users/${id}`, { is_verified: true }), 404, 'NOT_FOUND', id)
      }
      assertCode(await admin().delete('/admin/users/1/api-keys/short'), 422, 'VALIDATION_FAILED')
    })

    it('PATCH takes only the four fields: hashed_password, id or an empty body is a 422, nothing changes', async () => {
      const user = await account('patch')
      const smuggle = await admin().patch(`/admin/users/${user.id}`, {
        is_verified: true,
        hashed_password: 'x',
        id: 1,
      })
      assertCode(smuggle, 422, 'VALIDATION_FAILED')
      assert.deepEqual(namedFields(smuggle).sort(), ['body.hashed_password', 'body.id'])
      assertCode(await admin().patch(`/admin/users/${user.id}`, {}), 422, 'VALIDATION_FAILED', 'empty')
      assertCode(
        await admin().patch(`/admin/users/${user.id}`, { is_active: 'false' }),
        422,
        'VALIDATION_FAILED',
      )
      assertCode(await admin().patch(`/admin/users/${user.id}`, { email: 'nope' }), 422, 'VALIDATION_FAILED')
      assert.equal((await admin().get(`/admin/users/${user.id}`)).json().is_verified, false)

      const other = await account('patch-taken')
      assertCode(await admin().patch(`/admin/users/${user.id}`, { email: other.email }), 400, 'EMAIL_EXISTS')
      const changed = await admin().patch(`/admin/users/${user.id}`, {
        is_verified: true,
        email: `x-${user.email}`,
      })
      assert.equal(changed.statusCode, 200, changed.body)
      assert.equal(changed.json().email, `x-${user.email}`)
      assert.equal(changed.json().is_verified, true)
      // The user's token carries the new email at once.
      assert.equal(
        (await t.app.inject({ url: '/me', headers: bearer(user.token) })).json().email,
        `x-${user.email}`,
      )
    })

    it("deactivation refuses the user's token on its very next request; promotion ends its sessions", async () => {
      const user = await account('deactivate')
      assert.equal((await t.app.inject({ url: '/me', headers: bearer(user.token) })).statusCode, 200)
      const response = await admin().patch(`/admin/users/${user.id}`, { is_active: false })
      assert.equal(response.statusCode, 200, response.body)
      assert.equal(response.json().is_active, false)
      assertCode(await t.app.inject({ url: '/me', headers: bearer(user.token) }), 401, 'INVALID_TOKEN')
      // No new sign-in either.
      assert.equal(
        (
          await t.app.inject({
            method: 'POST',
            url: '/token',
            headers: { 'content-type': 'application/x-www-form-urlencoded' },
            payload: new URLSearchParams({ username: user.email, password: PASSWORD }).toString(),
          })
        ).statusCode,
        401,
      )

      const promoted = await account('promote')
      assert.equal(
        (await admin().patch(`/admin/users/${promoted.id}`, { is_superuser: true })).statusCode,
        200,
      )
      assertCode(await t.app.inject({ url: '/me', headers: bearer(promoted.token) }), 401, 'INVALID_TOKEN')
      const fresh = await login(t.app, promoted.email, PASSWORD)
      assert.equal(
        (await as(fresh).get('/admin/users?limit=1')).statusCode,
        200,
        'a new login is a superuser',
      )
      assert.equal(
        (await admin().patch(`/admin/users/${promoted.id}`, { is_superuser: false })).statusCode,
        200,
      )
      assertCode(await as(fresh).get('/admin/users?limit=1'), 401, 'INVALID_TOKEN')
    })

    it('refuses to demote, deactivate or delete the last active superuser (409)', async () => {
      await t.store.db.updateTable('users').set({ is_superuser: 0 }).where('id', '<>', adminId).execute()
      for (const body of [{ is_superuser: false }, { is_active: false }]) {
        assertCode(
          await admin().patch(`/admin/users/${adminId}`, body),
          409,
          'LAST_SUPERUSER',
          JSON.stringify(body),
        )
      }
      assertCode(await admin().delete(`/admin/users/${adminId}`), 409, 'LAST_SUPERUSER')
      assert.equal((await admin().get(`/admin/users/${adminId}`)).json().is_superuser, true)
      assert.equal((await admin().get('/admin/users?limit=1')).statusCode, 200, 'still signed in')
    })

    it('a stale session may read but not change (403 FRESH_SESSION_REQUIRED)', async () => {
      const token = await login(t.app, 'root@example.com', PASSWORD)
      // Signed in 20 minutes ago (past the 10-minute fresh window, within the idle hour), backdated
      // before its first use so no cached context holds the real creation time.
      await t.store.db
        .updateTable('access_tokens')
        .set({ created_at: Date.now() - 20 * 60_000 })
        .where('token_hash', '=', hashToken(token))
        .execute()
      const user = await account('stale')
      assert.equal((await as(token).get(`/admin/users/${user.id}`)).statusCode, 200)
      assertCode(
        await as(token).patch(`/admin/users/${user.id}`, { is_active: false }),
        403,
        'FRESH_SESSION_REQUIRED',
      )
      assertCode(await as(token).delete(`/admin/users/${user.id}/sessions`), 403, 'FRESH_SESSION_REQUIRED')
      assert.equal((await t.app.inject({ url: '/me', headers: bearer(user.token) })).statusCode, 200)
    })

    it("lists and ends a user's sessions, lists and revokes its keys; another user's key is a 404", async () => {
      const user = await account('sessions')
      const second = await login(t.app, user.email, PASSWORD)
      const other = await account('sessions-other')
      const key = await insertApiKey(t.store.db, {
        userId: user.id,
        name: 'backup',
        scopes: ['profile:read'],
        expiresAt: Date.now() + HOUR_MS,
      })
      const foreign = await insertApiKey(t.store.db, {
        userId: other.id,
        name: 'theirs',
        scopes: ['profile:read'],
        expiresAt: Date.now() + HOUR_MS,
      })

      const listed = await admin().get(`/admin/users/${user.id}/sessions`)
      assert.equal(listed.statusCode, 200)
      assert.equal(listed.json().length, 2)
      assert.ok(!listed.body.includes(user.token) && !listed.body.includes(second))
      const keys = await admin().get(`/admin/users/${user.id}/api-keys`)
      assert.deepEqual(
        (keys.json() as { id: string }[]).map((k) => k.id),
        [key.id],
      )
      assert.ok(!keys.body.includes(key.key), 'never the key itself')

      const ended = await admin().delete(`/admin/users/${user.id}/sessions`)
      assert.equal(ended.statusCode, 204, ended.body)
      assert.equal(ended.body, '')
      for (const token of [user.token, second]) {
        assertCode(await t.app.inject({ url: '/me', headers: bearer(token) }), 401, 'INVALID_TOKEN')
      }
      assert.equal((await t.app.inject({ url: '/me', headers: bearer(other.token) })).statusCode, 200)
      assert.deepEqual((await admin().get(`/admin/users/${user.id}/sessions`)).json(), [])

      assertCode(await admin().delete(`/admin/users/${user.id}/api-keys/${foreign.id}`), 404, 'NOT_FOUND')
      assert.equal((await admin().get(`/admin/users/${other.id}/api-keys`)).json().length, 1)
      assert.equal((await admin().delete(`/admin/users/${user.id}/api-keys/${key.id}`)).statusCode, 204)
      assert.deepEqual((await admin().get(`/admin/users/${user.id}/api-keys`)).json(), [])
    })

    it('deletes an account: 204, its token refused, then 404', async () => {
      const user = await account('delete')
      const response = await admin().delete(`/admin/users/${user.id}`)
      assert.equal(response.statusCode, 204, response.body)
      assertCode(await t.app.inject({ url: '/me', headers: bearer(user.token) }), 401, 'INVALID_TOKEN')
      assertCode(await admin().get(`/admin/users/${user.id}`), 404, 'NOT_FOUND')
      assertCode(await admin().delete(`/admin/users/${user.id}`), 404, 'NOT_FOUND')
    })

    it('a cookie session needs its CSRF token for a change', async () => {
      const user = await account('csrf')
      const browser = await loginWithCookie(t.app, 'root@example.com', PASSWORD)
      const url = `/admin/users/${user.id}`
      const refused = await t.app.inject({
        method: 'PATCH',
        url,
        headers: sessionCookieOnly(browser),
        payload: { is_verified: true },
      })
      assertCode(refused, 403, 'CSRF_FAILED')
      assert.equal((await admin().get(url)).json().is_verified, false)
      const read = await t.app.inject({ url, headers: sessionCookieOnly(browser) })
      assert.equal(read.statusCode, 200, 'a read needs no CSRF token')
      const allowed = await t.app.inject({
        method: 'PATCH',
        url,
        headers: sessionHeaders(browser),
        payload: { is_verified: true },
      })
      assert.equal(allowed.statusCode, 200, allowed.body)
      assert.equal(allowed.json().is_verified, true)
    })

    it('GET /admin/audit: every change names its actor; filters by user and type; pages; checks its query', async () => {
      const user = await account('audited')
      assert.equal((await admin().patch(`/admin/users/${user.id}`, { is_verified: true })).statusCode, 200)
      assert.equal((await admin().delete(`/admin/users/${user.id}/sessions`)).statusCode, 204)

      const response = await admin().get(`/admin/audit?user_id=${user.id}`)
      assert.equal(response.statusCode, 200, response.body)
      const { events } = response.json() as { events: Record<string, unknown>[] }
      assert.deepEqual(
        events.map((e) => [e.type, e.actor_id, e.reason]),
        [
          ['admin.sessions_revoked', adminId, 'by_admin'],
          ['admin.user_updated', adminId, 'is_verified'],
          ['login.succeeded', null, null],
        ],
      )
      assert.deepEqual(Object.keys(events[0] ?? {}).sort(), [
        'actor_id',
        'at',
        'id',
        'ip',
        'reason',
        'session_id',
        'type',
        'user_agent',
        'user_id',
      ])
      assert.ok(events.every((e) => e.user_id === user.id))

      const typed = await admin().get(`/admin/audit?type=admin.user_updated&user_id=${user.id}`)
      assert.deepEqual(
        (typed.json().events as { type: string }[]).map((e) => e.type),
        ['admin.user_updated'],
      )
      const future = new Date(Date.now() + HOUR_MS).toISOString()
      assert.deepEqual(
        (await admin().get(`/admin/audit?since=${encodeURIComponent(future)}`)).json().events,
        [],
      )

      const first = await admin().get(`/admin/audit?user_id=${user.id}&limit=2`)
      const cursor = first.json().next_cursor as string
      assert.ok(cursor)
      const rest = await admin().get(`/admin/audit?user_id=${user.id}&limit=2&cursor=${cursor}`)
      assert.deepEqual(
        [...first.json().events, ...rest.json().events].map((e: { id: number }) => e.id),
        events.map((e) => e.id),
      )
      assert.equal(rest.json().next_cursor, null)

      for (const [query, field] of [
        ['since=yesterday', 'querystring.since'],
        ['limit=201', 'querystring.limit'],
        ['user_id=abc', 'querystring.user_id'],
        ['cursor=zzz', 'querystring.cursor'],
        ['actor=1', 'querystring.actor'],
      ] as const) {
        const refused = await admin().get(`/admin/audit?${query}`)
        assertCode(refused, 422, 'VALIDATION_FAILED', query)
        assert.ok(namedFields(refused).includes(field), `${query}: ${refused.body}`)
      }
    })

    it("ends every account's sessions but the superuser's own (DELETE /admin/sessions); keys stay", async () => {
      const first = await account('everyone')
      const second = await account('everyone')
      const key = await insertApiKey(t.store.db, {
        userId: first.id,
        name: 'stays',
        scopes: ['profile:read'],
        expiresAt: Date.now() + HOUR_MS,
      })
      assertCode(await as(first.token).delete('/admin/sessions'), 403, 'SUPERUSER_REQUIRED')
      assert.equal((await t.app.inject({ url: '/me', headers: bearer(second.token) })).statusCode, 200)

      const ended = await admin().delete('/admin/sessions')
      assert.equal(ended.statusCode, 204, ended.body)
      for (const token of [first.token, second.token]) {
        assertCode(await t.app.inject({ url: '/me', headers: bearer(token) }), 401, 'INVALID_TOKEN')
      }
      assert.equal(
        (await admin().get('/admin/users?limit=1')).statusCode,
        200,
        "the superuser's session stays",
      )
      assert.equal(
        (await t.app.inject({ url: '/me', headers: bearer(key.key) })).statusCode,
        200,
        'keys stay',
      )
      const trail = await admin().get('/admin/audit?type=admin.sessions_revoked')
      assert.ok(
        (trail.json().events as { reason: string; actor_id: number }[]).some(
          (event) => event.reason === 'by_admin:all_users' && event.actor_id === adminId,
        ),
        trail.body,
      )
    })

    it('documents every admin route under the admin tag with its refusals', async () => {
      const doc = (await t.app.inject({ url: '/openapi.json' })).json()
      const expected: [string, string, string[]][] = [
        ['/admin/users', 'get', ['200', '401', '403', '422']],
        ['/admin/users/{id}', 'get', ['200', '401', '403', '404', '422']],
        ['/admin/users/{id}', 'patch', ['200', '400', '401', '403', '404', '409', '422']],
        ['/admin/users/{id}', 'delete', ['204', '401', '403', '404', '409', '422']],
        ['/admin/users/{id}/sessions', 'get', ['200', '401', '403', '404', '422']],
        ['/admin/users/{id}/sessions', 'delete', ['204', '401', '403', '404', '422']],
        ['/admin/users/{id}/api-keys', 'get', ['200', '401', '403', '404', '422']],
        ['/admin/users/{id}/api-keys/{key_id}', 'delete', ['204', '401', '403', '404', '422']],
        ['/admin/audit', 'get', ['200', '401', '403', '422']],
      ]
      for (const [path, method, statuses] of expected) {
        const operation = doc.paths[path]?.[method]
        assert.ok(operation, `${method} ${path}`)
        assert.deepEqual(operation.tags, ['admin'])
        assert.deepEqual(Object.keys(operation.responses).sort(), statuses, `${method} ${path}`)
        assert.ok((operation.security ?? []).length > 0, `${method} ${path} has a lock`)
      }
    })
  })
}
