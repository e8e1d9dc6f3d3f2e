import { randomBytes } from 'node:crypto'
import { availableParallelism } from 'node:os'
import { DEFAULT_TOUCH_INTERVAL_SECONDS, touchIntervalFor } from '../accounts/access-tokens.ts'
import { LOGIN_THROTTLE_DEFAULTS as LOGIN } from '../accounts/login-throttle.ts'
import { parseOriginList } from '../core/cors/origin.ts'
import { hostMatcher, normalizeHost } from '../fastify/allowed-hosts.ts'
import { SERVER_TIMEOUT_DEFAULTS as TIMEOUTS } from '../fastify/server-options.ts'

export type Environment = 'development' | 'production'

export interface GatehouseConfig {
  env: Environment
  host: string
  port: number
  /** Port of the demo web app (second origin); 0 turns it off. */
  demoPort: number
  databaseUrl: string
  /** HMAC key for CSRF tokens. */
  secret: string
  /** True when no GATEHOUSE_SECRET was given and a per-process one was generated. */
  secretIsEphemeral: boolean
  accessTokenTtlSeconds: number
  idleTimeoutSeconds: number
  touchIntervalSeconds: number
  /** Validated tokens are remembered this long; revocations by another process take this long. */
  tokenCacheSeconds: number
  pruneIntervalSeconds: number
  /** A session younger than this may change the email without re-entering the password. */
  freshSessionSeconds: number
  /** The longest lifetime a new personal API key may ask for. */
  apiKeyMaxDays: number
  /** A password change or reset ends the user's API keys as well as their other sessions. */
  passwordChangeEndsApiKeys: boolean
  bodyLimitBytes: number
  logLevel: string
  docs: boolean
  corsOrigins: string[]
  corsMaxAgeSeconds: number
  /** Consecutive failed password checks before an account is blocked (0: off). */
  loginMaxFailuresPerAccount: number
  /** Failed password checks per client IP within `loginIpWindowSeconds` before it is blocked (0: off). */
  loginMaxFailuresPerIp: number
  loginIpWindowSeconds: number
  loginBlockSeconds: number
  /** Shared login-throttle counters across instances; null keeps them in this process. */
  redisUrl: string | null
  /** Namespace of every Redis key (`<prefix>:login:…`) and the connection's name. */
  redisKeyPrefix: string
  /** Reverse proxies whose X-Forwarded-For is believed (addresses, CIDRs, `loopback`…); [] = none. */
  trustProxy: string[]
  /** Registrations per client IP within `registerWindowSeconds` (0: off). */
  registerMaxPerIp: number
  registerWindowSeconds: number
  /** The OAuth2 password grant (`POST /token`); false turns it off. */
  passwordGrant: boolean
  /** The whole request must arrive within this (0: off). */
  requestTimeoutSeconds: number
  /** The header block must arrive within this. */
  headersTimeoutSeconds: number
  /** Idle keep-alive connections are closed after this. */
  keepAliveTimeoutSeconds: number
  /** The address clients use, e.g. https://api.example.com; null when not given. */
  publicUrl: string | null
  /** Host header values served (`name` on any port, or `name:port`); others get a 400. */
  allowedHosts: string[]
  /** Forgot/reset password, email verification and their mails; off: those routes do not exist. */
  accountEmails: boolean
  /** Where mail links point: the front end that has the reset and verification pages. */
  appUrl: string
  /** `smtp://user:pass@host:port` or `smtps://…`; null: mail is written to ./data/outbox/*.eml. */
  smtpUrl: string | null
  mailFrom: string
  /** Where development mail (no SMTP_URL) is written as .eml files. */
  mailDir: string
  resetTokenTtlSeconds: number
  verifyTokenTtlSeconds: number
  /** Login needs a verified email (403 EMAIL_NOT_VERIFIED after a correct password otherwise). */
  requireVerifiedEmail: boolean
  passwordMinLength: number
  /** Mail requests (forgot password, verification) per email and per client IP, per hour (0: off). */
  mailRequestsPerEmail: number
  mailRequestsPerIp: number
  auditRetentionDays: number
  /** Bound on connecting to the database and on every statement: a silent database cannot hang a request. */
  databaseTimeoutSeconds: number
  /** Connections per process in the PostgreSQL pool. */
  databasePoolSize: number
  /** Password hashes (argon2) computed at once; 0: derived from the cores and the thread pool. */
  loginConcurrency: number
  /** Password checks waiting for a slot; beyond it a login is shed with 503 OVERLOADED. */
  loginQueueSize: number
  /** Nice value of the hashing threads (0: libuv's pool at normal priority): requests run first. */
  loginHashNiceness: number
  /** SIGTERM/SIGINT: requests in hand are answered and work finished within this, then the process exits. */
  shutdownTimeoutSeconds: number
  /** HTTP worker processes (node:cluster) on one port; 1: this process serves. */
  workers: number
}

export type Env = Record<string, string | undefined>

export const MIN_SECRET_LENGTH = 32
const KNOWN_WEAK_SECRETS = new Set(['changeme', 'secret', 'development', 'gatehouse'])

function integer(env: Env, name: string, fallback: number, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  const raw = env[name]
  if (raw === undefined || raw === '') return fallback
  // Decimal digits only: Number() would also take ' ' (0), '0x1F90' and '1e3'.
  const value = /^\d{1,15}$/.test(raw) ? Number(raw) : Number.NaN
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new Error(`${name} must be an integer between ${min} and ${max} (got "${raw}")`)
  }
  return value
}

function environment(env: Env): Environment {
  const value = env.GATEHOUSE_ENV ?? 'development'
  if (value !== 'development' && value !== 'production') {
    throw new Error(`GATEHOUSE_ENV must be "development" or "production" (got "${value}")`)
  }
  return value
}

/**
 * Production refuses to start without a strong secret (OWASP Secrets Management Cheat Sheet;
 * ASVS 5.0 V13.3): a default or short key would let anyone forge CSRF tokens.
 */
function secret(env: Env, mode: Environment): { secret: string; secretIsEphemeral: boolean } {
  const value = env.GATEHOUSE_SECRET
  if (value) {
    if (value.length < MIN_SECRET_LENGTH || KNOWN_WEAK_SECRETS.has(value.toLowerCase())) {
      throw new Error(
        `GATEHOUSE_SECRET must be at least ${MIN_SECRET_LENGTH} random characters ` +
          `(e.g. \`node -e "console.log(require('crypto').randomBytes(32).toString('base64url'))"\`)`,
      )
    }
    return { secret: value, secretIsEphemeral: false }
  }
  if (mode === 'production') throw new Error('GATEHOUSE_SECRET is required when GATEHOUSE_ENV=production')
  return { secret: randomBytes(32).toString('base64url'), secretIsEphemeral: true }
}

function redisUrl(env: Env): string | null {
  const value = env.REDIS_URL
  if (!value) return null
  if (!/^rediss?:\/\/./.test(value)) throw new Error('REDIS_URL must be a redis:// or rediss:// URL')
  return value
}

function redisKeyPrefix(env: Env): string {
  const value = env.REDIS_KEY_PREFIX || 'gatehouse'
  if (!/^[\w:.-]{1,64}$/.test(value)) {
    throw new Error('REDIS_KEY_PREFIX must be 1 to 64 letters, digits, ":", ".", "_" or "-"')
  }
  return value
}

/**
 * Off by default: X-Forwarded-For is written by the client unless a proxy we trust overwrites it,
 * so believing it would let anyone pick the IP the per-IP login limit counts (OWASP Authentication
 * Cheat Sheet; Fastify "trustProxy"). Only named proxies, never `true`.
 */
function trustProxy(env: Env): string[] {
  const entries = (env.TRUST_PROXY ?? '')
    .split(',')
    .map((entry) => entry.trim())
    .filter(Boolean)
  for (const entry of entries) {
    if (!/^(?:[\da-f:.]+(?:\/\d{1,3})?|loopback|linklocal|uniquelocal)$/i.test(entry)) {
      throw new Error(
        `TRUST_PROXY must list proxy addresses, CIDRs or loopback/linklocal/uniquelocal (got "${entry}")`,
      )
    }
  }
  return entries
}

/** `1` on, `0` off, unset the default: no guessing what `false` or `off` meant. */
function flag(env: Env, name: string, fallback: boolean): boolean {
  const raw = env[name]
  if (raw === undefined || raw === '') return fallback
  if (raw !== '0' && raw !== '1') throw new Error(`${name} must be 0 or 1 (got "${raw}")`)
  return raw === '1'
}

function timeouts(env: Env) {
  const request = integer(env, 'REQUEST_TIMEOUT_SECONDS', TIMEOUTS.requestTimeoutSeconds, 0, 3600)
  const headers = integer(env, 'HEADERS_TIMEOUT_SECONDS', TIMEOUTS.headersTimeoutSeconds, 1, 3600)
  // Node refuses a headers timeout above the request timeout: it could never fire.
  if (request > 0 && headers > request) {
    throw new Error(
      `HEADERS_TIMEOUT_SECONDS (${headers}) must not exceed REQUEST_TIMEOUT_SECONDS (${request})`,
    )
  }
  return {
    requestTimeoutSeconds: request,
    headersTimeoutSeconds: headers,
    keepAliveTimeoutSeconds: integer(
      env,
      'KEEP_ALIVE_TIMEOUT_SECONDS',
      TIMEOUTS.keepAliveTimeoutSeconds,
      1,
      3600,
    ),
  }
}

function publicUrl(env: Env): URL | null {
  const value = env.PUBLIC_URL
  if (!value) return null
  const url = URL.canParse(value) ? new URL(value) : null
  if (!url || !/^https?:$/.test(url.protocol) || url.username || url.password) {
    // Not echoed: a URL with credentials in it is exactly what must not reach a log.
    throw new Error('PUBLIC_URL must be an http:// or https:// URL without credentials')
  }
  return url
}

/** Development serves the loopback names, on any port (inject()'s `localhost:80` included). */
const DEVELOPMENT_HOSTS = ['localhost', '127.0.0.1', '[::1]']

/**
 * Which Host values are served (DNS rebinding; src/fastify/host-allowlist.ts). Production must
 * say: ALLOWED_HOSTS, or the host of PUBLIC_URL. `*` is refused, like a wildcard CORS origin.
 */
function allowedHosts(env: Env, mode: Environment, url: URL | null): string[] {
  const raw = env.ALLOWED_HOSTS
  if (raw === undefined || raw.trim() === '') {
    if (url) return [url.host]
    if (mode === 'production') {
      throw new Error('ALLOWED_HOSTS (or PUBLIC_URL) is required when GATEHOUSE_ENV=production')
    }
    return DEVELOPMENT_HOSTS
  }
  const hosts = raw.split(',').map((entry) => {
    const host = normalizeHost(entry)
    if (host === null || entry.trim() === '') {
      throw new Error(
        `ALLOWED_HOSTS must list host names or addresses, each optionally with :port (got "${entry.trim()}")`,
      )
    }
    return host
  })
  if (url && !hostMatcher(hosts)(url.host)) {
    throw new Error(`ALLOWED_HOSTS does not allow the host of PUBLIC_URL (${url.host})`)
  }
  return hosts
}

/**
 * An hour without use ends a token or session (NIST SP 800-63B-4 §2.2.3: AAL2 reauthentication
 * after 1 hour of inactivity; ASVS 5.0 V7.3.1); `last_used_at` is then written at most every
 * 60 s, or half the idle time when that is shorter, so the timeout is exact to within one write.
 */
function idleTimeout(env: Env): { idleTimeoutSeconds: number; touchIntervalSeconds: number } {
  const idleTimeoutSeconds = integer(env, 'ACCESS_TOKEN_IDLE_SECONDS', 3600)
  if (idleTimeoutSeconds === 1) throw new Error('ACCESS_TOKEN_IDLE_SECONDS must be 0 (off) or at least 2')
  const requested = env.TOKEN_TOUCH_INTERVAL_SECONDS
    ? integer(env, 'TOKEN_TOUCH_INTERVAL_SECONDS', DEFAULT_TOUCH_INTERVAL_SECONDS, 1)
    : undefined
  try {
    return { idleTimeoutSeconds, touchIntervalSeconds: touchIntervalFor(idleTimeoutSeconds, requested) }
  } catch {
    throw new Error(
      `TOKEN_TOUCH_INTERVAL_SECONDS (${requested}) must be at most half of ACCESS_TOKEN_IDLE_SECONDS ` +
        `(${idleTimeoutSeconds}), or a token in steady use would be refused as idle`,
    )
  }
}

function smtpUrl(env: Env): string | null {
  const value = env.SMTP_URL
  if (!value) return null
  if (!/^smtps?:\/\/[^/]/.test(value) || !URL.canParse(value)) {
    // Not echoed: the URL carries the SMTP password.
    throw new Error('SMTP_URL must be an smtp:// or smtps:// URL')
  }
  return value
}

function appUrl(env: Env, demoPort: number): string {
  const value = env.APP_URL || `http://localhost:${demoPort || 9000}`
  const url = URL.canParse(value) ? new URL(value) : null
  if (!url || !/^https?:$/.test(url.protocol) || url.username || url.password || url.search || url.hash) {
    throw new Error('APP_URL must be an http:// or https:// URL without credentials, query or fragment')
  }
  return url.href.replace(/\/$/, '')
}

/**
 * The mail half of the account lifecycle. Production sends real mail or none: without SMTP_URL
 * the links would sit in files on a server nobody reads, so it refuses to start unless the
 * features are turned off (ACCOUNT_EMAILS=0).
 */
function mail(env: Env, mode: Environment, demoPort: number) {
  const accountEmails = flag(env, 'ACCOUNT_EMAILS', true)
  const url = smtpUrl(env)
  if (mode === 'production' && accountEmails && !url) {
    throw new Error('SMTP_URL is required when GATEHOUSE_ENV=production (or turn mail off: ACCOUNT_EMAILS=0)')
  }
  return {
    accountEmails,
    appUrl: appUrl(env, demoPort),
    smtpUrl: url,
    mailFrom: env.MAIL_FROM || 'Gatehouse <no-reply@localhost>',
    mailDir: env.MAIL_DIR || 'data/outbox',
    // OWASP Forgot Password Cheat Sheet: a reset link short-lived; a verification link may last a day.
    resetTokenTtlSeconds: integer(env, 'RESET_TOKEN_TTL_SECONDS', 3600, 60, 86400),
    verifyTokenTtlSeconds: integer(env, 'VERIFY_TOKEN_TTL_SECONDS', 86400, 60, 30 * 86400),
    requireVerifiedEmail: flag(env, 'REQUIRE_VERIFIED_EMAIL', false),
    mailRequestsPerEmail: integer(env, 'MAIL_REQUESTS_PER_EMAIL', 5, 0, 1e6),
    mailRequestsPerIp: integer(env, 'MAIL_REQUESTS_PER_IP', 20, 0, 1e6),
  }
}

export function loadConfig(env: Env = process.env): GatehouseConfig {
  const mode = environment(env)
  const url = publicUrl(env)
  const demoPort = integer(env, 'DEMO_PORT', mode === 'production' ? 0 : 9000, 0, 65535)
  // The demo front end is the one cross-origin caller development trusts by default.
  const defaultOrigins = mode === 'development' && demoPort > 0 ? `http://localhost:${demoPort}` : ''
  return {
    env: mode,
    host: env.HOST || '127.0.0.1',
    port: integer(env, 'PORT', 8000, 0, 65535),
    demoPort,
    databaseUrl: env.DATABASE_URL || 'sqlite:./data/gatehouse.db',
    ...secret(env, mode),
    accessTokenTtlSeconds: integer(env, 'ACCESS_TOKEN_TTL_SECONDS', 86400, 1),
    ...idleTimeout(env),
    tokenCacheSeconds: integer(env, 'TOKEN_CACHE_SECONDS', 5, 0, 300),
    pruneIntervalSeconds: integer(env, 'PRUNE_INTERVAL_SECONDS', 3600, 0),
    freshSessionSeconds: integer(env, 'FRESH_SESSION_SECONDS', 600, 0),
    apiKeyMaxDays: integer(env, 'API_KEY_MAX_DAYS', 365, 1, 3650),
    passwordChangeEndsApiKeys: flag(env, 'PASSWORD_CHANGE_ENDS_API_KEYS', true),
    bodyLimitBytes: integer(env, 'BODY_LIMIT_BYTES', 64 * 1024, 1024),
    logLevel: env.LOG_LEVEL || 'info',
    docs: mode === 'development' || env.GATEHOUSE_DOCS === '1',
    corsOrigins: parseOriginList(env.CORS_ORIGINS ?? defaultOrigins),
    corsMaxAgeSeconds: integer(env, 'CORS_MAX_AGE_SECONDS', 600),
    // OWASP Authentication Cheat Sheet, "Account Lockout": a threshold, an observation window and
    // a lockout duration (defaults and their reasons: src/accounts/login-throttle.ts).
    loginMaxFailuresPerAccount: integer(
      env,
      'LOGIN_MAX_FAILURES_PER_ACCOUNT',
      LOGIN.maxFailuresPerAccount,
      0,
      1e6,
    ),
    loginMaxFailuresPerIp: integer(env, 'LOGIN_MAX_FAILURES_PER_IP', LOGIN.maxFailuresPerIp, 0, 1e6),
    loginIpWindowSeconds: integer(env, 'LOGIN_IP_WINDOW_SECONDS', LOGIN.ipWindowSeconds, 1, 86400),
    loginBlockSeconds: integer(env, 'LOGIN_BLOCK_SECONDS', LOGIN.blockSeconds, 1, 86400),
    redisUrl: redisUrl(env),
    redisKeyPrefix: redisKeyPrefix(env),
    trustProxy: trustProxy(env),
    // Account creation per client IP (ASVS 5.0 V2.4.1, anti-automation): 20 an hour still lets a
    // classroom or an office behind one NAT sign up.
    registerMaxPerIp: integer(env, 'REGISTER_MAX_PER_IP', 20, 0, 1e6),
    registerWindowSeconds: integer(env, 'REGISTER_WINDOW_SECONDS', 3600, 1, 7 * 86400),
    passwordGrant: flag(env, 'PASSWORD_GRANT', true),
    ...timeouts(env),
    publicUrl: url ? url.origin : null,
    allowedHosts: allowedHosts(env, mode, url),
    ...mail(env, mode, demoPort),
    // NIST SP 800-63B-4 §3.1.1.2: at least 8, and 15 when the password is the only factor.
    passwordMinLength: integer(env, 'PASSWORD_MIN_LENGTH', 8, 8, 1024),
    auditRetentionDays: integer(env, 'AUDIT_RETENTION_DAYS', 90, 1, 3650),
    databaseTimeoutSeconds: integer(env, 'DATABASE_TIMEOUT_SECONDS', 5, 1, 300),
    databasePoolSize: integer(env, 'DATABASE_POOL_SIZE', 10, 1, 1000),
    loginConcurrency: integer(env, 'LOGIN_CONCURRENCY', 0, 0, 1024),
    loginQueueSize: integer(env, 'LOGIN_QUEUE_SIZE', 16, 0, 100_000),
    loginHashNiceness: integer(env, 'LOGIN_HASH_NICENESS', 10, 0, 19),
    shutdownTimeoutSeconds: integer(env, 'SHUTDOWN_TIMEOUT_SECONDS', 10, 1, 3600),
    workers: workers(env),
  }
}

/** `WORKERS=auto` is one per core; a number is taken as given (1: no cluster). */
function workers(env: Env): number {
  const raw = env.WORKERS
  if (raw === 'auto') return availableParallelism()
  return integer(env, 'WORKERS', 1, 1, 256)
}
