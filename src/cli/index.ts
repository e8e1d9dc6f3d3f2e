#!/usr/bin/env node
import cluster from 'node:cluster'
import { readFileSync } from 'node:fs'
import { Command } from 'commander'
import type { FastifyBaseLogger } from 'fastify'
import type { Accounts } from '../accounts/accounts.ts'
import type { ChannelLog } from '../accounts/revocation-channel.ts'
import { findCredentialsByEmail } from '../accounts/users.ts'
import { accountsFromConfig } from '../server/accounts-from-config.ts'
import { parseWorkers, serveCluster, workerServeOptions } from '../server/cluster.ts'
import { loadConfig } from '../server/config.ts'
import { loadDotEnv } from '../server/env-file.ts'
import { serve } from '../server/main.ts'
import { closeRedis, connectRedis } from '../server/redis.ts'
import { revocationsFromConfig } from '../server/revocation-from-config.ts'
import { describeDatabase } from '../store/database-url.ts'
import { openMigratedStore } from '../store/migrate.ts'
import type { Store } from '../store/open-store.ts'
import { errorLine } from './error-line.ts'
import { readNewPassword } from './read-password.ts'

/** package.json is two levels up both from src/cli/ and from the built dist/cli/. */
const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
  version: string
}

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
async function withStore<T>(
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
  try {
    return await work({ store, accounts: accountsFromConfig(store.db, config, { revocations }), applied })
  } finally {
    await revocations?.close()
    if (redis) await closeRedis(redis)
    await store.close()
  }
}

const program = new Command()
  .name('gatehouse')
  .description('Secure-by-default authentication server. Settings come from the environment and ./.env.')
  .version(version, '-V, --version', 'print the version')

program
  .command('serve')
  .description('run the API (migrating the database first); SIGTERM or Ctrl-C drains it, then it exits')
  .option(
    '--workers <n|auto>',
    'HTTP worker processes on one port, auto: one per core (default: WORKERS, else 1)',
  )
  .action(async (options: { workers?: string }) => {
    const config = loadConfig()
    // A forked worker runs this same command line: it serves, and its primary does the rest.
    if (cluster.isWorker) return void (await serve(config, workerServeOptions()))
    const workers = options.workers === undefined ? config.workers : parseWorkers(options.workers)
    if (workers > 1) await serveCluster(config, workers)
    else await serve(config)
  })

program
  .command('migrate')
  .description('create or upgrade the database schema')
  .action(async () => {
    const applied = await withStore(async (context) => context.applied, { announce: true })
    console.log(applied.length ? `applied: ${applied.join(', ')}` : 'database is up to date')
  })

program
  .command('create-user')
  .description('create an account; the password is typed twice at a prompt, or read from stdin when piped')
  .argument('<email>')
  .option('--superuser', 'give the account superuser rights', false)
  .action(async (email: string, options: { superuser: boolean }) => {
    const password = await readNewPassword()
    // The domain validates email and password exactly as for /register.
    const user = await withStore(({ accounts }) =>
      accounts.createUser({ email, password, isSuperuser: options.superuser }),
    )
    console.log(`created user ${user.id} <${user.email}>${user.isSuperuser ? ' (superuser)' : ''}`)
  })

async function userIdOf(store: Store, email: string): Promise<number> {
  const found = await findCredentialsByEmail(store.db, email)
  if (!found) throw new Error(`no account for ${email}`)
  return found.user.id
}

program
  .command('sessions')
  .description("list an account's live sessions and tokens")
  .argument('<email>')
  .action(async (email: string) => {
    const sessions = await withStore(async ({ store, accounts }) =>
      accounts.listUserSessions(await userIdOf(store, email)),
    )
    if (sessions.length === 0) console.log('no live sessions')
    for (const session of sessions) {
      const lastUsed = session.lastUsedAt?.toISOString() ?? 'never'
      console.log(
        [
          session.id,
          session.kind,
          `created ${session.createdAt.toISOString()}`,
          `last used ${lastUsed}`,
          `expires ${session.expiresAt.toISOString()}`,
          session.ip ?? '-',
          session.userAgent ?? '-',
        ].join('  '),
      )
    }
  })

program
  .command('revoke-tokens')
  .description('revoke every token and session of an account (e.g. after a password leak), or one')
  .argument('<email>')
  .option('--session <id>', 'revoke only this session (its id from `gatehouse sessions <email>`)')
  .action(async (email: string, options: { session?: string }) => {
    const count = await withStore(
      async ({ store, accounts }) => {
        const userId = await userIdOf(store, email)
        if (options.session === undefined) return accounts.revokeUserTokens(userId)
        if (!(await accounts.revokeUserSession(userId, options.session))) {
          throw new Error(`${email} has no session ${options.session}`)
        }
        return 1
      },
      { revokes: true },
    )
    console.log(`revoked ${count} token(s)`)
  })

program
  .command('deactivate')
  .description('deactivate an account: it can no longer sign in, and every session ends at once')
  .argument('<email>')
  .option('--activate', 'activate it again instead')
  .action(async (email: string, options: { activate?: boolean }) => {
    const active = options.activate === true
    await withStore(async ({ store, accounts }) => accounts.setActive(await userIdOf(store, email), active), {
      revokes: true,
    })
    console.log(`${email} is ${active ? 'active' : 'deactivated'}`)
  })

program
  .command('prune')
  .description('delete expired tokens and links')
  .action(async () => {
    const count = await withStore(({ accounts }) => accounts.pruneTokens())
    console.log(`pruned ${count} expired token(s)`)
  })

loadDotEnv()
program.parseAsync().catch((error: unknown) => {
  console.error(errorLine(error))
  process.exit(1)
})
