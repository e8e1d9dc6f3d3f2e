/**
 * No state changes on a safe method (RFC 9110 §9.2.1; ASVS 5.0 V3.5.3): every path that changes
 * something answers GET and HEAD, sent with a live session cookie, without ending the session,
 * the account's keys or anything else — a link or an <img> can never log out, revoke or delete.
 * And a password set long ago still signs in: there is no forced rotation (NIST SP 800-63B-4
 * §3.1.1.2; ASVS 5.0 V6.2.10).
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { insertApiKey } from '../../src/accounts/api-key-store.ts'
import { loginWithCookie, sessionCookieOnly } from '../helpers/browser-session.ts'
import { dialects } from '../helpers/databases.ts'
import { login, register, startTestApp, type TestApp } from '../helpers/test-app.ts'

const PASSWORD = 'safe-methods-password'
const { create } = dialects()[0] as ReturnType<typeof dialects>[number]

describe('safe methods change nothing', () => {
  let t: TestApp
  before(async () => {
    t = await startTestApp({ create })
  })
  after(() => t?.close())

  it('GET and HEAD on every path that has an unsafe method leave the session, keys and account as they were', async () => {
    const email = 'safe@example.com'
    const registered = await register(t.app, email, PASSWORD)
    const userId = registered.json().id as number
    await t.store.db.updateTable('users').set({ is_superuser: 1 }).where('id', '=', userId).execute()
    const browser = await loginWithCookie(t.app, email, PASSWORD)
    await insertApiKey(t.store.db, {
      userId,
      name: 'k',
      scopes: ['profile:read'],
      expiresAt: Date.now() + 3_600_000,
    })
    const snapshot = async () => ({
      tokens: (await t.store.db.selectFrom('access_tokens').select('id').execute()).length,
      keys: (await t.store.db.selectFrom('api_keys').select('id').execute()).length,
      user: await t.store.db.selectFrom('users').selectAll().where('id', '=', userId).executeTakeFirst(),
    })
    const before = await snapshot()

    const document = (await t.app.inject({ url: '/openapi.json' })).json() as {
      paths: Record<string, Record<string, unknown>>
    }
    const unsafe = Object.entries(document.paths).filter(([, operations]) =>
      Object.keys(operations).some((method) => ['post', 'put', 'patch', 'delete'].includes(method)),
    )
    assert.ok(unsafe.length >= 10, `${unsafe.length} paths with unsafe methods`)
    for (const [path] of unsafe) {
      const url = path.replace('{user_id}', String(userId)).replace('{id}', String(userId))
      for (const method of ['GET', 'HEAD'] as const) {
        const response = await t.app.inject({ method, url, headers: sessionCookieOnly(browser) })
        assert.ok(response.statusCode < 500, `${method} ${url}: ${response.statusCode}`)
      }
    }
    assert.deepEqual(await snapshot(), before)
    const me = await t.app.inject({ url: '/me', headers: sessionCookieOnly(browser) })
    assert.equal(me.statusCode, 200, 'the session is still live')
  })

  it('a password set ten years ago still signs in: no forced rotation', async () => {
    const email = 'old-password@example.com'
    assert.equal((await register(t.app, email, PASSWORD)).statusCode, 201)
    const tenYearsAgo = Date.now() - 10 * 365 * 86_400_000
    await t.store.db
      .updateTable('users')
      .set({ created_at: tenYearsAgo, updated_at: tenYearsAgo })
      .where('email', '=', email)
      .execute()
    assert.ok(await login(t.app, email, PASSWORD))
  })
})
