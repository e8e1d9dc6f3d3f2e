import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import SwaggerParser from '@apidevtools/swagger-parser'
import { dialects } from '../helpers/databases.ts'
import { startTestApp, TEST_SECRET, type TestApp } from '../helpers/test-app.ts'

type Operation = { security?: Record<string, string[]>[] }
type Document = {
  openapi: string
  paths: Record<string, Record<string, Operation>>
  components: {
    securitySchemes: Record<string, { type: string; flows?: { password?: { tokenUrl: string } } }>
  }
}

const PROTECTED = [
  ['/me', 'get'],
  ['/protected-route', 'get'],
  ['/logout', 'post'],
] as const
const PUBLIC = [
  ['/register', 'post'],
  ['/token', 'post'],
  ['/healthz', 'get'],
  ['/readyz', 'get'],
] as const

for (const { dialect, skip, create } of dialects()) {
  describe(`OpenAPI document and docs UI (${dialect})`, { skip }, () => {
    let t: TestApp
    let doc: Document
    before(async () => {
      t = await startTestApp({ create })
      const response = await t.app.inject({ url: '/openapi.json' })
      assert.equal(response.statusCode, 200)
      doc = response.json()
    })
    after(() => t?.close())

    it('serves a valid OpenAPI 3.1 document at /openapi.json', async () => {
      assert.match(doc.openapi, /^3\.1\.\d+$/)
      await SwaggerParser.validate(structuredClone(doc) as never)
    })

    it('documents every core route', () => {
      for (const [path, method] of [...PROTECTED, ...PUBLIC]) {
        assert.ok(doc.paths[path]?.[method], `${method.toUpperCase()} ${path} missing`)
      }
    })

    it('declares the OAuth2 password flow with tokenUrl /token', () => {
      const scheme = doc.components.securitySchemes.OAuth2PasswordBearer
      assert.ok(scheme, 'OAuth2PasswordBearer missing')
      assert.equal(scheme.type, 'oauth2')
      assert.equal(scheme.flows?.password?.tokenUrl, '/token')
    })

    it('puts a security requirement on protected routes only', () => {
      for (const [path, method] of PROTECTED) {
        const security = doc.paths[path]?.[method]?.security ?? []
        assert.ok(
          security.some((requirement) => 'OAuth2PasswordBearer' in requirement),
          `${path} has no OAuth2PasswordBearer requirement`,
        )
      }
      for (const [path, method] of PUBLIC) {
        const security = doc.paths[path]?.[method]?.security
        assert.ok(security === undefined || security.length === 0, `${path} should be public`)
      }
    })

    it('documents /token as a form-encoded body and /register as JSON', () => {
      const token = doc.paths['/token']?.post as { requestBody?: { content?: Record<string, unknown> } }
      const registerOp = doc.paths['/register']?.post as {
        requestBody?: { content?: Record<string, unknown> }
      }
      assert.deepEqual(Object.keys(token.requestBody?.content ?? {}), ['application/x-www-form-urlencoded'])
      assert.ok('application/json' in (registerOp.requestBody?.content ?? {}))
    })

    it('serves the docs UI as HTML in development', async () => {
      const response = await t.app.inject({ url: '/docs' })
      const html =
        response.statusCode === 302
          ? await t.app.inject({ url: String(response.headers.location) })
          : response
      assert.equal(html.statusCode, 200)
      assert.match(String(html.headers['content-type']), /^text\/html/)
      assert.match(html.body, /<html/i)
      const slash = await t.app.inject({ url: '/docs/' })
      assert.equal(slash.statusCode, 200)
      assert.match(String(slash.headers['content-type']), /^text\/html/)
    })

    it('hides the docs UI in production', async () => {
      const production = await startTestApp({
        create,
        env: { GATEHOUSE_ENV: 'production', GATEHOUSE_SECRET: TEST_SECRET },
      })
      try {
        for (const url of ['/docs', '/docs/', '/docs/static/index.html']) {
          const response = await production.app.inject({ url })
          assert.equal(response.statusCode, 404, url)
          assert.deepEqual(response.json(), { detail: 'Not Found', code: 'NOT_FOUND' })
        }
      } finally {
        await production.close()
      }
    })

    it('serves the docs UI in production when GATEHOUSE_DOCS=1', async () => {
      const production = await startTestApp({
        create,
        env: { GATEHOUSE_ENV: 'production', GATEHOUSE_SECRET: TEST_SECRET, GATEHOUSE_DOCS: '1' },
      })
      try {
        const response = await production.app.inject({ url: '/docs/' })
        assert.equal(response.statusCode, 200)
        assert.match(String(response.headers['content-type']), /^text\/html/)
      } finally {
        await production.close()
      }
    })
  })
}
