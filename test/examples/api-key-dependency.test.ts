import assert from 'node:assert/strict'
import { it } from 'node:test'
import Fastify from 'fastify'
import { apiTokenDependency, build } from '../../examples/api-key-dependency.ts'
import { isSecurityDependency } from '../../src/index.ts'
import { apiKeyExampleSuite } from './api-key-cases.ts'

apiKeyExampleSuite('api-key-dependency', build)

it('api-key-dependency: the apiToken dependency, defined once, guards every route that lists it', async () => {
  const apiToken = apiTokenDependency('shared-key-0123')
  assert.ok(isSecurityDependency(apiToken))
  const app = Fastify({ logger: false })
  app.get('/a', { onRequest: [apiToken] }, async () => ({ route: 'a' }))
  app.get('/b', { onRequest: [apiToken] }, async () => ({ route: 'b' }))
  app.get('/open', async () => ({ route: 'open' }))
  for (const url of ['/a', '/b']) {
    assert.equal((await app.inject({ url, headers: { Token: 'shared-key-0123' } })).statusCode, 200, url)
    assert.equal((await app.inject({ url })).statusCode, 403, url)
  }
  assert.equal((await app.inject({ url: '/open' })).statusCode, 200)
  await app.close()
})
