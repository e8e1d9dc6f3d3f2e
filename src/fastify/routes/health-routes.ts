import { Type } from '@sinclair/typebox'
import type { FastifyInstance } from 'fastify'
import { GatehouseError } from '../../core/errors.ts'
import { probeStore } from '../../store/open-store.ts'
import { isStoreUnavailable } from '../../store/store-errors.ts'
import '../host-allowlist.ts'
import { ErrorRef } from '../schemas.ts'
import { STORE_RETRY_AFTER_SECONDS } from '../store-outage.ts'

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
        // A read and a write: a full disk or a read-only server is not ready, though `select 1` works.
        await probeStore(app.gatehouse.accounts.db)
      } catch (error) {
        // STORE_UNAVAILABLE, and the outage is logged once, by the error handler.
        if (isStoreUnavailable(error)) throw error
        request.log.warn({ err: error }, 'readiness check failed')
        throw new GatehouseError('UNAVAILABLE', {
          detail: 'Database unreachable',
          retryAfterSeconds: STORE_RETRY_AFTER_SECONDS,
        })
      }
      return { status: 'ready' }
    },
  )
}
