import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import Fastify, { type InjectOptions } from 'fastify'
import { GatehouseError } from '../../../src/core/errors.ts'
import { gatehouseErrorHandler } from '../../../src/fastify/error-handler.ts'
import {
  type ApiKeyOptions,
  apiKeyCookie,
  apiKeyHeader,
  apiKeyQuery,
  type SecurityDependency,
} from '../../../src/fastify/security/index.ts'
import { appWith } from './helpers.ts'

const KEY = 'k3y-0ne'
const OTHER_KEY = 'k3y-tw0'

/** Where each factory reads the key, and how a request carries it. */
const locations: {
  label: string
  factory: (options: ApiKeyOptions) => SecurityDependency
  carry: (key: string) => InjectOptions
}[] = [
  { label: 'apiKeyHeader', factory: apiKeyHeader, carry: (key) => ({ headers: { 'X-API-Key': key } }) },
  { label: 'apiKeyCookie', factory: apiKeyCookie, carry: (key) => ({ cookies: { 'X-API-Key': key } }) },
  { label: 'apiKeyQuery', factory: apiKeyQuery, carry: (key) => ({ query: { 'X-API-Key': key } }) },
]

for (const { label, factory, carry } of locations) {
  describe(`${label}`, () => {
    const request = (key?: string): InjectOptions => ({
      method: 'GET',
      url: '/protected',
      ...(key === undefined ? {} : carry(key)),
    })

    it('lets a request with a configured key through', async () => {
      const app = await appWith(factory({ name: 'X-API-Key', keys: [KEY] }))
      const response = await app.inject(request(KEY))
      assert.equal(response.statusCode, 200)
      assert.deepEqual(response.json(), { ok: true })
      await app.close()
    })

    it('answers a missing key 401 with a WWW-Authenticate: APIKey challenge by default', async () => {
      const app = await appWith(factory({ name: 'X-API-Key', keys: [KEY] }))
      const response = await app.inject(request())
      assert.equal(response.statusCode, 401)
      assert.equal(response.headers['www-authenticate'], 'APIKey')
      assert.deepEqual(response.json(), { detail: 'Not authenticated', code: 'NOT_AUTHENTICATED' })
      await app.close()
    })

    it('answers a wrong key exactly like a missing one', async () => {
      const app = await appWith(factory({ name: 'X-API-Key', keys: [KEY] }))
      const missing = await app.inject(request())
      for (const wrong of ['nope', `${KEY}x`, KEY.slice(0, -1), KEY.toUpperCase(), '']) {
        const response = await app.inject(request(wrong))
        assert.equal(response.statusCode, 401, wrong)
        assert.equal(response.body, missing.body, wrong)
        assert.equal(response.headers['www-authenticate'], 'APIKey', wrong)
      }
      await app.close()
    })

    it('answers missing and wrong keys 403 "Not authenticated" without a challenge when errorStatus is 403', async () => {
      const app = await appWith(factory({ name: 'X-API-Key', keys: [KEY], errorStatus: 403 }))
      for (const key of [undefined, 'nope']) {
        const response = await app.inject(request(key))
        assert.equal(response.statusCode, 403, String(key))
        assert.equal(response.headers['www-authenticate'], undefined, String(key))
        assert.deepEqual(response.json(), { detail: 'Not authenticated', code: 'INVALID_API_KEY' })
      }
      assert.equal((await app.inject(request(KEY))).statusCode, 200)
      await app.close()
    })

    it('accepts every configured key when two are configured, and nothing else', async () => {
      const app = await appWith(factory({ name: 'X-API-Key', keys: [KEY, OTHER_KEY] }))
      assert.equal((await app.inject(request(KEY))).statusCode, 200)
      assert.equal((await app.inject(request(OTHER_KEY))).statusCode, 200)
      assert.equal((await app.inject(request(`${KEY}${OTHER_KEY}`))).statusCode, 401)
      await app.close()
    })

    it('hands the key and the request to a verify callback', async () => {
      const seen: [string, string][] = []
      const app = await appWith(
        factory({
          name: 'X-API-Key',
          verify: async (key, req) => {
            seen.push([key, req.url])
            return key === KEY
          },
        }),
      )
      assert.equal((await app.inject(request(KEY))).statusCode, 200)
      assert.equal((await app.inject(request('nope'))).statusCode, 401)
      assert.deepEqual(
        seen.map(([key]) => key),
        [KEY, 'nope'],
      )
      assert.match(seen[0]?.[1] ?? '', /^\/protected/)
      await app.close()
    })

    it('never calls verify for a missing or empty key', async () => {
      let calls = 0
      const app = await appWith(
        factory({
          name: 'X-API-Key',
          verify: () => {
            calls++
            return true
          },
        }),
      )
      assert.equal((await app.inject(request())).statusCode, 401)
      assert.equal((await app.inject(request(''))).statusCode, 401)
      assert.equal(calls, 0)
      await app.close()
    })

    it('lets a GatehouseError from verify through, so the book examples can answer 403 Forbidden', async () => {
      const app = await appWith(
        factory({
          name: 'X-API-Key',
          errorStatus: 403,
          verify: (key) => {
            if (key !== KEY) throw new GatehouseError('FORBIDDEN')
            return true
          },
        }),
      )
      const response = await app.inject(request('nope'))
      assert.equal(response.statusCode, 403)
      assert.deepEqual(response.json(), { detail: 'Forbidden', code: 'FORBIDDEN' })
      await app.close()
    })
  })
}

describe('api key locations', () => {
  it('matches header names case-insensitively (RFC 9110 §5.1)', async () => {
    const app = await appWith(apiKeyHeader({ name: 'X-API-Key', keys: [KEY] }))
    const response = await app.inject({ url: '/protected', headers: { 'x-api-key': KEY } })
    assert.equal(response.statusCode, 200)
    await app.close()
  })

  it('reads the key only from its own location', async () => {
    const app = await appWith(apiKeyHeader({ name: 'X-API-Key', keys: [KEY] }))
    const inQuery = await app.inject({ url: '/protected', query: { 'X-API-Key': KEY } })
    const inCookie = await app.inject({ url: '/protected', cookies: { 'X-API-Key': KEY } })
    assert.deepEqual([inQuery.statusCode, inCookie.statusCode], [401, 401])
    await app.close()
  })

  it('refuses a query key given twice (an array is no credential)', async () => {
    const app = await appWith(apiKeyQuery({ name: 'key', keys: [KEY] }))
    const response = await app.inject({ url: `/protected?key=${KEY}&key=${KEY}` })
    assert.equal(response.statusCode, 401)
    await app.close()
  })

  it('matches cookie names exactly (cookie names are case-sensitive, RFC 6265 §5.3)', async () => {
    const app = await appWith(apiKeyCookie({ name: 'session_key', keys: [KEY] }))
    const response = await app.inject({ url: '/protected', cookies: { SESSION_KEY: KEY } })
    assert.equal(response.statusCode, 401)
    await app.close()
  })

  it('fails loudly with a generic 500 when @fastify/cookie is not registered', async () => {
    const app = Fastify({ logger: false })
    app.setErrorHandler(gatehouseErrorHandler)
    app.get('/protected', { onRequest: apiKeyCookie({ name: 'key', keys: [KEY] }) }, async () => ({
      ok: true,
    }))
    const response = await app.inject({ url: '/protected', headers: { cookie: `key=${KEY}` } })
    assert.equal(response.statusCode, 500)
    assert.deepEqual(response.json(), { detail: 'Internal Server Error', code: 'INTERNAL' })
    await app.close()
  })
})
