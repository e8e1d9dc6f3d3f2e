import type { FastifyBaseLogger, FastifyInstance } from 'fastify'
import type { Kysely } from 'kysely'
import { probeStore } from '../store/open-store.ts'
import type { Database } from '../store/schema.ts'

/** What a 503 from the store tells the client: the probe below usually sees recovery within this. */
export const STORE_RETRY_AFTER_SECONDS = 5
const PROBE_INTERVAL_MS = 1000

/**
 * An outage is logged as two lines, not a stack per refused request (~50,000 lines in 10 s
 * otherwise): one warning when the first request is refused, one info line when the store answers
 * again, with how long it lasted and how many requests were refused meanwhile. Only a probe can
 * tell that it is over (a request that succeeds passes nowhere near the error handler), so while
 * it lasts the store is probed every second with the readiness check (a read and a write: a full
 * disk still answers `select 1`). Requests never wait for the probe: each one tries the store.
 */
export interface StoreOutage {
  /** A request was refused because the store is unavailable. */
  refused(error: unknown, log: FastifyBaseLogger): void
  /** Whether an outage is in progress (for tests and diagnostics). */
  readonly active: boolean
  /** Stops probing, without logging an end. */
  stop(): void
}

export interface StoreOutageOptions {
  probe: () => Promise<void>
  log: FastifyBaseLogger
  intervalMs?: number
}

export function createStoreOutage(options: StoreOutageOptions): StoreOutage {
  const intervalMs = options.intervalMs ?? PROBE_INTERVAL_MS
  let startedAt = 0
  let refusals = 0
  let timer: NodeJS.Timeout | undefined
  let probing = false

  const stop = () => {
    clearInterval(timer)
    timer = undefined
  }
  const probe = async () => {
    if (probing) return
    probing = true
    try {
      await options.probe()
      stop()
      options.log.info(
        { outageMs: Date.now() - startedAt, refusedRequests: refusals },
        'database available again',
      )
      refusals = 0
    } catch (error) {
      // The store was closed (the app is shutting down): there is nothing left to wait for.
      if (isClosed(error)) stop()
    } finally {
      probing = false
    }
  }

  return {
    get active() {
      return timer !== undefined
    },
    refused(error, log) {
      refusals += 1
      if (timer !== undefined) return
      startedAt = Date.now()
      log.warn({ err: error }, 'database unavailable: answering 503 until it is back')
      timer = setInterval(() => void probe(), intervalMs)
      timer.unref()
    },
    stop,
  }
}

const CLOSED = /^(driver has already been destroyed|Cannot use a pool after calling end on the pool)$/
const isClosed = (error: unknown) => error instanceof Error && CLOSED.test(error.message)

/**
 * One tracker per store, found from the request's instance: the error handler sets it up on first
 * use, so no registration is needed. Keyed by the store (the Kysely instance the routes use), which
 * every encapsulated context of one app shares.
 */
const outages = new WeakMap<object, StoreOutage>()

export function storeOutageOf(app: FastifyInstance): StoreOutage {
  const db: Kysely<Database> | undefined = app.gatehouse?.accounts?.db
  const key: object = db ?? app
  let outage = outages.get(key)
  if (!outage) {
    outage = createStoreOutage({
      probe: db ? () => probeStore(db) : async () => {},
      log: app.log,
    })
    outages.set(key, outage)
  }
  return outage
}
