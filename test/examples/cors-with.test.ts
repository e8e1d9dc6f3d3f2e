import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { LightMyRequestResponse } from 'fastify'
import { build } from '../../examples/cors-with.ts'
import { corsHeaders, type ExampleApp, startExample } from './helpers.ts'

const FRONT_END = 'http://localhost:9000'
/** Origins an allowlist with prefix, suffix or substring matching would let through. */
const FOREIGN_ORIGINS = [
  'http://evil.example',
  'http://localhost:9000.evil.example',
  'http://evil-localhost:9000',
  'http://localhost:9001',
  'https://localhost:9000',
  'http://localhost',
  'null',
]

describe("cors-with example (the book's app_with_cors)", () => {
  let example: ExampleApp
  const seen: LightMyRequestResponse[] = []
  before(async () => {
    example = await startExample(build)
  })
  after(() => example?.close())

  async function send(
    method: 'GET' | 'POST' | 'OPTIONS',
    headers: Record<string, string>,
    payload?: object,
  ): Promise<LightMyRequestResponse> {
    const response = await example.app.inject({ method, url: '/', headers, ...(payload ? { payload } : {}) })
    seen.push(response)
    return response
  }
  const preflight = (origin: string) =>
    send('OPTIONS', {
      origin,
      'access-control-request-method': 'POST',
      'access-control-request-headers': 'content-type',
    })

  it("keeps the book's routes: GET / and POST / with the echoed JSON body", async () => {
    const get = await send('GET', {})
    assert.deepEqual(get.json(), { detail: 'GET response' })
    const post = await send('POST', {}, { hello: 'world' })
    assert.deepEqual(post.json(), { detail: 'POST response', input_payload: { hello: 'world' } })
  })

  it('lets http://localhost:9000 read GET and POST answers, with credentials', async () => {
    const get = await send('GET', { origin: FRONT_END })
    const post = await send('POST', { origin: FRONT_END }, { a: 1 })
    for (const response of [get, post]) {
      assert.equal(response.statusCode, 200)
      assert.equal(response.headers['access-control-allow-origin'], FRONT_END)
      assert.equal(response.headers['access-control-allow-credentials'], 'true')
      // The answer depends on Origin: caches must not hand it to another origin.
      assert.match(String(response.headers.vary), /\bOrigin\b/i)
    }
    assert.deepEqual(post.json(), { detail: 'POST response', input_payload: { a: 1 } })
  })

  it('answers a preflight from http://localhost:9000 with 204, methods, headers and max-age', async () => {
    const response = await preflight(FRONT_END)
    assert.equal(response.statusCode, 204)
    assert.equal(response.headers['access-control-allow-origin'], FRONT_END)
    assert.equal(response.headers['access-control-allow-credentials'], 'true')
    const methods = String(response.headers['access-control-allow-methods']).split(/,\s*/)
    assert.ok(methods.includes('POST'), `allow-methods: ${methods}`)
    const allowed = String(response.headers['access-control-allow-headers']).toLowerCase().split(/,\s*/)
    assert.ok(allowed.includes('content-type'), `allow-headers: ${allowed}`)
    assert.ok(allowed.includes('x-csrftoken'), `allow-headers: ${allowed}`)
    assert.equal(response.headers['access-control-max-age'], '600')
  })

  it('gives any other origin, look-alikes included, no Access-Control-Allow-Origin', async () => {
    for (const origin of FOREIGN_ORIGINS) {
      for (const response of [await send('GET', { origin }), await preflight(origin)]) {
        assert.equal(response.headers['access-control-allow-origin'], undefined, origin)
        assert.equal(response.headers['access-control-allow-credentials'], undefined, origin)
      }
    }
  })

  it('sends no CORS header to a request without Origin (same-origin or not a browser)', async () => {
    assert.deepEqual(corsHeaders(await send('GET', {})), [])
  })

  it('never answers with a wildcard "*" in any header', async () => {
    await send('GET', { origin: 'http://evil.example' })
    await preflight('http://evil.example')
    assert.ok(seen.length > 10)
    for (const response of seen) {
      for (const [name, value] of Object.entries(response.headers)) {
        if (name.startsWith('access-control-')) assert.doesNotMatch(String(value), /\*/, name)
      }
    }
  })
})
