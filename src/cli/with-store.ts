import type { FastifyBaseLogger } from 'fastify'
import type { Accounts } from '../accounts/accounts.ts'
import { createAuditLog } from '../accounts/audit-log.ts'
import type { ChannelLog } from '../accounts/revocation-channel.ts'
import { findCredentialsByEmail } from '../accounts/users.ts'
import { accountsFromConfig } from '../server/accounts-from-config.ts'
import { loadConfig } from '../server/config.ts'
import { closeRedis, connectRedis } from '../server/redis.ts'
import { revocationsFromConfig } from '../server/revocation-from-config.ts'
import { describeDatabase } from '../store/database-url.ts'
import { openMigratedStore } from '../store/migrate.ts'
import type { Store } from '../store/open-store.ts'
import { errorLine } from './error-line.ts'

/** Channel warnings go to stderr, one line each; nothing else of the logger is used. */
const cliLog: ChannelLog = {
  warn: (_details, message) => console.error(`warning: ${message}`),
  info: () => {},
}

/**
 * Opens the configured store, migrated, runs `work` on it and its accounts, and always closes it.
 * `announce` first prints which database that is (never its credentials). `revokes`: the work
 * ends sessions, so the running servers are told at once (NOTIFY on PostgreSQL, PUBLISH on Redis)
 * instead of after their TOKEN_CACHE_SECONDS.
 */
export async function withStore<T>(
  work: (context: { store: Store; accounts: Accounts; applied: string[] }) => Promise<T>,
  options: { announce?: boolean; revokes?: boolean } = {},
): Promise<T> {
  const config = loadConfig()
  if (options.announce) console.log(`database: ${describeDatabase(config.databaseUrl)}`)
  const { store, applied } = await openMigratedStore(config.databaseUrl)
  // Redis only carries the news when the store is SQLite (src/server/revocation-from-config.ts).
  const redis =
    options.revokes && config.redisUrl && store.dialect === 'sqlite'
      ? await connectRedis(config.redisUrl, `${config.redisKeyPrefix}:cli`, cliLog as FastifyBaseLogger)
      : null
  const revocations = options.revokes
    ? revocationsFromConfig(config, { store, redis, log: cliLog, listen: false })
    : undefined
  // An operator's changes join the audit trail like the server's (the actor is the CLI: no user).
  const auditLog = createAuditLog({
    db: store.db,
    onError: (error) => console.error(`warning: audit trail write failed: ${errorLine(error)}`),
  })
  try {
    const accounts = accountsFromConfig(store.db, config, { revocations, onEvent: auditLog.record })
    return await work({ store, accounts, applied })
  } finally {
    await auditLog.close()
    await revocations?.close()
    if (redis) await closeRedis(redis)
    await store.close()
  }
}

/** The account an email names, or an error naming the email. */
export async function userIdOf(store: Store, email: string): Promise<number> {
  const found = await findCredentialsByEmail(store.db, email)
  if (!found) throw new Error(`no account for ${email}`)
  return found.user.id
}
