import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import SwaggerParser from '@apidevtools/swagger-parser'
import Fastify from 'fastify'
import { docsPlugin } from '../../src/fastify/docs.ts'
import { RESPONSE_DESCRIPTIONS } from '../../src/fastify/docs-responses.ts'
import { securityRegistryPlugin } from '../../src/fastify/security/index.ts'
import { dialects } from '../helpers/databases.ts'
import { startTestApp, TEST_SECRET, type TestApp } from '../helpers/test-app.ts'

type Operation = {
  security?: Record<string, string[]>[]
  responses?: Record<string, { description?: string }>
}
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

    it('documents /token as a form (urlencoded or multipart) and /register as JSON', () => {
      const token = doc.paths['/token']?.post as { requestBody?: { content?: Record<string, unknown> } }
      const registerOp = doc.paths['/register']?.post as {
        requestBody?: { content?: Record<string, unknown> }
      }
      // The form first (Swagger UI's default), then multipart, which every form route also takes.
      assert.deepEqual(Object.keys(token.requestBody?.content ?? {}), [
        'application/x-www-form-urlencoded',
        'multipart/form-data',
      ])
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

    it('gives every response a description of its status, never "Default Response"', () => {
      assert.doesNotMatch(JSON.stringify(doc), /Default Response/)
      let seen = 0
      for (const [path, item] of Object.entries(doc.paths)) {
        for (const [method, operation] of Object.entries(item)) {
          for (const [status, response] of Object.entries(operation.responses ?? {})) {
            seen++
            assert.equal(
              response.description,
              RESPONSE_DESCRIPTIONS[status],
              `${method.toUpperCase()} ${path} ${status}: ${response.description}`,
            )
          }
        }
      }
      assert.ok(seen > 20, `only ${seen} responses documented`)
      assert.equal(doc.paths['/token']?.post?.responses?.['200']?.description, 'Successful Response')
      assert.equal(doc.paths['/register']?.post?.responses?.['201']?.description, 'Created')
      assert.equal(doc.paths['/logout']?.post?.responses?.['204']?.description, 'No Content')
      assert.match(doc.paths['/login']?.post?.responses?.['422']?.description ?? '', /every invalid field/)
    })

    it('hides the docs UI and the document in production', async () => {
      const production = await startTestApp({
        create,
        env: {
          GATEHOUSE_ENV: 'production',
          SMTP_URL: 'smtp://127.0.0.1:2525',
          GATEHOUSE_SECRET: TEST_SECRET,
        },
      })
      try {
        for (const url of [
          '/openapi.json',
          '/docs',
          '/docs/',
          '/docs/json',
          '/docs/ui-config.json',
          '/docs/static/index.html',
        ]) {
          const response = await production.app.inject({ url })
          assert.equal(response.statusCode, 404, url)
          assert.deepEqual(response.json(), { detail: 'Not Found', code: 'NOT_FOUND' })
        }
        // Still built in the process, for tests and tooling.
        const document = production.app.swagger() as unknown as Document
        assert.ok(document.paths['/token']?.post)
      } finally {
        await production.close()
      }
    })

    it('serves the docs UI and the document in production when GATEHOUSE_DOCS=1', async () => {
      const production = await startTestApp({
        create,
        env: {
          GATEHOUSE_ENV: 'production',
          SMTP_URL: 'smtp://127.0.0.1:2525',
          GATEHOUSE_SECRET: TEST_SECRET,
          GATEHOUSE_DOCS: '1',
        },
      })
      try {
        const response = await production.app.inject({ url: '/docs/' })
        assert.equal(response.statusCode, 200)
        assert.match(String(response.headers['content-type']), /^text\/html/)
        const document = await production.app.inject({ url: '/openapi.json' })
        assert.equal(document.statusCode, 200)
        assert.ok((document.json() as Document).paths['/token'])
      } finally {
        await production.close()
      }
    })
  })
}

describe('docs plugin in an app of your own', () => {
  async function appWithDocs(expose?: boolean) {
    const app = Fastify({ logger: false })
    await app.register(securityRegistryPlugin)
    await app.register(docsPlugin, expose === undefined ? {} : { expose })
    app.get(
      '/things',
      {
        schema: { response: { 200: { type: 'object', description: 'The things' }, 404: { type: 'object' } } },
      },
      () => ({}),
    )
    app.get('/plain', () => ({}))
    await app.ready()
    return app
  }

  it('exposes the UI and /openapi.json by default', async () => {
    const app = await appWithDocs()
    try {
      assert.equal((await app.inject({ url: '/openapi.json' })).statusCode, 200)
      assert.equal((await app.inject({ url: '/docs/' })).statusCode, 200)
    } finally {
      await app.close()
    }
  })

  it('expose: false routes neither, and app.swagger() still builds the document', async () => {
    const app = await appWithDocs(false)
    try {
      for (const url of ['/openapi.json', '/docs', '/docs/', '/docs/json', '/docs/ui-config.json']) {
        assert.equal((await app.inject({ url })).statusCode, 404, url)
      }
      const document = app.swagger() as unknown as Document
      assert.ok(document.paths['/things']?.get)
    } finally {
      await app.close()
    }
  })

  it("keeps a route's own description and fills the others, an undeclared 200 included", async () => {
    const app = await appWithDocs(false)
    try {
      const document = app.swagger() as unknown as Document
      assert.equal(document.paths['/things']?.get?.responses?.['200']?.description, 'The things')
      assert.equal(document.paths['/things']?.get?.responses?.['404']?.description, 'Not found.')
      assert.equal(document.paths['/plain']?.get?.responses?.['200']?.description, 'Successful Response')
    } finally {
      await app.close()
    }
  })
})
