import { type Accounts, createAccounts } from './accounts/accounts.ts'
import { type Argon2Parameters, createPasswordHasher } from './core/passwords/index.ts'
import type { ScopeRegistry } from './core/scopes/index.ts'
import { openMigratedStore } from './store/migrate.ts'
import type { Store } from './store/open-store.ts'

export interface OpenGatehouseOptions {
  /** `sqlite:<path>` or `postgres://…` (default `sqlite:./data/gatehouse.db`). */
  databaseUrl?: string
  accessTokenTtlSeconds?: number
  idleTimeoutSeconds?: number
  touchIntervalSeconds?: number
  /** Seconds a validated token is remembered in memory (default 5; 0 turns it off). */
  tokenCacheSeconds?: number
  argon2?: Argon2Parameters
  /** What personal API keys may be allowed to do (`defineScopes({...})`); none: no key can be made. */
  scopes?: ScopeRegistry
}

export interface Gatehouse {
  accounts: Accounts
  store: Store
  close(): Promise<void>
}

/** Opens and migrates the store and returns the account use cases on it: the library's front door. */
export async function openGatehouse(options: OpenGatehouseOptions = {}): Promise<Gatehouse> {
  const { store } = await openMigratedStore(options.databaseUrl ?? 'sqlite:./data/gatehouse.db')
  const accounts = createAccounts({
    db: store.db,
    hasher: createPasswordHasher(options.argon2),
    accessTokenTtlSeconds: options.accessTokenTtlSeconds ?? 86400,
    // One hour, as the server's default (NIST SP 800-63B-4 AAL2 inactivity limit).
    idleTimeoutSeconds: options.idleTimeoutSeconds ?? 3600,
    touchIntervalSeconds: options.touchIntervalSeconds,
    tokenCacheSeconds: options.tokenCacheSeconds ?? 5,
    scopes: options.scopes,
  })
  return { accounts, store, close: () => store.close() }
}
