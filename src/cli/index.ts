#!/usr/bin/env node
import cluster from 'node:cluster'
import { readFileSync } from 'node:fs'
import { Command } from 'commander'
import { parseWorkers, serveCluster, workerServeOptions } from '../server/cluster.ts'
import { loadConfig } from '../server/config.ts'
import { loadDotEnv } from '../server/env-file.ts'
import { serve } from '../server/main.ts'
import { registerAuditCommand } from './audit-command.ts'
import { errorLine } from './error-line.ts'
import { readNewPassword } from './read-password.ts'
import { registerUsersCommand } from './users-command.ts'
import { userIdOf, withStore } from './with-store.ts'

/** package.json is two levels up both from src/cli/ and from the built dist/cli/. */
const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
  version: string
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
  .argument('[email]')
  .option('--session <id>', 'revoke only this session (its id from `gatehouse sessions <email>`)')
  .option('--all-users', "end every account's sessions (API keys stay): everyone signs in again")
  .action(async (email: string | undefined, options: { session?: string; allUsers?: boolean }) => {
    if ((email === undefined) === (options.allUsers !== true)) {
      throw new Error('name one account, or pass --all-users')
    }
    const count = await withStore(
      async ({ store, accounts }) => {
        if (email === undefined) return accounts.admin.revokeEverySession({ session: null })
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
    // The administration's rules: the last active superuser stays, and the change is audited.
    await withStore(
      async ({ store, accounts }) =>
        accounts.admin.updateUser({ session: null }, await userIdOf(store, email), { isActive: active }),
      { revokes: true },
    )
    console.log(`${email} is ${active ? 'active' : 'deactivated'}`)
  })

program
  .command('prune')
  .description('delete expired tokens and links')
  .action(async () => {
    const count = await withStore(({ accounts }) => accounts.pruneTokens())
    console.log(`pruned ${count} expired token(s)`)
  })

registerUsersCommand(program)
registerAuditCommand(program)

loadDotEnv()
program.parseAsync().catch((error: unknown) => {
  console.error(errorLine(error))
  process.exit(1)
})
