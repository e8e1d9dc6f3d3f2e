/**
 * One store conformance suite, run by every dialect (like Lucia's adapter-test): the same promises
 * about users, access tokens, preferences and migrations must hold on SQLite and on PostgreSQL.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import {
  type Kysely,
  type KyselyPlugin,
  type PluginTransformQueryArgs,
  type PluginTransformResultArgs,
  type QueryResult,
  type RootOperationNode,
  sql,
  type UnknownRow,
} from 'kysely'
import {
  issueAccessToken,
  pruneAccessTokens,
  revokeAccessToken,
  revokeUserTokens,
  type ValidateOptions,
  validateAccessToken,
} from '../../src/accounts/access-tokens.ts'
import { readPreferences, writePreferences } from '../../src/accounts/preferences.ts'
import type { User } from '../../src/accounts/user.ts'
import {
  deleteUser,
  findCredentialsByEmail,
  findUserById,
  insertUser,
  updateEmail,
  updatePasswordHash,
} from '../../src/accounts/users.ts'
import { type ErrorCode, GatehouseError } from '../../src/core/errors.ts'
import { generatePublicId, generateToken } from '../../src/core/tokens/index.ts'
import { migrateToLatest } from '../../src/store/migrate.ts'
import { openStore, type Store } from '../../src/store/open-store.ts'
import type { Database, Dialect } from '../../src/store/schema.ts'
import { openTestStore, type TestDatabase } from '../helpers/databases.ts'

/** A fixed clock origin: every time in this suite is passed explicitly as `now`. */
const T = Date.UTC(2030, 0, 1)
const SECOND = 1000
const DAY_SECONDS = 86_400
/** Large enough that no validation in a test schedules a last_used_at write. */
const NO_TOUCH: ValidateOptions = { idleTimeoutSeconds: 0, touchIntervalSeconds: 100 * 365 * DAY_SECONDS }

const USER_KEYS = ['createdAt', 'email', 'id', 'isActive', 'isSuperuser', 'isVerified', 'updatedAt']

const sha256Hex = (value: string) => createHash('sha256').update(value).digest('hex')
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/** Asserts that a rejection is a GatehouseError with this code. */
function gatehouseError(code: ErrorCode) {
  return (error: unknown) => {
    assert.ok(error instanceof GatehouseError, `expected a GatehouseError, got ${String(error)}`)
    assert.equal(error.code, code)
    return true
  }
}

/** Asserts that a rejection is the driver's constraint error (SQLite extended code or SQLSTATE). */
function driverError(code: { sqlite: string; postgres: string }, dialect: Dialect) {
  return (error: unknown) => {
    assert.equal((error as { code?: unknown }).code, code[dialect])
    return true
  }
}

/** Polls `read` until `done` holds or the time is up; returns the last value read. */
async function eventually<T>(
  read: () => Promise<T>,
  done: (value: T) => boolean,
  timeoutMs = 3000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs
  let value = await read()
  while (!done(value) && Date.now() < deadline) {
    await sleep(10)
    value = await read()
  }
  return value
}

/**
 * Watches the queries a Kysely instance sends: which kinds were compiled, and lets a test hold back
 * or fail the completion of UPDATE statements (the background last_used_at write).
 */
class QuerySpy implements KyselyPlugin {
  readonly kinds: string[] = []
  /** While set, UPDATE results are held until this promise settles. */
  gate: Promise<void> | null = null
  /** While set, UPDATE results reject with this error. */
  failure: Error | null = null
  updatesSettled = 0
  readonly #updates = new Set<string>()

  transformQuery(args: PluginTransformQueryArgs): RootOperationNode {
    this.kinds.push(args.node.kind)
    if (args.node.kind === 'UpdateQueryNode') this.#updates.add(args.queryId.queryId)
    return args.node
  }

  async transformResult(args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    if (!this.#updates.has(args.queryId.queryId)) return args.result
    try {
      if (this.gate) await this.gate
      if (this.failure) throw this.failure
      return args.result
    } finally {
      this.updatesSettled++
    }
  }

  count(kind: string): number {
    return this.kinds.filter((k) => k === kind).length
  }
}

/** Opens a store on the test database and shares it across one describe block. */
function sharedStore(create: () => Promise<TestDatabase>): () => Store {
  let store: (Store & { url: string }) | undefined
  before(async () => {
    store = await openTestStore(create)
  })
  after(async () => {
    await store?.close()
  })
  return () => {
    if (!store) throw new Error('the store is opened in before()')
    return store
  }
}

let emailCounter = 0
/** A distinct email per call, so tests sharing one store never collide. */
function uniqueEmail(label: string): string {
  emailCounter++
  return `${label}-${emailCounter}@example.com`
}

async function addUser(db: Kysely<Database>, label: string): Promise<User> {
  return insertUser(db, { email: uniqueEmail(label), hashedPassword: `$fake$${label}` }, T)
}

async function rawUser(db: Kysely<Database>, id: number) {
  return db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst()
}

async function rawToken(db: Kysely<Database>, tokenHash: string) {
  return db.selectFrom('access_tokens').selectAll().where('token_hash', '=', tokenHash).executeTakeFirst()
}

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url))
const STORE_MODULE = new URL('../../src/store/index.ts', import.meta.url).href

/**
 * A separate Node process that opens the store, says "ready", and migrates when told "go": two of
 * them started together are two server instances booting against one fresh database.
 */
function migratingProcess(url: string) {
  const code = `
    import { migrateToLatest, openStore } from ${JSON.stringify(STORE_MODULE)}
    const store = openStore(process.argv[1])
    process.stdout.write('ready\\n')
    process.stdin.once('data', async () => {
      try {
        const applied = await migrateToLatest(store.db, store.dialect)
        process.stdout.write(JSON.stringify({ applied }) + '\\n')
      } catch (error) {
        process.stdout.write(JSON.stringify({ error: String(error?.message ?? error) }) + '\\n')
      } finally {
        await store.close()
      }
    })`
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code, url], {
    cwd: REPO_ROOT,
    timeout: 60_000,
  })
  let stdout = ''
  let stderr = ''
  const ready = new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString()
      if (stdout.includes('ready\n')) resolve()
    })
    child.on('close', () => reject(new Error(`child exited before it was ready: ${stderr}`)))
  })
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString()
  })
  const exited = new Promise<{ exitCode: number | null; result: { applied?: string[]; error?: string } }>(
    (resolve) => {
      child.on('close', (exitCode) => {
        const line = stdout.split('\n').find((l) => l.startsWith('{'))
        resolve({ exitCode, result: line ? JSON.parse(line) : { error: `no result; stderr: ${stderr}` } })
      })
    },
  )
  return { ready, exited, go: () => child.stdin.end('go\n'), kill: () => child.kill() }
}

export function storeConformance(
  dialect: Dialect,
  create: () => Promise<TestDatabase>,
  skip: string | false,
): void {
  describe(`store conformance on ${dialect}`, { skip }, () => {
    describe('migrations', () => {
      /** A fresh, unmigrated database and a store on it; both closed and dropped afterwards. */
      async function withFreshDatabase(run: (store: Store, url: string) => Promise<void>): Promise<void> {
        const database = await create()
        const store = openStore(database.url)
        try {
          await run(store, database.url)
        } finally {
          await store.close()
          await database.drop()
        }
      }

      const ALL_MIGRATIONS = ['001-initial', '002-account-lifecycle', '003-revocation-epoch', '004-api-keys']

      async function tableNames(store: Store): Promise<string[]> {
        return (await store.db.introspection.getTables()).map((t) => t.name)
      }

      it('creates the users, access_tokens and preferences tables on a fresh database', async () => {
        await withFreshDatabase(async (store) => {
          const before = await tableNames(store)
          for (const table of ['users', 'access_tokens', 'preferences']) assert.ok(!before.includes(table))

          const applied = await migrateToLatest(store.db, store.dialect)
          assert.deepEqual(applied, ALL_MIGRATIONS)

          const tables = await store.db.introspection.getTables()
          const columns = (name: string) =>
            tables
              .find((t) => t.name === name)
              ?.columns.map((c) => c.name)
              .sort()
          assert.deepEqual(columns('users'), [
            'created_at',
            'email',
            'email_normalized',
            'hashed_password',
            'id',
            'is_active',
            'is_superuser',
            'is_verified',
            'updated_at',
          ])
          assert.deepEqual(columns('access_tokens'), [
            'created_at',
            'expires_at',
            'id',
            'ip',
            'kind',
            'last_used_at',
            'public_id',
            'token_hash',
            'user_agent',
            'user_id',
          ])
          assert.deepEqual(columns('preferences'), ['data', 'updated_at', 'user_id'])
          assert.deepEqual(columns('one_time_tokens'), [
            'created_at',
            'email_normalized',
            'expires_at',
            'id',
            'purpose',
            'token_hash',
            'user_id',
          ])
          for (const table of ['outbox', 'audit_events']) assert.ok(columns(table), `${table} exists`)
        })
      })

      it('running the migrations again on a migrated database does nothing', async () => {
        await withFreshDatabase(async (store) => {
          await migrateToLatest(store.db, store.dialect)
          const user = await insertUser(store.db, { email: 'kept@example.com', hashedPassword: 'h' }, T)

          assert.deepEqual(await migrateToLatest(store.db, store.dialect), [])
          assert.deepEqual(await migrateToLatest(store.db, store.dialect), [])
          // Data survives: nothing was dropped and re-created.
          assert.equal((await findUserById(store.db, user.id))?.email, 'kept@example.com')
        })
      })

      it('two concurrent migrations through one store both succeed and apply each migration once', async () => {
        await withFreshDatabase(async (store) => {
          const results = await Promise.all([
            migrateToLatest(store.db, store.dialect),
            migrateToLatest(store.db, store.dialect),
          ])
          assert.deepEqual(results.flat(), ALL_MIGRATIONS)
          const recorded = await sql<{ name: string }>`select name from gatehouse_migrations`.execute(
            store.db,
          )
          assert.deepEqual(recorded.rows.map((row) => row.name).sort(), ALL_MIGRATIONS)
          assert.ok((await tableNames(store)).includes('users'))
        })
      })

      it('two processes starting at once on one fresh database both migrate successfully', {}, async () => {
        await withFreshDatabase(async (store, url) => {
          const processes = [migratingProcess(url), migratingProcess(url)]
          try {
            await Promise.all(processes.map((p) => p.ready))
            for (const p of processes) p.go()
            const outcomes = await Promise.all(processes.map((p) => p.exited))
            for (const { exitCode, result } of outcomes) {
              assert.equal(result.error, undefined)
              assert.equal(exitCode, 0)
            }
            assert.deepEqual(
              outcomes.flatMap((o) => o.result.applied ?? []),
              ALL_MIGRATIONS,
            )
            assert.deepEqual(await migrateToLatest(store.db, store.dialect), [])
          } finally {
            for (const p of processes) p.kill()
          }
        })
      })
    })

    describe('users', () => {
      const store = sharedStore(create)

      it('insertUser returns the new user without any password hash on the object', async () => {
        const { db } = store()
        const user = await insertUser(db, { email: 'Alice@Example.com', hashedPassword: '$fake$alice' }, T)

        assert.deepEqual(Object.keys(user).sort(), USER_KEYS)
        assert.ok(Number.isInteger(user.id) && user.id > 0)
        assert.equal(user.email, 'Alice@Example.com')
        assert.equal(user.isActive, true)
        assert.equal(user.isSuperuser, false)
        assert.equal(user.isVerified, false)
        assert.equal(user.createdAt.getTime(), T)
        assert.equal(user.updatedAt.getTime(), T)
        assert.ok(!JSON.stringify(user).includes('$fake$alice'))

        const row = await rawUser(db, user.id)
        assert.equal(row?.hashed_password, '$fake$alice')
        assert.equal(row?.email_normalized, 'alice@example.com')
      })

      it('insertUser keeps the superuser and verified flags it is given', async () => {
        const { db } = store()
        const user = await insertUser(db, {
          email: uniqueEmail('admin'),
          hashedPassword: 'h',
          isSuperuser: true,
          isVerified: true,
        })
        assert.equal(user.isSuperuser, true)
        assert.equal(user.isVerified, true)
        assert.deepEqual(await findUserById(db, user.id), user)
      })

      it('two users get distinct ids', async () => {
        const { db } = store()
        const first = await addUser(db, 'first')
        const second = await addUser(db, 'second')
        assert.notEqual(first.id, second.id)
      })

      it('an email differing only in letter case or surrounding spaces is refused with EMAIL_EXISTS', async () => {
        const { db } = store()
        await insertUser(db, { email: 'User@Example.com', hashedPassword: 'h' })
        await assert.rejects(
          insertUser(db, { email: 'user@example.com', hashedPassword: 'h' }),
          gatehouseError('EMAIL_EXISTS'),
        )
        await assert.rejects(
          insertUser(db, { email: '  USER@EXAMPLE.COM ', hashedPassword: 'h' }),
          gatehouseError('EMAIL_EXISTS'),
        )
        const rows = await db
          .selectFrom('users')
          .select('email')
          .where('email_normalized', '=', 'user@example.com')
          .execute()
        assert.deepEqual(rows, [{ email: 'User@Example.com' }])
      })

      it('50 concurrent registrations of one email create exactly one account', async () => {
        const { db } = store()
        const attempts = Array.from({ length: 50 }, (_, i) =>
          insertUser(db, {
            email: i % 2 === 0 ? 'Race@Example.com' : 'race@example.com',
            hashedPassword: `h${i}`,
          }),
        )
        const results = await Promise.allSettled(attempts)

        const created = results.filter((r) => r.status === 'fulfilled')
        const refused = results.filter((r) => r.status === 'rejected')
        assert.equal(created.length, 1)
        assert.equal(refused.length, 49)
        for (const r of refused) gatehouseError('EMAIL_EXISTS')(r.reason)

        const rows = await db
          .selectFrom('users')
          .select('id')
          .where('email_normalized', '=', 'race@example.com')
          .execute()
        assert.equal(rows.length, 1)
        assert.equal(rows[0]?.id, created[0]?.value.id)
      })

      it('findCredentialsByEmail finds a user whatever the letter case, with the stored hash', async () => {
        const { db } = store()
        const email = uniqueEmail('Finder')
        const user = await insertUser(db, { email, hashedPassword: '$fake$finder-hash' }, T)

        for (const typed of [email, email.toUpperCase(), email.toLowerCase(), `  ${email} `]) {
          const found = await findCredentialsByEmail(db, typed)
          assert.deepEqual(found, { user, hashedPassword: '$fake$finder-hash' }, typed)
        }
        assert.equal(await findCredentialsByEmail(db, uniqueEmail('nobody')), null)
      })

      it('findUserById returns the user, and null for an id that does not exist', async () => {
        const { db } = store()
        const user = await addUser(db, 'by-id')
        assert.deepEqual(await findUserById(db, user.id), user)
        assert.equal(await findUserById(db, 2_000_000_000), null)
      })

      it('updateEmail changes the email, its lookup key and updated_at', async () => {
        const { db } = store()
        const user = await addUser(db, 'mover')
        const newEmail = uniqueEmail('Moved')

        const updated = await updateEmail(db, user.id, newEmail, T + 5 * SECOND)
        assert.equal(updated.email, newEmail)
        assert.equal(updated.updatedAt.getTime(), T + 5 * SECOND)
        assert.equal(updated.createdAt.getTime(), T)
        assert.equal((await findCredentialsByEmail(db, newEmail.toUpperCase()))?.user.id, user.id)
        assert.equal(await findCredentialsByEmail(db, user.email), null)
      })

      it('updateEmail to the same address in another case is not a conflict with oneself', async () => {
        const { db } = store()
        const user = await addUser(db, 'recase')
        const updated = await updateEmail(db, user.id, user.email.toUpperCase())
        assert.equal(updated.email, user.email.toUpperCase())
      })

      it('updateEmail to an email another user has is refused and leaves the row unchanged', async () => {
        const { db } = store()
        const owner = await addUser(db, 'owner')
        const mover = await addUser(db, 'taker')
        const before = await rawUser(db, mover.id)

        await assert.rejects(
          updateEmail(db, mover.id, owner.email.toUpperCase(), T + SECOND),
          gatehouseError('EMAIL_EXISTS'),
        )
        assert.deepEqual(await rawUser(db, mover.id), before)
        assert.equal((await findCredentialsByEmail(db, owner.email))?.user.id, owner.id)
      })

      it('updateEmail on a user that does not exist is NOT_FOUND', async () => {
        const { db } = store()
        await assert.rejects(
          updateEmail(db, 2_000_000_000, uniqueEmail('ghost')),
          gatehouseError('NOT_FOUND'),
        )
      })

      it('updatePasswordHash replaces the hash and updated_at of that user only', async () => {
        const { db } = store()
        const user = await addUser(db, 'rehash')
        const bystander = await addUser(db, 'bystander')
        const bystanderBefore = await rawUser(db, bystander.id)

        await updatePasswordHash(db, user.id, '$fake$new-hash', T + 60 * SECOND)
        const row = await rawUser(db, user.id)
        assert.equal(row?.hashed_password, '$fake$new-hash')
        assert.equal(row?.updated_at, T + 60 * SECOND)
        assert.equal(row?.created_at, T)
        assert.deepEqual(await rawUser(db, bystander.id), bystanderBefore)
      })

      it('deleteUser removes the user with their tokens and preferences, and nobody else’s', async () => {
        const { db } = store()
        const victim = await addUser(db, 'deleted')
        const bystander = await addUser(db, 'kept')
        for (const user of [victim, bystander]) {
          await issueAccessToken(db, user.id, 'bearer', 3600, T)
          await issueAccessToken(db, user.id, 'session', 3600, T)
          await writePreferences(db, user.id, { theme: 'dark' }, T)
        }
        const tokensOf = async (id: number) =>
          (await db.selectFrom('access_tokens').select('id').where('user_id', '=', id).execute()).length
        const preferencesOf = async (id: number) =>
          (await db.selectFrom('preferences').select('user_id').where('user_id', '=', id).execute()).length
        assert.equal(await tokensOf(victim.id), 2)
        assert.equal(await preferencesOf(victim.id), 1)

        assert.equal(await deleteUser(db, victim.id), true)
        assert.equal(await findUserById(db, victim.id), null)
        assert.equal(await tokensOf(victim.id), 0)
        assert.equal(await preferencesOf(victim.id), 0)
        assert.equal(await tokensOf(bystander.id), 2)
        assert.equal(await preferencesOf(bystander.id), 1)

        assert.equal(await deleteUser(db, victim.id), false)
      })
    })

    describe('access tokens', () => {
      const store = sharedStore(create)

      it('issueAccessToken stores only the SHA-256 of the token, never the token', async () => {
        const { db } = store()
        const user = await addUser(db, 'issuer')
        const issued = await issueAccessToken(db, user.id, 'bearer', 3600, T)

        assert.match(issued.token, /^gth_[A-Za-z0-9_-]{43}$/)
        assert.equal(issued.tokenHash, sha256Hex(issued.token))
        assert.equal(issued.expiresAt.getTime(), T + 3600 * SECOND)
        assert.equal(issued.expiresInSeconds, 3600)

        const row = await rawToken(db, sha256Hex(issued.token))
        assert.ok(row, 'the row is found by the SHA-256 hex of the token')
        assert.equal(row.user_id, user.id)
        assert.equal(row.kind, 'bearer')
        assert.equal(row.created_at, T)
        assert.equal(row.expires_at, T + 3600 * SECOND)
        assert.equal(row.last_used_at, null)
        const secret = issued.token.slice('gth_'.length)
        for (const [column, value] of Object.entries(row)) {
          assert.ok(!String(value).includes(secret), `column ${column} holds the token`)
        }
      })

      it('every issued token is different', async () => {
        const { db } = store()
        const user = await addUser(db, 'many')
        const issued = await Promise.all(
          Array.from({ length: 20 }, () => issueAccessToken(db, user.id, 'session', 3600, T)),
        )
        assert.equal(new Set(issued.map((i) => i.token)).size, 20)
      })

      it('a fresh token resolves to its user, kind and lifetime', async () => {
        const { db } = store()
        const user = await addUser(db, 'fresh')
        for (const kind of ['bearer', 'session'] as const) {
          const issued = await issueAccessToken(db, user.id, kind, 3600, T)
          const context = await validateAccessToken(db, issued.token, kind, {
            ...NO_TOUCH,
            now: T + SECOND,
          })
          assert.ok(context)
          assert.deepEqual(context.user, user)
          assert.equal(context.kind, kind)
          assert.equal(context.tokenHash, issued.tokenHash)
          assert.equal(context.createdAt.getTime(), T)
          assert.equal(context.expiresAt.getTime(), T + 3600 * SECOND)
          assert.equal(context.tokenId, (await rawToken(db, issued.tokenHash))?.id)
        }
      })

      it('malformed tokens are refused without touching the database', async () => {
        const { db } = store()
        const user = await addUser(db, 'malformed')
        const { token } = await issueAccessToken(db, user.id, 'bearer', 3600, T)
        const secret = token.slice('gth_'.length)
        const malformed = [
          '',
          'gth_',
          `gth_${secret.slice(1)}`,
          `gth_${secret}A`,
          `xyz_${secret}`,
          `GTH_${secret}`,
          `gth${secret}`,
          `${token}\n`,
          ` ${token}`,
          `Bearer ${token}`,
          `gth_${secret.slice(1)}=`,
          `gth_${'é'.repeat(43)}`,
          `gth_${'🔐'.repeat(43)}`,
          `gth_${secret.slice(0, 42)}é`,
          'x'.repeat(10 * 1024),
          `gth_${'A'.repeat(10 * 1024)}`,
        ]
        const spy = new QuerySpy()
        const watched = db.withPlugin(spy)
        for (const candidate of malformed) {
          assert.equal(
            await validateAccessToken(watched, candidate, 'bearer', { ...NO_TOUCH, now: T }),
            null,
            JSON.stringify(candidate.slice(0, 60)),
          )
        }
        assert.deepEqual(spy.kinds, [])
        // The same spy does see a query for a well-formed token: the check above can fail.
        assert.ok(await validateAccessToken(watched, token, 'bearer', { ...NO_TOUCH, now: T }))
        assert.equal(spy.count('SelectQueryNode'), 1)
      })

      it('a well-formed token that was never issued is refused', async () => {
        const { db } = store()
        assert.equal(
          await validateAccessToken(db, generateToken().token, 'bearer', { ...NO_TOUCH, now: T }),
          null,
        )
      })

      it('a token is refused from the moment it expires', async () => {
        const { db } = store()
        const user = await addUser(db, 'expiring')
        const { token } = await issueAccessToken(db, user.id, 'bearer', 60, T)
        assert.ok(await validateAccessToken(db, token, 'bearer', { ...NO_TOUCH, now: T + 60 * SECOND - 1 }))
        assert.equal(
          await validateAccessToken(db, token, 'bearer', { ...NO_TOUCH, now: T + 60 * SECOND }),
          null,
        )
        assert.equal(
          await validateAccessToken(db, token, 'bearer', {
            ...NO_TOUCH,
            now: T + 365 * DAY_SECONDS * SECOND,
          }),
          null,
        )
      })

      it('a token of a deactivated user is refused, and accepted again once reactivated', async () => {
        const { db } = store()
        const user = await addUser(db, 'inactive')
        const { token } = await issueAccessToken(db, user.id, 'bearer', 3600, T)
        const setActive = (value: number) =>
          db.updateTable('users').set({ is_active: value }).where('id', '=', user.id).execute()

        await setActive(0)
        assert.equal(await validateAccessToken(db, token, 'bearer', { ...NO_TOUCH, now: T + SECOND }), null)
        await setActive(1)
        assert.equal(
          (await validateAccessToken(db, token, 'bearer', { ...NO_TOUCH, now: T + SECOND }))?.user.id,
          user.id,
        )
      })

      it('with an idle timeout, a token unused for longer than the timeout is refused', async () => {
        const { db } = store()
        const user = await addUser(db, 'idle')
        const options = { idleTimeoutSeconds: 600, touchIntervalSeconds: NO_TOUCH.touchIntervalSeconds }
        const atLimit = await issueAccessToken(db, user.id, 'bearer', DAY_SECONDS, T)
        const pastLimit = await issueAccessToken(db, user.id, 'bearer', DAY_SECONDS, T)

        assert.ok(
          await validateAccessToken(db, atLimit.token, 'bearer', { ...options, now: T + 600 * SECOND }),
        )
        assert.equal(
          await validateAccessToken(db, pastLimit.token, 'bearer', { ...options, now: T + 600 * SECOND + 1 }),
          null,
        )
        // Without an idle timeout, the same long-unused token is still good until it expires.
        assert.ok(
          await validateAccessToken(db, pastLimit.token, 'bearer', {
            ...NO_TOUCH,
            now: T + 600 * SECOND + 1,
          }),
        )
      })

      it('the idle timeout counts from the last recorded use, not from issue', async () => {
        const { db } = store()
        const user = await addUser(db, 'idle-used')
        const options = { idleTimeoutSeconds: 600, touchIntervalSeconds: NO_TOUCH.touchIntervalSeconds }
        const issued = await issueAccessToken(db, user.id, 'bearer', DAY_SECONDS, T)
        await db
          .updateTable('access_tokens')
          .set({ last_used_at: T + 500 * SECOND })
          .where('token_hash', '=', issued.tokenHash)
          .execute()

        assert.ok(
          await validateAccessToken(db, issued.token, 'bearer', { ...options, now: T + 1000 * SECOND }),
        )
        assert.equal(
          await validateAccessToken(db, issued.token, 'bearer', { ...options, now: T + 1100 * SECOND + 1 }),
          null,
        )
      })

      it('a revoked token is refused while the user’s other tokens keep working', async () => {
        const { db } = store()
        const user = await addUser(db, 'logout')
        const revoked = await issueAccessToken(db, user.id, 'bearer', 3600, T)
        const kept = await issueAccessToken(db, user.id, 'bearer', 3600, T)

        assert.equal(await revokeAccessToken(db, revoked.tokenHash), true)
        assert.equal(await validateAccessToken(db, revoked.token, 'bearer', { ...NO_TOUCH, now: T }), null)
        assert.equal(await rawToken(db, revoked.tokenHash), undefined)
        assert.ok(await validateAccessToken(db, kept.token, 'bearer', { ...NO_TOUCH, now: T }))
        assert.equal(await revokeAccessToken(db, revoked.tokenHash), false)
      })

      it('revokeUserTokens revokes every token of one user and none of another’s', async () => {
        const { db } = store()
        const target = await addUser(db, 'revoke-all')
        const other = await addUser(db, 'revoke-other')
        const targetTokens = [
          await issueAccessToken(db, target.id, 'bearer', 3600, T),
          await issueAccessToken(db, target.id, 'session', 3600, T),
          await issueAccessToken(db, target.id, 'session', 3600, T),
        ]
        const otherToken = await issueAccessToken(db, other.id, 'bearer', 3600, T)

        assert.equal(await revokeUserTokens(db, target.id), targetTokens.length)
        for (const { token } of targetTokens) {
          assert.equal(await validateAccessToken(db, token, 'bearer', { ...NO_TOUCH, now: T }), null)
        }
        assert.equal(
          (await validateAccessToken(db, otherToken.token, 'bearer', { ...NO_TOUCH, now: T }))?.user.id,
          other.id,
        )
        assert.equal(await revokeUserTokens(db, target.id), 0)
      })

      describe('last_used_at', () => {
        const INTERVAL = 60
        const touching: ValidateOptions = { idleTimeoutSeconds: 0, touchIntervalSeconds: INTERVAL }
        const lastUsedAt = async (tokenHash: string) => (await rawToken(store().db, tokenHash))?.last_used_at

        it('the first use of a token records last_used_at', {}, async () => {
          const { db } = store()
          const user = await addUser(db, 'first-use')
          const issued = await issueAccessToken(db, user.id, 'bearer', 3600, T)
          const spy = new QuerySpy()
          assert.ok(
            await validateAccessToken(db.withPlugin(spy), issued.token, 'bearer', {
              ...touching,
              now: T + SECOND,
            }),
          )
          assert.equal(spy.count('UpdateQueryNode'), 1, 'no last_used_at write was scheduled')
          assert.equal(
            await eventually(
              () => lastUsedAt(issued.tokenHash),
              (v) => v !== null,
            ),
            T + SECOND,
          )
        })

        it('is written at most once per touch interval, and again once the interval has passed', async () => {
          const { db } = store()
          const user = await addUser(db, 'touch')
          const issued = await issueAccessToken(db, user.id, 'bearer', 3600, T)
          const spy = new QuerySpy()
          const watched = db.withPlugin(spy)
          const validateAt = async (now: number) => {
            assert.ok(await validateAccessToken(watched, issued.token, 'bearer', { ...touching, now }))
          }

          const firstUse = T + INTERVAL * SECOND
          await validateAt(firstUse)
          assert.equal(spy.count('UpdateQueryNode'), 1)
          assert.equal(
            await eventually(
              () => lastUsedAt(issued.tokenHash),
              (v) => v === firstUse,
            ),
            firstUse,
          )

          await validateAt(firstUse + SECOND)
          await validateAt(firstUse + INTERVAL * SECOND - 1)
          assert.equal(spy.count('UpdateQueryNode'), 1)
          await sleep(50)
          assert.equal(await lastUsedAt(issued.tokenHash), firstUse)

          const secondUse = firstUse + INTERVAL * SECOND
          await validateAt(secondUse)
          assert.equal(spy.count('UpdateQueryNode'), 2)
          assert.equal(
            await eventually(
              () => lastUsedAt(issued.tokenHash),
              (v) => v === secondUse,
            ),
            secondUse,
          )
        })

        it('validation answers without waiting for the last_used_at write to finish', async () => {
          const { db } = store()
          const user = await addUser(db, 'no-wait')
          const issued = await issueAccessToken(db, user.id, 'bearer', 3600, T)
          const spy = new QuerySpy()
          let release = () => {}
          spy.gate = new Promise<void>((resolve) => {
            release = resolve
          })
          try {
            const answer = await Promise.race([
              validateAccessToken(db.withPlugin(spy), issued.token, 'bearer', {
                ...touching,
                now: T + INTERVAL * SECOND,
              }),
              sleep(5000).then(() => 'timed out' as const),
            ])
            if (answer === 'timed out') assert.fail('validation waited for the last_used_at write')
            assert.equal(answer?.user.id, user.id)
            assert.equal(spy.count('UpdateQueryNode'), 1)
            assert.equal(spy.updatesSettled, 0)
          } finally {
            release()
          }
          assert.equal(
            await eventually(
              () => lastUsedAt(issued.tokenHash),
              (v) => v !== null,
            ),
            T + INTERVAL * SECOND,
          )
        })

        it('a failed last_used_at write is reported to onTouchError and does not fail validation', async () => {
          const { db } = store()
          const user = await addUser(db, 'touch-error')
          const issued = await issueAccessToken(db, user.id, 'bearer', 3600, T)
          const spy = new QuerySpy()
          spy.failure = new Error('disk full')
          const reported: unknown[] = []

          const context = await validateAccessToken(db.withPlugin(spy), issued.token, 'bearer', {
            ...touching,
            now: T + INTERVAL * SECOND,
            onTouchError: (error) => reported.push(error),
          })
          assert.equal(context?.user.id, user.id)
          await eventually(
            async () => reported.length,
            (n) => n > 0,
          )
          assert.deepEqual(reported, [spy.failure])
        })
      })
    })

    describe('pruning access tokens', () => {
      const store = sharedStore(create)
      const remainingHashes = async () =>
        (await store().db.selectFrom('access_tokens').select('token_hash').execute())
          .map((r) => r.token_hash)
          .sort()

      it('deletes expired tokens only and returns how many it deleted', async () => {
        const { db } = store()
        await db.deleteFrom('access_tokens').execute()
        const user = await addUser(db, 'prune')
        const expiredLongAgo = await issueAccessToken(db, user.id, 'bearer', 3600, T - 7200 * SECOND)
        const expiringNow = await issueAccessToken(db, user.id, 'session', 60, T - 60 * SECOND)
        const live = await issueAccessToken(db, user.id, 'session', 1, T)
        const unusedForAges = await issueAccessToken(
          db,
          user.id,
          'bearer',
          365 * DAY_SECONDS,
          T - 300 * DAY_SECONDS * SECOND,
        )

        assert.equal(await pruneAccessTokens(db, 0, T), 2)
        assert.deepEqual(await remainingHashes(), [live.tokenHash, unusedForAges.tokenHash].sort())
        assert.equal(await rawToken(db, expiredLongAgo.tokenHash), undefined)
        assert.equal(await rawToken(db, expiringNow.tokenHash), undefined)
        assert.equal(await pruneAccessTokens(db, 0, T), 0)
      })

      it('with an idle timeout also deletes idle tokens, exactly those validation refuses as idle', async () => {
        const { db } = store()
        await db.deleteFrom('access_tokens').execute()
        const user = await addUser(db, 'prune-idle')
        const idle = 600
        const issuedAt = T - 3600 * SECOND
        const neverUsed = await issueAccessToken(db, user.id, 'bearer', DAY_SECONDS, issuedAt)
        const usedRecently = await issueAccessToken(db, user.id, 'bearer', DAY_SECONDS, issuedAt)
        const usedAtLimit = await issueAccessToken(db, user.id, 'bearer', DAY_SECONDS, issuedAt)
        const expired = await issueAccessToken(db, user.id, 'bearer', 60, issuedAt)
        const setLastUsed = (tokenHash: string, at: number) =>
          db
            .updateTable('access_tokens')
            .set({ last_used_at: at })
            .where('token_hash', '=', tokenHash)
            .execute()
        await setLastUsed(usedRecently.tokenHash, T - 60 * SECOND)
        await setLastUsed(usedAtLimit.tokenHash, T - idle * SECOND)

        const options = {
          idleTimeoutSeconds: idle,
          touchIntervalSeconds: NO_TOUCH.touchIntervalSeconds,
          now: T,
        }
        assert.equal(await validateAccessToken(db, neverUsed.token, 'bearer', options), null)
        assert.ok(await validateAccessToken(db, usedRecently.token, 'bearer', options))
        assert.ok(await validateAccessToken(db, usedAtLimit.token, 'bearer', options))

        // Without an idle timeout only the expired token goes.
        assert.equal(await pruneAccessTokens(db, 0, T), 1)
        assert.equal(await rawToken(db, expired.tokenHash), undefined)
        assert.equal(await pruneAccessTokens(db, idle, T), 1)
        assert.deepEqual(await remainingHashes(), [usedRecently.tokenHash, usedAtLimit.tokenHash].sort())
      })
    })

    describe('preferences', () => {
      const store = sharedStore(create)

      it('a user who never saved preferences reads an empty object', async () => {
        const { db } = store()
        const user = await addUser(db, 'no-prefs')
        assert.deepEqual(await readPreferences(db, user.id), {})
      })

      it('nested JSON with unicode round-trips unchanged', async () => {
        const { db } = store()
        const user = await addUser(db, 'prefs')
        const preferences = {
          theme: 'dark',
          language: 'français',
          notifications: { email: true, digest: { frequency: 'weekly', days: [1, 3, 5] } },
          favourites: ['🔐', 'ünïcödé', 'שלום', '日本語', 'line\nbreak', 'quote " and \\ backslash'],
          empty: { list: [], object: {} },
          nothing: null,
          number: -12.5e3,
        }
        assert.deepEqual(await writePreferences(db, user.id, preferences, T), preferences)
        assert.deepEqual(await readPreferences(db, user.id), preferences)
      })

      it('a second write replaces the preferences instead of merging them', async () => {
        const { db } = store()
        const user = await addUser(db, 'replace')
        await writePreferences(db, user.id, { theme: 'dark', layout: { sidebar: true, width: 300 } }, T)
        await writePreferences(db, user.id, { layout: { width: 400 } }, T + SECOND)

        assert.deepEqual(await readPreferences(db, user.id), { layout: { width: 400 } })
        const rows = await db.selectFrom('preferences').selectAll().where('user_id', '=', user.id).execute()
        assert.equal(rows.length, 1)
        assert.equal(rows[0]?.updated_at, T + SECOND)
      })

      it('one user’s preferences are invisible to, and untouched by, another user', async () => {
        const { db } = store()
        const alice = await addUser(db, 'prefs-alice')
        const bob = await addUser(db, 'prefs-bob')
        await writePreferences(db, alice.id, { owner: 'alice' }, T)

        assert.deepEqual(await readPreferences(db, bob.id), {})
        await writePreferences(db, bob.id, { owner: 'bob' }, T)
        assert.deepEqual(await readPreferences(db, alice.id), { owner: 'alice' })
        assert.deepEqual(await readPreferences(db, bob.id), { owner: 'bob' })
      })
    })

    describe('constraints', () => {
      const store = sharedStore(create)
      const tokenRow = (userId: number, kind: string) => ({
        token_hash: sha256Hex(generateToken().token),
        public_id: generatePublicId(),
        user_id: userId,
        kind,
        created_at: T,
        expires_at: T + 3600 * SECOND,
      })

      it('a token of any kind other than bearer or session cannot be stored', async () => {
        const { db } = store()
        const user = await addUser(db, 'kind')
        await assert.rejects(
          db.insertInto('access_tokens').values(tokenRow(user.id, 'other')).execute(),
          driverError({ sqlite: 'SQLITE_CONSTRAINT_CHECK', postgres: '23514' }, dialect),
        )
        for (const kind of ['bearer', 'session']) {
          await db.insertInto('access_tokens').values(tokenRow(user.id, kind)).execute()
        }
        const kinds = await db
          .selectFrom('access_tokens')
          .select('kind')
          .where('user_id', '=', user.id)
          .execute()
        assert.deepEqual(kinds.map((r) => r.kind).sort(), ['bearer', 'session'])
      })

      it('a token or preferences for a user who does not exist cannot be stored', async () => {
        const { db } = store()
        const foreignKey = driverError({ sqlite: 'SQLITE_CONSTRAINT_FOREIGNKEY', postgres: '23503' }, dialect)
        await assert.rejects(
          db.insertInto('access_tokens').values(tokenRow(2_000_000_000, 'bearer')).execute(),
          foreignKey,
        )
        await assert.rejects(writePreferences(db, 2_000_000_000, { theme: 'dark' }, T), foreignKey)
      })

      it('two tokens with the same hash cannot be stored', async () => {
        const { db } = store()
        const user = await addUser(db, 'dup-hash')
        const row = tokenRow(user.id, 'bearer')
        await db.insertInto('access_tokens').values(row).execute()
        await assert.rejects(
          db.insertInto('access_tokens').values(row).execute(),
          driverError({ sqlite: 'SQLITE_CONSTRAINT_UNIQUE', postgres: '23505' }, dialect),
        )
      })
    })
  })
}
