/**
 * The `gatehouse` CLI as users run it: a child process (`node --import tsx src/cli/index.ts …`),
 * configured only by its environment, stdin piped (no TTY), checked by exit code, output and the
 * database it leaves behind.
 */
import assert from 'node:assert/strict'
import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { issueAccessToken } from '../../src/accounts/access-tokens.ts'
import { insertUser } from '../../src/accounts/users.ts'
import { argon2idParameters, createPasswordHasher } from '../../src/core/passwords/index.ts'
import { parseDatabaseUrl } from '../../src/store/database-url.ts'
import { migrateToLatest } from '../../src/store/migrate.ts'
import { openStore, type Store } from '../../src/store/open-store.ts'
import { createSqliteDatabase, type TestDatabase } from '../helpers/databases.ts'

const CLI = fileURLToPath(new URL('../../src/cli/index.ts', import.meta.url))
/** tsx by absolute URL, so the child can run from an empty folder (no ./.env of the developer's). */
const TSX = import.meta.resolve('tsx')
const CHILD_TIMEOUT_MS = 30_000
const SUITE_TIMEOUT = { timeout: 120_000 }

const PASSWORD = 'Cli-Created-Passw0rd!'
const STRONG_SECRET = 'cli-test-secret-that-is-long-enough-0123456789'
const DB_PASSWORD = 'S3cr3t-Db-Pa55w0rd'

/** An empty working directory: the CLI loads ./.env from its cwd, and none must leak in. */
const workDir = mkdtempSync(join(tmpdir(), 'gatehouse-cli-'))
const children = new Set<ChildProcess>()
const databases: TestDatabase[] = []

after(async () => {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  }
  for (const database of databases) await database.drop()
  rmSync(workDir, { recursive: true, force: true })
})

async function freshDatabase(): Promise<TestDatabase> {
  const database = await createSqliteDatabase()
  databases.push(database)
  return database
}

/** Only what a shell would have, plus the given settings: nothing from the test runner's env. */
function childEnv(env: Record<string, string>): NodeJS.ProcessEnv {
  const base: NodeJS.ProcessEnv = { PATH: process.env.PATH ?? '/usr/bin:/bin' }
  for (const name of ['HOME', 'TMPDIR', 'SYSTEMROOT']) {
    const value = process.env[name]
    if (value !== undefined) base[name] = value
  }
  return { ...base, ...env }
}

interface Finished {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
}

interface Running {
  child: ChildProcess
  /** Settles when the process exits; rejects if it outlives `CHILD_TIMEOUT_MS` (it is then killed). */
  finished: Promise<Finished>
  output(): { stdout: string; stderr: string }
}

function start(args: string[], env: Record<string, string>, input = ''): Running {
  const child = spawn(process.execPath, ['--import', TSX, CLI, ...args], {
    cwd: workDir,
    env: childEnv(env),
    stdio: ['pipe', 'pipe', 'pipe'],
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
  child.stdin?.on('error', () => {}) // a child that exits before reading stdin: EPIPE is fine
  child.stdin?.end(input)
  const finished = new Promise<Finished>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(
        new Error(
          `gatehouse ${args.join(' ')} still running after ${CHILD_TIMEOUT_MS} ms\n${stdout}\n${stderr}`,
        ),
      )
    }, CHILD_TIMEOUT_MS)
    child.on('error', (error) => {
      clearTimeout(timer)
      reject(error)
    })
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      children.delete(child)
      resolve({ code, signal, stdout, stderr })
    })
  })
  return { child, finished, output: () => ({ stdout, stderr }) }
}

/** Runs `gatehouse <args>` to completion with `input` on stdin. */
function gatehouse(args: string[], env: Record<string, string>, input = ''): Promise<Finished> {
  return start(args, env, input).finished
}

/** Opens the database the CLI used (after it exited), runs `work`, closes it. */
async function inspect<T>(url: string, work: (store: Store) => Promise<T>): Promise<T> {
  const store = openStore(url)
  try {
    return await work(store)
  } finally {
    await store.close()
  }
}

function usersIn(url: string) {
  return inspect(url, (store) => store.db.selectFrom('users').selectAll().orderBy('id').execute())
}

function tokensIn(url: string) {
  return inspect(url, (store) => store.db.selectFrom('access_tokens').selectAll().orderBy('id').execute())
}

/** A migrated database with one user per email, made in-process (no CLI). Returns the user ids. */
async function seedUsers(url: string, emails: string[]): Promise<number[]> {
  const hashedPassword = await createPasswordHasher().hash(PASSWORD)
  return inspect(url, async (store) => {
    await migrateToLatest(store.db, store.dialect)
    const ids: number[] = []
    for (const email of emails) ids.push((await insertUser(store.db, { email, hashedPassword })).id)
    return ids
  })
}

async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', resolve)
  })
  const address = server.address()
  await new Promise<void>((resolve) => server.close(() => resolve()))
  assert.ok(address && typeof address === 'object')
  return address.port
}

/** Polls GET url until it answers, the child exits, or the deadline passes. */
async function waitForHttp(url: string, running: Running, deadlineMs: number): Promise<Response> {
  const deadline = Date.now() + deadlineMs
  let exited = false
  void running.finished.then(
    () => {
      exited = true
    },
    () => {
      exited = true
    },
  )
  for (;;) {
    try {
      return await fetch(url, { signal: AbortSignal.timeout(2000) })
    } catch (error) {
      const { stdout, stderr } = running.output()
      if (exited) throw new Error(`the server exited before answering ${url}\n${stdout}\n${stderr}`)
      if (Date.now() > deadline) throw new Error(`${url} unreachable: ${String(error)}\n${stdout}\n${stderr}`)
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
  }
}

describe('gatehouse --help', SUITE_TIMEOUT, () => {
  test('lists the serve, migrate, create-user, revoke-tokens and prune commands, and exits 0', async () => {
    const result = await gatehouse(['--help'], {})
    assert.equal(result.code, 0, result.stderr)
    for (const command of ['serve', 'migrate', 'create-user', 'revoke-tokens', 'prune']) {
      assert.match(
        result.stdout,
        new RegExp(`^\\s+${command}\\b`, 'm'),
        `${command} missing:\n${result.stdout}`,
      )
    }
  })

  test('--version prints the version of package.json, and exits 0', async () => {
    const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'))
    const result = await gatehouse(['--version'], {})
    assert.equal(result.code, 0, result.stderr)
    assert.equal(result.stdout.trim(), version)
  })

  test('an unknown command exits non-zero and says so on stderr', async () => {
    const result = await gatehouse(['frobnicate'], {})
    assert.notEqual(result.code, 0)
    assert.match(result.stderr, /unknown command/i)
  })
})

describe('gatehouse migrate', SUITE_TIMEOUT, () => {
  let url: string
  before(async () => {
    url = (await freshDatabase()).url
  })

  test('on a fresh database prints the migration it applied, and creates the schema', async () => {
    const result = await gatehouse(['migrate'], { DATABASE_URL: url })
    assert.equal(result.code, 0, result.stderr)
    assert.match(result.stdout, /applied: 001-initial/)
    assert.ok(
      result.stdout.includes(`database: sqlite ${parseDatabaseUrl(url).target}\n`),
      `the database is not named:\n${result.stdout}`,
    )
    assert.doesNotMatch(result.stdout, /up to date/)
    assert.deepEqual(await usersIn(url), [])
  })

  test('a second run applies nothing and says the database is up to date', async () => {
    const result = await gatehouse(['migrate'], { DATABASE_URL: url })
    assert.equal(result.code, 0, result.stderr)
    assert.match(result.stdout, /database is up to date/)
    assert.doesNotMatch(result.stdout, /applied/)
  })
})

describe('gatehouse create-user', SUITE_TIMEOUT, () => {
  let url: string
  before(async () => {
    url = (await freshDatabase()).url
  })

  test('creates the user from the password on stdin (fresh database), storing an argon2id hash', async () => {
    const result = await gatehouse(['create-user', 'a@example.com'], { DATABASE_URL: url }, `${PASSWORD}\n`)
    assert.equal(result.code, 0, result.stderr)
    assert.match(result.stdout, /created user \d+ <a@example\.com>/)
    assert.doesNotMatch(result.stdout, /superuser/)
    assert.ok(
      !result.stdout.includes(PASSWORD) && !result.stderr.includes(PASSWORD),
      'the password is echoed',
    )

    const users = await usersIn(url)
    assert.equal(users.length, 1)
    const [user] = users
    assert.ok(user)
    assert.equal(user.email, 'a@example.com')
    assert.equal(user.is_superuser, 0)
    assert.equal(user.is_active, 1)
    assert.notEqual(user.hashed_password, PASSWORD)
    assert.ok(!user.hashed_password.includes(PASSWORD))
    assert.ok(argon2idParameters(user.hashed_password), `not argon2id: ${user.hashed_password}`)
    const hasher = createPasswordHasher()
    assert.equal((await hasher.verifyAndUpgrade(PASSWORD, user.hashed_password)).valid, true)
    // Only the first line is the password: the newline that ended it is not part of it.
    assert.equal((await hasher.verifyAndUpgrade(`${PASSWORD}\n`, user.hashed_password)).valid, false)
  })

  test('--superuser creates a user with is_superuser = 1', async () => {
    const result = await gatehouse(
      ['create-user', 'root@example.com', '--superuser'],
      { DATABASE_URL: url },
      `${PASSWORD}\n`,
    )
    assert.equal(result.code, 0, result.stderr)
    assert.match(result.stdout, /created user \d+ <root@example\.com> \(superuser\)/)
    const root = (await usersIn(url)).find((user) => user.email === 'root@example.com')
    assert.ok(root, 'no superuser row')
    assert.equal(root.is_superuser, 1)
  })

  test('a too-short password exits non-zero with the policy message on stderr, and creates nothing', async () => {
    const result = await gatehouse(['create-user', 'short@example.com'], { DATABASE_URL: url }, 'short\n')
    assert.notEqual(result.code, 0)
    assert.match(result.stderr, /Password must be at least 8 characters/)
    assert.doesNotMatch(result.stdout, /created user/)
    assert.equal((await usersIn(url)).filter((user) => user.email === 'short@example.com').length, 0)
  })

  test('an empty stdin (no password at all) exits non-zero, and creates nothing', async () => {
    const result = await gatehouse(['create-user', 'empty@example.com'], { DATABASE_URL: url }, '')
    assert.notEqual(result.code, 0)
    assert.match(result.stderr, /Password must be at least 8 characters/)
    assert.equal((await usersIn(url)).filter((user) => user.email === 'empty@example.com').length, 0)
  })

  test('a differently cased duplicate email exits non-zero with "Email already exists", the first user intact', async () => {
    const existing = await usersIn(url)
    const result = await gatehouse(
      ['create-user', 'A@Example.COM'],
      { DATABASE_URL: url },
      'Another-Passw0rd-42\n',
    )
    assert.notEqual(result.code, 0)
    assert.match(result.stderr, /Email already exists/)
    assert.doesNotMatch(result.stdout, /created user/)
    assert.deepEqual(await usersIn(url), existing)
  })
})

describe('gatehouse create-user validates the email like POST /register', SUITE_TIMEOUT, () => {
  let url: string
  before(async () => {
    url = (await freshDatabase()).url
  })

  for (const [label, email] of [
    ['an empty email', ''],
    ['not an email', 'not-an-email'],
    ['no domain', 'someone@'],
  ] as const) {
    test(`${label} (${JSON.stringify(email)}): exit non-zero, one line naming the email problem, no account`, async () => {
      const result = await gatehouse(['create-user', email], { DATABASE_URL: url }, `${PASSWORD}\n`)
      assert.notEqual(result.code, 0)
      const lines = result.stderr.trim().split('\n')
      assert.equal(lines.length, 1, `not one line:\n${result.stderr}`)
      assert.match(lines[0] ?? '', /^gatehouse: .*email/i)
      assert.doesNotMatch(result.stderr, /\bat \S+:\d+|GatehouseError|VALIDATION_FAILED/)
      assert.doesNotMatch(result.stdout, /created user/)
      assert.ok(!result.stderr.includes(PASSWORD))
      assert.deepEqual(await usersIn(url), [])
    })
  }

  test('a valid email (ok@example.com) creates the account', async () => {
    const result = await gatehouse(['create-user', 'ok@example.com'], { DATABASE_URL: url }, `${PASSWORD}\n`)
    assert.equal(result.code, 0, result.stderr)
    assert.match(result.stdout, /created user \d+ <ok@example\.com>/)
    assert.deepEqual(
      (await usersIn(url)).map((user) => [user.email, user.is_superuser]),
      [['ok@example.com', 0]],
    )
  })
})

/** `script` (util-linux) runs a command on a pseudo-terminal: the CLI then sees a real TTY. */
const hasScript = spawnSync('script', ['--version'], { stdio: 'ignore' }).status === 0

/**
 * Runs `gatehouse <args>` on a pseudo-terminal and types each answer (then Enter) once its prompt
 * has appeared, as a person would. Resolves with the terminal's whole output and the exit code.
 */
function atTerminal(
  args: string[],
  env: Record<string, string>,
  answers: [prompt: string, answer: string][],
): Promise<{ code: number | null; output: string }> {
  const quote = (word: string) => `'${word.replaceAll("'", "'\\''")}'`
  const command = [process.execPath, '--import', TSX, CLI, ...args].map(quote).join(' ')
  const child = spawn('script', ['-qec', command, '/dev/null'], {
    cwd: workDir,
    env: childEnv(env),
    stdio: ['pipe', 'pipe', 'pipe'],
  })
  children.add(child)
  let output = ''
  let answered = 0
  let seen = 0
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    output += chunk
    const next = answers[answered]
    if (!next) return
    const at = output.indexOf(next[0], seen)
    if (at < 0) return
    seen = at + next[0].length
    answered++
    child.stdin.write(`${next[1]}\r`)
  })
  child.stdin.on('error', () => {})
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`gatehouse ${args.join(' ')} at a terminal still running:\n${output}`))
    }, CHILD_TIMEOUT_MS)
    child.on('close', (code) => {
      clearTimeout(timer)
      children.delete(child)
      resolve({ code, output })
    })
    child.on('exit', () => child.stdin.end())
  })
}

describe('gatehouse create-user at a terminal', {
  ...SUITE_TIMEOUT,
  skip: !hasScript && 'needs script(1)',
}, () => {
  let url: string
  before(async () => {
    url = (await freshDatabase()).url
  })

  test('asks for the password twice, echoes neither, and creates the account when they match', async () => {
    const result = await atTerminal(['create-user', 'tty@example.com'], { DATABASE_URL: url }, [
      ['Password: ', PASSWORD],
      ['Repeat the password: ', PASSWORD],
    ])
    assert.equal(result.code, 0, result.output)
    assert.match(
      result.output,
      /Password: [\s\S]*Repeat the password: [\s\S]*created user \d+ <tty@example\.com>/,
    )
    assert.ok(!result.output.includes(PASSWORD), `the password was echoed:\n${result.output}`)
    const [user] = await usersIn(url)
    assert.ok(user)
    assert.equal((await createPasswordHasher().verifyAndUpgrade(PASSWORD, user.hashed_password)).valid, true)
  })

  test('two different passwords: exit non-zero, says they do not match, and creates nothing', async () => {
    const result = await atTerminal(['create-user', 'typo@example.com'], { DATABASE_URL: url }, [
      ['Password: ', PASSWORD],
      ['Repeat the password: ', `${PASSWORD}x`],
    ])
    assert.notEqual(result.code, 0)
    assert.match(result.output, /gatehouse: the two passwords do not match/)
    assert.doesNotMatch(result.output, /created user/)
    assert.deepEqual(
      (await usersIn(url)).filter((user) => user.email === 'typo@example.com'),
      [],
    )
  })
})

describe('gatehouse prune', SUITE_TIMEOUT, () => {
  let url: string
  let live: string
  before(async () => {
    url = (await freshDatabase()).url
    const [userId = 0] = await seedUsers(url, ['prune@example.com'])
    await inspect(url, async (store) => {
      const twoHoursAgo = Date.now() - 2 * 3600_000
      await issueAccessToken(store.db, userId, 'bearer', 60, twoHoursAgo) // expired an hour and 59 minutes ago
      live = (await issueAccessToken(store.db, userId, 'session', 3600)).tokenHash
    })
  })

  test('deletes the expired token, keeps the live one, and reports the count', async () => {
    assert.equal((await tokensIn(url)).length, 2)
    const result = await gatehouse(['prune'], { DATABASE_URL: url })
    assert.equal(result.code, 0, result.stderr)
    assert.match(result.stdout, /pruned 1 expired token\(s\)/)
    assert.deepEqual(
      (await tokensIn(url)).map((token) => token.token_hash),
      [live],
    )
  })

  test('a second run finds nothing to prune', async () => {
    const result = await gatehouse(['prune'], { DATABASE_URL: url })
    assert.equal(result.code, 0, result.stderr)
    assert.match(result.stdout, /pruned 0 expired token\(s\)/)
    assert.equal((await tokensIn(url)).length, 1)
  })
})

describe('gatehouse revoke-tokens', SUITE_TIMEOUT, () => {
  let url: string
  let victimId: number
  let bystanderId: number
  before(async () => {
    url = (await freshDatabase()).url
    ;[victimId = 0, bystanderId = 0] = await seedUsers(url, ['victim@example.com', 'bystander@example.com'])
    await inspect(url, async (store) => {
      await issueAccessToken(store.db, victimId, 'bearer', 3600)
      await issueAccessToken(store.db, victimId, 'session', 3600)
      await issueAccessToken(store.db, bystanderId, 'bearer', 3600)
    })
  })

  test('removes every token of the account (email matched case-insensitively) and only those', async () => {
    const result = await gatehouse(['revoke-tokens', 'Victim@Example.com'], { DATABASE_URL: url })
    assert.equal(result.code, 0, result.stderr)
    assert.match(result.stdout, /revoked 2 token\(s\)/)
    assert.deepEqual(
      (await tokensIn(url)).map((token) => token.user_id),
      [bystanderId],
    )
  })

  test('an email with no account exits non-zero, names the email, and revokes nothing', async () => {
    const result = await gatehouse(['revoke-tokens', 'nobody@example.com'], { DATABASE_URL: url })
    assert.notEqual(result.code, 0)
    assert.match(result.stderr, /no account for nobody@example\.com/)
    assert.equal((await tokensIn(url)).length, 1)
  })

  test("--all-users ends every account's tokens; an email and --all-users together are refused", async () => {
    const both = await gatehouse(['revoke-tokens', 'bystander@example.com', '--all-users'], {
      DATABASE_URL: url,
    })
    assert.notEqual(both.code, 0)
    assert.match(both.stderr, /name one account, or pass --all-users/)
    const neither = await gatehouse(['revoke-tokens'], { DATABASE_URL: url })
    assert.notEqual(neither.code, 0)
    assert.equal((await tokensIn(url)).length, 1, 'nothing revoked by a refused command')
    const result = await gatehouse(['revoke-tokens', '--all-users'], { DATABASE_URL: url })
    assert.equal(result.code, 0, result.stderr)
    assert.match(result.stdout, /revoked 1 token\(s\)/)
    assert.equal((await tokensIn(url)).length, 0)
  })
})

describe('gatehouse deactivate', SUITE_TIMEOUT, () => {
  let url: string
  before(async () => {
    url = (await freshDatabase()).url
    const [, adminId = 0] = await seedUsers(url, ['member@example.com', 'root@example.com'])
    await inspect(url, (store) =>
      store.db.updateTable('users').set({ is_superuser: 1 }).where('id', '=', adminId).execute(),
    )
  })

  test('deactivates, and the change joins the audit trail with no user as the actor', async () => {
    const result = await gatehouse(['deactivate', 'member@example.com'], { DATABASE_URL: url })
    assert.equal(result.code, 0, result.stderr)
    assert.match(result.stdout, /member@example\.com is deactivated/)
    const events = await inspect(url, (store) =>
      store.db.selectFrom('audit_events').select(['type', 'actor_id', 'reason']).execute(),
    )
    assert.ok(
      events.some((event) => event.type === 'admin.user_updated' && event.actor_id === null),
      JSON.stringify(events),
    )
  })

  test('refuses to deactivate the last active superuser, and changes nothing', async () => {
    const result = await gatehouse(['deactivate', 'root@example.com'], { DATABASE_URL: url })
    assert.notEqual(result.code, 0)
    assert.match(result.stderr, /last active superuser/)
    const root = (await usersIn(url)).find((user) => user.email === 'root@example.com')
    assert.equal(root?.is_active, 1)
  })
})

describe('a bad DATABASE_URL', SUITE_TIMEOUT, () => {
  const cases: [label: string, url: string, message: RegExp][] = [
    [
      'an unsupported scheme',
      `mysql://admin:${DB_PASSWORD}@db.example.com/app`,
      /DATABASE_URL must start with sqlite: or postgres:\/\/ \(got "mysql:…"\)/,
    ],
    ['no scheme at all', `admin:${DB_PASSWORD}@db.example.com/app`, /DATABASE_URL must start with sqlite:/],
    ['a PostgreSQL URL with an invalid port', `postgres://admin:${DB_PASSWORD}@127.0.0.1:99999/app`, /\S/],
    [
      'a PostgreSQL server that refuses the connection',
      `postgres://admin:${DB_PASSWORD}@127.0.0.1:1/app`,
      /\S/,
    ],
  ]
  for (const [label, url, message] of cases) {
    test(`${label}: migrate exits non-zero with a message that does not echo the password`, async () => {
      const result = await gatehouse(['migrate'], { DATABASE_URL: url })
      assert.notEqual(result.code, 0)
      assert.equal(result.stderr.trim().split('\n').length, 1, `not one line:\n${result.stderr}`)
      const line = /^gatehouse: (.+)$/m.exec(result.stderr)?.[1]
      assert.ok(line, `no message:\n${result.stderr}`)
      assert.match(line, message)
      assert.ok(!result.stderr.includes(DB_PASSWORD), `password echoed:\n${result.stderr}`)
      assert.ok(!result.stdout.includes(DB_PASSWORD), `password echoed:\n${result.stdout}`)
    })
  }

  test('migrate names the PostgreSQL database it tries, without user or password', async () => {
    const result = await gatehouse(['migrate'], {
      DATABASE_URL: `postgres://admin:${DB_PASSWORD}@127.0.0.1:1/app?sslmode=disable`,
    })
    assert.notEqual(result.code, 0)
    assert.match(result.stdout, /^database: postgres 127\.0\.0\.1:1\/app$/m)
    assert.doesNotMatch(result.stdout, /admin|sslmode/)
  })

  test('serve and create-user fail the same way, without echoing the password', async () => {
    const env = { DATABASE_URL: `mysql://admin:${DB_PASSWORD}@db.example.com/app`, PORT: '0', DEMO_PORT: '0' }
    for (const args of [['serve'], ['create-user', 'x@example.com']]) {
      const result = await gatehouse(args, env, `${PASSWORD}\n`)
      assert.notEqual(result.code, 0, args[0])
      assert.match(result.stderr, /DATABASE_URL/, args[0])
      assert.ok(!`${result.stdout}${result.stderr}`.includes(DB_PASSWORD), `${args[0]} echoed the password`)
    }
  })
})

describe('gatehouse serve', SUITE_TIMEOUT, () => {
  /** Starts serve, checks /healthz on 127.0.0.1, sends SIGTERM to the PID, checks a clean exit. */
  async function serveAndStop(env: Record<string, string>, demoPort = 0): Promise<Finished> {
    const port = await freePort()
    const running = start(['serve'], { ...env, PORT: String(port), DEMO_PORT: String(demoPort) })
    const health = await waitForHttp(`http://127.0.0.1:${port}/healthz`, running, CHILD_TIMEOUT_MS - 5000)
    assert.equal(health.status, 200)
    assert.deepEqual(await health.json(), { status: 'ok' })
    if (demoPort > 0) {
      const page = await waitForHttp(`http://127.0.0.1:${demoPort}/`, running, 10_000)
      assert.equal(page.status, 200)
      assert.match(
        String(page.headers.get('content-security-policy')),
        /connect-src 'self' http:\/\/localhost:/,
      )
      const config = await fetch(`http://127.0.0.1:${demoPort}/config.json`)
      assert.deepEqual(await config.json(), { apiBaseUrl: `http://localhost:${port}` })
    }

    const pid = running.child.pid
    assert.ok(pid, 'no PID')
    const stopping = Date.now()
    process.kill(pid, 'SIGTERM')
    const result = await Promise.race([
      running.finished,
      new Promise<never>((_, reject) =>
        setTimeout(() => reject(new Error('serve still running 5 s after SIGTERM')), 5000).unref(),
      ),
    ])
    assert.ok(Date.now() - stopping < 5000)
    assert.equal(result.signal, null, `killed by ${result.signal}`)
    assert.equal(result.code, 0, result.stderr)
    await assert.rejects(fetch(`http://127.0.0.1:${port}/healthz`), 'still listening after exit')
    if (demoPort > 0) await assert.rejects(fetch(`http://127.0.0.1:${demoPort}/`), 'demo still listening')
    return result
  }

  test('starts on PORT, answers GET /healthz 200 on 127.0.0.1, and exits 0 within 5 s of SIGTERM', async () => {
    const { url } = await freshDatabase()
    const result = await serveAndStop({ DATABASE_URL: url })
    // serve migrated the database before listening.
    assert.deepEqual(await usersIn(url), [])
    // The startup line names the database, so a wrong DATABASE_URL is seen at once.
    const startup = result.stdout
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as { msg?: string; database?: string })
      .find((entry) => entry.msg?.startsWith('Gatehouse API on'))
    assert.ok(startup, `no startup line:\n${result.stdout}`)
    assert.equal(startup.database, `sqlite ${parseDatabaseUrl(url).target}`)
    assert.ok(startup.msg?.endsWith(`database sqlite ${parseDatabaseUrl(url).target}`), startup.msg)
  })

  test("npm start's default: also serves the demo app on DEMO_PORT, and stops it with the API", async () => {
    const { url } = await freshDatabase()
    await serveAndStop({ DATABASE_URL: url }, await freePort())
  })

  test('GATEHOUSE_ENV=production without GATEHOUSE_SECRET exits non-zero, naming GATEHOUSE_SECRET', async () => {
    const { url } = await freshDatabase()
    const port = await freePort()
    const result = await gatehouse(['serve'], {
      GATEHOUSE_ENV: 'production',
      SMTP_URL: 'smtp://127.0.0.1:2525',
      ALLOWED_HOSTS: '127.0.0.1',
      DATABASE_URL: url,
      PORT: String(port),
      DEMO_PORT: '0',
    })
    assert.notEqual(result.code, 0)
    assert.match(result.stderr, /GATEHOUSE_SECRET/)
  })

  test('GATEHOUSE_ENV=production with a known weak GATEHOUSE_SECRET exits non-zero, without echoing it', async () => {
    const { url } = await freshDatabase()
    const result = await gatehouse(['serve'], {
      GATEHOUSE_ENV: 'production',
      SMTP_URL: 'smtp://127.0.0.1:2525',
      ALLOWED_HOSTS: '127.0.0.1',
      GATEHOUSE_SECRET: 'changeme',
      DATABASE_URL: url,
      PORT: String(await freePort()),
      DEMO_PORT: '0',
    })
    assert.notEqual(result.code, 0)
    assert.match(result.stderr, /GATEHOUSE_SECRET must be at least 32/)
    assert.ok(!result.stderr.includes('changeme'))
  })

  test('GATEHOUSE_ENV=production with a strong GATEHOUSE_SECRET starts and stops cleanly', async () => {
    const { url } = await freshDatabase()
    await serveAndStop({
      GATEHOUSE_ENV: 'production',
      SMTP_URL: 'smtp://127.0.0.1:2525',
      GATEHOUSE_SECRET: STRONG_SECRET,
      ALLOWED_HOSTS: '127.0.0.1',
      DATABASE_URL: url,
    })
  })
})
