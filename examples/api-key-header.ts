/**
 * The book's API key header app (chapter 7, `chapter07_api_key_header.py`): `GET /protected-route`
 * answers `{"hello": "world"}` only to a request carrying the right key in the `Token` header, and
 * 403 otherwise, like FastAPI's APIKeyHeader.
 * Gatehouse adds: the key comes from the environment, it is compared in constant time, a missing
 * and a wrong key get the same answer, and the docs show the APIKeyHeader scheme.
 */
import Fastify, { type FastifyInstance } from 'fastify'
import { apiKeyHeader, gatehouseErrorHandler } from '../src/index.ts'

export async function build(): Promise<FastifyInstance> {
  // The book's hard-coded value, kept only as a development default: set API_TOKEN in real use.
  const apiToken = process.env.API_TOKEN ?? 'SECRET_API_TOKEN'
  const app = Fastify({ logger: false })
  app.setErrorHandler(gatehouseErrorHandler)

  app.get(
    '/protected-route',
    { onRequest: apiKeyHeader({ name: 'Token', keys: [apiToken], errorStatus: 403 }) },
    async () => ({ hello: 'world' }),
  )
  return app
}
