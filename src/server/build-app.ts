import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify'
import type { Accounts } from '../accounts/accounts.ts'
import { type AuditLog, createAuditLog } from '../accounts/audit-log.ts'
import { docsPlugin } from '../fastify/docs.ts'
import { hostAllowlistPlugin } from '../fastify/host-allowlist.ts'
import { DEVELOPMENT_COOKIES, gatehousePlugin, PRODUCTION_COOKIES } from '../fastify/plugin.ts'
import { accountRoutes } from '../fastify/routes/account-routes.ts'
import { adminRoutes } from '../fastify/routes/admin-routes.ts'
import { apiKeyRoutes } from '../fastify/routes/api-key-routes.ts'
import { auditRoutes } from '../fastify/routes/audit-routes.ts'
import { authRoutes } from '../fastify/routes/auth-routes.ts'
import { healthRoutes } from '../fastify/routes/health-routes.ts'
import { meRoutes } from '../fastify/routes/me-routes.ts'
import { profileRoutes } from '../fastify/routes/profile-routes.ts'
import { sessionListRoutes } from '../fastify/routes/session-list-routes.ts'
import { sessionRoutes } from '../fastify/routes/session-routes.ts'
import { gatehouseServerOptions } from '../fastify/server-options.ts'
import { storeOutageOf } from '../fastify/store-outage.ts'
import { pruneFinishedMail } from '../mail/outbox-queue.ts'
import { migrateToLatest, openMigratedStore } from '../store/migrate.ts'
import type { Store } from '../store/open-store.ts'
import { accountsFromConfig } from './accounts-from-config.ts'
import type { GatehouseConfig } from './config.ts'
import { loggerOptions } from './logger.ts'
import { type MailWorker, startMailWorker } from './mail-worker.ts'
import { closeRedis, connectRedis } from './redis.ts'
import { revocationsFromConfig } from './revocation-from-config.ts'

export interface BuildOptions {
  /** Use this store instead of opening `config.databaseUrl` (it is then not closed with the app). */
  store?: Store
  /** Fastify's logger option; defaults to pino JSON at `config.logLevel` with secrets redacted. */
  logger?: FastifyServerOptions['logger']
}

/** The whole server, ready to `listen()` or `inject()`: migrated store, plugin, routes, docs. */
export async function buildApp(
  config: GatehouseConfig,
  options: BuildOptions = {},
): Promise<FastifyInstance> {
  const ownsStore = options.store === undefined
  const store =
    options.store ??
    (
      await openMigratedStore(config.databaseUrl, {
        timeoutSeconds: config.databaseTimeoutSeconds,
        poolSize: config.databasePoolSize,
      })
    ).store
  if (!ownsStore) await migrateToLatest(store.db, store.dialect)

  const server = gatehouseServerOptions({
    // RFC 6797 §7.2: HSTS only means something over https, which production is expected to be.
    hsts: config.env === 'production',
    requestTimeoutSeconds: config.requestTimeoutSeconds,
    headersTimeoutSeconds: config.headersTimeoutSeconds,
    keepAliveTimeoutSeconds: config.keepAliveTimeoutSeconds,
  })
  const app = Fastify({
    ...server,
    // The Host allowlist refuses a request without Host itself, as JSON; Node's own 400 is empty.
    http: { ...server.http, requireHostHeader: false },
    logger: options.logger ?? loggerOptions(config.logLevel),
    bodyLimit: config.bodyLimitBytes,
    // A number is not a string: `{"password": 12345678}` is a 422, not a coerced password; and a
    // 422 lists every bad field, like FastAPI.
    // And a field a route does not take is a 422 naming it, not silently dropped (Fastify's default
    // removeAdditional): a client that sends `is_superuser` learns it cannot set it.
    ajv: { customOptions: { coerceTypes: false, allErrors: true, removeAdditional: false } },
    // Draining answers with our own 503 JSON and Retry-After (src/server/drain.ts), not Fastify's body.
    return503OnClosing: false,
    // request.ip feeds the per-IP login limit: the client's address only through named proxies.
    trustProxy: config.trustProxy.length > 0 ? config.trustProxy : false,
  })

  const redis = config.redisUrl ? await connectRedis(config.redisUrl, config.redisKeyPrefix, app.log) : null
  // Never in the request's way: batched writes, and a failed one is logged, not thrown.
  const auditLog = createAuditLog({
    db: store.db,
    onError: (error) => app.log.warn({ err: error }, 'audit trail write failed'),
  })
  // Keeps every instance's token cache coherent: a revocation here is dropped there at once.
  const revocations = revocationsFromConfig(config, { store, redis, log: app.log, listen: true })
  let mailWorker: MailWorker | null = null
  const accounts = accountsFromConfig(store.db, config, {
    onBackgroundError: (error) => app.log.warn({ err: error }, 'background work failed'),
    onEvent: auditLog.record,
    onMailQueued: () => mailWorker?.wake(),
    redis,
    revocations,
  })

  try {
    if (config.accountEmails) mailWorker = startMailWorker(app, config, store, accounts)
    await registerAll(app, config, { accounts, auditLog })
  } catch (error) {
    // The caller never gets this app to close: release the connections here.
    await auditLog.close()
    await revocations?.close()
    if (redis) await closeRedis(redis)
    if (ownsStore) await store.close()
    throw error
  }

  let timer: NodeJS.Timeout | undefined
  if (config.pruneIntervalSeconds > 0) {
    timer = setInterval(() => {
      prune(accounts, auditLog, config)
        .then((count) => count > 0 && app.log.info({ count }, 'pruned expired rows'))
        .catch((error: unknown) => app.log.warn({ err: error }, 'pruning failed'))
    }, config.pruneIntervalSeconds * 1000)
    timer.unref()
  }
  // One hook, in this order: Fastify runs separate onClose hooks last-added first, which closed the
  // store before the audit trail's last batch and the mail in flight could be written.
  app.addHook('onClose', async () => {
    clearInterval(timer)
    storeOutageOf(app).stop()
    await mailWorker?.stop()
    await auditLog.close()
    // Before Redis and the store, which it publishes through.
    await revocations?.close()
    if (redis) await closeRedis(redis)
    if (ownsStore) await store.close()
  })
  return app
}

/** Finished mail rows are kept a week, for an operator looking into a missing mail. */
const FINISHED_MAIL_RETENTION_MS = 7 * 86_400_000

/** Expired tokens and links, finished mail, and audit events past their retention. */
async function prune(accounts: Accounts, auditLog: AuditLog, config: GatehouseConfig): Promise<number> {
  const tokens = await accounts.pruneTokens()
  const mail = await pruneFinishedMail(accounts.db, FINISHED_MAIL_RETENTION_MS, Date.now())
  return tokens + mail + (await auditLog.prune(config.auditRetentionDays))
}

/** The plugin, the docs and every route. */
async function registerAll(
  app: FastifyInstance,
  config: GatehouseConfig,
  { accounts, auditLog }: { accounts: Accounts; auditLog: AuditLog },
): Promise<void> {
  const isProduction = config.env === 'production'
  // First of all hooks: a request for another host gets no further (not even CORS or CSRF work).
  await app.register(hostAllowlistPlugin, { allowedHosts: config.allowedHosts })
  await app.register(gatehousePlugin, {
    accounts,
    cookies: isProduction ? PRODUCTION_COOKIES : DEVELOPMENT_COOKIES,
    csrfSecret: config.secret,
    cors: { origins: config.corsOrigins, maxAgeSeconds: config.corsMaxAgeSeconds },
    // RFC 6797 §7.2: HSTS only means something over https, which production is expected to be.
    securityHeaders: { hsts: isProduction, docsPrefix: '/docs' },
  })
  await app.register(docsPlugin, { expose: config.docs })
  await app.register(healthRoutes)
  await app.register(authRoutes, { passwordGrant: config.passwordGrant })
  await app.register(meRoutes)
  await app.register(sessionRoutes)
  await app.register(sessionListRoutes)
  await app.register(profileRoutes)
  await app.register(accountRoutes, { recovery: config.accountEmails })
  await app.register(auditRoutes, { trail: auditLog })
  await app.register(apiKeyRoutes)
  await app.register(adminRoutes, { trail: auditLog })
}
