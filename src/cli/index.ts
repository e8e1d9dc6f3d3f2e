#!/usr/bin/env node
import { readFileSync } from 'node:fs'
import { Command } from 'commander'
import type { Accounts } from '../accounts/accounts.ts'
import { findCredentialsByEmail } from '../accounts/users.ts'
import { accountsFromConfig } from '../server/accounts-from-config.ts'
import { loadConfig } from '../server/config.ts'
import { loadDotEnv } from '../server/env-file.ts'
import { serve } from '../server/main.ts'
import { describeDatabase } from '../store/database-url.ts'
import { openMigratedStore } from '../store/migrate.ts'
import type { Store } from '../store/open-store.ts'
import { errorLine } from './error-line.ts'
import { readNewPassword } from './read-password.ts'

/** package.json is two levels up both from src/cli/ and from the built dist/cli/. */
const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
  version: string
}

/**
 * Opens the configured store, migrated, runs `work` on it and its accounts, and always closes it.
 * `announce` first prints which database that is (never its credentials).
 */
async function withStore<T>(
  work: (context: { store: Store; accounts: Accounts; applied: string[] }) => Promise<T>,
  options: { announce?: boolean } = {},
): Promise<T> {
  const config = loadConfig()
  if (options.announce) console.log(`database: ${describeDatabase(config.databaseUrl)}`)
  const { store, applied } = await openMigratedStore(config.databaseUrl)
  try {
    return await work({ store, accounts: accountsFromConfig(store.db, config), applied })
  } finally {
    await store.close()
  }
}

const program = new Command()
  .name('gatehouse')
  .description('Secure-by-default authentication server. Settings come from the environment and ./.env.')
  .version(version, '-V, --version', 'print the version')

program
  .command('serve')
  .description('run the API (migrating the database first)')
  .action(async () => {
    await serve(loadConfig())
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

program
  .command('revoke-tokens')
  .description('revoke every token and session of an account (e.g. after a password leak)')
  .argument('<email>')
  .action(async (email: string) => {
    const count = await withStore(async ({ store, accounts }) => {
      const found = await findCredentialsByEmail(store.db, email)
      if (!found) throw new Error(`no account for ${email}`)
      return accounts.revokeUserTokens(found.user.id)
    })
    console.log(`revoked ${count} token(s)`)
  })

program
  .command('prune')
  .description('delete expired tokens')
  .action(async () => {
    const count = await withStore(({ accounts }) => accounts.pruneTokens())
    console.log(`pruned ${count} expired token(s)`)
  })

loadDotEnv()
program.parseAsync().catch((error: unknown) => {
  console.error(errorLine(error))
  process.exit(1)
})
