import { randomBytes } from 'node:crypto'
import { parseOriginList } from '../core/cors/origin.ts'

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
  bodyLimitBytes: number
  logLevel: string
  docs: boolean
  corsOrigins: string[]
  corsMaxAgeSeconds: number
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

export function loadConfig(env: Env = process.env): GatehouseConfig {
  const mode = environment(env)
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
    idleTimeoutSeconds: integer(env, 'ACCESS_TOKEN_IDLE_SECONDS', 0),
    touchIntervalSeconds: integer(env, 'TOKEN_TOUCH_INTERVAL_SECONDS', 60, 1),
    tokenCacheSeconds: integer(env, 'TOKEN_CACHE_SECONDS', 5, 0, 300),
    pruneIntervalSeconds: integer(env, 'PRUNE_INTERVAL_SECONDS', 3600, 0),
    freshSessionSeconds: integer(env, 'FRESH_SESSION_SECONDS', 600, 0),
    bodyLimitBytes: integer(env, 'BODY_LIMIT_BYTES', 64 * 1024, 1024),
    logLevel: env.LOG_LEVEL || 'info',
    docs: mode === 'development' || env.GATEHOUSE_DOCS === '1',
    corsOrigins: parseOriginList(env.CORS_ORIGINS ?? defaultOrigins),
    corsMaxAgeSeconds: integer(env, 'CORS_MAX_AGE_SECONDS', 600),
  }
}
