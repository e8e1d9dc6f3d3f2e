/**
 * The book's two API key apps answer alike: one suite, run by api-key-header.test.ts and
 * api-key-dependency.test.ts against their own example.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { FastifyInstance, InjectOptions } from 'fastify'
import { type ExampleApp, startExample } from './helpers.ts'

const BOOK_KEY = 'SECRET_API_TOKEN'
const DENIED = { detail: 'Not authenticated', code: 'INVALID_API_KEY' }

const get = (app: FastifyInstance, options: Omit<InjectOptions, 'method' | 'url'> = {}) =>
  app.inject({ method: 'GET', url: '/protected-route', ...options })

function assertDenied(response: Awaited<ReturnType<typeof get>>, label: string): void {
  assert.equal(response.statusCode, 403, label)
  assert.deepEqual(response.json(), DENIED, label)
  // FastAPI's APIKeyHeader answers 403 without a challenge; a 403 needs none (RFC 9110 §15.5.4).
  assert.equal(response.headers['www-authenticate'], undefined, label)
}

export function apiKeyExampleSuite(name: string, build: () => Promise<FastifyInstance>): void {
  describe(`${name} example with API_TOKEN unset`, () => {
    let example: ExampleApp
    before(async () => {
      example = await startExample(build, { API_TOKEN: undefined })
    })
    after(() => example?.close())

    it('answers 200 {"hello": "world"} to the book\'s key in the Token header', async () => {
      const response = await get(example.app, { headers: { Token: BOOK_KEY } })
      assert.equal(response.statusCode, 200)
      assert.deepEqual(response.json(), { hello: 'world' })
    })

    it('reads the header name case-insensitively, as HTTP requires', async () => {
      const response = await get(example.app, { headers: { token: BOOK_KEY } })
      assert.equal(response.statusCode, 200)
    })

    it('answers 403 when the Token header is missing', async () => {
      assertDenied(await get(example.app), 'no header')
    })

    it('answers a wrong key exactly like a missing one (403, same body)', async () => {
      for (const wrong of ['wrong', `${BOOK_KEY}x`, BOOK_KEY.slice(0, -1), BOOK_KEY.toLowerCase(), '']) {
        assertDenied(await get(example.app, { headers: { Token: wrong } }), JSON.stringify(wrong))
      }
    })

    it('accepts the key in the Token header only, not in another header, the query or a cookie', async () => {
      const elsewhere: [string, Omit<InjectOptions, 'method' | 'url'>][] = [
        ['Authorization', { headers: { authorization: `Bearer ${BOOK_KEY}` } }],
        ['X-API-Key', { headers: { 'x-api-key': BOOK_KEY } }],
        ['query', { query: { Token: BOOK_KEY } }],
        ['cookie', { cookies: { Token: BOOK_KEY } }],
      ]
      for (const [label, options] of elsewhere) assertDenied(await get(example.app, options), label)
    })

    it('guards only /protected-route: an unknown path is still 404', async () => {
      const response = await example.app.inject({
        method: 'GET',
        url: '/other',
        headers: { Token: BOOK_KEY },
      })
      assert.equal(response.statusCode, 404)
    })
  })

  describe(`${name} example with API_TOKEN set`, () => {
    let example: ExampleApp
    before(async () => {
      example = await startExample(build, { API_TOKEN: 'env-key-0123456789' })
    })
    after(() => example?.close())

    it('accepts the key from API_TOKEN', async () => {
      const response = await get(example.app, { headers: { Token: 'env-key-0123456789' } })
      assert.equal(response.statusCode, 200)
      assert.deepEqual(response.json(), { hello: 'world' })
    })

    it("refuses the book's default key once API_TOKEN is set", async () => {
      assertDenied(await get(example.app, { headers: { Token: BOOK_KEY } }), 'book key')
    })
  })

  it(`${name} example refuses to start with an empty API_TOKEN instead of accepting an empty key`, async () => {
    await assert.rejects(startExample(build, { API_TOKEN: '' }), /non-empty string/)
  })
}
