import type { Redis } from 'ioredis'
import { type RateLimiterLike, RateLimiterRes } from 'rate-limiter-flexible'
import { BoundedMemoryStore } from './bounded-memory-store.ts'
import { counterLimiter, rateLimited } from './rate-limit.ts'
import { BLOCKED_POINTS, type SharedCounters } from './shared-counters.ts'
import { accountKey, clientKey } from './throttle-keys.ts'

/**
 * Brute-force protection of every password check (OWASP Authentication Cheat Sheet, "Protect
 * against automated attacks" and "Account Lockout"; ASVS 5.0 V6.3.1): failed checks are counted
 * per account and per client IP; at a limit the key is blocked for a while, and a blocked attempt
 * is answered 429 before any hashing.
 */
export interface LoginThrottleOptions {
  /** Consecutive failed checks of one account (reset by a success) that block it; 0: off. */
  maxFailuresPerAccount?: number
  /** Failed checks from one client within `ipWindowSeconds` that block it; 0: off. */
  maxFailuresPerIp?: number
  ipWindowSeconds?: number
  blockSeconds?: number
  /** Counters shared by every instance on this Redis; this process's memory when absent. */
  redis?: Redis | null
  /** Keys are `<keyPrefix>:account:<sha256 of the email>` and `<keyPrefix>:ip:<address>`. */
  keyPrefix?: string
  /** A store error that could not be absorbed (that counter then lets the attempt through). */
  onStoreError?: (error: unknown) => void
  /** The most counters kept in this process (the store, or Redis's insurance); default 100 000. */
  maxKeys?: number
  /** This process's store (both counters share it and its bound); a new one of `maxKeys` when absent. */
  memoryStore?: BoundedMemoryStore
  /** Counters shared with the other processes when there is no Redis (the cluster primary's). */
  shared?: SharedCounters | null
}

export interface LoginThrottle {
  /**
   * Runs `check` (a password check: truthy is a success) unless the account or the client is
   * blocked, in which case it throws RATE_LIMITED (429 with Retry-After) without calling it.
   * A check that could not reach a verdict throws NoVerdict: the attempt is given back and the
   * error it wraps leaves instead.
   * `ip` is Fastify's `request.ip`: behind a reverse proxy that is the proxy's address unless
   * Fastify's `trustProxy` names it (off by default: X-Forwarded-For is client-controlled).
   */
  guard<T>(email: string, ip: string, check: () => Promise<T>): Promise<T>
}

/** 10 per account: OWASP's example lockout threshold; 100 per IP in 15 min leaves room for a NAT. */
export const LOGIN_THROTTLE_DEFAULTS = {
  maxFailuresPerAccount: 10,
  maxFailuresPerIp: 100,
  ipWindowSeconds: 900,
  blockSeconds: 900,
  keyPrefix: 'gatehouse:login',
} as const

/** An account's failures are forgotten a day after the first (or at once by a success). */
const ACCOUNT_WINDOW_SECONDS = 86400
/** A blocked key holds this: far above any limit (≤ 1e6), so it reads as blocked, not as busy. */
const BLOCKED = BLOCKED_POINTS
export const RATE_LIMITED_DETAIL = 'Too many failed attempts, try again later'

/**
 * The per-account counter *reserves* a point before each check (given back unless it fails) and
 * refuses at its limit, in flight included: a burst on one account reaches at most `limit`
 * checks, at the price of a 1 s "retry" for a correct password sent while ten others for the same
 * account are being checked (which only an attack does). The per-IP counter counts *failures*,
 * after the check: many users behind one NAT, or one busy client, logging in at once must never
 * get 429 for a correct password because other attempts are merely in flight (issue 8). Its limit
 * can then be overshot by the checks already admitted when the last failure lands, bounded by
 * the hash admission (maxInFlight + maxQueued per process, 17 by default, against a limit of 100).
 * OWASP Authentication Cheat Sheet, "Protect against automated attacks"; ASVS 5.0 V6.3.1.
 */
interface Counter {
  limiter: RateLimiterLike
  key: string
  limit: number
  reserves: boolean
}

/**
 * Thrown by a check that reached no verdict: the password was never compared (the store failed
 * before it could be read, the hashing was shed as OVERLOADED). The attempt then counts nowhere
 * (issue 8: a login that failed because the database was down is not a wrong password) and the
 * guard rethrows `error`. Anything else a check throws counts as a failure, since it may come
 * after the comparison and its 5xx would otherwise tell a right password from a wrong one.
 */
export class NoVerdict extends Error {
  constructor(readonly error: unknown) {
    super('the password check did not run')
    this.name = 'NoVerdict'
  }
}

const isBlocked = (res: RateLimiterRes) => res.consumedPoints > BLOCKED / 2

/**
 * Reads every key first, creating nothing: a blocked key (or one at its limit while its last
 * attempts are being checked) refuses the attempt without a counter for the others. Refused
 * guesses then cost no memory however many emails they name (CWE-770). Returns the ms to wait,
 * or -1 when the attempt may go on to be counted.
 */
async function refusal(counters: Counter[], onStoreError: (error: unknown) => void): Promise<number> {
  const outcomes = await Promise.allSettled(counters.map((c) => c.limiter.get(c.key)))
  let waitMs = -1
  outcomes.forEach((outcome, i) => {
    const counter = counters[i] as Counter
    if (outcome.status === 'rejected') onStoreError(outcome.reason)
    else if (outcome.value && isBlocked(outcome.value)) waitMs = Math.max(waitMs, outcome.value.msBeforeNext)
    else if (outcome.value && outcome.value.consumedPoints >= counter.limit) waitMs = Math.max(waitMs, 1000)
  })
  return waitMs
}

/**
 * Counts the attempt on every *reserving* key before its check (given back unless it fails): a
 * burst of concurrent guesses cannot all slip past a read-then-count (no check-then-act race).
 * The read in `refusal` only turns away early what this count would refuse anyway.
 */
async function reserve(counters: Counter[], onStoreError: (error: unknown) => void) {
  const reserving = counters.filter((c) => c.reserves)
  const outcomes = await Promise.allSettled(reserving.map((c) => c.limiter.consume(c.key)))
  const taken: { counter: Counter; at: number }[] = []
  let blockedMs = -1
  let overLimit = false
  outcomes.forEach((outcome, i) => {
    const counter = reserving[i] as Counter
    if (outcome.status === 'fulfilled') taken.push({ counter, at: outcome.value.consumedPoints })
    else if (!(outcome.reason instanceof RateLimiterRes)) onStoreError(outcome.reason)
    else if (isBlocked(outcome.reason)) {
      blockedMs = Math.max(blockedMs, outcome.reason.msBeforeNext)
    } else {
      // Over the limit only because other attempts are still being checked: not blocked yet.
      overLimit = true
      taken.push({ counter, at: outcome.reason.consumedPoints })
    }
  })
  return { taken, blockedMs, overLimit }
}

export function createLoginThrottle(options: LoginThrottleOptions = {}): LoginThrottle {
  const defaults = LOGIN_THROTTLE_DEFAULTS
  const blockSeconds = options.blockSeconds ?? defaults.blockSeconds
  const keyPrefix = options.keyPrefix ?? defaults.keyPrefix
  const onStoreError = options.onStoreError ?? (() => {})
  const accountLimit = options.maxFailuresPerAccount ?? defaults.maxFailuresPerAccount
  const ipLimit = options.maxFailuresPerIp ?? defaults.maxFailuresPerIp
  const ipWindow = options.ipWindowSeconds ?? defaults.ipWindowSeconds
  if (accountLimit <= 0 && ipLimit <= 0) return { guard: (_email, _ip, check) => withoutNoVerdict(check) }
  const memory = options.memoryStore ?? new BoundedMemoryStore({ maxKeys: options.maxKeys })
  const limiter = (points: number, durationSeconds: number, suffix: string) =>
    points > 0
      ? counterLimiter({
          points,
          durationSeconds,
          keyPrefix: `${keyPrefix}:${suffix}`,
          memory,
          redis: options.redis,
          shared: options.shared,
          blockSeconds,
        })
      : null
  const perAccount = limiter(accountLimit, ACCOUNT_WINDOW_SECONDS, 'account')
  const perIp = limiter(ipLimit, ipWindow, 'ip')

  const settle = (promises: Promise<unknown>[]) =>
    Promise.all(promises.map((promise) => promise.catch(onStoreError)))
  const block = (counter: Counter) => counter.limiter.set(counter.key, BLOCKED, blockSeconds)

  return {
    async guard<T>(email: string, ip: string, check: () => Promise<T>): Promise<T> {
      const counters: Counter[] = []
      if (perAccount) {
        counters.push({ limiter: perAccount, key: accountKey(email), limit: accountLimit, reserves: true })
      }
      if (perIp) counters.push({ limiter: perIp, key: clientKey(ip), limit: ipLimit, reserves: false })

      const waitMs = await refusal(counters, onStoreError)
      if (waitMs >= 0) throw rateLimited(waitMs, RATE_LIMITED_DETAIL)
      const { taken, blockedMs, overLimit } = await reserve(counters, onStoreError)
      const giveBack = () => settle(taken.map(({ counter: c }) => c.limiter.reward(c.key)))
      if (blockedMs >= 0 || overLimit) {
        // Blocked since it was read: it checked no password, so it counts nowhere (the memory
        // store forgets a count given back to zero; Redis keeps it until its window ends).
        await giveBack()
        throw rateLimited(blockedMs >= 0 ? blockedMs : 1000, RATE_LIMITED_DETAIL)
      }

      // The failure that reaches a limit blocks that key for blockSeconds.
      const failed = () =>
        settle([
          ...taken.filter(({ counter, at }) => at >= counter.limit).map(({ counter }) => block(counter)),
          ...counters
            .filter((counter) => !counter.reserves)
            .map(async (counter) => {
              const res = await counter.limiter.penalty(counter.key)
              if (res.consumedPoints >= counter.limit) await block(counter)
            }),
        ])
      let result: Awaited<T>
      try {
        result = await check()
      } catch (error) {
        if (error instanceof NoVerdict) {
          // No password was compared (the store failed, the hashing was shed): not an attempt.
          await giveBack()
          throw error.error
        }
        // Anything else may have come after the comparison: only a proven success is free.
        await failed()
        throw error
      }
      if (!result) {
        await failed()
        return result
      }
      // A success forgets the account's failures (they were consecutive) and is no IP failure.
      await settle(taken.map(({ counter: c }) => c.limiter.delete(c.key)))
      return result
    },
  }
}

/** No throttle: a check's NoVerdict still leaves as the error it wraps. */
async function withoutNoVerdict<T>(check: () => Promise<T>): Promise<T> {
  try {
    return await check()
  } catch (error) {
    throw error instanceof NoVerdict ? error.error : error
  }
}
