import { type Command, InvalidArgumentError, Option } from 'commander'
import { type Actor, MAX_USER_PAGE, type UserChanges } from '../accounts/administration.ts'
import type { User } from '../accounts/user.ts'
import { userIdOf, withStore } from './with-store.ts'

/** An operator at the terminal already holds the database: trusted, and named `cli` in the trail. */
const OPERATOR: Actor = { session: null }

/** One line per account, columns in a fixed order, so `grep` and `awk` can read it. */
export function userLine(user: User): string {
  return [
    String(user.id),
    user.email,
    user.isActive ? 'active' : 'inactive',
    user.isVerified ? 'verified' : 'unverified',
    user.isSuperuser ? 'superuser' : 'user',
    `created ${user.createdAt.toISOString()}`,
  ].join('  ')
}

function positiveInteger(value: string): number {
  if (!/^[0-9]{1,9}$/.test(value) || Number(value) < 1) {
    throw new InvalidArgumentError('expected a whole number of at least 1')
  }
  return Number(value)
}

/** What each state-changing subcommand sets, and how its result reads. */
const CHANGES: Record<string, { description: string; changes: UserChanges; done: string }> = {
  deactivate: {
    description: 'deactivate an account: no more sign-in, every session and API key ends at once',
    changes: { isActive: false },
    done: 'deactivated',
  },
  activate: { description: 'activate an account again', changes: { isActive: true }, done: 'active' },
  promote: {
    description: 'make an account a superuser (its sessions end: it signs in again with the new right)',
    changes: { isSuperuser: true },
    done: 'a superuser',
  },
  demote: {
    description: 'take superuser rights away (refused for the last active superuser); its sessions end',
    changes: { isSuperuser: false },
    done: 'no longer a superuser',
  },
}

/** `gatehouse users list|show|deactivate|activate|promote|demote`. */
export function registerUsersCommand(program: Command): void {
  const users = program.command('users').description('list, inspect and administer accounts')

  users
    .command('list')
    .description('accounts by id, one per line: id, email, active, verified, role, creation time')
    .option('--email-prefix <prefix>', 'only emails starting with this (case-insensitive)')
    .addOption(new Option('--active', 'only active accounts').conflicts('inactive'))
    .addOption(new Option('--inactive', 'only deactivated accounts').conflicts('active'))
    .option('--limit <n>', 'print at most this many', positiveInteger)
    .action(
      async (options: { emailPrefix?: string; active?: boolean; inactive?: boolean; limit?: number }) => {
        const isActive = options.active ? true : options.inactive ? false : undefined
        const wanted = options.limit ?? Number.POSITIVE_INFINITY
        const found = await withStore(async ({ accounts }) => {
          const lines: string[] = []
          let cursor: string | null = null
          // Page by page (keyset), so a large deployment is never read into memory at once.
          do {
            const page = await accounts.admin.listUsers(OPERATOR, {
              limit: Math.min(MAX_USER_PAGE, wanted - lines.length),
              cursor,
              emailPrefix: options.emailPrefix,
              isActive,
            })
            for (const user of page.users) lines.push(userLine(user))
            cursor = page.nextCursor
          } while (cursor !== null && lines.length < wanted)
          return lines
        })
        if (found.length === 0) console.log('no accounts')
        for (const line of found) console.log(line)
      },
    )

  users
    .command('show')
    .description('one account: its line, then how many live sessions and API keys it has')
    .argument('<email>')
    .action(async (email: string) => {
      const { user, sessions, keys } = await withStore(async ({ store, accounts }) => {
        const id = await userIdOf(store, email)
        return {
          user: await accounts.admin.getUser(OPERATOR, id),
          sessions: (await accounts.admin.listUserSessions(OPERATOR, id)).length,
          keys: (await accounts.admin.listUserApiKeys(OPERATOR, id)).length,
        }
      })
      console.log(userLine(user))
      console.log(`live sessions: ${sessions}  api keys: ${keys}`)
    })

  for (const [name, { description, changes, done }] of Object.entries(CHANGES)) {
    users
      .command(name)
      .description(description)
      .argument('<email>')
      .action(async (email: string) => {
        // `revokes`: the running servers hear of ended sessions at once, not after their cache TTL.
        const user = await withStore(
          async ({ store, accounts }) =>
            accounts.admin.updateUser(OPERATOR, await userIdOf(store, email), changes),
          { revokes: true },
        )
        console.log(`${user.email} is ${done}`)
        console.log(userLine(user))
      })
  }
}
