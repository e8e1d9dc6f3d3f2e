/**
 * The demo front end (buildDemoApp): its own origin, the HTML CSP whose connect-src names the API
 * origin and nothing inline, /config.json telling the page where the API is, its script served, and
 * JSON 404s for anything else.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { FastifyInstance } from 'fastify'
import { buildDemoApp } from '../../../src/server/demo-server.ts'
import { parseCsp } from '../../helpers/browser-session.ts'

// Not the default http://localhost:8000, so a value hard-coded in web/ could not pass.
const API = 'http://api.example.test:8123'

describe('demo server (buildDemoApp)', () => {
  let demo: FastifyInstance
  before(async () => {
    demo = await buildDemoApp({ apiBaseUrl: API })
    await demo.ready()
  })
  after(() => demo?.close())

  it('GET / serves the page under the HTML CSP: connect-src self + the API origin, no unsafe-inline anywhere', async () => {
    const response = await demo.inject({ url: '/' })
    assert.equal(response.statusCode, 200)
    assert.match(String(response.headers['content-type']), /^text\/html/)
    assert.match(response.body, /<title>Gatehouse demo<\/title>/)
    const csp = parseCsp(response.headers['content-security-policy'])
    assert.deepEqual(csp.get('connect-src'), ["'self'", API])
    assert.deepEqual(csp.get('script-src'), ["'self'"])
    assert.deepEqual(csp.get('frame-ancestors'), ["'none'"])
    assert.deepEqual(csp.get('object-src'), ["'none'"])
    for (const [name, sources] of csp) {
      assert.ok(!sources.includes("'unsafe-inline'"), `${name} allows 'unsafe-inline'`)
      assert.ok(!sources.includes("'unsafe-eval'"), `${name} allows 'unsafe-eval'`)
    }
    assert.equal(response.headers['referrer-policy'], 'strict-origin-when-cross-origin')
    assert.equal(response.headers['x-frame-options'], 'DENY')
    assert.equal(response.headers['x-content-type-options'], 'nosniff')
    assert.equal(response.headers['strict-transport-security'], undefined)
  })

  it('the page has no inline script (the CSP would block it) and loads app.js from its own origin', async () => {
    const { body } = await demo.inject({ url: '/' })
    const scripts = [...body.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)]
    assert.ok(scripts.length > 0)
    for (const [, attributes, content] of scripts) {
      assert.match(attributes ?? '', /\bsrc="[^":]+"/, 'every script is an external, same-origin file')
      assert.equal((content ?? '').trim(), '', 'no inline script body')
    }
    assert.match(body, /<script type="module" src="app\.js"><\/script>/)
  })

  it('GET /config.json answers {apiBaseUrl} with the configured API origin', async () => {
    const response = await demo.inject({ url: '/config.json' })
    assert.equal(response.statusCode, 200)
    assert.deepEqual(response.json(), { apiBaseUrl: API })
  })

  it('GET /app.js is served as JavaScript', async () => {
    const response = await demo.inject({ url: '/app.js' })
    assert.equal(response.statusCode, 200)
    assert.match(String(response.headers['content-type']), /javascript/)
    assert.ok(response.body.length > 0)
  })

  for (const url of ['/nope', '/app.js.map', '/../package.json', '/%2e%2e/package.json']) {
    it(`GET ${url} is a JSON 404 with the API's error shape`, async () => {
      const response = await demo.inject({ url })
      assert.equal(response.statusCode, 404)
      assert.deepEqual(response.json(), { detail: 'Not Found', code: 'NOT_FOUND' })
      assert.equal(
        response.headers['content-security-policy'],
        "default-src 'none'; frame-ancestors 'none'; base-uri 'none'",
      )
    })
  }

  it('GET /..%5cpackage.json (a backslash traversal) is a JSON 403 FORBIDDEN, not a body error', async () => {
    const response = await demo.inject({ url: '/..%5cpackage.json' })
    assert.equal(response.statusCode, 403)
    assert.deepEqual(response.json(), { detail: 'Forbidden', code: 'FORBIDDEN' })
    assert.equal(
      response.headers['content-security-policy'],
      "default-src 'none'; frame-ancestors 'none'; base-uri 'none'",
    )
  })

  it('GET /%c0<script> is a JSON 400 MALFORMED_URL with the API headers, the URL not echoed', async () => {
    const response = await demo.inject({ url: '/%c0%3Cscript%3E' })
    assert.equal(response.statusCode, 400)
    assert.deepEqual(response.json(), { detail: 'Malformed URL', code: 'MALFORMED_URL' })
    assert.equal(
      response.headers['content-security-policy'],
      "default-src 'none'; frame-ancestors 'none'; base-uri 'none'",
    )
    assert.equal(response.headers['x-content-type-options'], 'nosniff')
  })
})
