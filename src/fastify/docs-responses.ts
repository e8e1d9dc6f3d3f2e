import { STATUS_CODES } from 'node:http'

/**
 * What each status means on this API, written once so that no operation in the docs says
 * @fastify/swagger's "Default Response" and no route file has to repeat these sentences. A route
 * that gives its own `description` keeps it.
 */
export const RESPONSE_DESCRIPTIONS: Readonly<Record<string, string>> = Object.freeze({
  '200': 'Successful Response',
  '201': 'Created',
  '202': 'Accepted',
  '204': 'No Content',
  '400': 'Bad request: the body or a header is malformed, or the request cannot be carried out as sent.',
  '401':
    'Not authenticated: the credentials (bearer token, session cookie, or email and password) are missing or invalid.',
  '403':
    'Forbidden: the credentials are valid but do not allow this (another user, a CSRF check, a stale session, an API key without the scope).',
  '404': 'Not found.',
  '409':
    'Conflict: the change would break a rule of the current state (a limit reached, the last superuser).',
  '413': 'The request body, or one of its form fields, is larger than this server accepts.',
  '415': 'The Content-Type is not one this route accepts; `detail` lists the ones it does.',
  '422': 'Validation error: `detail` lists every invalid field as `{loc, msg, type}`.',
  '429': 'Too many attempts: try again after the number of seconds in `Retry-After`.',
  '503': 'Service unavailable: the database is unreachable or the server is shutting down.',
})

const DEFAULT_DESCRIPTION = 'Default Response'

function describe(status: string): string {
  const known = RESPONSE_DESCRIPTIONS[status]
  if (known !== undefined) return known
  if (/^2XX$/i.test(status)) return RESPONSE_DESCRIPTIONS['200']!
  return STATUS_CODES[status] ?? 'Response'
}

type Responses = Record<string, { description?: string }>
interface OpenApiDocument {
  paths?: Record<string, Record<string, { responses?: Responses } | unknown>>
}

/** @fastify/swagger's `transformObject`: fills each "Default Response" with its status's sentence. */
export function describeResponses<T>(document: T): T {
  for (const item of Object.values((document as OpenApiDocument).paths ?? {})) {
    for (const operation of Object.values(item)) {
      const responses = (operation as { responses?: Responses } | null)?.responses
      if (typeof responses !== 'object' || responses === null) continue
      for (const [status, response] of Object.entries(responses)) {
        if (response?.description === DEFAULT_DESCRIPTION) response.description = describe(status)
      }
    }
  }
  return document
}
