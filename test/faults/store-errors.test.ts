/**
 * One classification of store errors, checked on errors the real drivers produce: a closed port, a
 * silent server, a real statement_timeout, a real lock wait, a real read-only file, a terminated
 * backend, a real PostgreSQL "starting up" answer on the wire. Hand-built errors only where the
 * fault cannot be caused here (a PostgreSQL shutting down, out of disk).
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer, type Server } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import SqliteDatabase from 'better-sqlite3'
import { sql } from 'kysely'
import pg from 'pg'
import { migrateToLatest } from '../../src/store/migrate.ts'
import { openStore, type Store } from '../../src/store/open-store.ts'
import { isConnectionLost, isStoreUnavailable } from '../../src/store/store-errors.ts'
import { createPostgresDatabase, createSqliteDatabase, type TestDatabase } from '../helpers/databases.ts'
import { service } from '../helpers/services.ts'
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.ts'

const postgres = service('postgres')

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise
  } catch (error) {
    return error
  }
  assert.fail('expected a rejection')
}

async function closedPort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

function pgUrl(base: string, port: number): string {
  const url = new URL(base)
  url.hostname = '127.0.0.1'
  url.port = String(port)
  return url.toString()
}

describe('isStoreUnavailable: SQLSTATEs and shapes that cannot be caused here', () => {
  for (const code of [
    '08006',
    '08001',
    '57P01',
    '57P02',
    '57P03',
    '57014',
    '53100',
    '53200',
    '53300',
    '58030',
    '25006',
  ]) {
    it(`SQLSTATE ${code} is unavailable`, () => {
      assert.equal(isStoreUnavailable(Object.assign(new Error('server said so'), { code })), true)
    })
  }
  for (const code of ['23505', '23502', '42601', '42P01', '22P02', '40001', 'XX000']) {
    it(`SQLSTATE ${code} is not`, () => {
      assert.equal(isStoreUnavailable(Object.assign(new Error('server said so'), { code })), false)
    })
  }
  it('looks through cause chains and AggregateError.errors, and survives a cycle', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED ::1:5432'), { code: 'ECONNREFUSED' })
    assert.equal(isStoreUnavailable(new AggregateError([new Error('x'), refused])), true)
    assert.equal(
      isStoreUnavailable(new Error('wrapped', { cause: new Error('again', { cause: refused }) })),
      true,
    )
    const cyclic: Error & { cause?: unknown } = new Error('loop')
    cyclic.cause = cyclic
    assert.equal(isStoreUnavailable(cyclic), false)
    assert.equal(isStoreUnavailable(undefined), false)
    assert.equal(isStoreUnavailable('ECONNREFUSED'), false)
  })
  it('matches driver messages exactly: a message quoting them is not enough', () => {
    assert.equal(isStoreUnavailable(new Error('Connection terminated unexpectedly')), true)
    assert.equal(isStoreUnavailable(new Error('email "Connection terminated unexpectedly" taken')), false)
    assert.equal(isStoreUnavailable(new TypeError('Cannot read properties of undefined')), false)
  })
  it('a lost connection (discard the client) differs from a refused statement (keep it)', () => {
    assert.equal(isConnectionLost(Object.assign(new Error('x'), { code: '57014' })), false)
    assert.equal(isConnectionLost(Object.assign(new Error('x'), { code: '57P01' })), true)
    assert.equal(isConnectionLost(Object.assign(new Error('x'), { code: 'EPIPE' })), true)
    assert.equal(isConnectionLost(new Error('Query read timeout')), true)
  })
})

describe('isStoreUnavailable on real SQLite errors', () => {
  let database: TestDatabase
  let store: Store
  let path: string
  before(async () => {
    database = await createSqliteDatabase()
    path = database.url.slice('sqlite:'.length)
    store = openStore(database.url, { timeoutSeconds: 1 })
    await migrateToLatest(store.db, store.dialect)
  })
  after(async () => {
    await store?.close()
    await database?.drop()
  })

  const insertUser = (email: string) =>
    sql`insert into users (email, email_normalized, hashed_password, created_at, updated_at)
        values (${email}, ${email}, 'x', 0, 0)`.execute(store.db)

  it('a unique violation is not unavailable', async () => {
    await insertUser('a@example.com')
    const error = await rejection(insertUser('a@example.com'))
    assert.match(String((error as { code?: string }).code), /^SQLITE_CONSTRAINT/)
    assert.equal(isStoreUnavailable(error), false)
  })

  it('SQLITE_BUSY after busy_timeout (timeoutSeconds) is unavailable', async () => {
    const holder = new SqliteDatabase(path)
    holder.exec('begin immediate')
    try {
      const started = Date.now()
      const error = await rejection(insertUser('busy@example.com'))
      const elapsed = Date.now() - started
      assert.equal((error as { code?: string }).code, 'SQLITE_BUSY')
      assert.equal(isStoreUnavailable(error), true)
      assert.ok(elapsed >= 900 && elapsed < 3000, `waited ${elapsed} ms, not ~1 s`)
    } finally {
      holder.exec('rollback')
      holder.close()
    }
  })

  it('SQLITE_READONLY and SQLITE_CANTOPEN are unavailable', () => {
    const readonly = new SqliteDatabase(path, { readonly: true })
    try {
      let error: unknown
      try {
        readonly.exec(`update users set email = email || ''`)
      } catch (caught) {
        error = caught
      }
      assert.match(String((error as { code?: string }).code), /^SQLITE_READONLY/)
      assert.equal(isStoreUnavailable(error), true)
    } finally {
      readonly.close()
    }
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-cantopen-'))
    try {
      let error: unknown
      try {
        new SqliteDatabase(join(dir, 'missing.db'), { fileMustExist: true })
      } catch (caught) {
        error = caught
      }
      assert.match(String((error as { code?: string }).code), /^SQLITE_CANTOPEN/)
      assert.equal(isStoreUnavailable(error), true)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('a syntax error is not; a closed store is', async () => {
    assert.equal(isStoreUnavailable(await rejection(sql`selec 1`.execute(store.db))), false)
    const closed = openStore(database.url)
    await sql`select 1`.execute(closed.db)
    await closed.close()
    const error = await rejection(sql`select 1`.execute(closed.db))
    assert.equal(isStoreUnavailable(error), true, String(error))
  })
})

describe('isStoreUnavailable on real PostgreSQL errors', { skip: postgres.skip }, () => {
  let database: TestDatabase
  let proxy: TcpProxy
  const stores: Store[] = []
  const open = (url: string, timeoutSeconds = 1) => {
    const store = openStore(url, { timeoutSeconds })
    stores.push(store)
    return store
  }
  before(async () => {
    database = await createPostgresDatabase(postgres.value)
    const target = new URL(database.url)
    proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 5432) })
    const store = open(database.url)
    await migrateToLatest(store.db, store.dialect)
  })
  after(async () => {
    for (const store of stores) await store.close().catch(() => {})
    await proxy?.close()
    await database?.drop()
  })

  it('a refused connection (closed port) is unavailable', async () => {
    const store = open(pgUrl(database.url, await closedPort()))
    const error = await rejection(sql`select 1`.execute(store.db))
    assert.equal(isStoreUnavailable(error), true, String(error))
  })

  it('a silent server at connect time fails within the timeout, unavailable', async () => {
    await proxy.setMode('blackhole')
    try {
      const store = open(pgUrl(database.url, proxy.port))
      const started = Date.now()
      const error = await rejection(sql`select 1`.execute(store.db))
      const elapsed = Date.now() - started
      assert.equal(isStoreUnavailable(error), true, String(error))
      assert.ok(elapsed < 2500, `took ${elapsed} ms`)
    } finally {
      await proxy.setMode('pass')
      proxy.cut()
    }
  })

  it('a server that goes silent mid-session: Query read timeout, and the client is not reused', async () => {
    const store = open(pgUrl(database.url, proxy.port))
    await sql`select 1`.execute(store.db)
    await proxy.setMode('blackhole')
    let started = Date.now()
    const error = await rejection(sql`select 1`.execute(store.db))
    const elapsed = Date.now() - started
    await proxy.setMode('pass')
    assert.equal((error as Error).message, 'Query read timeout')
    assert.equal(isStoreUnavailable(error), true)
    assert.ok(elapsed < 2500, `took ${elapsed} ms`)
    // The timed-out query still holds that client's protocol state: reused, it would hang.
    started = Date.now()
    const { rows } = await sql<{ one: number }>`select 1 as one`.execute(store.db)
    assert.equal(rows[0]?.one, 1)
    assert.ok(Date.now() - started < 1000, `recovery took ${Date.now() - started} ms`)
  })

  it('a real statement_timeout (57014) is unavailable, and the connection stays usable', async () => {
    const store = open(database.url)
    const error = await rejection(sql`select pg_sleep(3)`.execute(store.db))
    assert.equal((error as { code?: string }).code, '57014')
    assert.equal(isStoreUnavailable(error), true)
    await sql`select 1`.execute(store.db)
  })

  it('timeoutSeconds 0 (migrations, maintenance) leaves statements unbounded', async () => {
    const store = open(database.url, 0)
    const { rows } = await sql<{ one: number }>`select 1 as one from pg_sleep(1.2)`.execute(store.db)
    assert.equal(rows[0]?.one, 1)
  })

  it('a backend terminated mid-query (57P01) is unavailable and does not kill the process', async () => {
    const store = open(database.url, 5)
    const admin = new pg.Client({ connectionString: postgres.value })
    await admin.connect()
    try {
      const sleeping = rejection(sql`select pg_sleep(2) as gatehouse_victim`.execute(store.db))
      await new Promise((resolve) => setTimeout(resolve, 300))
      await admin.query(
        `select pg_terminate_backend(pid) from pg_stat_activity
         where application_name = 'gatehouse' and query like '%gatehouse_victim%' and pid <> pg_backend_pid()`,
      )
      const error = await sleeping
      assert.equal(isStoreUnavailable(error), true, String(error))
    } finally {
      await admin.end()
    }
    await sql`select 1`.execute(store.db)
  })

  it('a checked-out client whose backend is terminated between statements does not kill the process', async () => {
    const store = open(database.url, 5)
    const uncaught: unknown[] = []
    const onUncaught = (error: unknown) => uncaught.push(error)
    process.on('uncaughtException', onUncaught)
    const admin = new pg.Client({ connectionString: postgres.value })
    await admin.connect()
    try {
      const error = await rejection(
        store.db.transaction().execute(async (tx) => {
          await sql`select 1 as gatehouse_in_transaction`.execute(tx)
          await admin.query(
            `select pg_terminate_backend(pid) from pg_stat_activity
             where application_name = 'gatehouse' and query like '%gatehouse_in_transaction%'
             and pid <> pg_backend_pid()`,
          )
          // pg emits 'error' on the idle checked-out client: no listener would be a crash.
          await new Promise((resolve) => setTimeout(resolve, 300))
          await sql`select 2`.execute(tx)
        }),
      )
      assert.equal(isStoreUnavailable(error), true, String(error))
      assert.deepEqual(uncaught, [])
    } finally {
      process.off('uncaughtException', onUncaught)
      await admin.end()
    }
    await sql`select 1`.execute(store.db)
  })

  it('a unique violation (23505) and a syntax error (42601) are not unavailable', async () => {
    const store = open(database.url)
    const insert = () =>
      sql`insert into users (email, email_normalized, hashed_password, created_at, updated_at)
          values ('u@example.com', 'u@example.com', 'x', 0, 0)`.execute(store.db)
    await insert()
    const duplicate = await rejection(insert())
    assert.equal((duplicate as { code?: string }).code, '23505')
    assert.equal(isStoreUnavailable(duplicate), false)
    const syntax = await rejection(sql`selec 1`.execute(store.db))
    assert.equal((syntax as { code?: string }).code, '42601')
    assert.equal(isStoreUnavailable(syntax), false)
  })
})

/** PostgreSQL's own answer while it starts up (protocol 3.0 ErrorResponse), on a real socket. */
function startingUpServer(): Promise<Server> {
  const field = (type: string, value: string) => Buffer.concat([Buffer.from(type), Buffer.from(`${value}\0`)])
  const body = Buffer.concat([
    field('S', 'FATAL'),
    field('V', 'FATAL'),
    field('C', '57P03'),
    field('M', 'the database system is starting up'),
    Buffer.from([0]),
  ])
  const length = Buffer.alloc(4)
  length.writeInt32BE(body.length + 4)
  const message = Buffer.concat([Buffer.from('E'), length, body])
  const server = createServer((socket) => {
    socket.on('error', () => {})
    socket.once('data', () => socket.end(message))
  })
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)))
}

describe('a PostgreSQL that is starting up (57P03, from the wire)', () => {
  let server: Server
  before(async () => {
    server = await startingUpServer()
  })
  after(() => new Promise<void>((resolve) => server.close(() => resolve())))

  it('is unavailable', async () => {
    const { port } = server.address() as { port: number }
    const store = openStore(`postgres://postgres@127.0.0.1:${port}/any`, { timeoutSeconds: 1 })
    try {
      const error = await rejection(sql`select 1`.execute(store.db))
      assert.equal((error as { code?: string }).code, '57P03')
      assert.equal(isStoreUnavailable(error), true)
    } finally {
      await store.close()
    }
  })
})
