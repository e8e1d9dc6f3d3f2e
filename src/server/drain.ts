import type { Server } from 'node:http'
import type { Socket } from 'node:net'
import type { FastifyInstance } from 'fastify'
import { GatehouseError } from '../core/errors.ts'

export interface DrainOptions {
  /** SHUTDOWN_TIMEOUT_SECONDS: past it, connections still open are cut and the exit code is 1. */
  timeoutSeconds: number
  /** Closed in parallel with the API (the demo front end); their connections are reaped the same way. */
  alongside?: FastifyInstance[]
  /** Called once, with 0 (drained) or 1 (forced, or a close hook failed). Default: process.exit. */
  exit?: (code: number) => void
}

export interface Drain {
  readonly draining: boolean
  /** Starts the drain (a second call only logs); resolves with the exit code just before `exit`. */
  start(reason: string): Promise<number>
}

/**
 * A client told to come back: another instance (or this one, restarted) answers in about a second
 * (RFC 9110 §15.6.4: a 503 may say when to retry; §10.2.3 Retry-After).
 */
const RETRY_AFTER_SECONDS = 1
/** Connections that went idle after a response that had started before the drain are reaped this often. */
const SWEEP_MS = 100
/** After the deadline's forced close, the close hooks (audit batch, store) get this long to finish. */
const FORCE_GRACE_MS = 1000

/**
 * Graceful shutdown for one Fastify app that listens. On `start`:
 * - the listening socket closes (no new connections); idle keep-alive connections are closed at
 *   once, and keep being reaped as responses already on the wire finish;
 * - a request whose headers were complete before the drain is answered as usual, with
 *   `Connection: close` (RFC 9112 §9.6), so its connection ends after the response;
 * - a request that arrives during the drain on a connection still open (pipelined, or whose
 *   headers were still arriving) gets our 503 SHUTTING_DOWN with Retry-After, through the app's
 *   error handler (our JSON, our security headers), not Fastify's `return503OnClosing` body;
 * - `app.close()` then runs the onClose hook (prune timer, mail worker, audit trail, Redis, store);
 * - past `timeoutSeconds`, every connection is cut (a body that never ends cannot hold the
 *   process past an orchestrator's grace period) and the exit code is 1.
 * Must be installed before `listen()`: Fastify refuses hooks on a started instance.
 */
export function installDrain(app: FastifyInstance, options: DrainOptions): Drain {
  const exit = options.exit ?? ((code: number) => process.exit(code))
  const alongside = options.alongside ?? []
  let draining = false
  let finished: Promise<number> | null = null

  // Runs after the Host allowlist and the CSRF check (cheap, no I/O) and before any route-level
  // hook (authentication, which reads the store): a refused request costs no database work.
  app.addHook('onRequest', (_request, reply, done) => {
    if (!draining) return done()
    reply.header('connection', 'close')
    done(new GatehouseError('SHUTTING_DOWN', { retryAfterSeconds: RETRY_AFTER_SECONDS }))
  })
  // Responses to requests received before the drain: the connection ends with them.
  app.addHook('onSend', (_request, reply, payload, done) => {
    if (draining) reply.header('connection', 'close')
    done(null, payload)
  })

  // Node counts a connection that never sent a byte as busy (its header timer runs from the
  // connect), so closeIdleConnections() leaves it open: a browser's preconnect, a proxy's spare
  // connection would then hold the drain until the deadline. Tracked per connection, not request.
  const sockets = new Set<Socket>()
  app.server.on('connection', (socket: Socket) => {
    sockets.add(socket)
    socket.once('close', () => sockets.delete(socket))
  })
  const closeIdle = (servers: Server[]) => {
    for (const server of servers) server.closeIdleConnections()
    for (const socket of sockets) if (socket.bytesRead === 0) socket.destroy()
  }

  async function run(reason: string): Promise<number> {
    const started = performance.now()
    const timeoutMs = options.timeoutSeconds * 1000
    app.log.info({ reason, timeoutSeconds: options.timeoutSeconds }, 'draining: no new connections')
    const servers = [app, ...alongside].map((instance) => instance.server)
    const sweep = setInterval(() => closeIdle(servers), SWEEP_MS)
    let forced = false
    let deadline: NodeJS.Timeout | undefined
    let grace: NodeJS.Timeout | undefined
    const overdue = new Promise<'overdue'>((resolve) => {
      deadline = setTimeout(() => {
        forced = true
        app.log.error(
          { timeoutSeconds: options.timeoutSeconds },
          'drain timed out: closing the connections still open (SHUTDOWN_TIMEOUT_SECONDS)',
        )
        for (const server of servers) server.closeAllConnections()
        grace = setTimeout(() => resolve('overdue'), FORCE_GRACE_MS)
      }, timeoutMs)
    })
    closeIdle(servers)
    const closing = Promise.all([app, ...alongside].map((instance) => instance.close())).then(
      () => 'closed' as const,
      (error: unknown) => {
        app.log.error({ err: error }, 'closing failed')
        return 'failed' as const
      },
    )
    const outcome = await Promise.race([closing, overdue])
    clearInterval(sweep)
    clearTimeout(deadline)
    clearTimeout(grace)
    const ms = Math.round(performance.now() - started)
    if (outcome === 'closed' && !forced) {
      app.log.info({ ms }, 'drained')
      return 0
    }
    if (outcome === 'overdue') app.log.error({ ms }, 'exiting before the close hooks finished')
    return 1
  }

  return {
    get draining() {
      return draining
    },
    start(reason: string): Promise<number> {
      if (finished) {
        // A second signal is common and not a request to hurry: a terminal's Ctrl-C reaches every
        // process of its group, so a wrapper (npm, tsx) that relays it delivers it twice. The drain
        // is bounded by the deadline anyway.
        app.log.warn({ reason }, 'already draining; the deadline still holds')
        return finished
      }
      draining = true
      finished = run(reason).then((code) => {
        exit(code)
        return code
      })
      return finished
    },
  }
}

/** Drains on SIGTERM (orchestrators) and SIGINT (Ctrl-C); every later signal is only logged. */
export function drainOnSignals(drain: Drain): void {
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.on(signal, () => void drain.start(signal))
  }
}
