/**
 * requireScopes in an application of its own: scope names are checked against the application's
 * registry at boot, and one OAuth2 scheme documents the union of the scopes its routes need, with
 * the registry's descriptions, beside a library dependency declaring its own.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import Fastify, { type FastifyInstance } from 'fastify'
import { createAccounts } from '../../src/accounts/accounts.ts'
import { createPasswordHasher } from '../../src/core/passwords/index.ts'
import { defineScopes } from '../../src/core/scopes/index.ts'
import { requireScopes } from '../../src/fastify/current-user.ts'
import { gatehousePlugin } from '../../src/fastify/plugin.ts'
import { declaredSecuritySchemes, oauth2PasswordBearer } from '../../src/fastify/security/index.ts'
import type { Store } from '../../src/store/open-store.ts'
import { createSqliteDatabase, openTestStore } from '../helpers/databases.ts'

const SCOPES = defineScopes({ 'reports:read': 'Read reports', 'reports:write': 'Write reports' })

describe('requireScopes', () => {
  let store: Store
  before(async () => {
    store = await openTestStore(createSqliteDatabase)
  })
  after(() => store?.close())

  async function appWith(scopes: readonly string[][]): Promise<FastifyInstance> {
    const app = Fastify({ logger: false })
    const accounts = createAccounts({
      db: store.db,
      hasher: createPasswordHasher(),
      accessTokenTtlSeconds: 3600,
      idleTimeoutSeconds: 0,
      sendsMail: false,
      scopes: SCOPES,
    })
    await app.register(gatehousePlugin, { accounts })
    scopes.forEach((needed, index) => {
      app.get(`/r${index}`, { onRequest: requireScopes(needed, { sessionCookie: null }) }, () => ({}))
    })
    return app
  }

  it('fails at boot for a scope the registry does not declare, naming it and the route', async () => {
    // When the route is added, before the server ever listens.
    await assert.rejects(
      appWith([['reports:read'], ['reports:delete']]),
      /GET \/r1 needs scope "reports:delete"/,
    )
  })

  it('app.gatehouse.requireScopes(…) guards a route with the app’s own session cookie name', async () => {
    const app = await appWith([])
    app.get('/reports', { onRequest: app.gatehouse.requireScopes('reports:read') }, () => ({ ok: true }))
    await app.ready()
    const anonymous = await app.inject({ url: '/reports' })
    assert.equal(anonymous.statusCode, 401)
    const schemes = declaredSecuritySchemes(app)
    assert.equal(schemes.APIKeyCookie?.type === 'apiKey' && schemes.APIKeyCookie.name, 'token')
    assert.ok(schemes.APIKeyBearer)
    await app.close()
  })

  it('refuses an empty scope list when the dependency is made', () => {
    assert.throws(() => requireScopes([], { sessionCookie: null }), /at least one scope/)
  })

  it('documents the union of the routes’ scopes with their descriptions, beside a library scheme', async () => {
    const app = await appWith([['reports:read'], ['reports:write', 'reports:read']])
    app.get(
      '/legacy',
      {
        onRequest: oauth2PasswordBearer({
          tokenUrl: '/token',
          scopes: { legacy: 'The old API' },
          verify: () => true,
        }),
      },
      () => ({}),
    )
    await app.ready()
    const schemes = declaredSecuritySchemes(app)
    const oauth2 = schemes.OAuth2PasswordBearer
    assert.ok(oauth2?.type === 'oauth2')
    assert.deepEqual(oauth2.flows.password?.scopes, {
      'reports:read': 'Read reports',
      'reports:write': 'Write reports',
      legacy: 'The old API',
    })
    assert.equal(schemes.APIKeyBearer?.type, 'http')
    await app.close()
  })
})
