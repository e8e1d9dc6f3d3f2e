import { resolve } from 'node:path'
import type { Dialect } from './schema.ts'

export interface DatabaseLocation {
  dialect: Dialect
  /** A file path (resolved from the working directory) or ':memory:' for SQLite; the URL for PostgreSQL. */
  target: string
}

/** `sqlite:<path>` (relative to the working directory), `sqlite::memory:`, or `postgres(ql)://…`. */
export function parseDatabaseUrl(url: string): DatabaseLocation {
  if (url.startsWith('postgres://') || url.startsWith('postgresql://')) {
    return { dialect: 'postgres', target: url }
  }
  if (url.startsWith('sqlite:')) {
    const path = url.slice('sqlite:'.length).replace(/^\/\/(?=\/)/, '')
    if (path === '' || path === '//')
      throw new Error('DATABASE_URL "sqlite:" needs a path, e.g. sqlite:./data/gatehouse.db')
    return { dialect: 'sqlite', target: path === ':memory:' ? path : resolve(path) }
  }
  // Name the scheme only when there plausibly is one: anything else may be a libpq string or a
  // URL without scheme, with a password in it, and must not reach a log.
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1]
  throw new Error(
    `DATABASE_URL must start with sqlite: or postgres://${scheme ? ` (got "${scheme}:…")` : ''}`,
  )
}

/**
 * Which database a URL names, for logs and CLI output: `sqlite /abs/path.db` or
 * `postgres host:port/dbname`. Never the user, password or query (which may carry credentials).
 */
export function describeDatabase(url: string): string {
  const { dialect, target } = parseDatabaseUrl(url)
  if (dialect === 'sqlite') return `sqlite ${target}`
  let parsed: URL
  try {
    parsed = new URL(target)
  } catch {
    return 'postgres (unparsable URL)'
  }
  // node-postgres' defaults: localhost (or ?host=, e.g. a socket folder), 5432, the database named
  // after the user. Of the query only `host` is shown: others may hold a password.
  const host = parsed.hostname || parsed.searchParams.get('host') || 'localhost'
  let database = parsed.pathname.slice(1)
  try {
    database = decodeURIComponent(database)
  } catch {}
  return `postgres ${host}:${parsed.port || '5432'}${database ? `/${database}` : ''}`
}
