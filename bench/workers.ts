/**
 * Authenticated GET /protected-route against `gatehouse serve` with 1 worker and with
 * `--workers 2`, both real CLI processes on one SQLite file, measured in one run with alternating
 * rounds so machine noise hits both alike. The load generator (autocannon, this process) shares
 * the machine's cores with the workers: on a 2-core machine 2 workers cannot double anything.
 * Usage: npx tsx bench/workers.ts  (BENCH_SECONDS=8 BENCH_ROUNDS=2 BENCH_CONNECTIONS=64;
 * BENCH_STORE=postgres for a fresh database on BENCH_POSTGRES_URL, default
 * postgres://postgres@127.0.0.1:5432/postgres, dropped at the end)
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { availableParallelism, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import autocannon from 'autocannon'
import pg from 'pg'
import { saveResult } from './results.ts'

const seconds = Number(process.env.BENCH_SECONDS ?? 8)
const rounds = Number(process.env.BENCH_ROUNDS ?? 2)
const connections = Number(process.env.BENCH_CONNECTIONS ?? 64)
const CLI = fileURLToPath(new URL('../src/cli/index.ts', import.meta.url))
const TSX = import.meta.resolve('tsx')
const EMAIL = 'bench@example.com'
const PASSWORD = 'bench-password-1234'

const storeKind = process.env.BENCH_STORE === 'postgres' ? 'postgres' : 'sqlite'
const postgresServer = process.env.BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'
const dir = mkdtempSync(join(tmpdir(), 'gatehouse-bench-workers-'))
const children: ChildProcess[] = []

async function onPostgres(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: postgresServer, connectionTimeoutMillis: 3000 })
  await client.connect()
  try {
    await client.query(sql)
  } finally {
    await client.end()
  }
}

/** Both servers use one database: the SQLite file in `dir`, or a fresh PostgreSQL database. */
async function database(): Promise<{ url: string; drop(): Promise<void> }> {
  if (storeKind === 'sqlite') return { url: `sqlite:${join(dir, 'bench.db')}`, drop: async () => {} }
  const name = `gatehouse_bench_workers_${randomBytes(4).toString('hex')}`
  await onPostgres(`create database ${name}`)
  const url = new URL(postgresServer)
  url.pathname = `/${name}`
  return { url: url.toString(), drop: () => onPostgres(`drop database if exists ${name} with (force)`) }
}
const store = await database()

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    })
  })
}

/** `gatehouse serve [--workers n]`; resolves with its base URL once every worker listens. */
async function serve(workers: number): Promise<string> {
  const port = await freePort()
  const child = spawn(process.execPath, ['--import', TSX, CLI, 'serve', '--workers', String(workers)], {
    cwd: dir,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      DATABASE_URL: store.url,
      GATEHOUSE_SECRET: 'bench-secret-bench-secret-bench-secret',
      HOST: '127.0.0.1',
      PORT: String(port),
      DEMO_PORT: '0',
      MAIL_DIR: join(dir, 'outbox'),
      PRUNE_INTERVAL_SECONDS: '0',
      // No request logs: the figure is the framework, auth and the cluster, not log I/O.
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  })
  children.push(child)
  const url = `http://127.0.0.1:${port}`
  const deadline = Date.now() + 60_000
  // Ready when the port answers; with 2 workers, give the second one time to join too.
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`serve --workers ${workers} exited (${child.exitCode})`)
    const ok = await fetch(`${url}/healthz`).then(
      (response) => response.ok,
      () => false,
    )
    if (ok) return url
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
  throw new Error(`serve --workers ${workers} did not answer within 60 s`)
}

async function token(url: string): Promise<string> {
  await fetch(`${url}/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email: EMAIL, password: PASSWORD }),
  })
  const login = await fetch(`${url}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: `username=${encodeURIComponent(EMAIL)}&password=${encodeURIComponent(PASSWORD)}`,
  })
  const { access_token: accessToken } = (await login.json()) as { access_token?: string }
  if (!accessToken) throw new Error(`no token: ${login.status}`)
  return accessToken
}

async function measure(url: string, bearer: string, duration: number): Promise<number> {
  const result = await autocannon({
    url: `${url}/protected-route`,
    connections,
    duration,
    headers: { authorization: `Bearer ${bearer}` },
  })
  if (result.non2xx > 0 || result.errors > 0) {
    throw new Error(`${url}: ${result.non2xx} non-2xx and ${result.errors} errors`)
  }
  return result.requests.average
}

const loadBefore = loadavg()[0] ?? 0
try {
  const one = await serve(1)
  const bearer = await token(one)
  const two = await serve(2)
  // The second worker of `two` may still be starting: the warm-up covers it, and JIT and cache.
  await measure(one, bearer, 2)
  await new Promise((resolve) => setTimeout(resolve, 2000))
  await measure(two, bearer, 3)
  const oneRuns: number[] = []
  const twoRuns: number[] = []
  for (let round = 0; round < rounds; round++) {
    oneRuns.push(await measure(one, bearer, seconds))
    twoRuns.push(await measure(two, bearer, seconds))
  }
  const mean = (values: number[]) => values.reduce((sum, value) => sum + value, 0) / values.length
  const ratio = mean(twoRuns) / mean(oneRuns)
  const cores = availableParallelism()
  console.log(
    `store=${storeKind} connections=${connections} seconds=${seconds} rounds=${rounds} cores=${cores} load before=${loadBefore.toFixed(2)} node=${process.version}`,
  )
  console.log(
    `1 worker    ${mean(oneRuns).toFixed(0)} req/s  (${oneRuns.map((r) => r.toFixed(0)).join(', ')})`,
  )
  console.log(
    `2 workers   ${mean(twoRuns).toFixed(0)} req/s  (${twoRuns.map((r) => r.toFixed(0)).join(', ')})`,
  )
  console.log(`ratio 2 / 1 ${ratio.toFixed(2)}  (autocannon runs on the same ${cores} cores)`)
  saveResult(storeKind === 'sqlite' ? 'workers' : 'workers-postgres', {
    store: storeKind,
    connections,
    seconds,
    rounds,
    loadBefore,
    oneWorker: oneRuns,
    twoWorkers: twoRuns,
    ratio,
  })
} finally {
  for (const child of children) child.kill('SIGTERM')
  await Promise.all(
    children.map((child) =>
      child.exitCode !== null ? null : new Promise((resolve) => child.once('exit', resolve)),
    ),
  )
  await store.drop()
  rmSync(dir, { recursive: true, force: true })
}
