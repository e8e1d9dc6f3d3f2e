import type { FastifyRequest, FastifyServerOptions } from 'fastify'
import { API_KEY_PREFIX, TOKEN_PREFIX } from '../core/tokens/index.ts'

/**
 * Pino JSON logs; credentials never reach them (OWASP Logging Cheat Sheet, "Data to exclude";
 * ASVS 5.0 V16.2.5). Paths cover request headers, reply headers and bodies that may be logged.
 */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-csrftoken"]',
  'res.headers["set-cookie"]',
  '*.password',
  '*.current_password',
  '*.access_token',
  '*.token',
  '*.csrf_token',
]

/**
 * The path without its query string: `?access_token=`, `?x-csrftoken=` or an `apiKeyQuery` of any
 * name would otherwise be written to every log line of the request (OWASP Logging Cheat Sheet:
 * access tokens and session ids are data to exclude). No name-based guessing: all of it goes.
 */
export function loggedUrl(url: string): string {
  const query = url.indexOf('?')
  const path = query === -1 ? url : url.slice(0, query)
  // A token pasted into the path itself (`/me;access_token=gth_…`) is cut out too: our tokens
  // carry a recognisable prefix, so the path stays readable.
  const redactedPath = path.includes('%') ? redactEncoded(path) : path.replace(TOKEN_IN_PATH, '$1[redacted]')
  return query === -1 ? redactedPath : `${redactedPath}?[redacted]`
}

/**
 * `/%67hk_…` is the same path to the router as `/ghk_…`: a segment that names a token once
 * percent-decoded is replaced whole (its encoded form cannot be cut at the prefix).
 */
function redactEncoded(path: string): string {
  return path
    .split('/')
    .map((segment) => {
      let decoded: string
      try {
        decoded = decodeURIComponent(segment)
      } catch {
        // Not valid UTF-8 or a stray `%` (`%ZZ`): the router refuses it, but the line is logged;
        // each well-formed escape is decoded alone, enough to see an ASCII prefix.
        decoded = segment.replace(/%([0-9A-Fa-f]{2})/g, (_, hex: string) =>
          String.fromCharCode(Number.parseInt(hex, 16)),
        )
      }
      TOKEN_IN_PATH.lastIndex = 0
      return TOKEN_IN_PATH.test(decoded) ? '[redacted]' : segment
    })
    .join('/')
}

// Every kind: access (gth_), reset (gthr_) and verification (gthv_) tokens, and API keys (ghk_).
const TOKEN_IN_PATH = new RegExp(`(${TOKEN_PREFIX.slice(0, -1)}[rv]?_|${API_KEY_PREFIX})[^/;?#]*`, 'g')

/** Fastify's own request serializer, with the query string redacted. */
function serializeRequest(request: FastifyRequest) {
  return {
    method: request.method,
    url: loggedUrl(request.url),
    version: request.headers?.['accept-version'],
    host: request.host,
    remoteAddress: request.ip,
    remotePort: request.socket?.remotePort,
  }
}

export function loggerOptions(level: string): FastifyServerOptions['logger'] {
  return {
    level,
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    serializers: { req: serializeRequest as (request: unknown) => Record<string, unknown> },
  }
}
