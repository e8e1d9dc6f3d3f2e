import { Type } from '@sinclair/typebox'
import type { FastifyInstance } from 'fastify'
import { sql } from 'kysely'
import { GatehouseError } from '../../core/errors.ts'
import '../host-allowlist.ts'
import { ErrorRef } from '../schemas.ts'

const Status = Type.Object({ status: Type.String() })
/** Probes address pods by IP, not by a public name: see the Host allowlist. */
const PROBE = { anyHost: true }

export async function healthRoutes(app: FastifyInstance): Promise<void> {
  app.get('/healthz', { config: PROBE, schema: { tags: ['health'], response: { 200: Status } } }, () => ({
    status: 'ok',
  }))

  app.get(
    '/readyz',
    { config: PROBE, schema: { tags: ['health'], response: { 200: Status, 503: ErrorRef } } },
    async (request) => {
      try {
        await sql`select 1`.execute(app.gatehouse.accounts.db)
      } catch (error) {
        request.log.warn({ err: error }, 'database unreachable')
        throw new GatehouseError('UNAVAILABLE', { detail: 'Database unreachable' })
      }
      return { status: 'ready' }
    },
  )
}
