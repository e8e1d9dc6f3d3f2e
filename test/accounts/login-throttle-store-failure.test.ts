/**
 * A password check the store made impossible is not a failed attempt (issue 8 §1), and the
 * store work that follows a verdict cannot change the answer: real stores that really fail (a
 * closed SQLite database, PostgreSQL behind a port that refuses until the test opens it, SQLite
 * refusing writes).
 */
import assert from 'node:assert/strict'
import { connect, createServer, type Server, type Socket } from 'node:net'
import { after, before, describe, it } from 'node:test'
import { sql } from 'kysely'
import { type AccountsOptions, createAccounts } from '../../src/accounts/accounts.ts'
import { createAccountLimiters } from '../../src/accounts/limiters.ts'
import { findCredentialsByEmail, insertUser } from '../../src/accounts/users.ts'
import { GatehouseError } from '../../src/core/errors.ts'
import { createPasswordHasher } from '../../src/core/passwords/index.ts'
import { migrateToLatest } from '../../src/store/migrate.ts'
import { openStore, type Store } from '../../src/store/open-store.ts'
import { createPostgresDatabase, createSqliteDatabase, openTestStore } from '../helpers/databases.ts'
import { service } from '../helpers/services.ts'

const PASSWORD = 'correct horse battery staple'
const WRONG = 'correct horse battery stapler'
const CLIENT = { ip: '192.0.2.44' }
const hasher = createPasswordHasher()
const postgres = service('postgres')

const baseOptions = (db: Store['db']): AccountsOptions => ({
  db,
  hasher,
  accessTokenTtlSeconds: 3600,
  idleTimeoutSeconds: 0,
})

/** Neither a verdict nor a throttle answer: the store's own failure came through. */
function storeFailure(error: unknown): true {
  assert.ok(!(error instanceof GatehouseError) || !['BAD_CREDENTIALS', 'RATE_LIMITED'].includes(error.code))
  assert.ok(error instanceof Error && error.name !== 'NoVerdict', String(error))
  return true
}

describe('login while the store fails (SQLite)', () => {
  let live: (Store & { url: string }) | undefined
  let dead: (Store & { url: string }) | undefined
  before(async () => {
    live = await openTestStore(createSqliteDatabase)
    dead = await openTestStore(createSqliteDatabase)
  })
  after(async () => {
    await live?.close()
    await dead?.close()
  })

  it('15 attempts on a closed database count nowhere: the user then logs in', async () => {
    const email = 'closed-store@example.com'
    await insertUser((live as Store).db, { email, hashedPassword: await hasher.hash(PASSWORD) })
    // One throttle (limit 10 per account, like the default) in front of two stores: the broken one
    // answers the attempts of the outage, the live one the attempt after it.
    const limiters = createAccountLimiters({ login: { maxFailuresPerAccount: 10, maxFailuresPerIp: 12 } })
    const closed = dead as Store
    await closed.db.destroy()
    const duringOutage = createAccounts({ ...baseOptions(closed.db), limiters })
    const afterOutage = createAccounts({ ...baseOptions((live as Store).db), limiters })
    for (let i = 0; i < 15; i++) {
      const password = i % 2 ? WRONG : PASSWORD
      await assert.rejects(
        duringOutage.login({ email, password, kind: 'bearer', client: CLIENT }),
        storeFailure,
      )
    }
    const { user } = await afterOutage.login({ email, password: PASSWORD, kind: 'bearer', client: CLIENT })
    assert.equal(user.email, email)
  })

  it('a rehash that cannot be written does not change the verdict, nor count as a failure', async () => {
    const db = (live as Store).db
    const email = 'outdated-hash@example.com'
    const weaker = createPasswordHasher({ memoryCost: 8192, timeCost: 1, parallelism: 1 })
    const oldHash = await weaker.hash(PASSWORD)
    const user = await insertUser(db, { email, hashedPassword: oldHash })
    const accounts = createAccounts({
      ...baseOptions(db),
      limiters: { login: { maxFailuresPerAccount: 3, maxFailuresPerIp: 100 } },
    })
    // SQLite itself refuses every write (SQLITE_READONLY); reads go on.
    await sql`pragma query_only = on`.execute(db)
    try {
      for (let i = 0; i < 5; i++) assert.equal(await accounts.verifyPassword(user, PASSWORD, CLIENT), true)
      assert.equal(await accounts.verifyPassword(user, WRONG, CLIENT), false)
      assert.equal((await findCredentialsByEmail(db, email))?.hashedPassword, oldHash)
    } finally {
      await sql`pragma query_only = off`.execute(db)
    }
    // Writable again: the next success upgrades the hash.
    assert.equal(await accounts.verifyPassword(user, PASSWORD, CLIENT), true)
    const upgraded = (await findCredentialsByEmail(db, email))?.hashedPassword
    assert.notEqual(upgraded, oldHash)
    assert.match(String(upgraded), /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/)
  })
})

/** A TCP port that refuses connections until `open()`, then forwards them to `target`. */
async function switchableProxy(target: { host: string; port: number }) {
  const probe = createServer()
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve))
  const port = (probe.address() as { port: number }).port
  await new Promise<void>((resolve) => probe.close(() => resolve()))
  const sockets = new Set<Socket>()
  let server: Server | undefined
  return {
    port,
    async open() {
      server = createServer((client) => {
        const upstream = connect(target.port, target.host)
        for (const socket of [client, upstream]) {
          sockets.add(socket)
          socket.on('close', () => sockets.delete(socket))
          socket.on('error', () => {
            client.destroy()
            upstream.destroy()
          })
        }
        client.pipe(upstream).pipe(client)
      })
      await new Promise<void>((resolve) => (server as Server).listen(port, '127.0.0.1', resolve))
    },
    async close() {
      for (const socket of sockets) socket.destroy()
      if (server) await new Promise<void>((resolve) => (server as Server).close(() => resolve()))
    },
  }
}

describe('login while PostgreSQL refuses connections', { skip: postgres.skip }, () => {
  let database: Awaited<ReturnType<typeof createPostgresDatabase>> | undefined
  let proxy: Awaited<ReturnType<typeof switchableProxy>> | undefined
  let store: Store | undefined
  before(async () => {
    database = await createPostgresDatabase(postgres.value)
    const direct = openStore(database.url)
    try {
      await migrateToLatest(direct.db, direct.dialect)
      await insertUser(direct.db, {
        email: 'pg-outage@example.com',
        hashedPassword: await hasher.hash(PASSWORD),
      })
    } finally {
      await direct.close()
    }
    const url = new URL(database.url)
    proxy = await switchableProxy({ host: url.hostname, port: Number(url.port || 5432) })
    url.host = `127.0.0.1:${proxy.port}`
    store = openStore(url.toString())
  })
  after(async () => {
    await store?.close()
    await proxy?.close()
    await database?.drop()
  })

  it('15 attempts while the port refuses count nowhere: the user logs in once it accepts', async () => {
    const accounts = createAccounts({
      ...baseOptions((store as Store).db),
      limiters: { login: { maxFailuresPerAccount: 10, maxFailuresPerIp: 12 } },
    })
    const email = 'pg-outage@example.com'
    for (let i = 0; i < 15; i++) {
      const password = i % 2 ? WRONG : PASSWORD
      await assert.rejects(accounts.login({ email, password, kind: 'bearer', client: CLIENT }), (error) => {
        storeFailure(error)
        return /ECONNREFUSED/.test(`${(error as Error).message} ${(error as { code?: string }).code}`)
      })
    }
    await (proxy as Awaited<ReturnType<typeof switchableProxy>>).open()
    const { user } = await accounts.login({ email, password: PASSWORD, kind: 'bearer', client: CLIENT })
    assert.equal(user.email, email)
  })
})
