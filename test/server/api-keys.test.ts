/**
 * Personal API keys over HTTP: created once with a name, scopes and an expiry, shown once, stored
 * as SHA-256; a key opens only routes naming one of its scopes (403 insufficient_scope otherwise),
 * never from a cookie or the query string, and never credentials, sessions or other keys.
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import type { LightMyRequestResponse } from 'fastify'
import { loginWithCookie, sessionHeaders } from '../helpers/browser-session.ts'
import { dialects } from '../helpers/databases.ts'
import {
  assertNoStackTrace,
  bearer,
  registerAndLogin,
  startTestApp,
  type TestApp,
} from '../helpers/test-app.ts'

const PASSWORD = 'api-keys-suite-password'
const KEY_PATTERN = /^ghk_[A-Za-z0-9_-]{43}$/

interface WireKey {
  id: string
  name: string
  scopes: string[]
  prefix: string
  created_at: string
  last_used_at: string | null
  expires_at: string
  key?: string
}

let userCount = 0
async function newUser(t: TestApp): Promise<{ id: number; token: string; email: string }> {
  const email = `keys-${++userCount}@example.com`
  return { ...(await registerAndLogin(t.app, email, PASSWORD)), email }
}

function createKey(
  t: TestApp,
  token: string,
  payload: Record<string, unknown> = { name: 'backup script', scopes: ['profile:read'], expires_in_days: 30 },
): Promise<LightMyRequestResponse> {
  return t.app.inject({ method: 'POST', url: '/api-keys', headers: bearer(token), payload })
}

async function created(
  t: TestApp,
  token: string,
  scopes = ['profile:read'],
): Promise<WireKey & { key: string }> {
  const response = await createKey(t, token, { name: 'a script', scopes, expires_in_days: 30 })
  assert.equal(response.statusCode, 201, response.body)
  return response.json()
}

function assertRefused(response: LightMyRequestResponse, status: number, code: string, what: string): void {
  assert.equal(response.statusCode, status, `${what}: ${response.body}`)
  assert.equal(response.json().code, code, what)
  assertNoStackTrace(response.body)
}

for (const { dialect, skip, create } of dialects()) {
  describe(`personal API keys (${dialect})`, { skip }, () => {
    let t: TestApp
    before(async () => {
      t = await startTestApp({ create })
    })
    after(() => t?.close())

    it('is shown once at creation, then listed by id, name, scopes and prefix only', async () => {
      const user = await newUser(t)
      const response = await createKey(t, user.token)
      assert.equal(response.statusCode, 201, response.body)
      assert.equal(response.headers['cache-control'], 'no-store')
      const key = response.json() as WireKey & { key: string }
      assert.match(key.key, KEY_PATTERN)
      assert.equal(key.name, 'backup script')
      assert.deepEqual(key.scopes, ['profile:read'])
      assert.ok(key.key.startsWith(key.prefix) && key.prefix.length === 10, key.prefix)
      const days = (Date.parse(key.expires_at) - Date.parse(key.created_at)) / 86_400_000
      assert.equal(Math.round(days), 30)

      const list = await t.app.inject({ url: '/api-keys', headers: bearer(user.token) })
      assert.equal(list.statusCode, 200, list.body)
      const keys = list.json() as WireKey[]
      assert.equal(keys.length, 1)
      assert.deepEqual(Object.keys(keys[0] as WireKey).sort(), [
        'created_at',
        'expires_at',
        'id',
        'last_used_at',
        'name',
        'prefix',
        'scopes',
      ])
      assert.ok(!list.body.includes(key.key), 'the list never shows the key')
    })

    it('stores only the SHA-256 of the key: no column of the row holds the key', async () => {
      const user = await newUser(t)
      const key = await created(t, user.token)
      const row = await t.store.db
        .selectFrom('api_keys')
        .selectAll()
        .where('public_id', '=', key.id)
        .executeTakeFirstOrThrow()
      assert.equal(row.token_hash, createHash('sha256').update(key.key).digest('hex'))
      assert.ok(!JSON.stringify(row).includes(key.key.slice(4)), 'the secret is nowhere in the row')
    })

    it('authenticates a route naming its scope, as the key’s owner, and records the first use', async () => {
      const user = await newUser(t)
      const key = await created(t, user.token, ['profile:read', 'prefs:read'])
      const me = await t.app.inject({ url: '/me', headers: bearer(key.key) })
      assert.equal(me.statusCode, 200, me.body)
      assert.equal(me.json().id, user.id)
      const prefs = await t.app.inject({ url: `/prefs/${user.id}`, headers: bearer(key.key) })
      assert.equal(prefs.statusCode, 200, prefs.body)
      const listed = (
        await t.app.inject({ url: '/api-keys', headers: bearer(user.token) })
      ).json() as WireKey[]
      assert.ok(listed[0]?.last_used_at, 'last_used_at is set after a use')
    })

    it('answers 403 insufficient_scope, naming the scope needed, for a route outside its scopes', async () => {
      const user = await newUser(t)
      const key = await created(t, user.token, ['profile:read'])
      const write = await t.app.inject({
        method: 'POST',
        url: `/prefs/${user.id}`,
        headers: bearer(key.key),
        payload: { theme: 'dark' },
      })
      assertRefused(write, 403, 'INSUFFICIENT_SCOPE', 'prefs:write with a profile:read key')
      assert.equal(
        write.headers['www-authenticate'],
        'Bearer error="insufficient_scope", scope="prefs:write"',
      )
      // The owner's own token carries every scope.
      const own = await t.app.inject({
        method: 'POST',
        url: `/prefs/${user.id}`,
        headers: bearer(user.token),
        payload: { theme: 'dark' },
      })
      assert.equal(own.statusCode, 200, own.body)
    })

    it('can never manage credentials, sessions or keys, whatever its scopes', async () => {
      const user = await newUser(t)
      const key = await created(t, user.token, ['profile:read', 'prefs:read', 'prefs:write', 'audit:read'])
      const attempts: [string, string, Record<string, unknown> | undefined][] = [
        ['POST', '/api-keys', { name: 'more', scopes: ['profile:read'], expires_in_days: 1 }],
        ['GET', '/api-keys', undefined],
        ['DELETE', `/api-keys/${key.id}`, undefined],
        ['POST', '/me/password', { current_password: PASSWORD, new_password: 'another-password-123' }],
        ['PATCH', '/me', { email: 'taken-over@example.com' }],
        ['GET', '/sessions', undefined],
        ['DELETE', '/sessions', undefined],
        ['POST', '/logout', undefined],
      ]
      for (const [method, url, payload] of attempts) {
        const response = await t.app.inject({
          method: method as 'GET',
          url,
          headers: bearer(key.key),
          ...(payload ? { payload } : {}),
        })
        assertRefused(response, 403, 'API_KEY_NOT_ALLOWED', `${method} ${url}`)
        assert.match(String(response.headers['www-authenticate']), /error="insufficient_scope"/)
      }
      // Nothing changed: the key and the session still work, the email is the same.
      const me = await t.app.inject({ url: '/me', headers: bearer(key.key) })
      assert.equal(me.json().email, user.email)
      assert.equal((await t.app.inject({ url: '/sessions', headers: bearer(user.token) })).statusCode, 200)
    })

    it('is refused from the session cookie and ignored in the query string', async () => {
      const user = await newUser(t)
      const key = await created(t, user.token)
      const asCookie = await t.app.inject({ url: '/me', headers: { cookie: `token=${key.key}` } })
      assertRefused(asCookie, 401, 'INVALID_TOKEN', 'a key as the session cookie')
      const inQuery = await t.app.inject({ url: `/me?access_token=${key.key}&api_key=${key.key}` })
      assertRefused(inQuery, 401, 'NOT_AUTHENTICATED', 'a key in the query string')
    })

    it('is refused once revoked; another user’s key id is a 404 and that key keeps working', async () => {
      const owner = await newUser(t)
      const other = await newUser(t)
      const key = await created(t, owner.token)
      const foreign = await t.app.inject({
        method: 'DELETE',
        url: `/api-keys/${key.id}`,
        headers: bearer(other.token),
      })
      assertRefused(foreign, 404, 'NOT_FOUND', 'revoking another user’s key')
      assert.equal((await t.app.inject({ url: '/me', headers: bearer(key.key) })).statusCode, 200)

      const revoked = await t.app.inject({
        method: 'DELETE',
        url: `/api-keys/${key.id}`,
        headers: bearer(owner.token),
      })
      assert.equal(revoked.statusCode, 204, revoked.body)
      assertRefused(
        await t.app.inject({ url: '/me', headers: bearer(key.key) }),
        401,
        'INVALID_TOKEN',
        'revoked key',
      )
      const again = await t.app.inject({
        method: 'DELETE',
        url: `/api-keys/${key.id}`,
        headers: bearer(owner.token),
      })
      assertRefused(again, 404, 'NOT_FOUND', 'revoking twice')
    })

    it('refuses unknown or malformed keys alike, and an expired key', async () => {
      const user = await newUser(t)
      const key = await created(t, user.token)
      const unknown = `ghk_${'A'.repeat(43)}`
      for (const presented of [unknown, 'ghk_short', `${key.key}x`]) {
        assertRefused(
          await t.app.inject({ url: '/me', headers: bearer(presented) }),
          401,
          'INVALID_TOKEN',
          `key ${presented.slice(0, 8)}…`,
        )
      }
      await t.store.db
        .updateTable('api_keys')
        .set({ expires_at: Date.now() - 1000 })
        .where('public_id', '=', key.id)
        .execute()
      assertRefused(
        await t.app.inject({ url: '/me', headers: bearer(key.key) }),
        401,
        'INVALID_TOKEN',
        'expired key',
      )
    })

    it('validates what it creates: known scopes, a bounded expiry, a printable name, no other field', async () => {
      const user = await newUser(t)
      const cases: [Record<string, unknown>, number, string][] = [
        [{ name: 'x', scopes: ['admin:everything'], expires_in_days: 1 }, 422, 'UNKNOWN_SCOPE'],
        [{ name: 'x', scopes: [], expires_in_days: 1 }, 422, 'VALIDATION_FAILED'],
        [{ name: 'x', scopes: ['profile:read'] }, 422, 'VALIDATION_FAILED'],
        [{ name: 'x', scopes: ['profile:read'], expires_in_days: 366 }, 422, 'VALIDATION_FAILED'],
        [{ name: 'x', scopes: ['profile:read'], expires_in_days: 0 }, 422, 'VALIDATION_FAILED'],
        [
          { name: 'bad\u001b[31mname', scopes: ['profile:read'], expires_in_days: 1 },
          422,
          'VALIDATION_FAILED',
        ],
        [{ name: '   ', scopes: ['profile:read'], expires_in_days: 1 }, 422, 'VALIDATION_FAILED'],
        [{ name: 'zero\u200bwidth', scopes: ['profile:read'], expires_in_days: 1 }, 422, 'VALIDATION_FAILED'],
        [{ name: 'bidi\u200fmark', scopes: ['profile:read'], expires_in_days: 1 }, 422, 'VALIDATION_FAILED'],
        [{ name: 'line\u2028break', scopes: ['profile:read'], expires_in_days: 1 }, 422, 'VALIDATION_FAILED'],
        [{ name: 'lone\ud800half', scopes: ['profile:read'], expires_in_days: 1 }, 422, 'VALIDATION_FAILED'],
        [{ name: 'x', scopes: ['profile:read'], expires_in_days: 1, user_id: 1 }, 422, 'VALIDATION_FAILED'],
      ]
      for (const [payload, status, code] of cases) {
        const response = await createKey(t, user.token, payload)
        assertRefused(response, status, code, JSON.stringify(payload))
        assert.ok(!response.body.includes('admin:everything'), 'the request is not echoed')
      }
      const list = (await t.app.inject({ url: '/api-keys', headers: bearer(user.token) })).json() as WireKey[]
      assert.equal(list.length, 0)
    })

    it('needs the current password once the login is no longer fresh', async () => {
      const stale = await startTestApp({ create, env: { FRESH_SESSION_SECONDS: '0' } })
      try {
        const user = await registerAndLogin(stale.app, 'stale@example.com', PASSWORD)
        const body = { name: 'ci', scopes: ['profile:read'], expires_in_days: 7 }
        assertRefused(await createKey(stale, user.token, body), 403, 'FRESH_SESSION_REQUIRED', 'no password')
        const wrong = await createKey(stale, user.token, { ...body, current_password: 'not-the-password' })
        assertRefused(wrong, 403, 'FRESH_SESSION_REQUIRED', 'wrong password')
        const right = await createKey(stale, user.token, { ...body, current_password: PASSWORD })
        assert.equal(right.statusCode, 201, right.body)
      } finally {
        await stale.close()
      }
    })

    it('counts a wrong current_password like a failed login: guesses through key creation get throttled', async () => {
      const stale = await startTestApp({ create, env: { FRESH_SESSION_SECONDS: '0' } })
      try {
        const user = await registerAndLogin(stale.app, 'guessed@example.com', PASSWORD)
        const body = { name: 'ci', scopes: ['profile:read'], expires_in_days: 7 }
        for (let guess = 0; guess < 10; guess++) {
          const wrong = await createKey(stale, user.token, {
            ...body,
            current_password: `guess-${guess}-wrong`,
          })
          assertRefused(wrong, 403, 'FRESH_SESSION_REQUIRED', `guess ${guess}`)
        }
        // The account's limit is reached: even the right password is refused until the block ends.
        const blocked = await createKey(stale, user.token, { ...body, current_password: PASSWORD })
        assertRefused(blocked, 429, 'RATE_LIMITED', 'after 10 wrong passwords')
        assert.ok(Number(blocked.headers['retry-after']) > 0)
      } finally {
        await stale.close()
      }
    })

    it('from a cookie session, needs the CSRF token like every unsafe request', async () => {
      const user = await newUser(t)
      const browser = await loginWithCookie(t.app, user.email, PASSWORD)
      const payload = { name: 'browser', scopes: ['profile:read'], expires_in_days: 1 }
      const withoutToken = await t.app.inject({
        method: 'POST',
        url: '/api-keys',
        headers: { cookie: sessionHeaders(browser).cookie },
        payload,
      })
      assertRefused(withoutToken, 403, 'CSRF_FAILED', 'no CSRF token')
      const withToken = await t.app.inject({
        method: 'POST',
        url: '/api-keys',
        headers: sessionHeaders(browser),
        payload,
      })
      assert.equal(withToken.statusCode, 201, withToken.body)
    })

    it('ends with a password change by default, as sessions do', async () => {
      const user = await newUser(t)
      const key = await created(t, user.token)
      const changed = await t.app.inject({
        method: 'POST',
        url: '/me/password',
        headers: bearer(user.token),
        payload: { current_password: PASSWORD, new_password: 'changed-password-456' },
      })
      assert.ok(changed.statusCode < 300, changed.body)
      assertRefused(
        await t.app.inject({ url: '/me', headers: bearer(key.key) }),
        401,
        'INVALID_TOKEN',
        'after change',
      )
    })

    it('ends at once when the owner is deactivated', async () => {
      const user = await newUser(t)
      const key = await created(t, user.token)
      assert.equal((await t.app.inject({ url: '/me', headers: bearer(key.key) })).statusCode, 200)
      await t.app.gatehouse.accounts.setActive(user.id, false)
      assertRefused(
        await t.app.inject({ url: '/me', headers: bearer(key.key) }),
        401,
        'INVALID_TOKEN',
        'deactivated',
      )
      const rows = await t.store.db
        .selectFrom('api_keys')
        .select('id')
        .where('user_id', '=', user.id)
        .execute()
      assert.equal(rows.length, 0, 'the key rows are gone')
    })

    it('joins the audit trail when created and revoked, without the key', async () => {
      const user = await newUser(t)
      const key = await created(t, user.token)
      await t.app.inject({ method: 'DELETE', url: `/api-keys/${key.id}`, headers: bearer(user.token) })
      const trail = await t.app.inject({ url: '/me/audit', headers: bearer(user.token) })
      const types = (trail.json() as { type: string; reason: string | null }[]).map((entry) => entry.type)
      assert.ok(types.includes('api_key.created') && types.includes('api_key.revoked'), types.join())
      assert.ok(!trail.body.includes(key.key.slice(4)), 'no key in the trail')
    })

    it('is documented: the key scheme and each route’s scopes in /openapi.json', async () => {
      const response = await t.app.inject({ url: '/openapi.json' })
      assert.equal(response.statusCode, 200)
      const document = response.json()
      assert.equal(document.components.securitySchemes.APIKeyBearer.scheme, 'bearer')
      const flows = document.components.securitySchemes.OAuth2PasswordBearer.flows
      assert.equal(flows.password.scopes['prefs:write'], 'Change your preferences')
      const security = document.paths['/me'].get.security as Record<string, string[]>[]
      assert.ok(
        security.some((requirement) => requirement.APIKeyBearer?.[0] === 'profile:read'),
        JSON.stringify(security),
      )
      const keysSecurity = document.paths['/api-keys'].post.security as Record<string, string[]>[]
      assert.ok(!keysSecurity.some((requirement) => 'APIKeyBearer' in requirement), 'keys cannot create keys')
    })
  })
}

describe('personal API keys: configuration', () => {
  const { create } = dialects()[0] as ReturnType<typeof dialects>[number]

  it('PASSWORD_CHANGE_ENDS_API_KEYS=0 keeps keys through a password change', async () => {
    const t = await startTestApp({ create, env: { PASSWORD_CHANGE_ENDS_API_KEYS: '0' } })
    try {
      const user = await registerAndLogin(t.app, 'keeper@example.com', PASSWORD)
      const key = await created(t, user.token)
      const changed = await t.app.inject({
        method: 'POST',
        url: '/me/password',
        headers: bearer(user.token),
        payload: { current_password: PASSWORD, new_password: 'changed-password-456' },
      })
      assert.ok(changed.statusCode < 300, changed.body)
      assert.equal((await t.app.inject({ url: '/me', headers: bearer(key.key) })).statusCode, 200)
    } finally {
      await t.close()
    }
  })

  it('API_KEY_MAX_DAYS bounds the expiry a key may ask for', async () => {
    const t = await startTestApp({ create, env: { API_KEY_MAX_DAYS: '7' } })
    try {
      const user = await registerAndLogin(t.app, 'short@example.com', PASSWORD)
      const long = await createKey(t, user.token, { name: 'x', scopes: ['profile:read'], expires_in_days: 8 })
      assertRefused(long, 422, 'VALIDATION_FAILED', '8 days with a 7-day maximum')
      const ok = await createKey(t, user.token, { name: 'x', scopes: ['profile:read'], expires_in_days: 7 })
      assert.equal(ok.statusCode, 201, ok.body)
    } finally {
      await t.close()
    }
  })
})
