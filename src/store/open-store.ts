import { existsSync, mkdirSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import SqliteDatabase from 'better-sqlite3'
import { Kysely, PostgresDialect, SqliteDialect } from 'kysely'
import pg from 'pg'
import { parseDatabaseUrl } from './database-url.ts'
import type { Database, Dialect } from './schema.ts'
import { withStatementCache } from './statement-cache.ts'

export interface Store {
  db: Kysely<Database>
  dialect: Dialect
  close(): Promise<void>
}

const PG_INT8_OID = 20

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

function openSqlite(path: string, _options: StoreOptions): Kysely<Database> {
  if (path !== ':memory:') ensureParentDirectory(path)
  const database = new SqliteDatabase(path)
  // WAL: readers never block the writer; foreign keys are off by default in SQLite.
  database.pragma('journal_mode = WAL')
  database.pragma('synchronous = NORMAL')
  database.pragma('foreign_keys = ON')
  database.pragma('busy_timeout = 5000')
  return new Kysely<Database>({ dialect: new SqliteDialect({ database: withStatementCache(database) }) })
}

function openPostgres(url: string, options: StoreOptions): Kysely<Database> {
  const pool = new pg.Pool({
    connectionString: url,
    max: options.poolSize ?? 10,
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
  return new Kysely<Database>({ dialect: new PostgresDialect({ pool }) })
}

export interface StoreOptions {
  /** Bound on connecting and on every statement, in seconds (default 5). */
  timeoutSeconds?: number
  /** PostgreSQL pool size (default 10). */
  poolSize?: number
}

export function openStore(databaseUrl: string, options: StoreOptions = {}): Store {
  const { dialect, target } = parseDatabaseUrl(databaseUrl)
  const db = dialect === 'postgres' ? openPostgres(target, options) : openSqlite(target, options)
  return { db, dialect, close: () => db.destroy() }
}
