/**
 * One table of stable error codes. Codes never change once published; status and message may.
 * The HTTP layer maps a GatehouseError to `{"detail": message, "code": code}` with its status.
 */
export const ERRORS = {
  NOT_AUTHENTICATED: { status: 401, detail: 'Not authenticated' },
  INVALID_TOKEN: { status: 401, detail: 'Invalid or expired token' },
  BAD_CREDENTIALS: { status: 401, detail: 'Incorrect email or password' },
  INVALID_API_KEY: { status: 403, detail: 'Not authenticated' },
  FORBIDDEN: { status: 403, detail: 'Forbidden' },
  /** RFC 6750 §3.1 `insufficient_scope`: the credential is valid but may not do this. */
  INSUFFICIENT_SCOPE: { status: 403, detail: 'The credential lacks the scope this request needs' },
  /** A personal API key opens only the routes its scopes name: never credentials, keys or admin. */
  API_KEY_NOT_ALLOWED: { status: 403, detail: 'An API key cannot be used for this request' },
  SUPERUSER_REQUIRED: { status: 403, detail: 'This needs a superuser' },
  CSRF_FAILED: { status: 403, detail: 'CSRF token verification failed' },
  CROSS_SITE_REQUEST: { status: 403, detail: 'Cross-site request refused' },
  FRESH_SESSION_REQUIRED: {
    status: 403,
    detail: 'This change needs a recent login or the current password',
  },
  EMAIL_EXISTS: { status: 400, detail: 'Email already exists' },
  /** Someone must be able to administer the deployment: the last superuser keeps the flag. */
  LAST_SUPERUSER: { status: 409, detail: 'The last active superuser cannot lose superuser rights' },
  UNKNOWN_SCOPE: { status: 422, detail: 'Unknown scope' },
  API_KEY_LIMIT: { status: 409, detail: 'Too many API keys: revoke one first' },
  INVALID_CURRENT_PASSWORD: { status: 400, detail: 'The current password is incorrect' },
  RESET_TOKEN_INVALID: { status: 400, detail: 'This reset link is invalid or has expired' },
  VERIFY_TOKEN_INVALID: { status: 400, detail: 'This verification link is invalid or has expired' },
  EMAIL_NOT_VERIFIED: { status: 403, detail: 'Verify your email address before signing in' },
  UNSUPPORTED_GRANT_TYPE: { status: 400, detail: 'unsupported_grant_type' },
  INACTIVE_USER: { status: 400, detail: 'Inactive user' },
  NOT_FOUND: { status: 404, detail: 'Not Found' },
  METHOD_NOT_ALLOWED: { status: 405, detail: 'Method Not Allowed' },
  MALFORMED_REQUEST: { status: 400, detail: 'Malformed request' },
  MALFORMED_URL: { status: 400, detail: 'Malformed URL' },
  INVALID_HOST: { status: 400, detail: 'Host not allowed' },
  MALFORMED_BODY: { status: 400, detail: 'Malformed request body' },
  MALFORMED_AUTHORIZATION: { status: 400, detail: 'Malformed Authorization header' },
  REQUEST_TIMEOUT: { status: 408, detail: 'Request timeout' },
  BODY_TOO_LARGE: { status: 413, detail: 'Request body too large' },
  URI_TOO_LONG: { status: 414, detail: 'URI too long' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, detail: 'Unsupported media type' },
  EXPECTATION_FAILED: { status: 417, detail: 'Only "Expect: 100-continue" is supported' },
  HEADERS_TOO_LARGE: { status: 431, detail: 'Request header fields too large' },
  /** Any other 4xx raised below us: sent with its own status and that status's reason phrase. */
  CLIENT_ERROR: { status: 400, detail: 'Bad Request' },
  VALIDATION_FAILED: { status: 422, detail: 'Validation failed' },
  PASSWORD_POLICY: { status: 422, detail: 'Password does not meet the policy' },
  PASSWORD_TOO_COMMON: { status: 422, detail: 'This password is too common' },
  RATE_LIMITED: { status: 429, detail: 'Too many requests' },
  INTERNAL: { status: 500, detail: 'Internal Server Error' },
  UNAVAILABLE: { status: 503, detail: 'Service unavailable' },
  /** The database did not answer or cannot write (down, restarting, full, read-only, timed out). */
  STORE_UNAVAILABLE: { status: 503, detail: 'The database is unavailable, try again shortly' },
  /** More password checks are waiting than the server can run soon: shed before any hashing. */
  OVERLOADED: { status: 503, detail: 'The server is busy, try again shortly' },
  /** This instance is draining before it stops; another instance (or this one restarted) answers. */
  SHUTTING_DOWN: { status: 503, detail: 'The server is restarting, try again shortly' },
} as const satisfies Record<string, { status: number; detail: string }>

export type ErrorCode = keyof typeof ERRORS

/** A readable message for a string detail or a FastAPI-style list of field errors. */
function messageOf(detail: unknown): string | undefined {
  if (typeof detail === 'string') return detail
  if (!Array.isArray(detail)) return undefined
  const messages = detail
    .map((item) => (item as { msg?: unknown })?.msg)
    .filter((msg) => typeof msg === 'string')
  return messages.length > 0 ? messages.join('; ') : undefined
}

export interface GatehouseErrorOptions {
  detail?: unknown
  /** Transport headers; set by an adapter only (the domain knows no HTTP). */
  headers?: Record<string, string>
  field?: string
  retryAfterSeconds?: number
}

/** A domain error: knows its stable code, not how it reaches the client. */
export class GatehouseError extends Error {
  readonly code: ErrorCode
  readonly status: number
  /** FastAPI's `detail`: a message, or a list of field errors for 422. */
  readonly detail: unknown
  readonly headers: Readonly<Record<string, string>>
  /** The input field refused (a domain name such as `newPassword`); an adapter places it. */
  readonly field: string | undefined
  /** When to try again, for RATE_LIMITED; an adapter turns it into Retry-After. */
  readonly retryAfterSeconds: number | undefined

  constructor(code: ErrorCode, options: GatehouseErrorOptions = {}) {
    const entry = ERRORS[code]
    super(messageOf(options.detail) ?? entry.detail)
    this.name = 'GatehouseError'
    this.code = code
    this.status = entry.status
    this.detail = options.detail ?? entry.detail
    this.headers = options.headers ?? {}
    this.field = options.field
    this.retryAfterSeconds = options.retryAfterSeconds
  }
}

export function isGatehouseError(value: unknown): value is GatehouseError {
  return value instanceof GatehouseError
}
