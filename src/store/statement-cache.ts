import type SqliteDatabase from 'better-sqlite3'
import type { SqliteDatabase as KyselySqliteDatabase } from 'kysely'

/**
 * Kysely's SQLite driver prepares every query anew; preparing costs more than running the hot
 * token lookup itself. Statements are reused per SQL text, in a bounded LRU, so queries with a
 * varying shape (IN lists) cannot grow memory without limit. Reuse is safe: the driver runs one
 * query at a time on its single connection.
 */
export function withStatementCache(database: SqliteDatabase.Database, capacity = 200): KyselySqliteDatabase {
  const statements = new Map<string, SqliteDatabase.Statement>()
  return {
    close: () => database.close(),
    prepare(sql: string) {
      let statement = statements.get(sql)
      if (statement) {
        statements.delete(sql)
      } else {
        statement = database.prepare(sql)
        if (statements.size >= capacity) statements.delete(statements.keys().next().value as string)
      }
      statements.set(sql, statement)
      return statement
    },
  }
}
