/**
 * One classification of store errors. "Unavailable" means the database could not serve the
 * statement for a reason of its own (down, restarting, unreachable, too slow, full, read-only, or
 * closing with the app), so the same request may succeed shortly: a 503 with Retry-After, never a
 * 500 and never a verdict on the caller's input. Everything else (a constraint, a syntax error, a
 * bug) is not, and stays a 500.
 */

/** Node's socket and resolver failures: the database host cannot be reached or dropped us. */
const NODE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'ENOTCONN',
  'EAI_AGAIN',
  'EAI_FAIL',
  'ENOTFOUND',
  'ERR_SOCKET_CLOSED',
  'ERR_STREAM_DESTROYED',
  'ERR_STREAM_WRITE_AFTER_END',
])

/**
 * PostgreSQL SQLSTATEs (Appendix A, "PostgreSQL Error Codes"): class 08 connection exception, 53
 * insufficient resources (disk full, out of memory, too many connections), 58 system error (I/O);
 * 57P01-57P05 the server ending the session (shutdown, crash, "the database system is starting
 * up", database dropped, idle-session timeout); 57014 a statement cancelled by statement_timeout;
 * 55P03 a lock not granted in time; 25006 a write on a read-only server (a standby after failover).
 */
const SQLSTATE_CLASSES = new Set(['08', '53', '58'])
const SQLSTATES = new Set(['57P01', '57P02', '57P03', '57P04', '57P05', '57014', '55P03', '25006'])

/**
 * SQLite result codes, primary and extended (https://sqlite.org/rescode.html): busy or locked past
 * busy_timeout, disk full, I/O error, read-only file or folder, the file cannot be opened, out of
 * memory, a WAL locking protocol failure.
 */
const SQLITE_CODES = /^SQLITE_(BUSY|LOCKED|FULL|IOERR|READONLY|CANTOPEN|NOMEM|PROTOCOL)(_|$)/

/**
 * pg, pg-pool and Kysely report a lost or closed connection with a plain Error and no code; only
 * the message says what happened. Anchored, so a server message quoting user input cannot match.
 */
const DRIVER_MESSAGES = [
  /^Connection terminated( unexpectedly| due to connection timeout)?$/,
  /^timeout exceeded when trying to connect$/,
  /^Query read timeout$/,
  /^Client has encountered a connection error and is not queryable$/,
  /^Client was closed and is not queryable$/,
  /^Cannot use a pool after calling end on the pool$/,
  /^driver has already been destroyed$/,
  /^The database connection is not open$/,
  // SQLite rolls a transaction back by itself on SQLITE_FULL, SQLITE_IOERR, SQLITE_BUSY and
  // SQLITE_NOMEM (https://sqlite.org/lang_transaction.html, "Response To Errors Within A
  // Transaction"); Kysely's own ROLLBACK then fails with this, and it replaces the original error.
  /^cannot rollback - no transaction is active$/,
]

function codeOf(error: object): string | undefined {
  const code = (error as { code?: unknown }).code
  return typeof code === 'string' ? code : undefined
}

/** Five characters, like EPIPE: a node code is told apart by name. */
const isSqlState = (code: string) => /^[0-9A-Z]{5}$/.test(code) && !NODE_CODES.has(code)

function isUnavailableItself(error: object): boolean {
  const code = codeOf(error)
  if (code !== undefined) {
    if (NODE_CODES.has(code) || SQLITE_CODES.test(code) || SQLSTATES.has(code)) return true
    if (isSqlState(code) && SQLSTATE_CLASSES.has(code.slice(0, 2))) return true
  }
  const message = (error as { message?: unknown }).message
  return typeof message === 'string' && DRIVER_MESSAGES.some((pattern) => pattern.test(message))
}

/** Bounds the walk: a cause chain is a few links deep, and a cycle must not loop. */
const MAX_VISITS = 32

/** True when the error, its `cause` chain or an AggregateError's `errors` say the store is unavailable. */
export function isStoreUnavailable(error: unknown): boolean {
  const pending: unknown[] = [error]
  const seen = new Set<unknown>()
  while (pending.length > 0 && seen.size < MAX_VISITS) {
    const current = pending.pop()
    if (current === null || typeof current !== 'object' || seen.has(current)) continue
    seen.add(current)
    if (isUnavailableItself(current)) return true
    const { cause, errors } = current as { cause?: unknown; errors?: unknown }
    if (cause !== undefined) pending.push(cause)
    if (Array.isArray(errors)) pending.push(...errors)
  }
  return false
}

/**
 * A lost connection (as opposed to the server refusing one statement): the pg client it came from
 * is in an unknown protocol state and must be discarded, not returned to the pool.
 */
export function isConnectionLost(error: unknown): boolean {
  if (error === null || typeof error !== 'object') return false
  const code = codeOf(error)
  if (code !== undefined && isSqlState(code)) return code.startsWith('08') || code.startsWith('57P')
  return isStoreUnavailable(error)
}
