import { existsSync, mkdirSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import SqliteDatabase from 'better-sqlite3'
import { Kysely, PostgresDialect, SqliteAdapter, SqliteDialect, sql } from 'kysely'
import pg from 'pg'
import { parseDatabaseUrl } from './database-url.ts'
import type { Database, Dialect } from './schema.ts'
import { withStatementCache } from './statement-cache.ts'
import { isConnectionLost } from './store-errors.ts'

export interface Store {
  db: Kysely<Database>
  dialect: Dialect
  close(): Promise<void>
}

const PG_INT8_OID = 20
const DEFAULT_TIMEOUT_SECONDS = 5
/** An idle pooled connection is closed after this: a restarted server's stale sockets do not linger. */
const IDLE_TIMEOUT_MS = 30_000
/** TCP keep-alive probes on idle sockets, so a silently dropped connection is noticed. */
const KEEP_ALIVE_DELAY_MS = 10_000
/**
 * The client-side bound fires this long after the server's statement_timeout: a statement that is
 * merely slow is cancelled by the server (57014, the connection stays usable); only a server that
 * says nothing at all (a dropped network, a blackhole) is cut off by the client's timer.
 */
const CLIENT_TIMEOUT_MARGIN_MS = 500
/** Without DATABASE_TIMEOUT_SECONDS: a transaction idle this long is abandoned. */
const IDLE_IN_TRANSACTION_MS = 60_000

/**
 * Only the default folder, `./data/` of the working directory, is created. Any other missing
 * folder is refused: a typo in DATABASE_URL must not scatter directories over the filesystem.
 */
function ensureParentDirectory(path: string): void {
  const dir = dirname(path)
  if (existsSync(dir)) return
  if (dir === resolve('data')) {
    mkdirSync(dir)
    return
  }
  throw new Error(`DATABASE_URL: the folder ${dir} does not exist; create it first (only ./data/ is created)`)
}

function openSqlite(path: string, options: StoreOptions): Kysely<Database> {
  if (path !== ':memory:') ensureParentDirectory(path)
  const database = new SqliteDatabase(path)
  // WAL: readers never block the writer; foreign keys are off by default in SQLite.
  database.pragma('journal_mode = WAL')
  database.pragma('synchronous = NORMAL')
  database.pragma('foreign_keys = ON')
  // A writer waits this long for another process's lock, then SQLITE_BUSY: a 503, not a hang.
  database.pragma(`busy_timeout = ${timeoutMs(options) || DEFAULT_TIMEOUT_SECONDS * 1000}`)
  return new Kysely<Database>({ dialect: new SqliteDialect({ database: withStatementCache(database) }) })
}

const timeoutMs = (options: StoreOptions) => (options.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS) * 1000

function openPostgres(url: string, options: StoreOptions): Kysely<Database> {
  const timeout = timeoutMs(options)
  const pool = new pg.Pool({
    connectionString: url,
    max: options.poolSize ?? 10,
    // Connecting, and waiting for a free pooled connection, are bounded: a database that drops
    // packets answers "timeout exceeded when trying to connect", a 503, instead of hanging.
    connectionTimeoutMillis: timeout || DEFAULT_TIMEOUT_SECONDS * 1000,
    ...(timeout > 0 ? { statement_timeout: timeout, query_timeout: timeout + CLIENT_TIMEOUT_MARGIN_MS } : {}),
    // A transaction whose client vanished (a network partition: its close never reached the
    // server) would hold its locks until the server's TCP keepalive notices, ~2 h by default; the
    // server ends it instead once it sits idle this long. Our transactions never wait on the client
    // between statements, so this holds without a statement bound too (and for migrations).
    idle_in_transaction_session_timeout:
      timeout > 0 ? timeout + CLIENT_TIMEOUT_MARGIN_MS : IDLE_IN_TRANSACTION_MS,
    idleTimeoutMillis: IDLE_TIMEOUT_MS,
    keepAlive: true,
    keepAliveInitialDelayMillis: KEEP_ALIVE_DELAY_MS,
    // Names our sessions in pg_stat_activity, for the operator (and pg_terminate_backend).
    application_name: 'gatehouse',
    // bigint (epoch milliseconds) as a JS number, like SQLite gives: safe until year 287396.
    types: {
      getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
        oid === PG_INT8_OID ? Number : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
    },
  })
  // An idle pooled client whose connection the server ends (a restart, pg_terminate_backend, a
  // dropped database) emits 'error' on the pool; with no listener Node would kill the process.
  // The pool has already discarded that client and opens a fresh one on the next query, which
  // reports any lasting outage itself, so there is nothing more to do here.
  pool.on('error', () => {})
  // A checked-out client has no pool listener: "Connection terminated unexpectedly" on it would
  // be an unhandled 'error' event, which ends the process. The query in flight is rejected anyway.
  const lost = new WeakMap<pg.PoolClient, Error>()
  pool.on('connect', (client) => client.on('error', (error) => lost.set(client, error)))
  return new Kysely<Database>({ dialect: new PostgresDialect({ pool: discardingLostClients(pool, lost) }) })
}

/**
 * After a client-side timeout or a dropped socket, a pg client is in an unknown protocol state
 * (the timed-out query may still hold it): returned to the pool, it would fail or hang every later
 * query. Such a client refuses further statements at once (a transaction's rollback does not wait
 * a second timeout) and is destroyed on release; the pool opens a fresh one when it is needed.
 */
function discardingLostClients(pool: pg.Pool, lost: WeakMap<pg.PoolClient, Error>) {
  const wrapped = new WeakMap<pg.PoolClient, pg.PoolClient>()
  const wrap = (client: pg.PoolClient): pg.PoolClient => {
    const query = client.query.bind(client) as (...args: unknown[]) => unknown
    const guarded = (...args: unknown[]) => {
      const broken = lost.get(client)
      if (broken) return Promise.reject(broken)
      const result = query(...args)
      if (result instanceof Promise) {
        result.catch((error: unknown) => {
          if (isConnectionLost(error)) lost.set(client, error as Error)
        })
      }
      return result
    }
    return new Proxy(client, {
      get(target, property) {
        if (property === 'query') return guarded
        // pg-pool sets a new `release` on every checkout: read it at release time.
        if (property === 'release') return () => target.release(lost.get(client) ?? undefined)
        const value = Reflect.get(target, property, target)
        return typeof value === 'function' ? value.bind(target) : value
      },
    })
  }
  return {
    async connect(): Promise<pg.PoolClient> {
      const client = await pool.connect()
      let proxy = wrapped.get(client)
      if (!proxy) {
        proxy = wrap(client)
        wrapped.set(client, proxy)
      }
      return proxy
    },
    end: () => pool.end(),
  }
}

export interface StoreOptions {
  /**
   * Bound on connecting, on every statement and on SQLite's lock wait, in seconds (default 5).
   * 0 leaves statements unbounded (connecting and lock waits keep the default): for migrations and
   * maintenance that may run long, never for request traffic.
   */
  timeoutSeconds?: number
  /** PostgreSQL pool size (default 10). */
  poolSize?: number
}

export function openStore(databaseUrl: string, options: StoreOptions = {}): Store {
  const { dialect, target } = parseDatabaseUrl(databaseUrl)
  const db = dialect === 'postgres' ? openPostgres(target, options) : openSqlite(target, options)
  return { db, dialect, close: () => db.destroy() }
}

/**
 * Readiness: the store reads AND writes, leaving nothing behind; throws the driver's error.
 * A `select 1` keeps answering on a full disk or a read-only server, so a real write is made.
 * Measured on a full tmpfs (test/faults/store-sqlite-disk-full.test.ts): an UPDATE that sets a
 * column to its own value writes no page at all in SQLite (it skips unchanged cells) and succeeds
 * on a full disk; a write rolled back never reaches the WAL either. Rewriting the header's
 * user_version with its current value does write a page, and fails with SQLITE_FULL exactly when
 * registrations do; it bumps no schema cookie, so no prepared statement is invalidated. Nothing
 * in Gatehouse uses user_version (migrations live in gatehouse_migrations).
 * PostgreSQL writes a new row version even for an unchanged value: the migration lock row,
 * rewritten as it is, fails with 25006 on a read-only server (a standby, or
 * default_transaction_read_only) and with 53100 when the disk is full.
 */
export async function probeStore(db: Kysely<Database>): Promise<void> {
  if (db.getExecutor().adapter instanceof SqliteAdapter) {
    const { rows } = await sql<{ user_version: number }>`pragma user_version`.execute(db)
    const version = Number(rows[0]?.user_version ?? 0)
    await sql.raw(`pragma user_version = ${Math.trunc(version)}`).execute(db)
    return
  }
  await sql`update gatehouse_migrations_lock set is_locked = is_locked where id = 'migration_lock'`.execute(
    db,
  )
}
