import type { FastifyServerOptions } from 'fastify'

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

export function loggerOptions(level: string): FastifyServerOptions['logger'] {
  return { level, redact: { paths: REDACTED_PATHS, censor: '[redacted]' } }
}
