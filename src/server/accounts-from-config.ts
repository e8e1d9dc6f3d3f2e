import type { Kysely } from 'kysely'
import { type Accounts, createAccounts } from '../accounts/accounts.ts'
import { createPasswordHasher } from '../core/passwords/index.ts'
import type { Database } from '../store/schema.ts'
import type { GatehouseConfig } from './config.ts'

/** The account use cases as the server and the CLI configure them: one place for both. */
export function accountsFromConfig(
  db: Kysely<Database>,
  config: GatehouseConfig,
  onBackgroundError?: (error: unknown) => void,
): Accounts {
  return createAccounts({
    db,
    hasher: createPasswordHasher(),
    accessTokenTtlSeconds: config.accessTokenTtlSeconds,
    idleTimeoutSeconds: config.idleTimeoutSeconds,
    touchIntervalSeconds: config.touchIntervalSeconds,
    tokenCacheSeconds: config.tokenCacheSeconds,
    onBackgroundError,
  })
}
