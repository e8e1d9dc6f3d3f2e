import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { pathToFileURL } from 'node:url'
import { sql } from 'kysely'
import { type AuditEntry, createAuditLog } from '../../src/accounts/audit-log.ts'
import type { SecurityEvent } from '../../src/accounts/events.ts'
import { openStore, type Store } from '../../src/store/open-store.ts'
import { dialects, openTestStore } from '../helpers/databases.ts'

const DAY_MS = 86_400_000
const ENTRY_KEYS = ['at', 'id', 'ip', 'reason', 'sessionId', 'type', 'userAgent']
const COLUMNS = [
  'actor_id',
  'created_at',
  'id',
  'ip',
  'reason',
  'session_id',
  'type',
  'user_agent',
  'user_id',
]
/** Long enough that only close(), flush() or a full batch can have written anything. */
const NEVER = 3_600_000

let userCounter = 1000
const newUserId = () => ++userCounter

function event(overrides: Partial<SecurityEvent> = {}): SecurityEvent {
  return {
    type: 'login.succeeded',
    at: Date.now(),
    userId: null,
    actorId: null,
    sessionId: 'pub_abc',
    ip: '127.0.0.1',
    userAgent: 'Firefox 128 on Linux',
    reason: null,
    ...overrides,
  }
}

async function waitFor(condition: () => Promise<boolean>, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await condition())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

/** A loopback port nothing listens on: bound, then released. */
async function closedPort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  assert.ok(address && typeof address === 'object')
  await new Promise((resolve) => server.close(resolve))
  return address.port
}

for (const { dialect, skip, create } of dialects()) {
  describe(`audit log on ${dialect}`, { skip }, () => {
    let store: (Store & { url: string }) | undefined
    const db = () => {
      assert.ok(store)
      return store.db
    }
    const rowsOf = (userId: number) =>
      db().selectFrom('audit_events').selectAll().where('user_id', '=', userId).orderBy('id').execute()
    const countOf = async (userId: number) => (await rowsOf(userId)).length

    before(async () => {
      store = await openTestStore(create)
    })
    after(async () => {
      await store?.close()
    })

    test('recording only queues; flush writes, and a user reads their 50 newest events, newest first', async () => {
      const errors: unknown[] = []
      const log = createAuditLog({ db: db(), flushIntervalMs: NEVER, onError: (e) => errors.push(e) })
      const [alice, bob] = [newUserId(), newUserId()]
      const base = Date.now() - 60_000
      for (let i = 0; i < 60; i++) {
        assert.equal(log.record(event({ userId: alice, at: base + i * 1000, reason: `a${i}` })), undefined)
      }
      for (let i = 0; i < 3; i++) log.record(event({ userId: bob, at: base + i, type: 'login.failed' }))
      log.record(event({ userId: null, at: base + 99_000, type: 'login.failed', reason: 'bad_credentials' }))
      assert.equal(await countOf(alice), 0, 'nothing is written before a flush')
      assert.deepEqual(log.stats(), { queued: 64, dropped: 0 })

      await log.flush()
      assert.equal(await countOf(alice), 60)
      assert.deepEqual(log.stats(), { queued: 0, dropped: 0 })

      const entries = await log.listForUser(alice)
      assert.equal(entries.length, 50)
      assert.deepEqual(
        entries.map((entry) => entry.reason),
        Array.from({ length: 50 }, (_, i) => `a${59 - i}`),
      )
      const [newest] = entries as [AuditEntry]
      assert.deepEqual(Object.keys(newest).sort(), ENTRY_KEYS)
      assert.ok(newest.at instanceof Date)
      assert.equal(newest.at.getTime(), base + 59_000)
      assert.equal(typeof newest.id, 'number')
      assert.deepEqual(
        { ...newest, id: 0 },
        {
          id: 0,
          at: new Date(base + 59_000),
          type: 'login.succeeded',
          sessionId: 'pub_abc',
          ip: '127.0.0.1',
          userAgent: 'Firefox 128 on Linux',
          reason: 'a59',
        },
      )

      assert.equal((await log.listForUser(alice, 5)).length, 5)
      const bobs = await log.listForUser(bob)
      assert.equal(bobs.length, 3)
      assert.ok(bobs.every((entry) => entry.type === 'login.failed'))
      assert.deepEqual(await log.listForUser(newUserId()), [])
      assert.deepEqual(errors, [])
      await log.close()
    })

    test('newest first is by event time, whatever order the rows were inserted in', async () => {
      const log = createAuditLog({ db: db(), flushIntervalMs: NEVER })
      const user = newUserId()
      const now = Date.now()
      log.record(event({ userId: user, at: now, reason: 'late' }))
      await log.flush()
      log.record(event({ userId: user, at: now - 5000, reason: 'early, written second' }))
      await log.flush()
      assert.deepEqual(
        (await log.listForUser(user)).map((entry) => entry.reason),
        ['late', 'early, written second'],
      )
      await log.close()
    })

    test('listForUser includes events still queued, and refuses an absurd limit', async () => {
      const log = createAuditLog({ db: db(), flushIntervalMs: NEVER })
      const user = newUserId()
      log.record(event({ userId: user, type: 'password.changed' }))
      assert.deepEqual(
        (await log.listForUser(user)).map((entry) => entry.type),
        ['password.changed'],
      )
      for (const limit of [0, -1, 1.5, 1001]) {
        await assert.rejects(log.listForUser(user, limit), RangeError, String(limit))
      }
      await log.close()
    })

    test('a full batch is written without waiting for the timer, as one insert', async () => {
      const log = createAuditLog({ db: db(), flushIntervalMs: NEVER, maxBatch: 3 })
      const user = newUserId()
      log.record(event({ userId: user }))
      log.record(event({ userId: user }))
      await new Promise((resolve) => setTimeout(resolve, 50))
      assert.equal(await countOf(user), 0, 'two of three are still queued')
      log.record(event({ userId: user }))
      await waitFor(async () => (await countOf(user)) === 3, 'the full batch')
      await log.close()
    })

    test('the timer writes a queued event after flushIntervalMs', async () => {
      const log = createAuditLog({ db: db(), flushIntervalMs: 25 })
      const user = newUserId()
      log.record(event({ userId: user }))
      await waitFor(async () => (await countOf(user)) === 1, 'the timed flush')
      await log.close()
    })

    test('fields from client input are stored truncated, in code points (a surrogate pair is never split)', async () => {
      const log = createAuditLog({ db: db(), flushIntervalMs: NEVER })
      const user = newUserId()
      log.record(
        event({
          userId: user,
          type: 't'.repeat(500) as SecurityEvent['type'],
          ip: `1${'😀'.repeat(300)}`,
          userAgent: 'u'.repeat(10_000),
          reason: 'r'.repeat(199) + '😀'.repeat(10),
          sessionId: 's'.repeat(1000),
        }),
      )
      const [entry] = (await log.listForUser(user)) as [AuditEntry]
      assert.equal(entry.type, 't'.repeat(64))
      assert.equal(entry.ip, `1${'😀'.repeat(63)}`)
      assert.equal(entry.userAgent, 'u'.repeat(100))
      assert.equal(entry.reason, `${'r'.repeat(199)}😀`)
      assert.equal(entry.sessionId, 's'.repeat(64))
      // Short values are untouched.
      log.record(event({ userId: user, reason: 'other_sessions', at: Date.now() + 1000 }))
      assert.equal((await log.listForUser(user, 1))[0]?.reason, 'other_sessions')
      await log.close()
    })

    test('with the database closed, record neither throws nor waits, and flush reports the failure', async () => {
      assert.ok(store)
      const closed = openStore(store.url)
      // Used once first: Kysely ignores destroy() on a driver that never connected.
      await sql`select 1`.execute(closed.db)
      await closed.close()
      const errors: unknown[] = []
      const log = createAuditLog({ db: closed.db, flushIntervalMs: NEVER, onError: (e) => errors.push(e) })
      assert.equal(log.record(event({ userId: 1 })), undefined)
      log.record(event({ userId: 1 }))
      assert.equal(errors.length, 0, 'recording never touches the database')
      await log.flush() // resolves: a failed write is never thrown at the caller
      assert.equal(errors.length, 1)
      assert.ok(errors[0] instanceof Error)
      assert.deepEqual(log.stats(), { queued: 0, dropped: 2 })
      await log.close()
    })

    test('a failed insert is dropped, not retried: later events are written, the failed ones never', async () => {
      const errors: unknown[] = []
      const log = createAuditLog({ db: db(), flushIntervalMs: NEVER, onError: (e) => errors.push(e) })
      const user = newUserId()
      await db().schema.alterTable('audit_events').renameTo('audit_events_away').execute()
      try {
        log.record(event({ userId: user, reason: 'lost' }))
        log.record(event({ userId: user, reason: 'lost' }))
        await log.flush()
      } finally {
        await db().schema.alterTable('audit_events_away').renameTo('audit_events').execute()
      }
      assert.equal(errors.length, 1)
      log.record(event({ userId: user, reason: 'kept' }))
      await log.flush()
      await log.flush()
      assert.deepEqual(
        (await rowsOf(user)).map((row) => row.reason),
        ['kept'],
      )
      assert.equal(log.stats().dropped, 2)
      assert.equal(errors.length, 1, 'the failure is reported once, not on every later flush')
      await log.close()
    })

    test('past maxQueued the newest events are dropped, counted and reported; the oldest are kept', async () => {
      const errors: unknown[] = []
      const log = createAuditLog({
        db: db(),
        flushIntervalMs: NEVER,
        maxBatch: 5,
        maxQueued: 5,
        onError: (e) => errors.push(e),
      })
      const user = newUserId()
      // In one synchronous run, as a burst arrives: no write can start in between.
      for (let i = 0; i < 8; i++) log.record(event({ userId: user, reason: `r${i}` }))
      assert.deepEqual(log.stats(), { queued: 5, dropped: 3 })
      await log.flush()
      assert.deepEqual(
        (await rowsOf(user)).map((row) => row.reason),
        ['r0', 'r1', 'r2', 'r3', 'r4'],
      )
      assert.equal(errors.length, 1)
      assert.match(String((errors[0] as Error).message), /3 events were dropped/)
      await log.close()
    })

    test('close writes what is queued; an event after close is dropped, not written', async () => {
      const log = createAuditLog({ db: db(), flushIntervalMs: NEVER })
      const user = newUserId()
      log.record(event({ userId: user, reason: 'before' }))
      await log.close()
      assert.deepEqual(
        (await rowsOf(user)).map((row) => row.reason),
        ['before'],
      )
      log.record(event({ userId: user, reason: 'after' }))
      await log.flush()
      assert.equal(await countOf(user), 1)
      assert.deepEqual(log.stats(), { queued: 0, dropped: 1 })
    })

    test('prune deletes only events older than the retention, and says how many', async () => {
      const log = createAuditLog({ db: db(), flushIntervalMs: NEVER })
      const user = newUserId()
      const now = Date.now()
      const ages = {
        old: 31 * DAY_MS,
        justOld: 30 * DAY_MS + 1,
        exactly: 30 * DAY_MS,
        recent: 29 * DAY_MS,
        now: 0,
      }
      for (const [reason, age] of Object.entries(ages))
        log.record(event({ userId: user, at: now - age, reason }))
      await log.flush()
      const others = await db()
        .selectFrom('audit_events')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('created_at', '>=', now - 30 * DAY_MS)
        .executeTakeFirstOrThrow()

      assert.equal(await log.prune(30, now), 2)
      assert.deepEqual((await log.listForUser(user)).map((entry) => entry.reason).sort(), [
        'exactly',
        'now',
        'recent',
      ])
      const remaining = await db()
        .selectFrom('audit_events')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .executeTakeFirstOrThrow()
      assert.equal(Number(remaining.n), Number(others.n), 'nothing recent was pruned')
      assert.equal(await log.prune(30, now), 0)
      for (const days of [0, -1, Number.NaN]) await assert.rejects(log.prune(days, now), RangeError)
      await log.close()
    })

    test('the table has exactly the trail columns: no password, token, hash or secret', async () => {
      const names =
        dialect === 'sqlite'
          ? (await sql<{ name: string }>`select name from pragma_table_info('audit_events')`.execute(db()))
              .rows
          : (
              await sql<{ name: string }>`select column_name as name from information_schema.columns
                where table_schema = current_schema() and table_name = 'audit_events'`.execute(db())
            ).rows
      const columns = names.map((row) => row.name).sort()
      assert.deepEqual(columns, COLUMNS)
      assert.deepEqual(
        columns.filter((name) => /password|token|hash|secret|cookie/i.test(name)),
        [],
      )
    })
  })
}

describe('audit log without a database', () => {
  test('an unreachable PostgreSQL server: record does not throw, flush reports it and resolves', async () => {
    const port = await closedPort()
    const unreachable = openStore(`postgres://postgres@127.0.0.1:${port}/gatehouse`)
    const errors: unknown[] = []
    const log = createAuditLog({ db: unreachable.db, flushIntervalMs: NEVER, onError: (e) => errors.push(e) })
    try {
      log.record(event({ userId: 1 }))
      await log.flush()
      assert.equal(errors.length, 1)
      assert.match(String(errors[0]), /ECONNREFUSED/)
      assert.equal(log.stats().dropped, 1)
    } finally {
      await log.close()
      await unreachable.close()
    }
  })

  test('an onError that throws changes nothing for the caller', async () => {
    const port = await closedPort()
    const unreachable = openStore(`postgres://postgres@127.0.0.1:${port}/gatehouse`)
    const log = createAuditLog({
      db: unreachable.db,
      flushIntervalMs: NEVER,
      onError: () => {
        throw new Error('the handler itself fails')
      },
    })
    try {
      log.record(event({ userId: 1 }))
      await log.flush()
      assert.equal(log.stats().dropped, 1)
    } finally {
      await log.close()
      await unreachable.close()
    }
  })

  test('options out of range are refused when the log is made, naming the option', () => {
    const db = openStore('sqlite::memory:').db
    const cases: [string, Record<string, number>][] = [
      ['flushIntervalMs', { flushIntervalMs: 0 }],
      ['flushIntervalMs', { flushIntervalMs: 1.5 }],
      ['maxBatch', { maxBatch: 0 }],
      ['maxBatch', { maxBatch: 1001 }],
      ['maxQueued', { maxBatch: 10, maxQueued: 9 }],
      ['maxQueued', { maxQueued: Number.NaN }],
    ]
    for (const [name, options] of cases) {
      assert.throws(
        () => createAuditLog({ db, ...options }),
        (error: unknown) => error instanceof RangeError && error.message.startsWith(name),
        JSON.stringify(options),
      )
    }
    void db.destroy()
  })

  test('a queued event does not keep the process alive (the timer is unref’d)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-audit-'))
    try {
      const script = join(dir, 'record.mjs')
      const source = (path: string) => JSON.stringify(pathToFileURL(join(process.cwd(), path)).href)
      writeFileSync(
        script,
        [
          `import { createAuditLog } from ${source('src/accounts/audit-log.ts')}`,
          `import { openMigratedStore } from ${source('src/store/migrate.ts')}`,
          `const { store } = await openMigratedStore(${JSON.stringify(`sqlite:${join(dir, 'audit.db')}`)})`,
          `const log = createAuditLog({ db: store.db, flushIntervalMs: ${NEVER} })`,
          `log.record({ type: 'logout', at: Date.now(), userId: 1, sessionId: null, ip: null, userAgent: null, reason: null })`,
          `console.log(JSON.stringify(log.stats()))`,
        ].join('\n'),
      )
      const child = spawn(process.execPath, ['--import', 'tsx', script], {
        stdio: ['ignore', 'pipe', 'pipe'],
      })
      let output = ''
      child.stdout.on('data', (chunk) => {
        output += chunk
      })
      child.stderr.on('data', (chunk) => {
        output += chunk
      })
      const killer = setTimeout(() => child.kill('SIGKILL'), 20_000)
      const code = await new Promise<number | null>((resolve) => child.on('exit', resolve))
      clearTimeout(killer)
      assert.equal(code, 0, `the process did not exit by itself: ${output}`)
      assert.match(output, /"queued":1/)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
