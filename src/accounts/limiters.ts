import type { Redis } from 'ioredis'
import { isGatehouseError } from '../core/errors.ts'
import { type AttemptLimiter, createAttemptLimiter, REGISTER_LIMIT_DEFAULTS } from './attempt-limiter.ts'
import { BoundedMemoryStore } from './bounded-memory-store.ts'
import { createLoginThrottle, type LoginThrottle, type LoginThrottleOptions } from './login-throttle.ts'
import type { SharedCounters } from './shared-counters.ts'

/**
 * The domain's named limiters (OWASP Authentication Cheat Sheet, "Protect against automated
 * attacks"; ASVS 5.0 V2.4.1, V6.3.1): every adapter, and every library user calling the domain
 * directly, gets them without wiring anything.
 * - login: failed password checks per account and per client (login, step-up, password change);
 * - register: account creations and email changes per client (both reveal whether an email is taken);
 * - forgotPassword / verify: mail-sending requests per email and per client, so nobody can make
 *   the server mail-bomb an address.
 */
export interface AccountLimiters {
  login: LoginThrottle
  register: AttemptLimiter
  forgotPassword: MailRequestLimiter
  verify: MailRequestLimiter
}

/** Whether a mail may be queued; never throws, so a refused request answers like any other. */
export interface MailRequestLimiter {
  allow(email: string, ip: string): Promise<boolean>
}

export interface MailRequestLimits {
  /** Requests naming one email within `windowSeconds`; 0: off. */
  maxPerEmail?: number
  /** Requests from one client within `windowSeconds`; 0: off. */
  maxPerIp?: number
  windowSeconds?: number
}

/** 5 mails an hour to one address is plenty for a person and useless to a mail-bomber. */
export const MAIL_REQUEST_LIMIT_DEFAULTS = { maxPerEmail: 5, maxPerIp: 20, windowSeconds: 3600 } as const

export interface LimiterOptions {
  login?: Omit<LoginThrottleOptions, 'redis' | 'keyPrefix' | 'onStoreError' | 'memoryStore'>
  register?: { maxAttempts?: number; windowSeconds?: number }
  forgotPassword?: MailRequestLimits
  verify?: MailRequestLimits
  /** Counters shared by every instance; this process's (bounded) memory when absent. */
  redis?: Redis | null
  /**
   * Counters shared with other processes when there is no Redis, such as the cluster primary's
   * (src/server/cluster-counters.ts): per-process counters would multiply the guesses by N.
   */
  shared?: SharedCounters | null
  /** Keys are `<keyPrefix>:<limiter>:…`; default `gatehouse`. */
  keyPrefix?: string
  onStoreError?: (error: unknown) => void
  /** The most counters kept in this process, all limiters together; default 100 000. */
  maxKeys?: number
}

export function createAccountLimiters(options: LimiterOptions = {}): AccountLimiters {
  const prefix = options.keyPrefix ?? 'gatehouse'
  const memoryStore = new BoundedMemoryStore({ maxKeys: options.maxKeys })
  // Every limiter below counts in `shared` (Redis first), with this memory as its fallback.
  const common = {
    redis: options.redis,
    shared: options.shared,
    onStoreError: options.onStoreError,
    memoryStore,
  }
  const mailLimiter = (name: string, limits: MailRequestLimits = {}): MailRequestLimiter => {
    const defaults = MAIL_REQUEST_LIMIT_DEFAULTS
    const windowSeconds = limits.windowSeconds ?? defaults.windowSeconds
    const perEmail = createAttemptLimiter({
      ...common,
      maxAttempts: limits.maxPerEmail ?? defaults.maxPerEmail,
      windowSeconds,
      keyPrefix: `${prefix}:${name}`,
      per: 'account',
    })
    const perIp = createAttemptLimiter({
      ...common,
      maxAttempts: limits.maxPerIp ?? defaults.maxPerIp,
      windowSeconds,
      keyPrefix: `${prefix}:${name}`,
    })
    const allowed = (attempt: Promise<void>) =>
      attempt.then(
        () => true,
        (error: unknown) => {
          if (isGatehouseError(error) && error.code === 'RATE_LIMITED') return false
          throw error
        },
      )
    return {
      async allow(email, ip) {
        // Both count, even when the first refuses: a client spraying addresses is still counted.
        const [byEmail, byIp] = await Promise.all([
          allowed(perEmail.consume(email)),
          allowed(perIp.consume(ip)),
        ])
        return byEmail && byIp
      },
    }
  }
  return {
    login: createLoginThrottle({ ...options.login, ...common, keyPrefix: `${prefix}:login` }),
    register: createAttemptLimiter({
      ...common,
      maxAttempts: options.register?.maxAttempts ?? REGISTER_LIMIT_DEFAULTS.maxAttempts,
      windowSeconds: options.register?.windowSeconds ?? REGISTER_LIMIT_DEFAULTS.windowSeconds,
      keyPrefix: `${prefix}:register`,
    }),
    forgotPassword: mailLimiter('forgot', options.forgotPassword),
    verify: mailLimiter('verify', options.verify),
  }
}
