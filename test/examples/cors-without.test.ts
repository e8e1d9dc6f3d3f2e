import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { build } from '../../examples/cors-without.ts'
import { corsHeaders, type ExampleApp, startExample } from './helpers.ts'

const FRONT_END = 'http://localhost:9000'

describe("cors-without example (the book's app_without_cors)", () => {
  let example: ExampleApp
  before(async () => {
    example = await startExample(build)
  })
  after(() => example?.close())

  it('GET / answers {"detail": "GET response"}', async () => {
    const response = await example.app.inject({ method: 'GET', url: '/' })
    assert.equal(response.statusCode, 200)
    assert.deepEqual(response.json(), { detail: 'GET response' })
  })

  it('POST / echoes the JSON body as input_payload', async () => {
    const payload = { hello: 'world', nested: { list: [1, 2, 3] } }
    const response = await example.app.inject({ method: 'POST', url: '/', payload })
    assert.equal(response.statusCode, 200)
    assert.deepEqual(response.json(), { detail: 'POST response', input_payload: payload })
  })

  it('sends no Access-Control-* header to a cross-origin GET or POST: the browser blocks the read', async () => {
    const get = await example.app.inject({ method: 'GET', url: '/', headers: { origin: FRONT_END } })
    const post = await example.app.inject({
      method: 'POST',
      url: '/',
      headers: { origin: FRONT_END },
      payload: { a: 1 },
    })
    for (const response of [get, post]) {
      assert.equal(response.statusCode, 200)
      assert.deepEqual(corsHeaders(response), [])
    }
  })

  it('does not answer a preflight: no route for OPTIONS and no CORS header', async () => {
    const response = await example.app.inject({
      method: 'OPTIONS',
      url: '/',
      headers: {
        origin: FRONT_END,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type',
      },
    })
    assert.equal(response.statusCode, 404)
    assert.deepEqual(corsHeaders(response), [])
  })
})
