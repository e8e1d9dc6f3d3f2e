import cluster from 'node:cluster'
import { availableParallelism } from 'node:os'
import type { Redis } from 'ioredis'
import type { Kysely } from 'kysely'
import { type Accounts, createAccounts } from '../accounts/accounts.ts'
import type { EventHook } from '../accounts/events.ts'
import { defaultHashConcurrency } from '../accounts/hash-admission.ts'
import type { RevocationChannel } from '../accounts/revocation-channel.ts'
import { createPasswordHasher, createPasswordPolicy, hashThreads } from '../core/passwords/index.ts'
import type { Database } from '../store/schema.ts'
import { clusterCounters } from './cluster-counters.ts'
import type { GatehouseConfig } from './config.ts'
import { SERVER_SCOPES } from './server-scopes.ts'

export interface AccountsWiring {
  onBackgroundError?: (error: unknown) => void
  onEvent?: EventHook
  onMailQueued?: () => void
  /** Shared limiter counters (the server's); this process's memory when absent (the CLI). */
  redis?: Redis | null
  /** Cross-instance revocations: the server's listens and publishes, the CLI's only publishes. */
  revocations?: RevocationChannel
}

/** The account use cases as the server and the CLI configure them: one place for both. */
export function accountsFromConfig(
  db: Kysely<Database>,
  config: GatehouseConfig,
  wiring: AccountsWiring = {},
): Accounts {
  // Each worker admits its share: N workers at the single-process default would hash on every
  // core and leave none to answer the other requests.
  const hashesInFlight =
    config.loginConcurrency || Math.max(1, Math.floor(defaultHashConcurrency() / config.workers))
  // More hashing threads than cores only makes them take turns: hashes admitted beyond wait.
  const threads =
    config.loginHashNiceness > 0
      ? hashThreads(Math.min(hashesInFlight, availableParallelism()), config.loginHashNiceness)
      : undefined
  return createAccounts({
    db,
    hasher: createPasswordHasher(undefined, { threads }),
    accessTokenTtlSeconds: config.accessTokenTtlSeconds,
    idleTimeoutSeconds: config.idleTimeoutSeconds,
    touchIntervalSeconds: config.touchIntervalSeconds,
    tokenCacheSeconds: config.tokenCacheSeconds,
    freshSessionSeconds: config.freshSessionSeconds,
    passwordRules: createPasswordPolicy({ minLength: config.passwordMinLength }),
    requireVerifiedEmail: config.requireVerifiedEmail,
    resetTokenTtlSeconds: config.resetTokenTtlSeconds,
    verifyTokenTtlSeconds: config.verifyTokenTtlSeconds,
    sendsMail: config.accountEmails,
    limiters: {
      // OWASP Authentication Cheat Sheet, "Account Lockout": a threshold, an observation window
      // and a lockout duration (defaults and their reasons: src/accounts/login-throttle.ts).
      login: {
        maxFailuresPerAccount: config.loginMaxFailuresPerAccount,
        maxFailuresPerIp: config.loginMaxFailuresPerIp,
        ipWindowSeconds: config.loginIpWindowSeconds,
        blockSeconds: config.loginBlockSeconds,
      },
      register: { maxAttempts: config.registerMaxPerIp, windowSeconds: config.registerWindowSeconds },
      forgotPassword: { maxPerEmail: config.mailRequestsPerEmail, maxPerIp: config.mailRequestsPerIp },
      verify: { maxPerEmail: config.mailRequestsPerEmail, maxPerIp: config.mailRequestsPerIp },
      redis: wiring.redis,
      // Workers without Redis count in the primary: one counter per worker would give N times the
      // guesses (issue 8). The primary answers through serveClusterCounters (src/server/cluster.ts).
      shared: !wiring.redis && cluster.isWorker ? clusterCounters() : null,
      keyPrefix: config.redisKeyPrefix,
      onStoreError: wiring.onBackgroundError,
    },
    onEvent: wiring.onEvent,
    onMailQueued: wiring.onMailQueued,
    onBackgroundError: wiring.onBackgroundError,
    hashAdmission: { maxInFlight: hashesInFlight, maxQueued: config.loginQueueSize },
    revocations: wiring.revocations,
    scopes: SERVER_SCOPES,
    apiKeyMaxDays: config.apiKeyMaxDays,
    passwordChangeEndsApiKeys: config.passwordChangeEndsApiKeys,
  })
}
