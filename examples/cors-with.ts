/**
 * The book's CORS app (chapter 7, `chapter07/cors/app_with_cors.py`): the same GET and POST on `/`,
 * now readable by the page on http://localhost:9000, cookies included (`allow_credentials=True`).
 * Gatehouse adds: an exact-match allowlist (no `*`, refused at boot with credentials; no prefix or
 * substring matching), allowed methods and headers listed instead of the book's `["*"]`, and
 * preflights cached for ten minutes (the book's `max_age=-1` was "only for the sake of the example").
 */
import Fastify, { type FastifyInstance } from 'fastify'
import { corsPlugin } from '../src/index.ts'

export async function build(): Promise<FastifyInstance> {
  const app = Fastify({ logger: false })
  await app.register(corsPlugin, { origins: ['http://localhost:9000'] })
  app.get('/', async () => ({ detail: 'GET response' }))
  app.post('/', async (request) => ({ detail: 'POST response', input_payload: request.body }))
  return app
}
