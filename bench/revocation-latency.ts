/**
 * Time from a revocation on instance A to a 401 on instance B, both real server processes on one
 * database with TOKEN_CACHE_SECONDS=60 (B answers from its cache until the channel tells it).
 * Three deployments: PostgreSQL (LISTEN/NOTIFY), SQLite with Redis (pub/sub), and SQLite alone
 * (the revocation log in the file, polled every 100 ms). For each of
 * REVOCATIONS tokens: B validates it (cached), then `POST /logout` is sent to A, and B is polled
 * back to back until it answers 401. The clock starts when the logout is sent.
 * Baseline, same run: the round trip of one cached `GET /me` on B (the polling granularity), and
 * the logout's own round trip on A (the revocation cannot be seen before its commit).
 *
 *   tsx bench/revocation-latency.ts            # both; needs PostgreSQL and Redis on loopback
 *   BENCH_PG_URL=… BENCH_REDIS_URL=… REVOCATIONS=300 tsx bench/revocation-latency.ts
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { Agent, request } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { sql } from 'kysely'
import pg from 'pg'
import { issueAccessToken } from '../src/accounts/access-tokens.ts'
import { insertUser } from '../src/accounts/users.ts'
import { buildApp } from '../src/server/build-app.ts'
import { loadConfig } from '../src/server/config.ts'
import { SQLITE_POLL_MS } from '../src/server/revocation-sqlite.ts'
import { migrateToLatest } from '../src/store/migrate.ts'
import { openStore } from '../src/store/open-store.ts'
import { saveResult } from './results.ts'

const SECRET = 'bench-secret-bench-secret-bench-secret'
const REVOCATIONS = Number(process.env.REVOCATIONS ?? 200)
/** The polled log is bounded by its interval, not by the machine: fewer samples say as much. */
const LOG_REVOCATIONS = Number(process.env.LOG_REVOCATIONS ?? 60)
const PG_URL = process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'
const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379/15'
/** One poll past this is a failure of the channel, not a slow measurement. */
const GIVE_UP_MS = 5000

/** `tsx bench/revocation-latency.ts instance`: one server, configured by the environment. */
async function instance(): Promise<void> {
  const app = await buildApp(loadConfig(), { logger: { level: 'warn' } })
  await app.listen({ host: '127.0.0.1', port: 0 })
  console.log(`READY ${(app.server.address() as { port: number }).port}`)
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => app.close().then(() => process.exit(0)))
  }
}

const agent = new Agent({ keepAlive: true, maxSockets: 4 })

function call(port: number, method: string, path: string, token: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, method, path, agent, headers: { authorization: `Bearer ${token}` } },
      (res) => {
        res.resume()
        res.on('end', () => resolve(res.statusCode ?? 0))
      },
    )
    req.on('error', reject)
    req.end()
  })
}

function startInstance(env: Record<string, string>): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), 'instance'], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  return new Promise((resolve, reject) => {
    let out = ''
    let ready = false
    child.stdout?.on('data', (chunk) => {
      // After READY, the instance's warnings (pino writes to stdout) belong in the bench's output.
      if (ready) return void process.stderr.write(chunk)
      out += chunk
      const line = /READY (\d+)\n/.exec(out)
      if (line === null) return
      ready = true
      resolve({ child, port: Number(line[1]) })
      process.stderr.write(out.slice(line.index + line[0].length))
    })
    child.on('exit', (code) => reject(new Error(`instance exited with ${code}`)))
  })
}

function stopInstance(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
    child.once('exit', () => {
      clearTimeout(timer)
      resolve()
    })
    child.kill('SIGTERM')
  })
}

const percentile = (sorted: number[], p: number): number =>
  sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN
const round = (ms: number) => Math.round(ms * 100) / 100
const summary = (samples: number[]) => {
  const sorted = [...samples].sort((x, y) => x - y)
  return {
    p50: round(percentile(sorted, 50)),
    p99: round(percentile(sorted, 99)),
    max: round(sorted[sorted.length - 1] ?? Number.NaN),
  }
}

interface Deployment {
  name: string
  revocations: number
  /** A random pause before each revocation, so it lands anywhere in a poll interval. */
  jitterMs: number
  env: Record<string, string> & { DATABASE_URL: string }
  cleanup: () => Promise<void>
}

async function postgresDeployment(): Promise<Deployment> {
  const name = `gatehouse_bench_${randomBytes(5).toString('hex')}`
  const admin = new pg.Client({ connectionString: PG_URL })
  await admin.connect()
  await admin.query(`create database ${name}`)
  await admin.end()
  const url = new URL(PG_URL)
  url.pathname = `/${name}`
  return {
    name: 'postgres-listen-notify',
    revocations: REVOCATIONS,
    jitterMs: 0,
    env: { DATABASE_URL: url.toString() },
    async cleanup() {
      const client = new pg.Client({ connectionString: PG_URL })
      await client.connect()
      await client.query(`drop database if exists ${name} with (force)`)
      await client.end()
    },
  }
}

async function redisDeployment(): Promise<Deployment> {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-bench-revocation-'))
  return {
    name: 'sqlite-redis-pubsub',
    revocations: REVOCATIONS,
    jitterMs: 0,
    env: {
      DATABASE_URL: `sqlite:${join(dir, 'bench.db')}`,
      REDIS_URL,
      REDIS_KEY_PREFIX: `gatehouse-bench-${randomBytes(5).toString('hex')}`,
    },
    cleanup: async () => rmSync(dir, { recursive: true, force: true }),
  }
}

async function sqliteLogDeployment(): Promise<Deployment> {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-bench-revocation-'))
  return {
    name: 'sqlite-revocation-log',
    revocations: LOG_REVOCATIONS,
    jitterMs: SQLITE_POLL_MS,
    env: { DATABASE_URL: `sqlite:${join(dir, 'bench.db')}` },
    cleanup: async () => rmSync(dir, { recursive: true, force: true }),
  }
}

async function measure(deployment: Deployment) {
  const env = {
    ...deployment.env,
    GATEHOUSE_SECRET: SECRET,
    TOKEN_CACHE_SECONDS: '60',
    PRUNE_INTERVAL_SECONDS: '0',
    DEMO_PORT: '0',
    LOG_LEVEL: 'warn',
  }
  // The schema first, then tokens seeded straight into the store (no argon2 in the way).
  const store = openStore(env.DATABASE_URL)
  await migrateToLatest(store.db, store.dialect)
  // Whether or not migrate.ts lists it yet: the SQLite deployment without Redis reads this table.
  if (store.dialect === 'sqlite') {
    await sql`create table if not exists revocation_events (id integer primary key autoincrement, revocation text not null, created_at bigint not null)`.execute(
      store.db,
    )
  }
  const user = await insertUser(store.db, {
    email: 'bench@example.com',
    hashedPassword: 'x',
    isSuperuser: false,
  })
  const tokens: string[] = []
  for (let i = 0; i < deployment.revocations; i++)
    tokens.push((await issueAccessToken(store.db, user.id, 'bearer', 3600)).token)
  const a = await startInstance(env)
  const b = await startInstance(env)
  const latencies: number[] = []
  const roundTrips: number[] = []
  const polls: number[] = []
  const logouts: number[] = []
  const afterAnswer: number[] = []
  try {
    for (const token of tokens) {
      if ((await call(b.port, 'GET', '/me', token)) !== 200) throw new Error('B refused a live token')
      // Twice: the second answer comes from B's cache, and is the baseline round trip.
      const cached = performance.now()
      await call(b.port, 'GET', '/me', token)
      roundTrips.push(performance.now() - cached)
      if (deployment.jitterMs > 0) await sleep(Math.random() * deployment.jitterMs)
      const sent = performance.now()
      const revoked = call(a.port, 'POST', '/logout', token).then((status) => {
        logouts.push(performance.now() - sent)
        return status
      })
      let count = 0
      for (;;) {
        count++
        if ((await call(b.port, 'GET', '/me', token)) === 401) break
        if (performance.now() - sent > GIVE_UP_MS)
          throw new Error(`B still accepts a token revoked ${GIVE_UP_MS} ms ago`)
      }
      const seen = performance.now()
      latencies.push(seen - sent)
      polls.push(count)
      if ((await revoked) !== 204) throw new Error('logout on A failed')
      // Past A's answer: what the channel adds (negative when B knew before A's client did).
      afterAnswer.push(seen - sent - (logouts.at(-1) ?? 0))
    }
  } finally {
    // Gone before the database is dropped: a listener ended under it would only log about it.
    await Promise.all([stopInstance(a.child), stopInstance(b.child)])
    await store.close()
  }
  const revocation = summary(latencies)
  const baseline = summary(roundTrips)
  return {
    deployment: deployment.name,
    revocations: latencies.length,
    revokeToUnauthorizedMs: revocation,
    cachedRoundTripMs: baseline,
    logoutOnAMs: summary(logouts),
    unauthorizedAfterLogoutAnsweredMs: summary(afterAnswer),
    pollsPerRevocation: summary(polls).p50,
    p99Ratio: round(revocation.p99 / baseline.p99),
  }
}

if (process.argv[2] === 'instance') {
  await instance()
} else {
  const started = performance.now()
  const results = []
  for (const make of [postgresDeployment, redisDeployment, sqliteLogDeployment]) {
    const deployment = await make()
    try {
      const result = await measure(deployment)
      results.push(result)
      console.log(JSON.stringify(result))
    } finally {
      await deployment.cleanup()
    }
  }
  const seconds = Math.round((performance.now() - started) / 100) / 10
  console.log(`done in ${seconds} s`)
  saveResult('revocation-latency', { results, seconds })
  agent.destroy()
}
