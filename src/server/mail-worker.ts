import type { FastifyInstance } from 'fastify'
import type { Accounts } from '../accounts/accounts.ts'
import { createOutboxWorker } from '../mail/outbox-worker.ts'
import { createMailTransport } from '../mail/transport.ts'
import type { Store } from '../store/open-store.ts'
import type { GatehouseConfig } from './config.ts'

/**
 * The outbox worker inside the server: it starts when the server is ready, sends what requests
 * queued (and what a crashed predecessor left); `stop()` finishes the mail in flight, and must
 * run before the store closes. Several instances on one PostgreSQL share the outbox without sending a mail
 * twice (each row is claimed with FOR UPDATE SKIP LOCKED).
 */
export function startMailWorker(
  app: FastifyInstance,
  config: GatehouseConfig,
  store: Store,
  accounts: Accounts,
) {
  const transport = createMailTransport({
    smtpUrl: config.smtpUrl,
    from: config.mailFrom,
    outboxDir: config.mailDir,
    log: app.log,
  })
  const worker = createOutboxWorker({
    db: store.db,
    dialect: store.dialect,
    prepare: (row) => accounts.prepareMail(row),
    transport,
    appUrl: config.appUrl,
    log: app.log,
  })
  app.log.info({ transport: transport.describe() }, 'mail outbox worker ready')
  app.addHook('onReady', async () => worker.start())
  return {
    wake: () => worker.wake(),
    /** Finishes the mail in flight; the caller closes the store after this. */
    async stop() {
      await worker.stop()
      transport.close()
    },
  }
}

export type MailWorker = ReturnType<typeof startMailWorker>
