/**
 * `gatehouse users …` as an operator runs it: a child process configured by its environment only,
 * checked by exit code, output and the database it leaves behind; two processes racing to demote
 * the last two superusers; and a running server told of a deactivation at once.
 */
import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { issueAccessToken } from '../../src/accounts/access-tokens.ts'
import { insertApiKey } from '../../src/accounts/api-key-store.ts'
import { insertUser } from '../../src/accounts/users.ts'
import { migrateToLatest } from '../../src/store/migrate.ts'
import { openStore, type Store } from '../../src/store/open-store.ts'
import { createSqliteDatabase, type TestDatabase } from '../helpers/databases.ts'

const CLI = fileURLToPath(new URL('../../src/cli/index.ts', import.meta.url))
const TSX = import.meta.resolve('tsx')
const CHILD_TIMEOUT_MS = 30_000
const SUITE = { timeout: 120_000 }
const HOUR_MS = 3_600_000
const LAST_SUPERUSER_LINE = 'gatehouse: The last active superuser cannot lose superuser rights'

/** An empty working directory: the CLI reads ./.env from its cwd, and none must leak in. */
const workDir = mkdtempSync(join(tmpdir(), 'gatehouse-users-cli-'))
const children = new Set<ChildProcess>()
const databases: TestDatabase[] = []

after(async () => {
  for (const child of children)
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  for (const database of databases) await database.drop()
  rmSync(workDir, { recursive: true, force: true })
})

interface Finished {
  code: number | null
  stdout: string
  stderr: string
}

function start(
  args: string[],
  env: Record<string, string>,
): { child: ChildProcess; finished: Promise<Finished> } {
  const child = spawn(process.execPath, ['--import', TSX, CLI, ...args], {
    cwd: workDir,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? workDir, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  children.add(child)
  let stdout = ''
  let stderr = ''
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk
  })
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk
  })
  const finished = new Promise<Finished>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(
        new Error(
          `gatehouse ${args.join(' ')} still running after ${CHILD_TIMEOUT_MS} ms\n${stdout}\n${stderr}`,
        ),
      )
    }, CHILD_TIMEOUT_MS)
    child.on('error', reject)
    child.on('close', (code) => {
      clearTimeout(timer)
      children.delete(child)
      resolve({ code, stdout, stderr })
    })
  })
  return { child, finished }
}

const gatehouse = (args: string[], env: Record<string, string>) => start(args, env).finished

async function inspect<T>(url: string, work: (store: Store) => Promise<T>): Promise<T> {
  const store = openStore(url)
  try {
    return await work(store)
  } finally {
    await store.close()
  }
}

/** A fresh migrated SQLite database with these users (no hashing: nobody logs in with a password). */
async function seeded(
  users: { email: string; superuser?: boolean }[],
): Promise<{ url: string; ids: number[] }> {
  const database = await createSqliteDatabase()
  databases.push(database)
  const ids = await inspect(database.url, async (store) => {
    await migrateToLatest(store.db, store.dialect)
    const made: number[] = []
    for (const user of users) {
      made.push(
        (
          await insertUser(store.db, {
            email: user.email,
            hashedPassword: 'x',
            isSuperuser: user.superuser === true,
          })
        ).id,
      )
    }
    return made
  })
  return { url: database.url, ids }
}

const userRow = (url: string, id: number) =>
  inspect(url, (store) => store.db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst())

const activeSuperusers = (url: string) =>
  inspect(url, async (store) =>
    (
      await store.db
        .selectFrom('users')
        .select('email')
        .where('is_superuser', '=', 1)
        .where('is_active', '=', 1)
        .orderBy('id')
        .execute()
    ).map((row) => row.email),
  )

/** One non-empty output line per entry. */
const lines = (text: string) => text.split('\n').filter((line) => line.length > 0)

describe('gatehouse users list and show', SUITE, () => {
  let url: string
  let ids: number[]
  before(async () => {
    // 105 accounts: more than one page of 100, so the listing must follow the cursor.
    const users = Array.from({ length: 105 }, (_, i) => ({
      email: `user${String(i).padStart(3, '0')}@example.com`,
    }))
    ;({ url, ids } = await seeded([{ email: 'root@example.com', superuser: true }, ...users]))
    await inspect(url, async (store) => {
      await store.db
        .updateTable('users')
        .set({ is_active: 0 })
        .where('email', '=', 'user007@example.com')
        .execute()
      await store.db
        .updateTable('users')
        .set({ is_verified: 1 })
        .where('email', '=', 'root@example.com')
        .execute()
    })
  })

  test('lists every account, one line each, by id, across pages', async () => {
    const result = await gatehouse(['users', 'list'], { DATABASE_URL: url })
    assert.equal(result.code, 0, result.stderr)
    const listed = lines(result.stdout)
    assert.equal(listed.length, 106)
    assert.match(
      listed[0] ?? '',
      /^\d+ {2}root@example\.com {2}active {2}verified {2}superuser {2}created \d{4}-\d\d-\d\dT[\d:.]+Z$/,
    )
    assert.deepEqual(
      listed.map((line) => Number(line.split('  ')[0])),
      ids,
    )
    assert.ok(listed.some((line) => line.includes('user007@example.com  inactive  unverified  user')))
  })

  test('filters by email prefix and state, and stops at --limit', async () => {
    const prefix = await gatehouse(['users', 'list', '--email-prefix', 'USER10'], { DATABASE_URL: url })
    assert.equal(prefix.code, 0, prefix.stderr)
    assert.deepEqual(
      lines(prefix.stdout).map((line) => line.split('  ')[1]),
      [
        'user100@example.com',
        'user101@example.com',
        'user102@example.com',
        'user103@example.com',
        'user104@example.com',
      ],
    )
    const inactive = await gatehouse(['users', 'list', '--inactive'], { DATABASE_URL: url })
    assert.deepEqual(
      lines(inactive.stdout).map((line) => line.split('  ')[1]),
      ['user007@example.com'],
    )
    const active = await gatehouse(['users', 'list', '--active', '--limit', '3'], { DATABASE_URL: url })
    assert.deepEqual(
      lines(active.stdout).map((line) => line.split('  ')[1]),
      ['root@example.com', 'user000@example.com', 'user001@example.com'],
    )
    const none = await gatehouse(['users', 'list', '--email-prefix', '%'], { DATABASE_URL: url })
    assert.equal(none.code, 0)
    assert.equal(none.stdout, 'no accounts\n')
  })

  test('refuses contradictory or malformed options, exit 1, one line', async () => {
    for (const args of [
      ['users', 'list', '--active', '--inactive'],
      ['users', 'list', '--limit', '0'],
      ['users', 'list', '--limit', 'ten'],
    ]) {
      const result = await gatehouse(args, { DATABASE_URL: url })
      assert.equal(result.code, 1, args.join(' '))
      assert.equal(lines(result.stderr).length, 1, result.stderr)
      assert.equal(result.stdout, '')
    }
  })

  test('show prints the account and how many sessions and keys it has; an unknown email is one line, exit 1', async () => {
    await inspect(url, async (store) => {
      const id = ids[0] as number
      await issueAccessToken(store.db, id, 'bearer', 3600)
      await issueAccessToken(store.db, id, 'session', 3600)
      await insertApiKey(store.db, {
        userId: id,
        name: 'ci',
        scopes: ['profile:read'],
        expiresAt: Date.now() + HOUR_MS,
      })
    })
    const result = await gatehouse(['users', 'show', 'ROOT@example.com'], { DATABASE_URL: url })
    assert.equal(result.code, 0, result.stderr)
    const [line, counts] = lines(result.stdout)
    assert.match(line ?? '', /^\d+ {2}root@example\.com {2}active {2}verified {2}superuser /)
    assert.equal(counts, 'live sessions: 2  api keys: 1')

    const unknown = await gatehouse(['users', 'show', 'nobody@example.com'], { DATABASE_URL: url })
    assert.equal(unknown.code, 1)
    assert.equal(unknown.stderr, 'gatehouse: no account for nobody@example.com\n')
    assert.equal(unknown.stdout, '')
  })
})

describe('gatehouse users deactivate, activate, promote, demote', SUITE, () => {
  test('deactivate ends sessions and keys; activate, promote and demote change the row; the last superuser stays', async () => {
    const { url, ids } = await seeded([
      { email: 'root@example.com', superuser: true },
      { email: 'bob@example.com' },
    ])
    const [rootId, bobId] = ids as [number, number]
    await inspect(url, async (store) => {
      await issueAccessToken(store.db, bobId, 'bearer', 3600)
      await insertApiKey(store.db, {
        userId: bobId,
        name: 'ci',
        scopes: ['profile:read'],
        expiresAt: Date.now() + HOUR_MS,
      })
    })
    const env = { DATABASE_URL: url }

    const deactivated = await gatehouse(['users', 'deactivate', 'bob@example.com'], env)
    assert.equal(deactivated.code, 0, deactivated.stderr)
    assert.equal(lines(deactivated.stdout)[0], 'bob@example.com is deactivated')
    assert.match(lines(deactivated.stdout)[1] ?? '', /bob@example\.com {2}inactive/)
    assert.equal((await userRow(url, bobId))?.is_active, 0)
    const left = await inspect(url, async (store) => ({
      tokens: (await store.db.selectFrom('access_tokens').select('id').where('user_id', '=', bobId).execute())
        .length,
      keys: (await store.db.selectFrom('api_keys').select('id').where('user_id', '=', bobId).execute())
        .length,
    }))
    assert.deepEqual(left, { tokens: 0, keys: 0 })

    assert.equal((await gatehouse(['users', 'activate', 'bob@example.com'], env)).code, 0)
    assert.equal((await userRow(url, bobId))?.is_active, 1)

    const lastDemote = await gatehouse(['users', 'demote', 'root@example.com'], env)
    assert.equal(lastDemote.code, 1)
    assert.equal(lastDemote.stderr, `${LAST_SUPERUSER_LINE}\n`)
    const lastDeactivate = await gatehouse(['users', 'deactivate', 'root@example.com'], env)
    assert.equal(lastDeactivate.code, 1)
    assert.equal(lastDeactivate.stderr, `${LAST_SUPERUSER_LINE}\n`)
    assert.deepEqual(await activeSuperusers(url), ['root@example.com'])

    const promoted = await gatehouse(['users', 'promote', 'bob@example.com'], env)
    assert.equal(promoted.code, 0, promoted.stderr)
    assert.equal(lines(promoted.stdout)[0], 'bob@example.com is a superuser')
    const demoted = await gatehouse(['users', 'demote', 'root@example.com'], env)
    assert.equal(demoted.code, 0, demoted.stderr)
    assert.equal((await userRow(url, rootId))?.is_superuser, 0)
    assert.deepEqual(await activeSuperusers(url), ['bob@example.com'])

    const unknown = await gatehouse(['users', 'promote', 'nobody@example.com'], env)
    assert.equal(unknown.code, 1)
    assert.equal(unknown.stderr, 'gatehouse: no account for nobody@example.com\n')
  })

  test('two processes demoting the last two superusers at once: one wins, one is refused, one superuser remains', async () => {
    for (const [first, second] of [
      ['demote', 'demote'],
      ['deactivate', 'demote'],
    ] as const) {
      const { url } = await seeded([
        { email: 'a@example.com', superuser: true },
        { email: 'b@example.com', superuser: true },
      ])
      const results = await Promise.all([
        gatehouse(['users', first, 'a@example.com'], { DATABASE_URL: url }),
        gatehouse(['users', second, 'b@example.com'], { DATABASE_URL: url }),
      ])
      const codes = results.map((result) => result.code).sort()
      assert.deepEqual(codes, [0, 1], results.map((result) => result.stderr).join('\n'))
      const refused = results.find((result) => result.code === 1)
      assert.equal(refused?.stderr, `${LAST_SUPERUSER_LINE}\n`)
      assert.equal((await activeSuperusers(url)).length, 1)
    }
  })
})

async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  await new Promise<void>((resolve) => server.close(() => resolve()))
  assert.ok(address && typeof address === 'object')
  return address.port
}

describe('gatehouse users deactivate with a server running', SUITE, () => {
  test("the server refuses the user's token at once, though its cache would keep it a minute", async () => {
    const { url, ids } = await seeded([
      { email: 'root@example.com', superuser: true },
      { email: 'bob@example.com' },
    ])
    const token = await inspect(
      url,
      async (store) => (await issueAccessToken(store.db, ids[1] as number, 'bearer', 3600)).token,
    )
    const port = await freePort()
    const server = start(['serve'], {
      DATABASE_URL: url,
      PORT: String(port),
      DEMO_PORT: '0',
      TOKEN_CACHE_SECONDS: '60',
      LOG_LEVEL: 'warn',
    })
    const me = () =>
      fetch(`http://127.0.0.1:${port}/me`, {
        headers: { authorization: `Bearer ${token}` },
        signal: AbortSignal.timeout(2000),
      })
    try {
      const deadline = Date.now() + CHILD_TIMEOUT_MS - 5000
      let first: Response | undefined
      while (first === undefined) {
        try {
          first = await me()
        } catch (error) {
          if (Date.now() > deadline || server.child.exitCode !== null) throw error
          await new Promise((resolve) => setTimeout(resolve, 100))
        }
      }
      assert.equal(first.status, 200, 'the token works, and is now cached')

      const deactivated = await gatehouse(['users', 'deactivate', 'bob@example.com'], { DATABASE_URL: url })
      assert.equal(deactivated.code, 0, deactivated.stderr)
      // Told through the SQLite revocation table; well under the 60 s the cache would allow.
      const told = Date.now()
      let status = 200
      while (status === 200 && Date.now() - told < 10_000) {
        status = (await me()).status
        if (status === 200) await new Promise((resolve) => setTimeout(resolve, 50))
      }
      assert.equal(status, 401)
    } finally {
      server.child.kill('SIGTERM')
      await server.finished.catch(() => {})
    }
  })
})
