/**
 * GET /protected-route with a valid bearer token, on SQLite and on PostgreSQL, against a bare
 * Fastify route returning the same JSON, in one run: bare, SQLite, bare, PostgreSQL, bare, … so
 * machine noise hits all alike; each ratio is against the mean of the bare runs on either side,
 * and the median ratio over the rounds is the figure.
 * Usage: npm run bench  (BENCH_SECONDS=1 BENCH_ROUNDS=12 BENCH_CONNECTIONS=64 TOKEN_CACHE_SECONDS,
 * BENCH_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/postgres, or BENCH_POSTGRES_URL=off; or
 * BENCH_DATABASE_URL to load one given database instead of the two fresh ones; BENCH_API_KEY=off
 * leaves out the SQLite run authenticated by a personal API key instead of a token)
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { loadavg } from 'node:os'
import { createInterface } from 'node:readline'
import autocannon from 'autocannon'
import pg from 'pg'
import { saveResult } from './results.ts'

const seconds = Number(process.env.BENCH_SECONDS ?? 1)
const rounds = Number(process.env.BENCH_ROUNDS ?? 12)
const connections = Number(process.env.BENCH_CONNECTIONS ?? 64)
const postgresServer = process.env.BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'

interface Started {
  name: string
  child: ChildProcess
  url: string
  token: string
}

async function startServer(
  name: string,
  kind: 'bare' | 'gatehouse',
  env: { databaseUrl?: string; credential?: 'api-key' } = {},
): Promise<Started> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'bench/servers.ts', kind], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: {
      ...process.env,
      ...(env.databaseUrl ? { BENCH_DATABASE_URL: env.databaseUrl } : {}),
      ...(env.credential ? { BENCH_CREDENTIAL: env.credential } : {}),
    },
  })
  const lines = createInterface({ input: child.stdout! })
  for await (const line of lines) {
    const match = /^READY (\d+) (\S+)$/.exec(line)
    if (match) return { name, child, url: `http://127.0.0.1:${match[1]}/protected-route`, token: match[2]! }
  }
  throw new Error(`${name} server exited before it was ready`)
}

async function load(server: Started, duration: number): Promise<number> {
  const result = await autocannon({
    url: server.url,
    connections,
    duration,
    headers: { authorization: `Bearer ${server.token}` },
  })
  if (result.non2xx > 0 || result.errors > 0) {
    throw new Error(`${server.name}: ${result.non2xx} non-2xx and ${result.errors} errors`)
  }
  return result.requests.average
}

/** A fresh database on the server, dropped at the end; null when no server answers. */
async function postgresDatabase(serverUrl: string): Promise<{ url: string; drop(): Promise<void> } | null> {
  if (serverUrl === 'off') return null
  const name = `gatehouse_bench_${randomBytes(4).toString('hex')}`
  const run = async (sql: string) => {
    const client = new pg.Client({ connectionString: serverUrl, connectionTimeoutMillis: 3000 })
    await client.connect()
    try {
      await client.query(sql)
    } finally {
      await client.end()
    }
  }
  try {
    await run(`create database ${name}`)
  } catch (error) {
    console.error(`PostgreSQL skipped: ${(error as Error).message}`)
    return null
  }
  const url = new URL(serverUrl)
  url.pathname = `/${name}`
  return { url: url.toString(), drop: () => run(`drop database if exists ${name} with (force)`) }
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2
}

const given = process.env.BENCH_DATABASE_URL
const database = given ? null : await postgresDatabase(postgresServer)
const servers: Started[] = []
try {
  servers.push(await startServer('bare fastify route', 'bare'))
  servers.push(await startServer(given ? 'gatehouse (BENCH_DATABASE_URL)' : 'gatehouse, SQLite', 'gatehouse'))
  if (!given && process.env.BENCH_API_KEY !== 'off') {
    servers.push(await startServer('gatehouse, SQLite, API key', 'gatehouse', { credential: 'api-key' }))
  }
  if (database)
    servers.push(await startServer('gatehouse, PostgreSQL', 'gatehouse', { databaseUrl: database.url }))
  // Warm-up: JIT, page cache, pool connections; not counted.
  for (const server of servers) await load(server, 1)
  // bare, SQLite, bare, PostgreSQL, bare, …: each subject sits between two bare runs, and its
  // ratio is against their mean, so a load change from another process shows in both.
  const subjects = servers.slice(1)
  const bareRuns: number[] = [await load(servers[0]!, seconds)]
  const rps: number[][] = subjects.map(() => [])
  const ratios: number[][] = subjects.map(() => [])
  for (let round = 0; round < rounds; round++) {
    for (const [index, subject] of subjects.entries()) {
      const value = await load(subject, seconds)
      const before = bareRuns.at(-1)!
      bareRuns.push(await load(servers[0]!, seconds))
      rps[index]!.push(value)
      ratios[index]!.push(value / ((before + bareRuns.at(-1)!) / 2))
    }
  }
  console.log(
    `connections=${connections} seconds=${seconds} rounds=${rounds} node=${process.version} ` +
      `token cache=${process.env.TOKEN_CACHE_SECONDS ?? 'default'} load average=${loadavg()[0]!.toFixed(2)}`,
  )
  const list = (values: number[], digits: number) => values.map((value) => value.toFixed(digits)).join(', ')
  console.log(
    `${servers[0]!.name.padEnd(28)} ${median(bareRuns).toFixed(0).padStart(6)} req/s (${list(bareRuns, 0)})`,
  )
  const results: Record<string, { rps: number[]; ratios: number[]; medianRatio: number }> = {
    [servers[0]!.name]: { rps: bareRuns, ratios: bareRuns.map(() => 1), medianRatio: 1 },
  }
  for (const [index, subject] of subjects.entries()) {
    results[subject.name] = { rps: rps[index]!, ratios: ratios[index]!, medianRatio: median(ratios[index]!) }
    console.log(
      `${subject.name.padEnd(28)} ${median(rps[index]!).toFixed(0).padStart(6)} req/s (${list(rps[index]!, 0)})` +
        `  ratio ${median(ratios[index]!).toFixed(2)} (${list(ratios[index]!, 2)})`,
    )
  }
  saveResult('protected-route', { connections, seconds, rounds, servers: results })
} finally {
  for (const server of servers) server.child.kill()
  await Promise.all(
    servers.map(({ child }) =>
      child.exitCode !== null || child.signalCode !== null
        ? null
        : new Promise((resolve) => child.once('exit', resolve)),
    ),
  )
  await database?.drop()
}
